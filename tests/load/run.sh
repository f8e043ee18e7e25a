#!/usr/bin/env bash
# The load harness (docs/performance.md): builds the gateway, the fake upstream and the harness in Release, then
# measures direct upstream, a bare Kestrel pass-through and the gateway (plain and with all governance on), each
# pinned to core 0 with wrk on core 1. Writes tests/load/results/load-*.md and .json.
# Usage: tests/load/run.sh [--duration S] [--warmup S] [--rate R] [--targets direct,passthrough,gateway,governed]
#        tests/load/run.sh --soak S [--sample S] [--rate R] [--targets governed]   (a soak instead; see soak.sh)
# Needs: wrk, taskset (apt-get install wrk util-linux). Everything runs on 127.0.0.1 and stops by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
for project in services/edge tests/load/FakeUpstream tests/load/Harness; do
  dotnet build -c Release "$project" -v q -nologo >/dev/null
done
exec dotnet tests/load/Harness/bin/Release/net10.0/Gateway.Load.Harness.dll "$@"
