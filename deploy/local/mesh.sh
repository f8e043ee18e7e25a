#!/usr/bin/env bash
# The gateway as a mesh on one machine: every service its own process on loopback ports, each with its own
# config (deploy/local/mesh/<service>.yaml), events through a Dapr sidecar.
#
#   deploy/local/mesh.sh start | stop | status
#
# daprd cannot run on every laptop or CI box, so the local mesh's sidecar is the TEST-ONLY stand-in
# tests/Gateway.FakeDaprSidecar (PublishEvent over gRPC, CloudEvents to the subscribers' /events/* routes, as
# daprd does). In Kubernetes each pod runs the real daprd (deploy/k8s, deploy/dapr).
#
# Environment (all optional):
#   MESH_DIR            where PIDs, logs and SQLite files go            (./data/mesh)
#   MESH_CONFIGURATION  build configuration to run                      (Release)
#   MESH_NO_BUILD=1     run the existing build outputs, do not build
#   MESH_PORT_BASE      gRPC ports BASE+1..7, HTTP ports BASE+101..107  (9100); the edge: MESH_EDGE_HTTP (8080)
#   MESH_OPENAI_BASE_URL, OPENAI_API_KEY, GATEWAY_ADMIN_KEY, GATEWAY_DEV_KEY  as in the config files
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

export MESH_DIR=${MESH_DIR:-$root/data/mesh}
export MESH_DATA=$MESH_DIR
configuration=${MESH_CONFIGURATION:-Release}
base=${MESH_PORT_BASE:-9100}

# service  project-dir  assembly  port-offset (order: leaves first, the edge last)
services=(
  "traces  services/traces  Gateway.Traces.dll  5"
  "guard   services/guard   Gateway.Guard.dll   2"
  "budget  services/budget  Gateway.Budget.dll  3"
  "prompts services/prompts Gateway.Prompts.dll 4"
  "mcp     services/mcp     Gateway.Mcp.dll     6"
  "router  services/router  Gateway.Router.dll  1"
  "edge    services/edge    gateway.dll         0"
)
sidecar_project=tests/Gateway.FakeDaprSidecar

ports() { # exports MESH_<NAME>_GRPC / _HTTP for every service
  local name dir dll offset upper
  for entry in "${services[@]}"; do
    read -r name dir dll offset <<<"$entry"
    upper=${name^^}
    if [ "$name" = edge ]; then
      export MESH_EDGE_HTTP=${MESH_EDGE_HTTP:-8080} MESH_EDGE_GRPC=${MESH_EDGE_GRPC:-8081}
    else
      export "MESH_${upper}_GRPC=$((base + offset))" "MESH_${upper}_HTTP=$((base + 100 + offset))"
    fi
  done
  export MESH_SIDECAR_GRPC=${MESH_SIDECAR_GRPC:-$((base + 50))}
}

pidfile() { echo "$MESH_DIR/$1.pid"; }

running() { [ -f "$(pidfile "$1")" ] && kill -0 "$(cat "$(pidfile "$1")")" 2>/dev/null; }

http_port() { local var="MESH_${1^^}_HTTP"; echo "${!var}"; }

wait_healthy() { # name
  local port; port=$(http_port "$1")
  for _ in $(seq 1 150); do
    if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then return 0; fi
    if ! running "$1"; then echo "$1 exited; see $MESH_DIR/$1.log" >&2; tail -20 "$MESH_DIR/$1.log" >&2; return 1; fi
    sleep 0.2
  done
  echo "$1 not healthy on port $port after 30 s; see $MESH_DIR/$1.log" >&2
  return 1
}

start() {
  mkdir -p "$MESH_DIR"
  ports
  if [ "${MESH_NO_BUILD:-}" != 1 ]; then
    for entry in "${services[@]}"; do
      read -r _ dir _ _ <<<"$entry"
      dotnet build "$dir" -c "$configuration" -v q -nologo >/dev/null
    done
    dotnet build "$sidecar_project" -c "$configuration" -v q -nologo >/dev/null
  fi
  export DAPR_GRPC_ENDPOINT="http://127.0.0.1:$MESH_SIDECAR_GRPC"
  local name dir dll offset apps=()
  for entry in "${services[@]}"; do
    read -r name dir dll offset <<<"$entry"
    if running "$name"; then echo "$name already running (pid $(cat "$(pidfile "$name")"))"; continue; fi
    # Another process on the port would answer the health check in this one's place.
    if (exec 3<>"/dev/tcp/127.0.0.1/$(http_port "$name")") 2>/dev/null; then
      echo "port $(http_port "$name") for $name is taken by another process; stop it or set MESH_PORT_BASE" >&2; stop; exit 1
    fi
    local output="$dir/bin/$configuration/net10.0/$dll"
    [ -f "$output" ] || { echo "no build output $output; build first or unset MESH_NO_BUILD" >&2; exit 1; }
    nohup dotnet "$output" --config "deploy/local/mesh/$name.yaml" >"$MESH_DIR/$name.log" 2>&1 &
    echo $! >"$(pidfile "$name")"
    apps+=(--app "http://127.0.0.1:$(http_port "$name")")
  done
  if ! running sidecar; then
    nohup dotnet "$sidecar_project/bin/$configuration/net10.0/Gateway.FakeDaprSidecar.dll" \
      --grpc-port "$MESH_SIDECAR_GRPC" "${apps[@]}" >"$MESH_DIR/sidecar.log" 2>&1 &
    echo $! >"$(pidfile sidecar)"
  fi
  for entry in "${services[@]}"; do
    read -r name _ _ _ <<<"$entry"
    wait_healthy "$name" || { stop; exit 1; }
  done
  echo "mesh up: edge http://127.0.0.1:$MESH_EDGE_HTTP (gRPC $MESH_EDGE_GRPC), router gRPC $MESH_ROUTER_GRPC, sidecar gRPC $MESH_SIDECAR_GRPC; logs in $MESH_DIR"
}

stop() {
  local name pid
  for name in edge router mcp prompts budget guard traces sidecar; do
    [ -f "$(pidfile "$name")" ] || continue
    pid=$(cat "$(pidfile "$name")")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      if kill -0 "$pid" 2>/dev/null; then echo "$name (pid $pid) did not stop in 10 s; killing" >&2; kill -KILL "$pid"; fi
    fi
    rm -f "$(pidfile "$name")"
    echo "stopped $name (pid $pid)"
  done
}

status() {
  ports
  local name state=0
  for name in traces guard budget prompts mcp router edge sidecar; do
    if running "$name"; then
      if [ "$name" = sidecar ] || curl -sf "http://127.0.0.1:$(http_port "$name")/readyz" >/dev/null; then
        echo "$name: running (pid $(cat "$(pidfile "$name")"))"
      else
        echo "$name: running (pid $(cat "$(pidfile "$name")")), not ready"; state=1
      fi
    else
      echo "$name: stopped"; state=1
    fi
  done
  return $state
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
