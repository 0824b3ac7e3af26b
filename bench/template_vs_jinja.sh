#!/usr/bin/env bash
# Ferry's template engine against Jinja2 in the same run, on the bundled incident template
# with realistic RCA data. Prints both results and the ratio.
#   bench/template_vs_jinja.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
SECONDS_EACH=${2:-3}
TEMPLATE=${TEMPLATE:-templates/incident.md.j2}
VARS=${VARS:-templates/samples/rca-incident.json}
ferry=$("$BUILD_DIR/bench/template_bench" "$TEMPLATE" "$VARS" "$SECONDS_EACH")
jinja=$(/usr/bin/python3 bench/jinja_bench.py "$TEMPLATE" "$VARS" "$SECONDS_EACH")
echo "ferry:  $ferry"
echo "jinja2: $jinja"
python3 - "$ferry" "$jinja" <<'PY'
import json, sys
f, j = json.loads(sys.argv[1]), json.loads(sys.argv[2])
if f["bytes"] != j["bytes"]:
    print(f"WARNING: outputs differ in size ({f['bytes']} vs {j['bytes']} bytes)")
print(f"ratio: {f['renders_per_second'] / j['renders_per_second']:.1f}x Jinja2's renders/s, "
      f"{f['allocations_per_render']:.0f} allocations per render")
PY
