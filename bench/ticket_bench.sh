#!/usr/bin/env bash
# Tickets created per second (issue 4): starts a local nginx as the ServiceNow and webhook
# mock, runs bench/ticket_bench.cpp R times (durable, then --no-sync), stops nginx and prints
# the best and the median. Builds nothing:
#
#   apt-get install nginx-light        # or nginx: the mock (a benchmark prerequisite only)
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DFERRY_BUILD_TESTS=OFF
#   cmake --build build-rel -j2 --target ticket_bench ferry
#   bench/ticket_bench.sh --build build-rel
#
# Options:
#   --build DIR      the build tree (default: build-rel, else build-bench, else build)
#   --repeat R       runs of each configuration (default 3); best and median are shown
#   --total N        tickets per run (default 20000), after --warmup W (default 1000)
#   --inflight K     executions in flight (default 100)
#   --no-sync-too    also run --no-sync (durable=false) R times, for comparison (default: yes;
#                    --durable-only skips it)
#   --sample FILE    the RCA rendered into each ticket (default templates/samples/rca-incident.json;
#                    templates/samples/rca-minimal.json shows what the payload size costs)
#   --dir BASE       where the throw-away projects go (default $TMPDIR or /tmp: a real disk)
#   --json FILE      also write every raw JSON line to FILE
#   --keep-mock      print the mock's port and PID and leave it running (for perf sessions);
#                    stop it with kill -QUIT PID, then remove the prefix it prints
#
# The mock (bench/nginx_mock.sh): nginx as the current user in a temporary prefix (daemon off, pid file and error
# log in the temp dir, access_log off, keep-alive on), listening on 127.0.0.1:<free port>:
#   POST /api/now/table/incident -> 201 and a ServiceNow-like {"result": {...}} body
#   POST /webhook/...            -> 204
#   GET  /nginx_status           -> stub_status (the benchmark reads requests/connections)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build=""
repeat=3
total=20000
warmup=1000
inflight=100
no_sync=1
base="${TMPDIR:-/tmp}"
json_out=""
keep_mock=""
sample_args=()
sample="$root/templates/samples/rca-incident.json"
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --total) total="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --inflight) inflight="$2"; shift 2 ;;
    --no-sync-too) no_sync=1; shift ;;
    --durable-only) no_sync=""; shift ;;
    --dir) base="$2"; shift 2 ;;
    --sample) sample="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; sample_args=(--sample "$sample"); shift 2 ;;
    --json) json_out="$2"; shift 2 ;;
    --keep-mock) keep_mock=1; shift ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "ticket_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$build" ]; then
  for b in build-rel build-bench build; do
    if [ -x "$root/$b/bench/ticket_bench" ]; then build="$root/$b"; break; fi
  done
fi
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bin="$build/bench/ticket_bench"
if [ ! -x "$bin" ]; then
  echo "ticket_bench.sh: $bin is missing; build it first (see the top of this script)" >&2
  exit 2
fi
source "$root/bench/nginx_mock.sh"
nginx_find
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || true)"
[ "$build_type" != "Release" ] && echo "WARNING: $build is not a Release build" >&2

# --- the mock ---------------------------------------------------------------------------
if [ -z "$keep_mock" ]; then trap nginx_stop_all EXIT; fi
ticket_mock_start ticket-mock "$build/ferry" "$sample"  # the RCA rendered: 5.5 KB by default
port="$mock_port"
nginx_pid="$nginx_last_pid"
if [ -n "$keep_mock" ]; then
  echo "mock: nginx PID $nginx_pid on 127.0.0.1:$port (prefix ${nginx_prefixes[0]}); stop it with: kill -QUIT $nginx_pid"
  exit 0
fi

# --- the runs ---------------------------------------------------------------------------
raw="$(mktemp)"
trap 'rm -f "$raw"; nginx_stop_all' EXIT
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1);" \
     "build: $build (${build_type:-?}); nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///'), 1 worker;" \
     "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run() {  # run LABEL args...
  local label="$1"; shift
  local out
  if ! out="$("$bin" --port "$port" --mock-pid "$nginx_pid" --inflight "$inflight" --total "$total" \
              --warmup "$warmup" --dir "$base" "${sample_args[@]}" "$@")"; then
    echo "ticket_bench.sh: failed: $bin $*" >&2
    exit 1
  fi
  printf '%s\n' "$out" | sed "s/^{/{\"label\": \"$label\", /" >>"$raw"
  printf '%s\n' "$out" | sed "s/^/  [$label] /" >&2
}
for r in $(seq "$repeat"); do
  run "durable K=$inflight"
  [ -n "$no_sync" ] && run "no-sync K=$inflight" --no-sync
done
[ -n "$json_out" ] && cp "$raw" "$json_out"

python3 - "$raw" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["label"], []).append(r)
print()
print("== Tickets/s: render + ServiceNow create + webhook, against nginx (target: 5,000/s durable) ==")
print(f"{'configuration':18} {'tickets/s best':>14} {'median':>7} {'x target':>8} {'ferry CPU us/ticket':>19} "
      f"{'nginx CPU us':>12} {'tickets/commit':>14} {'s in commit':>11} {'req/ticket':>10} {'conn/ticket':>11} {'KB stored':>9}")
for label, rs in by.items():
    b = max(rs, key=lambda r: r["tickets_per_second"])
    med = statistics.median(r["tickets_per_second"] for r in rs)
    cpu = statistics.median(r["cpu_us_per_ticket"] for r in rs)
    mock = statistics.median(r.get("mock_cpu_us_per_ticket", float("nan")) for r in rs)
    print(f"{label:18} {b['tickets_per_second']:14.0f} {med:7.0f} {b['tickets_per_second'] / 5000:8.2f} "
          f"{cpu:19.0f} {mock:12.1f} {b['tickets_per_commit']:14.1f} {b['seconds_in_commit']:11.2f} "
          f"{b.get('mock_requests_per_ticket', float('nan')):10.2f} {b.get('mock_connections_per_ticket', float('nan')):11.2f} "
          f"{b['store_bytes_per_ticket'] / 1024:9.1f}")
print("(CPU columns: medians of the runs; ferry's is user+system of the benchmark process, which is the engine)")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
