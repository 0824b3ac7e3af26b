#!/usr/bin/env bash
# Two builds of the template engine side by side: both run template_bench at the same time,
# each pinned to its own core, and swap cores every round. A drift of the shared host lands
# on both at once, so the ratio holds to about half a percent where alternating runs
# (bench/template_vs_jinja.sh, bench/compare.sh) scatter by several.
#
#   bench/template_ab.sh BASE_BUILD NEW_BUILD [ROUNDS] [SECONDS]
#
# BASE_BUILD and NEW_BUILD are build folders with bench/template_bench (Release). Rounds
# default to 6, seconds per round to 2; TEMPLATE and VARS choose the input (default: the
# bundled incident template and its sample RCA). Needs two cores (taskset, util-linux).
# Prints each round and the median of NEW/BASE.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    sed -n '2,13p' "$0"
    [ $# -ge 2 ] && exit 0 || exit 2
fi
base=$1
new=$2
rounds=${3:-6}
seconds=${4:-2}
template=${TEMPLATE:-templates/incident.md.j2}
vars=${VARS:-templates/samples/rca-incident.json}
for build in "$base" "$new"; do
    if [ ! -x "$build/bench/template_bench" ]; then
        echo "template_ab.sh: $build/bench/template_bench not found (build it first)" >&2
        exit 2
    fi
done
case "$rounds" in '' | *[!0-9]* | 0)
    echo "template_ab.sh: ROUNDS must be a positive number" >&2
    exit 2
    ;;
esac
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ratios=()
for ((round = 0; round < rounds; round++)); do
    base_core=$((round % 2))
    new_core=$((1 - base_core))
    taskset -c "$base_core" "$base/bench/template_bench" "$template" "$vars" "$seconds" >"$out/base" &
    base_pid=$!
    taskset -c "$new_core" "$new/bench/template_bench" "$template" "$vars" "$seconds" >"$out/new" &
    new_pid=$!
    wait "$base_pid" "$new_pid"
    ratios+=("$(python3 - "$out/base" "$out/new" "$round" <<'PY'
import json, sys
base, new = (json.load(open(p))["renders_per_second"] for p in sys.argv[1:3])
print(f"round {sys.argv[3]}: base {base:.0f} new {new:.0f} renders/s, new/base {new / base:.3f}",
      file=sys.stderr)
print(new / base)
PY
)")
done
python3 -c 'import statistics, sys; print(f"median new/base {statistics.median(map(float, sys.argv[1:])):.3f}")' "${ratios[@]}"
