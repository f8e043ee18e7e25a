#!/usr/bin/env bash
# Mesh versus embedded for the same request and the same governance (guard policy, budget): latency and CPU
# per request of one non-streaming chat through (a) the embedded gateway (one process) and (b) the local mesh
# (deploy/local/mesh.sh: edge -> router -> guard/budget/prompts over gRPC, trace events through the sidecar
# stand-in to the traces service). Every request also renders the same versioned prompt on both sides, stored
# through each side's admin API, so the full pipeline (key auth, guard, budget, prompt render, trace) runs.
# Gateway processes are pinned to core 0; the fake upstream and wrk to core 1. CPU per request is the CPU
# time all gateway processes used during the measured run, less what they use idle over as long, divided by the
# requests served.
# Both sides first take WARMUP seconds (default 10) of traffic at the given connections: eight freshly started
# processes sharing one core need that long for the JIT to finish re-compiling their hot paths (tiered
# compilation), and a run measured before then times the JIT, not the request.
# Usage: [WARMUP=s] [SETTLE=s] tests/load/mesh-overhead.sh [duration_seconds] [connections]   (needs: wrk, taskset)
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10}; connections=${2:-16}; warmup=${WARMUP:-10}
up_port=19910; http_port=18090; grpc_port=18091
work=$(mktemp -d)
export MESH_DIR=$work/mesh MESH_CONFIGURATION=Release MESH_PORT_BASE=19300 MESH_EDGE_HTTP=18190 MESH_EDGE_GRPC=18191
export MESH_OPENAI_BASE_URL="http://127.0.0.1:$up_port/v1" GATEWAY_DEV_KEY=load-test-key-0123456789
export GATEWAY_ADMIN_KEY=load-admin-key-0123456789
export PROMPT='{"id":"load-system","label":"production","variables":{"product":"Gateway"}}'
cleanup() {
  deploy/local/mesh.sh stop >/dev/null 2>&1 || true
  for pid in ${gw_pid:-} ${up_pid:-}; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

dotnet build -c Release tests/load/FakeUpstream -v q -nologo >/dev/null
cat > "$work/gateway.yaml" <<YAML
server: { http: 127.0.0.1:$http_port, grpc: 127.0.0.1:$grpc_port, admin_key: $GATEWAY_ADMIN_KEY }
storage: { state: "sqlite://$work/state.db", traces: "sqlite://$work/traces.db" }
providers:
  openai: { kind: openai, base_url: "http://127.0.0.1:$up_port/v1" }
models:
  gpt-4o: { targets: [{ provider: openai, model: gpt-4o }], price: { input: 2.5, output: 10 } }
keys:
  - { name: local-dev, key: load-test-key-0123456789, team: local, project: sandbox, environment: dev }
YAML
# The same governance as the local mesh, taken from its own files, so the difference between the two is the
# process split alone.
sed -n '/^guard:/,$p' deploy/local/mesh/guard.yaml >> "$work/gateway.yaml"
sed -n '/^budgets:/,$p' deploy/local/mesh/budget.yaml >> "$work/gateway.yaml"

taskset -c 1 dotnet tests/load/FakeUpstream/bin/Release/net10.0/Gateway.Load.FakeUpstream.dll $up_port >/dev/null &
up_pid=$!
# The mesh build (Release) also builds the edge used as the embedded gateway.
MESH_NO_BUILD=${MESH_NO_BUILD:-} taskset -c 0 deploy/local/mesh.sh start >/dev/null
taskset -c 0 dotnet services/edge/bin/Release/net10.0/gateway.dll --config "$work/gateway.yaml" >"$work/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null && break; sleep 0.2; done

store_prompt() { # base-url: the prompt's first version through the admin API, then the production label on it
  local admin=(-sf -H "Authorization: Bearer $GATEWAY_ADMIN_KEY" -H "Content-Type: application/json")
  curl "${admin[@]}" -X POST "$1/admin/v1/prompts/load-system/versions" -d '{"type":"chat",
    "messages":[{"role":"system","content":"You are the {{product}} assistant. Be terse."}],
    "variables":[{"name":"product","type":"string","required":true}]}' >/dev/null
  curl "${admin[@]}" -X PUT "$1/admin/v1/prompts/load-system/labels/production" -d '{"version":1}' >/dev/null
}
store_prompt "http://127.0.0.1:$http_port"
store_prompt "http://127.0.0.1:$MESH_EDGE_HTTP"

