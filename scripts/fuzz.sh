#!/usr/bin/env bash
# Coverage-guided fuzzing of Ferry's input surfaces with libFuzzer (Clang), under ASan and
# UBSan. Builds build-fuzz/ (Clang, FERRY_FUZZ=ON), then runs each named target for the
# given time on a working corpus seeded from tests/fuzz/corpus/NAME.
#
#   scripts/fuzz.sh                          every target, 60 s each
#   scripts/fuzz.sh --time 600 template http one target after the other, 10 min each
#   scripts/fuzz.sh --list                   the targets and what they feed
#
# Options: --time S (per target, default 60), --max-len BYTES (default 4096), --no-build,
# --build DIR (the Clang build tree, default build-fuzz/).
# A crash stops its target and leaves the input in build-fuzz/artifacts/; after the fix,
# save it as tests/fuzz/corpus/NAME/crash-WHAT so that the ordinary test suite (which runs
# every saved input through the same target, built with replay_main.cpp) keeps it fixed.
# Not part of scripts/test.sh: fuzzing finds things over minutes to hours, not in CI time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

targets_all=(template json yaml parsers http)
describe() {
  case "$1" in
    template) echo "template source: lexer, parser, renderer, filters, tests, methods" ;;
    json) echo "JSON text: value_from_json, the Lua edge (json_lua), write-read stability" ;;
    yaml) echo "a workflow file and ferry.yaml: loader, validator, project config" ;;
    parsers) echo "cron, durations, sizes, timestamps, queries, form submissions, hook signatures, base64/hex, step references" ;;
    http) echo "bytes on a socket to the HTTP server, cut into 1-64-byte writes" ;;
  esac
}

seconds=60 max_len=4096 build=1 targets=() B="$ROOT/build-fuzz"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --time) seconds=$2; shift 2 ;;
    --max-len) max_len=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --build) B=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
    --list) for t in "${targets_all[@]}"; do printf '%-8s %s\n' "$t" "$(describe "$t")"; done; exit 0 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *)
      if [[ -z "$(describe "$1")" ]]; then
        echo "fuzz.sh: no target '$1' (targets: ${targets_all[*]})" >&2; exit 2
      fi
      targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${targets_all[@]}")

if [[ $build == 1 ]]; then
  scripts/install-deps.sh --fuzz
  CC=clang CXX=clang++ cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFERRY_FUZZ=ON \
    -DFERRY_BUILD_BENCH=OFF >/dev/null
  cmake --build "$B" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
fi

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=suppressions=$ROOT/tests/fuzz/ubsan.supp:print_stacktrace=1:halt_on_error=1
mkdir -p "$B/artifacts"
failed=()
for t in "${targets[@]}"; do
  work="$B/corpus/$t"
  mkdir -p "$work"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  # The shared Jinja2 conformance templates make good seeds when they are beside the clone.
  if [[ $t == template && -d ../shared/conformance/jinja/public ]]; then
    find ../shared/conformance/jinja/public -name '*.j2' | while read -r f; do
      cp -n "$f" "$work/shared-$(echo "$f" | sha1sum | cut -c1-12).j2"
    done
  fi
  echo "== fuzz_$t ($(describe "$t")): ${seconds}s, corpus $work"
  if ! "$B/tests/fuzz/fuzz_$t" "$work" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len="$max_len" -artifact_prefix="$B/artifacts/$t-" \
      -print_final_stats=1 2>"$B/fuzz_$t.log"; then
    failed+=("$t")
    tail -40 "$B/fuzz_$t.log"
  fi
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)" \
    "$B/fuzz_$t.log" | sed 's/^/   /'
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: found crashes in: ${failed[*]} (inputs in $B/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: no crash in ${targets[*]}"
