#!/usr/bin/env bash
# Cost of the front-door variants at one connection through the embedded gateway, on 127.0.0.1: chat with a
# gateway key, chat with an OIDC token (RS256, key set served locally and cached), and the Responses API
# with and without storing the response. The gateway is pinned to core 0, the upstream, JWKS and wrk to core 1.
# Usage: tests/load/auth-overhead.sh [duration_seconds]   (needs: wrk, taskset, python3 with `cryptography`)
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10}
up_port=19910; http_port=18090; grpc_port=18091; jwks_port=19911
work=$(mktemp -d)
cleanup() { for pid in ${gw_pid:-} ${up_pid:-} ${jwks_pid:-}; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

for project in tests/load/FakeUpstream services/edge; do dotnet build -c Release "$project" -v q -nologo >/dev/null; done
# A signing key, its JWKS, and one token valid for an hour.
python3 - "$work" "$jwks_port" <<'PY'
import base64, json, sys, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
work, port = sys.argv[1], sys.argv[2]
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
n = key.public_key().public_numbers()
num = lambda i: b64(i.to_bytes((i.bit_length() + 7) // 8, "big"))
json.dump({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "load", "n": num(n.n), "e": num(n.e)}]}, open(f"{work}/jwks.json", "w"))
header = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "load"}).encode())
now = int(time.time())
claims = {"iss": "https://idp.load.test/", "aud": "gateway", "sub": "load-user", "groups": ["load"], "iat": now, "exp": now + 3600}
body = b64(json.dumps(claims).encode())
signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
open(f"{work}/token", "w").write(f"{header}.{body}.{b64(signature)}")
PY
cat > "$work/gateway.yaml" <<YAML
server: { http: 127.0.0.1:$http_port, grpc: 127.0.0.1:$grpc_port }
storage: { state: "sqlite://$work/state.db", traces: "sqlite://$work/traces.db" }
providers:
  fake: { kind: openai, base_url: "http://127.0.0.1:$up_port/v1" }
models:
  gpt-4o: { targets: [{ provider: fake, model: gpt-4o }], price: { input: 2.5, output: 10 } }
keys:
  - { name: load, key: load-test-key-0123456789, team: load }
auth:
  oidc:
    - { name: load, issuer: "https://idp.load.test/", audience: gateway, jwks_url: "http://127.0.0.1:$jwks_port/jwks.json", teams: { load: load } }
YAML

taskset -c 1 dotnet tests/load/FakeUpstream/bin/Release/net10.0/Gateway.Load.FakeUpstream.dll $up_port >/dev/null &
up_pid=$!
(cd "$work" && exec taskset -c 1 python3 -m http.server "$jwks_port" --bind 127.0.0.1 >/dev/null 2>&1) &
jwks_pid=$!
taskset -c 0 dotnet services/edge/bin/Release/net10.0/gateway.dll --config "$work/gateway.yaml" >"$work/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null && curl -s "http://127.0.0.1:$up_port/" >/dev/null && break; sleep 0.2; done
token=$(cat "$work/token")

run() { # label path script key [store]
  echo "== $1"
  GATEWAY_KEY=$4 STORE=${5:-false} taskset -c 1 wrk -t1 -c1 -d"${duration}s" -s "tests/load/$3" "http://127.0.0.1:$http_port$2" | grep -E "requests/s|^p|errors"
}
# Warm up (and fetch the key set once).
GATEWAY_KEY=$token taskset -c 1 wrk -t1 -c4 -d5s -s tests/load/chat.lua "http://127.0.0.1:$http_port/v1/chat/completions" >/dev/null
GATEWAY_KEY=load-test-key-0123456789 taskset -c 1 wrk -t1 -c4 -d3s -s tests/load/responses.lua "http://127.0.0.1:$http_port/v1/responses" >/dev/null
run "chat, gateway key" /v1/chat/completions chat.lua load-test-key-0123456789
run "chat, OIDC token" /v1/chat/completions chat.lua "$token"
run "responses, gateway key, store: false" /v1/responses responses.lua load-test-key-0123456789
run "responses, gateway key, store: true" /v1/responses responses.lua load-test-key-0123456789 true
run "responses, OIDC token, store: true" /v1/responses responses.lua "$token" true
