#!/usr/bin/env bash
# Fuzzes one hand-written parser with afl++ for a bounded time:
#   tests/fuzz/run.sh <target> [seconds]     targets: sse json-chat json-anthropic anthropic-sse gemini-sse
#                                                     bedrock-eventstream yaml-config
# Needs afl++ (Debian: apt-get install -y afl++). Builds Gateway.Fuzz in Release, instruments the gateway's
# assemblies with the sharpfuzz dotnet tool (tests/fuzz/dotnet-tools.json), seeds afl-fuzz from
# corpus/<target>/ and copies any crash input to crashes/<target>/, where the in-process replay test
# (Gateway.Router.Tests FuzzCorpusReplayTests) runs it on every test run.
set -euo pipefail
target=${1:?usage: run.sh <target> [seconds]}
seconds=${2:-300}
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/out/bin
work=$here/out/$target
[ -d "$here/corpus/$target" ] || { echo "no corpus for target '$target'" >&2; exit 2; }
command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: apt-get install -y afl++" >&2; exit 2; }

cd "$here"
dotnet tool restore >/dev/null
if [ ! -f "$bin/.instrumented" ]; then
  dotnet publish Gateway.Fuzz/Gateway.Fuzz.csproj -c Release -o "$bin" --nologo -v quiet
  # Only the gateway's own parsers are instrumented: coverage there is what guides afl.
  for assembly in Gateway.Router.dll Gateway.Common.dll; do
    dotnet tool run sharpfuzz "$bin/$assembly"
  done
  touch "$bin/.instrumented"
fi

rm -rf "$work"
mkdir -p "$work"
# -V: stop after this many seconds; -t: per-input timeout (ms, generous for the first JIT); -m none: the CLR
# reserves more virtual memory than afl's default limit.
AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
  afl-fuzz -V "$seconds" -t 5000 -m none -i "corpus/$target" -o "$work" -- dotnet "$bin/Gateway.Fuzz.dll" "$target" \
  > "$work/afl.log" 2>&1 || { tail -20 "$work/afl.log" >&2; exit 1; }

stats=$work/default/fuzzer_stats
value() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
crashes=$(find "$work/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
echo "target=$target seconds=$(value run_time) execs=$(value execs_done) execs_per_sec=$(value execs_per_sec) paths=$(value corpus_count) crashes=$crashes hangs=$(value saved_hangs)"
if [ "$crashes" -gt 0 ]; then
  mkdir -p "crashes/$target"
  for file in "$work"/default/crashes/id:*; do
    cp "$file" "crashes/$target/$(sha256sum "$file" | cut -c1-16)"
  done
  echo "crash inputs copied to tests/fuzz/crashes/$target/" >&2
fi
