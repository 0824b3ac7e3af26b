#!/usr/bin/env bash
# Compares this tree's benchmarks with another revision's, the two builds run alternately in
# the same minutes. The shared 2-vCPU hosts this project is measured on drift by 20-40 %
# between phases, so a figure is only worth comparing with one measured next to it.
#
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DFERRY_BUILD_TESTS=OFF
#   cmake --build build-rel -j2 --target ferry engine_throughput_bench ticket_bench parked_memory_bench
#   bench/compare.sh --base 268dc52 --new build-rel
#
# The base revision is checked out in a temporary git worktree and built there (Release,
# no tests: a few minutes), then each benchmark runs base, new, base, new...:
#   engine   engine_throughput_bench --inflight 300 (issue 3; the best in-flight count since
#            session 15: pure steps run ahead of the disk, and fewer in flight keep the cache)
#   ticket   ticket_bench, 100 in flight, 5,000 tickets after 500, one nginx mock for both (issue 4)
#   serve    serve_bench.sh --duration 8 --warmup 2 (issue 5; needs wrk and nginx)
#   parked   parked_memory_bench (issue 3), once each
#
# Options:
#   --base REV      the revision to compare with (required)
#   --new DIR       this tree's Release build (default: build-rel, else build-bench, else build)
#   --rounds N      alternations per benchmark (default 3; parked runs once)
#   --only LIST     a comma-separated subset of engine,ticket,serve,parked (default: all)
#   --dir BASE      where the worktree, its build and the throw-away projects go ($TMPDIR or /tmp)
#   --keep-base     leave the base worktree and build (their paths are printed) for another run;
#                   remove them with: git worktree remove --force PATH; rm -rf BUILD
#   --base-build D  use an existing build of the base instead of building one
#
# Every process started here is stopped by its PID; everything listens on 127.0.0.1.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
base_rev=""
new=""
rounds=3
only="engine,ticket,serve,parked"
tmp="${TMPDIR:-/tmp}"
keep_base=""
base_build=""
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base_rev="$2"; shift 2 ;;
    --new) new="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --dir) tmp="$2"; shift 2 ;;
    --keep-base) keep_base=1; shift ;;
    --base-build) base_build="$2"; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$base_rev" ] && [ -z "$base_build" ]; then
  echo "compare.sh: --base REV is required (see --help)" >&2
  exit 2
fi
case "$rounds" in ''|*[!0-9]*|0) echo "compare.sh: --rounds must be a positive number" >&2; exit 2 ;; esac
if [ -z "$new" ]; then
  for b in build-rel build-bench build; do
    if [ -x "$root/$b/bench/engine_throughput_bench" ]; then new="$root/$b"; break; fi
  done
