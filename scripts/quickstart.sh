#!/usr/bin/env bash
# From a fresh clone to a working Ferry: install what is missing, build, run the main job:
# the bundled examples on the embedded defaults (LMDB history in .ferry/, dry-run where no
# credentials exist).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
FERRY=./build/ferry
step() { printf '\n== %s\n' "$*"; }

step "ferry render templates/incident.md.j2 --vars templates/samples/rca-incident.json"
$FERRY render templates/incident.md.j2 --vars templates/samples/rca-incident.json | head -n 20
echo "..."

step "ferry validate"
$FERRY validate

step "ferry run normalize-finding --inputs-file workflows/samples/finding.json"
$FERRY run normalize-finding --inputs-file workflows/samples/finding.json --pretty

step "ferry run cert-expiry --inputs-file workflows/samples/certificates.json"
$FERRY run cert-expiry --inputs-file workflows/samples/certificates.json --quiet \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["outputs"]["report"])'

step "ferry run incident-report --dry-run --inputs-file workflows/samples/rca.json"
$FERRY run incident-report --dry-run --inputs-file workflows/samples/rca.json --quiet \
  | python3 -c 'import json,sys; r=json.load(sys.stdin)["outputs"]["ticket"]; print(json.dumps(r["request"], indent=2)[:1200])'

step "ferry run rca-to-ticket --dry-run (ServiceNow or Jira by the platform input; no credentials needed)"
$FERRY run rca-to-ticket --dry-run --inputs-file workflows/samples/rca-jira.json --quiet \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({k: v["status"] for k, v in d["steps"].items()}, indent=2))'

step "ferry run compliance-finding --dry-run (Jira ticket + Splunk event)"
$FERRY run compliance-finding --dry-run --inputs-file workflows/samples/compliance-finding.json --quiet \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], sorted(d["steps"]))'

step "ferry executions list --limit 5"
$FERRY executions list --limit 5
