#!/usr/bin/env bash
# Latency the MCP gateway adds to a tools/call (p50/p90/p99), measured against server-everything over
# Streamable HTTP on 127.0.0.1. Usage: tests/load/mcp-overhead.sh [calls] [warmup]   (needs node + npm)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d tests/mcp-servers/node_modules ] || npm ci --prefix tests/mcp-servers --no-audit --no-fund --loglevel=error
dotnet run -c Release --project tests/load/McpOverhead -- "${1:-2000}" "${2:-300}" 2>/dev/null | grep -v '^\['
