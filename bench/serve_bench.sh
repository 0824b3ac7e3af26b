#!/usr/bin/env bash
# `ferry serve` under load (issue 5): a webhook -> transform -> ServiceNow create -> the
# ticket number in the answer, against nginx proxying the same request straight to the same
# mock (the floor), measured in the same run with wrk. Builds nothing:
#
#   scripts/install-deps.sh --bench          # wrk and nginx-light
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2 --target ferry
#   bench/serve_bench.sh --build build
#
# Options:
#   --build DIR        the build tree (default: build-rel, else build-bench, else build)
#   --duration S       seconds of each measured wrk run (default 15), after --warmup S (3)
#   --connections C    wrk connections (default 50), --threads T (default 2)
#   --repeat R         floor and ferry alternately R times (default 1); every run is printed
#   --quiet-log        ferry serve --quiet (default: access logs on, to a file, as deployed)
#   --dir BASE         where the throw-away project and its data go (default $TMPDIR or /tmp)
#   --keep             start everything, check one answer, print the PIDs and ports and leave
#                      it all running (for perf and strace sessions); stop each by its PID
#   --perf SECONDS     instead of the runs: `perf record` ferry (DWARF call graphs) for that
#                      many seconds under the same load, print its shares by library and keep
#                      BASE/ferry-serve-bench.perf.data (needs perf; a profile, not a figure)
#
# What runs, all on 127.0.0.1, each process started here and stopped by its PID:
#   mock   nginx, 1 worker: POST /api/now/table/incident -> 201 with a ServiceNow-like record
#          (bench/nginx_mock.sh, the same mock as bench/ticket_bench.sh)
#   floor  nginx, 1 worker: POST /hooks/alert -> proxy_pass to the mock (keep-alive upstream)
#   ferry  ferry serve, durable history (fsync on): POST /hooks/alert?wait=10s (verify: none)
#          starts workflow alert-to-ticket: transform -> ticket.create (servicenow) ->
#          outputs {number}; the answer is the finished execution with the ticket number
#   wrk    -t T -c C --latency with bench/serve_wrk.lua (the POST body; counts answers that
#          are not 2xx or carry no ticket number)
# RSS: ferry's VmRSS after start (idle) and VmHWM after the runs (peak), which includes the
# mapped LMDB history pages, and its own memory (RssAnon, sampled); for nginx the sum
# over master and worker. CPU: utime+stime over the measured run, per request.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build=""
duration=15
warmup=3
connections=50
threads=2
repeat=1
quiet=""
base="${TMPDIR:-/tmp}"
perf_secs=""
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --quiet-log) quiet=--quiet; shift ;;
    --dir) base="$2"; shift 2 ;;
    --perf) perf_secs="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) echo "serve_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$build" ]; then
  for b in build-rel build-bench build; do
    if [ -x "$root/$b/ferry" ]; then build="$root/$b"; break; fi
  done