fi
[ -n "$new" ] || { echo "compare.sh: no build with the benchmarks found; pass --new DIR" >&2; exit 2; }
case "$new" in /*) ;; *) new="$root/$new" ;; esac
if [ "$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$new/CMakeCache.txt" 2>/dev/null)" != "Release" ]; then
  echo "compare.sh: WARNING: $new is not a Release build" >&2
fi
wants() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

work="$(mktemp -d "$tmp/ferry-compare-XXXXXX")"
worktree=""
source "$root/bench/nginx_mock.sh"
cleanup() {
  nginx_stop_all
  if [ -z "$keep_base" ]; then
    [ -n "$worktree" ] && git -C "$root" worktree remove --force "$worktree" >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# --- the base build ---------------------------------------------------------------------
if [ -z "$base_build" ]; then
  worktree="$work/base-src"
  base_build="$work/base-build"
  git -C "$root" worktree add --detach "$worktree" "$base_rev" >/dev/null
  echo "building $base_rev ($(git -C "$root" rev-parse --short "$base_rev")) in $base_build ..." >&2
  cmake -S "$worktree" -B "$base_build" -DCMAKE_BUILD_TYPE=Release -DFERRY_BUILD_TESTS=OFF \
    >"$work/base-configure.log" 2>&1 || { cat "$work/base-configure.log" >&2; exit 1; }
  cmake --build "$base_build" -j"$(nproc)" --target ferry engine_throughput_bench ticket_bench \
    parked_memory_bench >"$work/base-build.log" 2>&1 || { tail -30 "$work/base-build.log" >&2; exit 1; }
  [ -n "$keep_base" ] && echo "base kept: worktree $worktree, build $base_build" >&2
fi
case "$base_build" in /*) ;; *) base_build="$root/$base_build" ;; esac

echo "machine: $(nproc) CPUs; base $base_build; new $new; $rounds rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
results="$work/results.tsv"
: >"$results"
field() {  # field JSON-LINE KEY...: the values, tab-separated
  python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print("\t".join(str(d[k]) for k in sys.argv[2:]))' "$@"
}
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$results"; }  # bench side "v1<TAB>v2..."

# --- engine ------------------------------------------------------------------------------
if wants engine; then
  for _ in $(seq "$rounds"); do
    for side in base new; do
      dir="$base_build"; [ "$side" = new ] && dir="$new"
      line="$("$dir/bench/engine_throughput_bench" --inflight 300 --dir "$work" | tail -1)"
      record engine "$side" "$(field "$line" executions_per_second cpu_us_per_execution)"
    done
  done
fi

# --- ticket ------------------------------------------------------------------------------
if wants ticket; then
  nginx_find
  sample="$root/templates/samples/rca-incident.json"
  ticket_mock_start compare-mock "$new/ferry" "$sample"
  port="$mock_port"
  mock_pid="$nginx_last_pid"
  for _ in $(seq "$rounds"); do
    for side in base new; do
      dir="$base_build"; [ "$side" = new ] && dir="$new"
      line="$("$dir/bench/ticket_bench" --port "$port" --mock-pid "$mock_pid" --inflight 100 \
        --total 5000 --warmup 500 --dir "$work" --sample "$sample" 2>/dev/null | tail -1)"
      record ticket "$side" "$(field "$line" tickets_per_second cpu_us_per_ticket)"
    done
  done
  nginx_stop_all
fi

# --- serve -------------------------------------------------------------------------------
if wants serve; then
  for _ in $(seq "$rounds"); do
    for side in base new; do
      dir="$base_build"; [ "$side" = new ] && dir="$new"
      # The "ferry" row of serve_bench.sh's table: run, load x3, req/s, x floor, p50, p99,
      # max, CPU us/req, bad, idle RSS, peak RSS.
      row="$("$root/bench/serve_bench.sh" --build "$dir" --duration 8 --warmup 2 --dir "$work" 2>&1 \
        | awk '$1 == "ferry" && NF == 13 { print $5 "\t" $7 "\t" $8 "\t" $10 }' | tail -1)"
      [ -n "$row" ] || { echo "compare.sh: serve_bench.sh gave no result for $dir" >&2; exit 1; }
      record serve "$side" "$row"
    done
  done
fi

# --- parked ------------------------------------------------------------------------------
if wants parked; then
  for side in base new; do
    dir="$base_build"; [ "$side" = new ] && dir="$new"
    line="$("$dir/bench/parked_memory_bench" | tail -1)"
    record parked "$side" "$(field "$line" rss_bytes_per_execution heap_bytes_per_execution)"
  done
fi

# --- the table ---------------------------------------------------------------------------
python3 - "$results" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
names = {
    "engine": ["executions/s", "CPU us/execution"],
    "ticket": ["tickets/s", "CPU us/ticket"],
    "serve": ["req/s", "p50 ms", "p99 ms", "CPU us/req"],
    "parked": ["B/parked execution (RSS)", "heap B"],
}
print(f"{'benchmark':<8} {'figure':<26} {'base (each run)':<34} {'new (each run)':<34} {'new/base (medians)':>18}")
for bench, labels in names.items():
    got = {side: [r[2:] for r in rows if r[0] == bench and r[1] == side] for side in ("base", "new")}
    if not got["base"]:
        continue
    for i, label in enumerate(labels):
        b = [float(r[i]) for r in got["base"]]
        n = [float(r[i]) for r in got["new"]]
        fmt = lambda xs: " / ".join(f"{x:,.1f}" if x < 100 else f"{x:,.0f}" for x in xs)
        ratio = statistics.median(n) / statistics.median(b) if statistics.median(b) else float("nan")
        print(f"{bench:<8} {label:<26} {fmt(b):<34} {fmt(n):<34} {ratio:>17.3f}x")
EOF
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
