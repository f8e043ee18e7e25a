#!/usr/bin/env bash
# The bounded soak (docs/performance.md, "Soak"): the governed gateway at a steady rate on 127.0.0.1 for SECONDS
# (default 600), sampled every 10 s: RSS, GC heap, threads, open sockets and latency per interval, with each
# metric's trend. Writes tests/load/results/soak-*.md and .json; exits non-zero when a check fails.
# Usage: tests/load/soak.sh [SECONDS] [RATE]
set -euo pipefail
exec "$(dirname "$0")/run.sh" --targets "${TARGET:-governed}" --soak "${1:-600}" --rate "${2:-200}" --warmup "${WARMUP:-30}" --sample "${SAMPLE:-10}"
