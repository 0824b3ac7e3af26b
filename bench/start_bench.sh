#!/usr/bin/env bash
# Starts per second through the API of a workflow whose inputs carry patterns (an e-mail
# address and a ticket number, as request forms have), one transform step, 202 once
# durable. What it isolates is the start path: input checks, the execution record, the
# commit. Each binary given runs in turn against a fresh data folder, so two builds compare
# in the same minutes:
#
#   bench/start_bench.sh --ferry build-bench/ferry --ferry /tmp/ferry-before --repeat 2
#
# Options:
#   --ferry BIN        a ferry binary (repeatable; default: build-rel, else build-bench)
#   --duration S       seconds of each wrk run (default 8), after a 2 s warm-up
#   --connections C    wrk connections (default 50)
#   --repeat R         rounds over the binaries (default 1)
#   --dir BASE         where the throw-away project goes (default $TMPDIR or /tmp)
# Needs wrk (scripts/install-deps.sh --bench).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bins=()
duration=8
connections=50
repeat=1
base="${TMPDIR:-/tmp}"
while [ $# -gt 0 ]; do
  case "$1" in
    --ferry) bins+=("$2"); shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --dir) base="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "start_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ ${#bins[@]} -eq 0 ]; then
  for b in build-rel build-bench; do
    if [ -x "$root/$b/ferry" ]; then bins+=("$root/$b/ferry"); break; fi
  done
fi
[ ${#bins[@]} -gt 0 ] || { echo "start_bench.sh: no ferry binary; pass --ferry BIN" >&2; exit 2; }
command -v wrk >/dev/null || { echo "start_bench.sh: wrk is missing" >&2; exit 2; }
source "$root/bench/nginx_mock.sh"  # free_port

work="$(mktemp -d "$base/ferry-start-bench-XXXXXX")"
pid=""
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  pid=""
}
trap 'stop; rm -rf "$work"' EXIT

mkdir -p "$work/project/workflows"
token=start-bench-operator-token
sha="$(printf %s "$token" | sha256sum | cut -d' ' -f1)"
printf 'auth:\n  tokens:\n    - {name: bench, sha256: "%s", role: operator}\n' "$sha" \
  >"$work/project/ferry.yaml"
cat >"$work/project/workflows/typed-start.yaml" <<'EOF'
inputs:
  email: {type: string, required: true, pattern: "^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$"}
  ticket: {type: string, required: true, pattern: "^(INC|CHG|RITM)[0-9]{7}$"}
steps:
  - id: normalise
    task: transform
    with:
      data: {e: "{{ inputs.email }}"}
      mappings: [{source: e, target: email, transform: lowercase}]
outputs: {email: "{{ steps.normalise.output.email }}"}
EOF
cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"inputs": {"email": "Someone@Example.com", "ticket": "INC0012345"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
EOF

printf '%-40s %10s %8s %8s %6s\n' binary "starts/s" "p50 ms" "p99 ms" bad
for _ in $(seq "$repeat"); do
  for bin in "${bins[@]}"; do
    rm -rf "$work/data"
    port="$(free_port)"
    "$bin" serve --listen "127.0.0.1:$port" --project "$work/project" --data "$work/data" \
      --quiet 2>"$work/serve.log" &
    pid=$!
    for _ in $(seq 100); do
      curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
      sleep 0.05
    done
    url="http://127.0.0.1:$port/api/v1/workflows/typed-start/executions"
    wrk -t2 -c"$connections" -d2s -s "$work/post.lua" "$url" >/dev/null
    out="$(wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$work/post.lua" "$url")"
    stop
    rps="$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")"
    p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    bad="$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' <<<"$out")"
    printf '%-40s %10.0f %8s %8s %6s\n' "$bin" "$rps" "$p50" "$p99" "${bad:-0}"
  done
done
