#!/usr/bin/env bash
# From a fresh clone to a working Ferry: install what is missing, build, run the main job:
# the bundled examples on the embedded defaults (LMDB history in .ferry/, dry-run where no
# credentials exist), then `ferry serve` on them until Ctrl-C.
#
#   scripts/quickstart.sh              everything, then serve on 127.0.0.1:8080
#   scripts/quickstart.sh --no-serve   stop after the examples
#   QUICKSTART_LISTEN=127.0.0.1:9090 scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SERVE=1
case "${1:-}" in
  --no-serve) SERVE=0 ;;
  -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "quickstart: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
scripts/install-deps.sh
scripts/build.sh
FERRY=./build/ferry
step() { printf '\n== %s\n' "$*"; }

step "ferry render templates/incident.md.j2 --vars templates/samples/rca-incident.json"
$FERRY render templates/incident.md.j2 --vars templates/samples/rca-incident.json | sed -n 1,20p
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

step "ferry run cmdb-sync --dry-run (every CMDB page read, then a create or update per server)"
$FERRY run cmdb-sync --dry-run --inputs-file workflows/samples/inventory.json --quiet \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], d["outputs"])'

step "ferry executions list --limit 5"
$FERRY executions list --limit 5

[ "$SERVE" = 1 ] || exit 0

# ---- ferry serve on the bundled project ---------------------------------------------------
LISTEN=${QUICKSTART_LISTEN:-127.0.0.1:8080}
BASE="http://$LISTEN"
mkdir -p .ferry
# An admin token for this machine, created once; ferry.yaml holds only its SHA-256.
if [ ! -s .ferry/quickstart.token ]; then
  (umask 077; openssl rand -hex 24 > .ferry/quickstart.token)
fi
export FERRY_QUICKSTART_TOKEN_SHA256
FERRY_QUICKSTART_TOKEN_SHA256=$(tr -d '\n' < .ferry/quickstart.token | sha256sum | cut -d' ' -f1)
# The rca-complete hook's signing secret (Standard Webhooks: whsec_ + base64), created once.
if [ -z "${RCA_HOOK_SECRET:-}" ]; then
  if [ ! -s .ferry/rca-hook.secret ]; then
    (umask 077; printf 'whsec_%s' "$(openssl rand -base64 32)" > .ferry/rca-hook.secret)
  fi
  export RCA_HOOK_SECRET
  RCA_HOOK_SECRET=$(cat .ferry/rca-hook.secret)
fi
# Live only with credentials: without any, every execution the server starts is a dry run.
SERVE_ARGS=(--listen "$LISTEN")
if [ -z "${SERVICENOW_PASSWORD:-}${JIRA_API_TOKEN:-}${SPLUNK_HEC_TOKEN:-}${WEBHOOK_SECRET:-}" ]; then
  SERVE_ARGS+=(--dry-run)
  MODE="dry-run: no credentials in the environment (docs/integrations.md)"
else
  MODE="live: requests go to the integrations in ferry.yaml"
fi

step "ferry serve ${SERVE_ARGS[*]}   ($MODE)"
$FERRY serve "${SERVE_ARGS[@]}" --quiet &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
trap 'exit 0' INT TERM
up=0
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
       "$BASE/healthz" 2>/dev/null; then up=1; break; fi
  kill -0 $SERVER 2>/dev/null || { echo "quickstart: ferry serve exited" >&2; exit 1; }
  sleep 0.1
done
[ "$up" = 1 ] || { echo "quickstart: ferry serve did not answer on $BASE" >&2; exit 1; }

step "the change-request form submitted: POST /api/v1/forms/change-request/submit?wait=10s"
python3 - "$BASE" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
fields = json.load(open("workflows/samples/change-request.json"))
req = urllib.request.Request(base + "/api/v1/forms/change-request/submit?wait=10s",
                             data=json.dumps(fields).encode(),
                             headers={"Content-Type": "application/json"})
doc = json.load(urllib.request.urlopen(req, timeout=30))
print(json.dumps({"id": doc["id"], "status": doc["status"], "outputs": doc.get("outputs"),
                  "steps": {k: v["status"] for k, v in doc.get("steps", {}).items()}}, indent=2))
PY

AUTH='-H "Authorization: Bearer $(cat .ferry/quickstart.token)"'
cat <<EOF

Ferry is serving the bundled project on $BASE ($MODE).
  Request form (browser):  $BASE/forms/change-request
  Your admin token:        .ferry/quickstart.token
  Executions:              curl -s $AUTH $BASE/api/v1/executions
  Live events (SSE):       curl -sN $AUTH $BASE/api/v1/events
  Metrics:                 curl -s $AUTH $BASE/metrics
  Start a workflow:        curl -s $AUTH -H "Content-Type: application/json" -d @workflows/samples/rca-request.json '$BASE/api/v1/workflows/rca-to-ticket/executions?wait=10s'
  API reference:           $BASE/api/v1/openapi.json and docs/api.md
Stop with Ctrl-C: running executions are durable and resume at the next start.
EOF
wait $SERVER
