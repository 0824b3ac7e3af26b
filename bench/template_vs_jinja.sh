#!/usr/bin/env bash
# Ferry's template engine against Jinja2 in the same run, on the bundled incident template
# with realistic RCA data. Prints both results and the ratio.
#   bench/template_vs_jinja.sh [BUILD_DIR] [SECONDS] [ROUNDS]
#
# The two engines run in alternating rounds of SECONDS each (ROUNDS of each, default 5), so
# a slow spell of a shared machine lands on both rather than on whichever ran during it.
# Reported: each engine's best round (the least disturbed; what timeit reports too), the
# ratio of the bests, and the median of the per-round ratios (each Ferry round against the
# Jinja2 round right after it).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
SECONDS_EACH=${2:-2}
ROUNDS=${3:-${ROUNDS:-5}}
TEMPLATE=${TEMPLATE:-templates/incident.md.j2}
VARS=${VARS:-templates/samples/rca-incident.json}
results=()
for ((round = 1; round <= ROUNDS; round++)); do
    ferry=$("$BUILD_DIR/bench/template_bench" "$TEMPLATE" "$VARS" "$SECONDS_EACH")
    jinja=$(/usr/bin/python3 bench/jinja_bench.py "$TEMPLATE" "$VARS" "$SECONDS_EACH")
    echo "round $round: ferry $ferry"
    echo "round $round: jinja2 $jinja"
    results+=("$ferry" "$jinja")
done
python3 - "${results[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(a) for a in sys.argv[1:]]
ferry, jinja = runs[0::2], runs[1::2]
if any(f["bytes"] != j["bytes"] for f, j in zip(ferry, jinja)):
    print("WARNING: outputs differ in size")
best_f = max(r["renders_per_second"] for r in ferry)
best_j = max(r["renders_per_second"] for r in jinja)
per_round = [f["renders_per_second"] / j["renders_per_second"] for f, j in zip(ferry, jinja)]
print(f"best rounds: ferry {best_f:.0f} renders/s, jinja2 {best_j:.0f} renders/s "
      f"(Jinja2 {jinja[0]['jinja2']})")
print(f"ratio: {best_f / best_j:.1f}x Jinja2's renders/s (best rounds); per-round ratios "
      + " ".join(f"{r:.1f}" for r in per_round)
      + f", median {statistics.median(per_round):.1f}x; "
      f"{ferry[0]['allocations_per_render']:.0f} allocations per render")
PY
