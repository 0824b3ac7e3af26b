#!/usr/bin/env bash
# From a fresh clone to a working Ferry: install what is missing, build, run the main job
# (the bundled examples on the embedded defaults, dry-run where no credentials exist).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
echo
echo "== ferry render templates/incident.md.j2 --vars templates/samples/rca-incident.json"
./build/ferry render templates/incident.md.j2 --vars templates/samples/rca-incident.json