fi
case "$build" in /*) ;; *) build="$root/$build" ;; esac
ferry="$build/ferry"
if [ ! -x "$ferry" ]; then
  echo "serve_bench.sh: $ferry is missing; build it first (see the top of this script)" >&2
  exit 2
fi
if ! command -v wrk >/dev/null; then
  echo "serve_bench.sh: wrk is missing: scripts/install-deps.sh --bench (or apt-get install wrk)" >&2
  exit 2
fi
source "$root/bench/nginx_mock.sh"
nginx_find
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || true)"
[ "$build_type" != "Release" ] && echo "WARNING: $build is not a Release build" >&2

work="$(mktemp -d "$base/ferry-serve-bench-XXXXXX")"
ferry_pid=""
stop_all() {
  if [ -n "$ferry_pid" ] && kill -0 "$ferry_pid" 2>/dev/null; then
    kill -TERM "$ferry_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$ferry_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$ferry_pid" 2>/dev/null && kill -KILL "$ferry_pid" 2>/dev/null
    wait "$ferry_pid" 2>/dev/null || true
  fi
  nginx_stop_all
  rm -rf "$work"
}
trap stop_all EXIT

# --- the mock and the floor --------------------------------------------------------------
mock_port="$(free_port)"
nginx_start serve-mock "$(servicenow_mock_conf "$mock_port" \
  "pool 100/100 in use for 5 minutes; p99 of /orders above 2 s; 37 % of checkouts failing since 10:41 UTC")" \
  "http://127.0.0.1:$mock_port/nginx_status"
mock_pid="$nginx_last_pid"
floor_port="$(free_port)"
nginx_start serve-floor "
  upstream servicenow_mock { server 127.0.0.1:$mock_port; keepalive 64; }
  server {
    listen 127.0.0.1:$floor_port backlog=4096;
    location = /hooks/alert {
      proxy_pass http://servicenow_mock/api/now/table/incident;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
    location = /healthz { return 200 ok; }
  }" "http://127.0.0.1:$floor_port/healthz"
floor_pid="$nginx_last_pid"

# --- ferry -------------------------------------------------------------------------------
mkdir -p "$work/project/workflows" "$work/data"
cat >"$work/project/ferry.yaml" <<EOF
# No rate_limit: a limit would be the benchmark's figure. The retry policy costs nothing
# unless a request fails.
integrations:
  servicenow-bench:
    type: servicenow
    base_url: http://127.0.0.1:$mock_port
    auth: {type: basic, username: svc_ferry, password: "\${env:FERRY_BENCH_SERVICENOW_PASSWORD}"}
    table: incident
    retry: {max_attempts: 3, initial_delay: 1s}
    defaults: {assignment_group: DevOps Team, category: Monitoring}
hooks:
  alert:
    verify: none          # trusted benchmark network; signing is measured elsewhere
    action: {start: alert-to-ticket}
EOF
# correlation_id is set by the workflow only because a static mock cannot echo the step's
# idempotency key back (see bench/ticket_bench.cpp).
cat >"$work/project/workflows/alert-to-ticket.yaml" <<'EOF'
name: alert-to-ticket
description: monitoring alert -> normalised fields -> ServiceNow incident -> its number
inputs:
  title: {type: string, required: true}
  severity: {type: string, default: medium}
  host: {type: string}
  description: {type: string}
steps:
  - id: fields
    task: transform
    with:
      data: "{{ inputs }}"
      mappings:
        - {source: title, target: short_description, transform: trim}
        - {source: severity, target: severity, transform: lowercase, default: medium}
        - {source: host, target: cmdb_ci}
        - {source: description, target: description}
  - id: ticket
    task: ticket.create
    provider: servicenow
    integration: servicenow-bench
    with:
      severity: "{{ steps.fields.output.severity }}"
      fields:
        short_description: "{{ steps.fields.output.short_description }}"
        description: "{{ steps.fields.output.description }}"
        cmdb_ci: "{{ steps.fields.output.cmdb_ci }}"
        correlation_id: ferry-ticket-bench
outputs:
  number: "{{ steps.ticket.output.number }}"
EOF
ferry_port="$(free_port)"
FERRY_BENCH_SERVICENOW_PASSWORD=bench-password-not-a-secret \
  "$ferry" serve --listen "127.0.0.1:$ferry_port" --project "$work/project" --data "$work/data" \
  $quiet >/dev/null 2>"$work/serve.log" &
ferry_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$ferry_port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
if ! curl -sf "http://127.0.0.1:$ferry_port/healthz" >/dev/null; then
  echo "serve_bench.sh: ferry serve did not start:" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
sleep 1
kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"; }
children() { cat "/proc/$1/task/$1/children" 2>/dev/null || true; }
nginx_kb() {  # master + workers
  local total=0 p
  for p in "$1" $(children "$1"); do total=$((total + $(kb "$p" "$2"))); done
  echo "$total"
}
cpu_ticks() {  # utime + stime of a process and its children (nginx workers)
  local total=0 p f
  for p in "$1" $(children "$1"); do
    f="$(sed 's/.*) //' "/proc/$p/stat")"
    total=$((total + $(echo "$f" | cut -d' ' -f12) + $(echo "$f" | cut -d' ' -f13)))
  done
  echo "$total"
}
ferry_idle_kb="$(kb "$ferry_pid" VmRSS)"
ferry_idle_anon_kb="$(kb "$ferry_pid" RssAnon)"
floor_idle_kb="$(nginx_kb "$floor_pid" VmRSS)"

# --- one request each, shown: the answer must carry the ticket number ----------------------
body='{"title": "Orders API down", "severity": "HIGH", "host": "orders-db-1", "description": "check"}'
for target in "floor $floor_port /hooks/alert" "ferry $ferry_port /hooks/alert?wait=10s"; do
  set -- $target
  answer="$(curl -s -w ' HTTP %{http_code}' -H 'Content-Type: application/json' -d "$body" \
    "http://127.0.0.1:$2$3")"
  if ! printf '%s' "$answer" | grep -q '"number": *"INC'; then
    echo "serve_bench.sh: $1 answered without a ticket number: $answer" >&2
    cat "$work/serve.log" >&2
    exit 1
  fi
  echo "$1 answer: $(printf '%s' "$answer" | cut -c1-300)"
done

if [ -n "$keep" ]; then
  trap - EXIT
  echo "kept: ferry serve PID $ferry_pid on 127.0.0.1:$ferry_port (POST /hooks/alert?wait=10s)," \
       "floor nginx PID $floor_pid on 127.0.0.1:$floor_port (POST /hooks/alert)," \
       "mock nginx PID $mock_pid on 127.0.0.1:$mock_port; stop: kill -TERM $ferry_pid;" \
       "kill -QUIT $floor_pid $mock_pid; rm -rf $work ${nginx_prefixes[*]}"
  exit 0
fi

# --- the runs ------------------------------------------------------------------------------
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1);" \
     "build: $build (${build_type:-?}); $("$nginx_bin" -v 2>&1 | sed 's/.*: //'); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2);" \
     "wrk -t$threads -c$connections -d${duration}s after ${warmup}s warm-up"
raw="$work/runs.jsonl"
hz="$(getconf CLK_TCK)"
ferry_total=1  # the curl above
run() {  # run LABEL PORT PATH PID
  local label="$1" port="$2" path="$3" pid="$4" out load cpu0 cpu1 requests
  out="$(wrk -t"$threads" -c"$connections" -d"${warmup}s" -s "$root/bench/serve_wrk.lua" \
    "http://127.0.0.1:$port" -- "$path")"
  requests="$(printf '%s\n' "$out" | sed -n 's/^{"requests": \([0-9]*\),.*/\1/p')"
  if [ "$label" = ferry ]; then ferry_total=$((ferry_total + requests)); fi
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  cpu0="$(cpu_ticks "$pid")"
  out="$(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$root/bench/serve_wrk.lua" \
    "http://127.0.0.1:$port" -- "$path")"
  cpu1="$(cpu_ticks "$pid")"
  printf '%s\n' "$out" | sed "s/^/  [$label] /" >&2
  local line
  line="$(printf '%s\n' "$out" | grep '^{"requests"')"
  requests="$(printf '%s\n' "$line" | sed -n 's/^{"requests": \([0-9]*\),.*/\1/p')"
  if [ "$label" = ferry ]; then ferry_total=$((ferry_total + requests)); fi
  printf '%s\n' "$line" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
