#!/usr/bin/env bash
# Runs the workflow-engine benchmarks (issue 3) and prints the figures. Builds nothing:
# configure and build a Release tree first, e.g.
#
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DFERRY_BUILD_TESTS=OFF
#   cmake --build build-bench -j2 --target engine_throughput_bench task_overhead_bench parked_memory_bench
#   bench/engine_bench.sh --build build-bench
#
# Options:
#   --build DIR      the build tree (default: build-bench if it exists, else build)
#   --repeat R       runs of each throughput configuration; the best and the median are shown
#                    (default 3: the figures are noisy on a shared 2-core machine)
#   --total N        executions per throughput run (default 20000)
#   --inflight "K…"  in-flight values to try (default "200 300 1000")
#   --quick          N=4000, R=1, K="300 1000": a smoke run
#   --dir BASE       where the throw-away projects go (default $TMPDIR or /tmp; must be a real
#                    disk for the fsync figures)
#   --json FILE      also write every raw JSON line to FILE
#   --summary FILE   run nothing: print the summary of a FILE written by --json
#
# Every benchmark prints JSON lines; this script keeps them (--json) and summarises.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build=""
repeat=3
total=20000
inflight="200 300 1000"
base="${TMPDIR:-/tmp}"
json_out=""
summary_only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --total) total="$2"; shift 2 ;;
    --inflight) inflight="$2"; shift 2 ;;
    --quick) total=4000; repeat=1; inflight="300 1000"; shift ;;
    --dir) base="$2"; shift 2 ;;
    --json) json_out="$2"; shift 2 ;;
    --summary) summary_only="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "engine_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
summarise() {  # summarise FILE: the tables, from the JSON lines
python3 - "$1" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["label"], []).append(r)

print()
print("== 1. Executions/s, three-step transform workflow (target: 20,000/s durable) ==")
print(f"{'configuration':40} {'exec/s best':>11} {'median':>8} {'commits/s':>10} {'exec/commit':>11} "
      f"{'s in commit':>11} {'CPU us/exec':>11} {'latency ms':>10}")
for label in by:
    if not label.startswith("three-step"):
        continue
    rs = by[label]
    b = max(rs, key=lambda r: r["executions_per_second"])
    med = statistics.median(r["executions_per_second"] for r in rs)
    print(f"{label:40} {b['executions_per_second']:11.0f} {med:8.0f} {b['commits_per_second']:10.1f} "
          f"{b['executions_per_commit']:11.1f} {b['seconds_in_commit']:11.2f} "
          f"{min(r['cpu_us_per_execution'] for r in rs):11.0f} {b['mean_latency_ms']:10.1f}")

print()
print("== 2. One Lua task invocation (target: < 5 us) and a trivial engine step ==")
for label in ("spawn no-timeout", "spawn timeout=300s"):
    for r in by.get(label, []):
        if r["mode"] == "bare_lua" and label != "spawn no-timeout":
            continue
        print(f"{label + ' / ' + r['mode']:42} {r['ns_per_invocation']:8.0f} ns/invocation  "
              f"{r['allocations_per_invocation']:4.1f} C++ allocations, "
              f"{r['lua_bytes_per_invocation']:.0f} Lua bytes allocated")
for label in by:
    if not label.startswith("noop"):
        continue
    rs = by[label]
    b = max(rs, key=lambda r: r["executions_per_second"])
    print(f"{label:42} {b['executions_per_second']:8.0f} exec/s  {b['steps_per_second']:8.0f} steps/s  "
          f"{1e6 / b['steps_per_second']:6.1f} us wall/step  "
          f"{min(r['cpu_us_per_step'] for r in rs):6.1f} us CPU/step")
for k in ("K=1", "K=200"):
    one, ten = by.get(f"noop-1 no-sync {k}"), by.get(f"noop-10 no-sync {k}")
    if one and ten:
        c1 = min(r["cpu_us_per_execution"] for r in one)
        c10 = min(r["cpu_us_per_execution"] for r in ten)
        print(f"  marginal CPU per extra step ({k}): {(c10 - c1) / 9:.1f} us; "
              f"per-execution fixed cost: {c1 - (c10 - c1) / 9:.1f} us")

