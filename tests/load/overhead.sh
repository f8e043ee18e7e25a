#!/usr/bin/env bash
# Overhead of one non-streaming chat request through the embedded gateway versus calling the fake upstream
# directly, on 127.0.0.1. The gateway is pinned to core 0, the upstream and wrk to core 1.
# Usage: tests/load/overhead.sh [duration_seconds]   (needs: wrk, taskset)
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-15}
up_port=19900; http_port=18080; grpc_port=18081
work=$(mktemp -d)
cleanup() { for pid in ${gw_pid:-} ${up_pid:-}; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

for project in tests/load/FakeUpstream services/edge; do dotnet build -c Release "$project" -v q -nologo >/dev/null; done
cat > "$work/gateway.yaml" <<YAML
server: { http: 127.0.0.1:$http_port, grpc: 127.0.0.1:$grpc_port }
storage: { state: "sqlite://$work/state.db", traces: "sqlite://$work/traces.db" }
providers:
  fake: { kind: openai, base_url: "http://127.0.0.1:$up_port/v1" }
models:
  gpt-4o: { targets: [{ provider: fake, model: gpt-4o }], price: { input: 2.5, output: 10 } }
keys:
  - { name: load, key: load-test-key-0123456789, team: load }
YAML

taskset -c 1 dotnet tests/load/FakeUpstream/bin/Release/net10.0/Gateway.Load.FakeUpstream.dll $up_port >/dev/null &
up_pid=$!
taskset -c 0 dotnet services/edge/bin/Release/net10.0/gateway.dll --config "$work/gateway.yaml" >"$work/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null && curl -s "http://127.0.0.1:$up_port/" >/dev/null && break; sleep 0.2; done

run() { # label url connections rate
  echo "== $1 ($3 connections)"
  taskset -c 1 wrk -t1 -c"$3" -d"${duration}s" -s tests/load/chat.lua "$2" | grep -E "requests/s|^p|errors"
}
# Warm up both, then measure saturation and latency at low concurrency.
taskset -c 1 wrk -t1 -c8 -d5s -s tests/load/chat.lua "http://127.0.0.1:$http_port/v1/chat/completions" >/dev/null
run "upstream direct, latency" "http://127.0.0.1:$up_port/v1/chat/completions" 1
run "gateway, latency" "http://127.0.0.1:$http_port/v1/chat/completions" 1
run "gateway, saturation" "http://127.0.0.1:$http_port/v1/chat/completions" 32
cpu=$(ps -o cputime= -p "$gw_pid"); rss=$(ps -o rss= -p "$gw_pid")
echo "gateway cpu time total: $cpu, rss: $((rss / 1024)) MB"