ticks() { # utime+stime clock ticks of one pid
  awk '{print $14 + $15}' "/proc/$1/stat"
}
idle() { # ticks the given processes use in `duration` seconds without traffic (timers, GC, metrics)
  local entry before=() i=0 total=0
  for entry in "$@"; do before+=("$(ticks "${entry#*=}")"); done
  sleep "$duration"
  for entry in "$@"; do total=$((total + $(ticks "${entry#*=}") - before[i])); i=$((i + 1)); done
  echo "$total"
}
hz=$(getconf CLK_TCK)
cpu_rows=()
measure() { # label url connections name=pid...   prints the latencies; CPU per request is printed at the end
  local label=$1 url=$2 conns=$3; shift 3
  local entry before=() after=() i=0 total=0 parts=""
  taskset -c 1 wrk -t1 -c"$conns" -d3s -s tests/load/chat.lua "$url" >/dev/null   # warm-up
  for entry in "$@"; do before+=("$(ticks "${entry#*=}")"); done
  local out; out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${duration}s" -s tests/load/chat.lua "$url")
  for entry in "$@"; do after+=("$(ticks "${entry#*=}")"); done
  local requests; requests=$(echo "$out" | awk '/requests in/ {print $1}')
  for entry in "$@"; do
    local t=$((after[i] - before[i])); total=$((total + t)); i=$((i + 1))
    parts+=" ${entry%%=*} $(awk -v t="$t" -v r="$requests" -v hz="$hz" 'BEGIN { printf "%.3f", t * 1000 / hz / r }')"
  done
  echo "== $label ($conns connections, ${duration}s)"
  echo "$out" | grep -E "requests/s|^p|errors|Non-2xx"
  [ $# -gt 1 ] && echo "  CPU by process, idle included (ms per request):$parts"
  cpu_rows+=("$label|$total|$requests")
  return 0
}
mesh_pids=()
for file in "$MESH_DIR"/*.pid; do mesh_pids+=("$(basename "$file" .pid)=$(cat "$file")"); done
embedded="http://127.0.0.1:$http_port/v1/chat/completions"
mesh="http://127.0.0.1:$MESH_EDGE_HTTP/v1/chat/completions"
taskset -c 1 wrk -t1 -c"$connections" -d"${warmup}s" -s tests/load/chat.lua "$embedded" >/dev/null
taskset -c 1 wrk -t1 -c"$connections" -d"${warmup}s" -s tests/load/chat.lua "$mesh" >/dev/null
# The JIT compiles the methods the warm-up queued for re-compilation in the background, on the shared core;
# measured before it is done, the runs (the embedded gateway's too) would pay for it.
sleep "${SETTLE:-20}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
measure "embedded, latency" "$embedded" 1 "gateway=$gw_pid"
measure "mesh, latency" "$mesh" 1 "${mesh_pids[@]}"
measure "embedded, load" "$embedded" "$connections" "gateway=$gw_pid"
measure "mesh, load" "$mesh" "$connections" "${mesh_pids[@]}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# The idle cost (timers, GC, metrics) is taken after the runs: before them the JIT is still re-compiling hot
# methods in the background, seconds of CPU that would be taken off the requests' share.
embedded_idle=$(idle "gateway=$gw_pid")
mesh_idle=$(idle "${mesh_pids[@]}")
for row in "${cpu_rows[@]}"; do
  IFS='|' read -r label total requests <<<"$row"
  idle_ticks=$embedded_idle; [[ $label == mesh* ]] && idle_ticks=$mesh_idle
  awk -v l="$label" -v t="$total" -v r="$requests" -v hz="$hz" -v idle="$idle_ticks" -v d="$duration" 'BEGIN {
    printf "cpu per request, %s: %.3f ms (%d requests; idle cpu %.2f s in %d s taken off)\n", l, (t - idle) * 1000 / hz / r, r, idle / hz, d }'
done
