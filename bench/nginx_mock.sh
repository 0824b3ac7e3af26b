# Sourced by the benchmarks (bench/ticket_bench.sh, bench/serve_bench.sh): unprivileged nginx
# instances in throw-away prefixes, each started in the foreground as a child of the script
# (daemon off, pid file and error log in the prefix, access_log off, keep-alive on, 1 worker,
# 127.0.0.1 only) and stopped by its PID.
#
#   nginx_find                          sets nginx_bin (exits 2 with the apt hint when missing)
#   free_port                           prints a free TCP port on 127.0.0.1
#   servicenow_mock_conf PORT DESC      prints an nginx.conf body (the part inside http {}) of
#                                       the ServiceNow mock:
#       POST /api/now/table/incident -> 201 and a ServiceNow-like {"result": {...}} body with
#                                       DESC as its description
#       POST /webhook/...            -> 204
#       GET  /nginx_status           -> stub_status (requests/connections counters)
#   nginx_start NAME HTTP_BODY CHECK_URL   starts nginx with that http {} body in a new prefix,
#                                       waits until CHECK_URL answers; appends its PID and
#                                       prefix to nginx_pids / nginx_prefixes and sets
#                                       nginx_last_pid
#   ticket_mock_start NAME FERRY SAMPLE   the ServiceNow mock on a free port, its description
#                                       the bundled incident report rendered by FERRY over
#                                       SAMPLE (as the benchmark workflows send it: the mock
#                                       echoes it back as ServiceNow does); sets mock_port and
#                                       nginx_last_pid
#   nginx_stop_all                      stops every nginx started here (QUIT, by PID), removes
#                                       the prefixes

nginx_pids=()
nginx_prefixes=()

nginx_find() {
  nginx_bin="$(command -v nginx || true)"
  [ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ] && nginx_bin=/usr/sbin/nginx
  if [ -z "$nginx_bin" ]; then
    echo "$(basename "$0"): nginx is missing: apt-get install nginx-light (the benchmark's mock)" >&2
    exit 2
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A ServiceNow Table API answer to a create, as large as a real one: every value a string,
# the description echoed back, sys_id and number unique per response ($request_id: 32 hex;
# $connection: creates come on fresh connections), correlation_id the one the benchmarks'
# workflows send (a static mock cannot echo the step's key). Escaped for nginx quoted
# strings: backslashes doubled, quotes escaped, '$' only in nginx's own variables.
servicenow_mock_conf() {
  local port="$1" description="$2" directives
  directives="$(DESCRIPTION="$description" python3 - <<'BODY'
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
  cat <<EOF
  server {
    listen 127.0.0.1:$port backlog=4096;
    location = /api/now/table/incident {
      if (\$request_method != POST) { return 405; }
      default_type application/json;
      add_header Location "http://127.0.0.1:$port/api/now/table/incident/\$request_id";
$directives
    }
    location /webhook/ {
      if (\$request_method != POST) { return 405; }
      return 204;
    }
    location = /nginx_status { stub_status; }
    location / { return 404; }
  }
EOF
}

nginx_start() {
  local name="$1" body="$2" check="$3" prefix user_line="" pid
  prefix="$(mktemp -d "${TMPDIR:-/tmp}/ferry-$name-XXXXXX")"
  nginx_prefixes+=("$prefix")
  # As root the workers would otherwise drop to nobody: keep them the current user.
  [ "$(id -u)" = 0 ] && user_line="user root root;"
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
$body
}
EOF
  # Its output goes to a file: a kept mock must not hold the caller's stdout open.
  "$nginx_bin" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" >"$prefix/nginx.out" 2>&1 &
  pid=$!
  nginx_pids+=("$pid")
  nginx_last_pid="$pid"
  for _ in $(seq 50); do
    curl -sf "$check" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  if ! curl -sf "$check" >/dev/null; then
    echo "$(basename "$0"): nginx ($name) did not start:" >&2
    cat "$prefix/error.log" >&2
    exit 1
  fi
}

ticket_mock_start() {
  local name="$1" ferry="$2" sample="$3" description root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  mock_port="$(free_port)"
  description="$("$ferry" render "$root/templates/incident.md.j2" --vars "$sample" 2>/dev/null \
    || echo "(the description as sent)")"
  nginx_start "$name" "$(servicenow_mock_conf "$mock_port" "$description")" \
    "http://127.0.0.1:$mock_port/nginx_status"
}

nginx_stop_all() {
  local pid prefix
  for pid in "${nginx_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -QUIT "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  for prefix in "${nginx_prefixes[@]}"; do rm -rf "$prefix"; done
  nginx_pids=()
  nginx_prefixes=()
}
