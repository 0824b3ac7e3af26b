#!/usr/bin/env bash
# Instructions per `ferry serve` request on the serve benchmark's flow (issue 5): a figure
# that does not drift with the host, for telling builds apart by 1 % where wall-clock
# runs on this shared VM scatter by 30 % (and it exposes no hardware counters to perf).
#
#   bench/serve_instructions.sh BUILD [BUILD...]          # e.g. a base and a new build
#
# bench/serve_bench.sh --keep sets up its throw-away project and nginx mock; then each
# build's `ferry serve` runs under callgrind (whole process, both threads) twice, for
# SMALL and LARGE POSTs of the benchmark's alert to /hooks/alert?wait=60s from ten
# keep-alive clients, every answer checked for its ticket number (access logs off:
# `--quiet`, the server's own work). (LARGE - SMALL) / the
# difference is the instructions of one request, start-up and shutdown taken out. Each
# build is measured ROUNDS times, alternating. Needs valgrind; everything on 127.0.0.1,
# each process stopped by its PID.
#
# Options: --small N (200), --large N (2200), --rounds R (2)
set -euo pipefail
cd "$(dirname "$0")/.."

small=200 large=2200 rounds=2
builds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --small) small="$2"; shift 2 ;;
    --large) large="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) builds+=("$1"); shift ;;
  esac
done
[ ${#builds[@]} -gt 0 ] || { echo "usage: bench/serve_instructions.sh BUILD [BUILD...]" >&2; exit 2; }
command -v valgrind > /dev/null || { echo "serve_instructions.sh: needs valgrind" >&2; exit 2; }
[ "$large" -gt "$small" ] || { echo "serve_instructions.sh: --large must exceed --small" >&2; exit 2; }

base="$(mktemp -d "${TMPDIR:-/tmp}/ferry-serve-instr-XXXXXX")"
kept=""
cleanup() {
  if [ -n "$kept" ]; then
    # "stop: kill -TERM F; kill -QUIT N M; rm -rf DIRS" from serve_bench.sh --keep
    local stop="${kept#*stop: }"
    eval "$stop" 2> /dev/null || true
  fi
  rm -rf "$base"
}
trap cleanup EXIT

kept="$(bench/serve_bench.sh --build "${builds[0]}" --keep --quiet-log --dir "$base" | sed -n 's/^kept: //p')"
[ -n "$kept" ] || { echo "serve_instructions.sh: serve_bench.sh --keep did not start" >&2; exit 1; }
# Its own ferry serve is not measured: stopped now, the mock and project stay.
ferry_pid="$(printf '%s' "$kept" | sed -n 's/^ferry serve PID \([0-9]*\) .*/\1/p')"
kill -TERM "$ferry_pid"
while kill -0 "$ferry_pid" 2> /dev/null; do sleep 0.1; done
project="$(ls -d "$base"/ferry-serve-bench-*/project)"

driver="$base/drive.py"
cat > "$driver" <<'PY'
import http.client, json, sys, threading
port, total, clients = int(sys.argv[1]), int(sys.argv[2]), 10
body = json.dumps({"title": "  Orders API: PostgreSQL connection pool exhausted on orders-db  ",
                   "severity": "HIGH", "host": "orders-db-1",
                   "description": "pool 100/100 in use for 5 minutes; p99 of /orders above 2 s;"
                                  " 37 % of checkouts failing since 10:41 UTC"})
bad = []
def client(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    for _ in range(n):
        c.request("POST", "/hooks/alert?wait=60s", body=body,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        answer = r.read()
        if r.status != 200 or b'"number":"INC' not in answer:
            bad.append((r.status, answer[:200]))
threads = [threading.Thread(target=client, args=(total // clients,)) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
if bad:
    sys.exit("%d answers without a ticket number, the first: %r" % (len(bad), bad[0]))
PY

# Total instructions of one `ferry serve` that answers $2 requests.
instructions() {
  local build="$1" requests="$2" run="$base/run-$RANDOM"
  mkdir -p "$run"
  FERRY_BENCH_SERVICENOW_PASSWORD=bench-password-not-a-secret valgrind --tool=callgrind \
    --callgrind-out-file="$run/cg.out" "$build/ferry" serve --quiet --listen 127.0.0.1:0 \
    --project "$project" --data "$run/data" > /dev/null 2> "$run/serve.log" &
  local pid=$! port=""
  for _ in $(seq 1 600); do
    port="$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$run/serve.log" | head -1)"
    [ -n "$port" ] && break
    kill -0 "$pid" 2> /dev/null || { cat "$run/serve.log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "serve_instructions.sh: ferry serve did not listen" >&2; kill -KILL "$pid"; exit 1; }
  python3 "$driver" "$port" "$requests" || { kill -KILL "$pid"; exit 1; }
  kill -TERM "$pid"
  wait "$pid" || true
  sed -n 's/^totals: //p' "$run/cg.out"
  rm -rf "$run"
}

echo "serve flow: ${small} and ${large} requests per run, ten keep-alive clients, $rounds round(s)"
for round in $(seq 1 "$rounds"); do
  for build in "${builds[@]}"; do
    few="$(instructions "$build" "$small")"
    many="$(instructions "$build" "$large")"
    per=$(( (many - few) / (large - small) ))
    printf '%-40s round %d: %s instructions per request (%s for %d, %s for %d)\n' \
      "$build" "$round" "$per" "$many" "$large" "$few" "$small"
  done
done
