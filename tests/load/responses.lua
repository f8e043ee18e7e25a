-- wrk script: the same ~1 KB prompt as chat.lua, as a non-streaming Responses API request.
local prompt = string.rep("The quick brown fox jumps over the lazy dog. ", 23)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("GATEWAY_KEY") or "load-test-key-0123456789")
wrk.body = '{"model":"gpt-4o","instructions":"You are terse.","input":"' .. prompt .. '","max_output_tokens":64,"store":' .. (os.getenv("STORE") or "false") .. '}'

done = function(summary, latency, requests)
  io.write(string.format("requests/s: %.0f\n", summary.requests / (summary.duration / 1e6)))
  for _, p in pairs({ 50, 90, 99 }) do
    io.write(string.format("p%d: %.3f ms\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("errors: %d non-2xx, %d socket\n", summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