label, load, cpu, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
r.update(label=label, load=load, cpu_us_per_request=cpu / hz * 1e6 / max(r["requests"], 1))
print(json.dumps(r))' "$label" "$load" "$((cpu1 - cpu0))" "$hz" >>"$raw"
}
if [ -n "$perf_secs" ]; then
  wrk -t"$threads" -c"$connections" -d"$((perf_secs + 2))s" -s "$root/bench/serve_wrk.lua" \
    "http://127.0.0.1:$ferry_port" -- "/hooks/alert?wait=10s" >/dev/null &
  wrk_pid=$!
  sleep 1
  # DWARF call graphs: the Release build has no frame pointers.
  perf record -F 499 --call-graph dwarf,16384 -o "$base/ferry-serve-bench.perf.data" \
    -p "$ferry_pid" -- sleep "$perf_secs" 2>/dev/null
  wait "$wrk_pid" || true
  perf report -i "$base/ferry-serve-bench.perf.data" --no-children --sort dso --stdio 2>/dev/null |
    grep '%' | head -12
  echo "profile kept in $base/ferry-serve-bench.perf.data (perf report -i ...)"
  exit 0
fi
# VmHWM counts the pages of the history file LMDB maps (RssFile: page cache, shared and
# reclaimable) with the process's own memory; the peak of the latter (RssAnon) is sampled.
( while kill -0 "$ferry_pid" 2>/dev/null; do kb "$ferry_pid" RssAnon; sleep 0.2; done ) \
  >"$work/anon.kb" 2>/dev/null &
