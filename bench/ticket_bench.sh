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
# The mock: nginx as the current user in a temporary prefix (daemon off, pid file and error
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
nginx_bin="$(command -v nginx || true)"
[ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ] && nginx_bin=/usr/sbin/nginx
if [ -z "$nginx_bin" ]; then
  echo "ticket_bench.sh: nginx is missing: apt-get install nginx-light (the benchmark's mock)" >&2
  exit 2
fi
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || true)"
[ "$build_type" != "Release" ] && echo "WARNING: $build is not a Release build" >&2

# --- the mock ---------------------------------------------------------------------------
prefix="$(mktemp -d "${TMPDIR:-/tmp}/ferry-ticket-mock-XXXXXX")"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
user_line=""
# As root the workers would otherwise drop to nobody: keep them the current user.
[ "$(id -u)" = 0 ] && user_line="user root root;"
# A ServiceNow Table API answer to a create, as large as a real one: every value a string,
# the description echoed back (the RCA rendered by `ferry render`, 5.5 KB for the default),
# sys_id and number unique per response ($request_id: 32 hex; $connection: creates come on
# fresh connections), correlation_id the one the benchmark's workflow sends. Escaped for nginx
# quoted strings: backslashes doubled, quotes escaped, '$' only in nginx's own variables.
description="$("$build/ferry" render "$root/templates/incident.md.j2" \
  --vars "$sample" 2>/dev/null || echo "(the description as sent)")"
sn_directives="$(DESCRIPTION="$description" python3 - <<'BODY'
import json, os
link = "https://instance.service-now.com/api/now/table/"
result = {
    "sys_id": "@SYS_ID@", "number": "@NUMBER@", "state": "1", "active": "true",
    "priority": "1", "impact": "1", "urgency": "1", "severity": "3",
    "short_description": "Orders API outage: PostgreSQL connection pool exhausted on orders-db (eu-central-2, Zürich)",
    "description": os.environ["DESCRIPTION"],
    "assignment_group": {"link": link + "sys_user_group/8a4dde73c6112278017a6a4baf547aa7",
                         "value": "8a4dde73c6112278017a6a4baf547aa7"},
    "category": "RCA Analysis", "subcategory": "", "caller_id": "", "cmdb_ci": "",
    "correlation_id": "ferry-ticket-bench", "correlation_display": "", "contact_type": "",
    "opened_at": "2026-12-01 10:44:05",
    "opened_by": {"link": link + "sys_user/6816f79cc0a8016401c5a33be04be441",
                  "value": "6816f79cc0a8016401c5a33be04be441"},
    "sys_created_on": "2026-12-01 10:44:05", "sys_created_by": "svc_ferry",
    "sys_updated_on": "2026-12-01 10:44:05", "sys_updated_by": "svc_ferry", "sys_mod_count": "0",
    "sys_class_name": "incident",
    "sys_domain": {"link": link + "sys_user_group/global", "value": "global"},
    "escalation": "0", "upon_approval": "proceed", "upon_reject": "cancel", "incident_state": "1",
    "notify": "1", "reassignment_count": "0", "reopen_count": "0", "made_sla": "true",
    "knowledge": "false", "approval": "not requested", "company": "", "location": "",
    "work_notes": "", "comments": "", "close_code": "", "close_notes": "", "resolved_at": "",
}
text = json.dumps({"result": result}, ensure_ascii=False).replace("$", "\\u0024")
# nginx takes at most 4 KB per parameter: the body goes into variables of 1,000 characters
# each (set), which the return directive concatenates.
names = []
for i in range(0, len(text), 1000):
    chunk = text[i:i + 1000].replace("\\", "\\\\").replace("'", "\\'")
    chunk = chunk.replace("@SYS_ID@", "$request_id").replace("@NUMBER@", "INC$connection")
    names.append(f"snow_body_{len(names)}")
    print(f"      set ${names[-1]} '{chunk}';")
print("      return 201 '" + "".join("${" + n + "}" for n in names) + "';")
BODY
)"
cat >"$prefix/nginx.conf" <<EOF
$user_line
daemon off;
master_process on;
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $prefix/body;
  proxy_temp_path $prefix/proxy;
  fastcgi_temp_path $prefix/fastcgi;
  uwsgi_temp_path $prefix/uwsgi;
  scgi_temp_path $prefix/scgi;
  keepalive_timeout 60s;
  keepalive_requests 1000000;
  client_max_body_size 4m;
  server_tokens off;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location = /api/now/table/incident {
      if (\$request_method != POST) { return 405; }
      default_type application/json;
      add_header Location "http://127.0.0.1:$port/api/now/table/incident/\$request_id";
$sn_directives
    }
    location /webhook/ {
      if (\$request_method != POST) { return 405; }
      return 204;
    }
    location = /nginx_status { stub_status; }
    location / { return 404; }
  }
}
EOF
# Its output goes to a file: with --keep-mock it must not hold the caller's stdout open.
"$nginx_bin" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" >"$prefix/nginx.out" 2>&1 &
nginx_pid=$!
stop_mock() {
  if [ -n "${nginx_pid:-}" ] && kill -0 "$nginx_pid" 2>/dev/null; then
    kill -QUIT "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  fi
  rm -rf "$prefix"
}
if [ -z "$keep_mock" ]; then trap stop_mock EXIT; fi
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/nginx_status" >/dev/null 2>&1 && break
  sleep 0.1
done
if ! curl -sf "http://127.0.0.1:$port/nginx_status" >/dev/null; then
  echo "ticket_bench.sh: nginx did not start:" >&2
  cat "$prefix/error.log" >&2
  exit 1
fi
if [ -n "$keep_mock" ]; then
  echo "mock: nginx PID $nginx_pid on 127.0.0.1:$port (prefix $prefix); stop it with: kill -QUIT $nginx_pid"
  exit 0
fi

# --- the runs ---------------------------------------------------------------------------
raw="$(mktemp)"
trap 'rm -f "$raw"; stop_mock' EXIT
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
