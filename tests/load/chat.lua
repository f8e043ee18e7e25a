-- wrk script: a chat completion with a ~1 KB prompt.
-- Environment: GATEWAY_KEY (bearer key), STREAM=1 (stream the answer), DELAY_MS (pause before each request on a
-- connection, to hold a steady rate instead of saturating), PROMPT (a versioned prompt reference, the `prompt`
-- field's JSON, rendered into every request).
local prompt = string.rep("The quick brown fox jumps over the lazy dog. ", 23)
local stream = os.getenv("STREAM") == "1"
local pause = tonumber(os.getenv("DELAY_MS") or "0")
local prompt_ref = os.getenv("PROMPT") or ""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("GATEWAY_KEY") or "load-test-key-0123456789")
wrk.body = '{"model":"gpt-4o","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"'
  .. prompt .. '"}],"max_tokens":64' .. (stream and ',"stream":true' or '')
  .. (prompt_ref ~= "" and (',"prompt":' .. prompt_ref) or '') .. '}'

if pause > 0 then
  -- Uniform between half and one and a half times the pause: the mean (so the rate) is the asked one, and the
  -- connections drift apart instead of sending in step, which would measure their queueing behind each other.
  delay = function() return math.floor(pause * (0.5 + math.random()) + 0.5) end
end

done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