print()
print("== 3. Memory per execution parked in sleep (target: < 4 KB) ==")
for r in by.get("parked 10000", []):
    print(f"  {r['parked']} parked in {r['seconds_to_park']:.2f} s; per execution: "
          f"RSS {r['rss_bytes_per_execution']:.0f} B (private {r['rss_private_bytes_per_execution']:.0f} B), "
          f"malloc heap {r['heap_bytes_per_execution']:.0f} B, Lua {r['lua_bytes_per_execution']:.0f} B "
          f"(live after full GC {r['lua_live_bytes_per_execution']:.0f} B)")
PY
}

if [ -n "$summary_only" ]; then
  summarise "$summary_only"
  exit 0
fi
if [ -z "$build" ]; then
  if [ -d "$root/build-bench" ]; then build="$root/build-bench"; else build="$root/build"; fi
fi
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bin="$build/bench"
for b in engine_throughput_bench task_overhead_bench parked_memory_bench; do
  if [ ! -x "$bin/$b" ]; then
    echo "engine_bench.sh: $bin/$b is missing; build it first (see the top of this script)" >&2
    exit 2
  fi
done
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || true)"
sanitize="$(sed -n 's/^FERRY_SANITIZE:BOOL=//p' "$build/CMakeCache.txt" 2>/dev/null || true)"

raw="$(mktemp)"
trap 'rm -f "$raw"' EXIT
record() {  # record LABEL -- command...: runs it, tags its JSON lines with LABEL
  local label="$1"; shift 2
  local out
  if ! out="$("$@")"; then
    echo "engine_bench.sh: failed: $*" >&2
    exit 1
  fi
  printf '%s\n' "$out" | sed "s/^{/{\"label\": \"$label\", /" >>"$raw"
  printf '%s\n' "$out" | sed "s/^/  [$label] /" >&2
}

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
     "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo);" \
     "build: $build (${build_type:-?}${sanitize:+, sanitize=$sanitize}); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${build_type}" != "Release" ]; then
  echo "WARNING: $build is not a Release build: the figures are not comparable to the targets" >&2
fi

echo "1. executions/s, three-step transform workflow, $total executions, best of $repeat" >&2
for k in $inflight; do
  for r in $(seq "$repeat"); do
    record "three-step durable K=$k" -- "$bin/engine_throughput_bench" --workflow three-step \
      --inflight "$k" --total "$total" --dir "$base"
    record "three-step no-sync K=$k" -- "$bin/engine_throughput_bench" --workflow three-step \
      --inflight "$k" --total "$total" --no-sync --dir "$base"
  done
done

# Not what ferry does today: glibc told not to give the heap top back to the kernel after
# every free (each rapidjson::Document takes a 64 KiB chunk, so the heap top is trimmed and
# regrown -- brk and page faults -- several times per step). Shows what that costs.
k_tuned="$(echo $inflight | awk '{print $1}')"
for r in $(seq "$repeat"); do
  record "three-step no-sync K=$k_tuned malloc-tuned" -- env \
    GLIBC_TUNABLES=glibc.malloc.trim_threshold=268435456:glibc.malloc.top_pad=16777216 \
    "$bin/engine_throughput_bench" --workflow three-step --inflight "$k_tuned" --total "$total" \
    --no-sync --dir "$base"
done

echo "2. one Lua task invocation (Scheduler::spawn) and a trivial step through the engine" >&2
record "spawn no-timeout" -- "$bin/task_overhead_bench" --total 1000000 --inflight 1000
record "spawn timeout=300s" -- "$bin/task_overhead_bench" --total 1000000 --inflight 1000 \
  --timeout-ms 300000
for r in $(seq "$repeat"); do
  for wf in noop-1 noop-10; do
    record "$wf no-sync K=1" -- "$bin/engine_throughput_bench" --workflow "$wf" --inflight 1 \
      --total 5000 --warmup 500 --no-sync --dir "$base"
    record "$wf no-sync K=200" -- "$bin/engine_throughput_bench" --workflow "$wf" --inflight 200 \
      --total 20000 --warmup 1000 --no-sync --dir "$base"
  done
done

echo "3. memory per execution parked in sleep (10,000 executions)" >&2
record "parked 10000" -- "$bin/parked_memory_bench" --executions 10000 --dir "$base"

[ -n "$json_out" ] && cp "$raw" "$json_out"

summarise "$raw"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