sampler_pid=$!
for _ in $(seq "$repeat"); do
  run floor "$floor_port" /hooks/alert "$floor_pid"
  run ferry "$ferry_port" "/hooks/alert?wait=10s" "$ferry_pid"
done
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
ferry_peak_anon_kb="$(sort -n "$work/anon.kb" | tail -1)"
ferry_peak_kb="$(kb "$ferry_pid" VmHWM)"
ferry_after_kb="$(kb "$ferry_pid" VmRSS)"
ferry_file_kb="$(kb "$ferry_pid" RssFile)"
floor_peak_kb="$(nginx_kb "$floor_pid" VmHWM)"
store_kb="$(du -sk "$work/data" | cut -f1)"

python3 - "$raw" "$ferry_idle_kb" "$ferry_peak_kb" "$ferry_after_kb" "$floor_idle_kb" "$floor_peak_kb" \
  "$store_kb" "$ferry_total" "$ferry_idle_anon_kb" "${ferry_peak_anon_kb:-0}" "$ferry_file_kb" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
idle, peak, after, floor_idle, floor_peak, store_kb, ferry_requests, idle_anon, peak_anon, file_kb = \
    map(int, sys.argv[2:12])
print()
print("== ferry serve: webhook -> transform -> ServiceNow create -> ticket number (issue 5) ==")
print(f"{'run':6} {'load avg before':>16} {'requests/s':>10} {'x floor':>7} {'p50 ms':>7} {'p99 ms':>7} "
      f"{'max ms':>7} {'CPU us/req':>10} {'bad':>5} {'idle RSS MB':>11} {'peak RSS MB':>11}")
floor_rps = None
for r in rows:
    rps = r["requests"] / r["seconds"]
    if r["label"] == "floor":
        floor_rps = rps
        ratio, i, p = "", floor_idle, floor_peak
    else:
        ratio, i, p = f"{rps / floor_rps:7.2f}" if floor_rps else "", idle, peak
    bad = r["non_2xx_3xx"] + r["socket_errors"] + r["without_number"]
    print(f"{r['label']:6} {r['load']:>16} {rps:10.0f} {ratio:>7} {r['p50_ms']:7.2f} {r['p99_ms']:7.2f} "
          f"{r['max_ms']:7.1f} {r['cpu_us_per_request']:10.0f} {bad:5d} {i / 1024:11.1f} {p / 1024:11.1f}")
print(f"(bad = non-2xx + socket errors + answers without a ticket number; ferry RSS after the runs "
      f"{after / 1024:.1f} MB, of which {file_kb / 1024:.1f} MB mapped history file (RssFile); "
      f"ferry's own memory (RssAnon) idle {idle_anon / 1024:.1f} MB, peak {peak_anon / 1024:.1f} MB; "
      f"history on disk {store_kb / 1024:.1f} MB, "
      f"{store_kb / max(ferry_requests, 1):.2f} KB per ferry request (warm-ups included))")
ferry = [r for r in rows if r["label"] == "ferry"]
if ferry:
    best = max(ferry, key=lambda r: r["requests"] / r["seconds"])
    rps = best["requests"] / best["seconds"]
    print("targets: >= 10,000 req/s: %s (%.0f); p99 < 10 ms: %s (%.2f); idle RSS < 20 MB: %s (%.1f); "
          "peak RSS < 64 MB: %s (%.1f)" % (
              "met" if rps >= 10000 else "missed", rps, "met" if best["p99_ms"] < 10 else "missed",
              best["p99_ms"], "met" if idle < 20 * 1024 else "missed", idle / 1024,
              "met" if peak < 64 * 1024 else "missed", peak / 1024))
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
