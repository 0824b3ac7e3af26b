// Executions per second through the whole engine: an App opened on a throw-away project,
// K executions kept in flight (a new one starts whenever one finishes) until N have
// finished, with durable history (group commit, fsync on) or --no-sync.
//
//   engine_throughput_bench [--workflow three-step|noop-1|noop-3|noop-10] [--inflight K]
//                           [--total N] [--warmup W] [--no-sync] [--loop-commits] [--dir BASE]
//                           [--lua-gc incremental|generational]
//
// Workflows (written into the temp project):
//   three-step  three chained built-in `transform` steps over a small object (issue 3 target)
//   noop-1      one step of a project task whose run() returns {}
//   noop-10     ten chained noop steps (per-step cost = (t10 - t1) / 9 per execution)
//
// Prints one JSON object: executions/s, steps/s, LMDB commits (group commits) and fdatasyncs
// counted by interposing mdb_txn_commit/fdatasync, executions per commit, time inside
// mdb_txn_commit, and the mean latency by Little's law (K / throughput).
#include "commit_counter.h"
#include "engine_bench_util.h"

#include <cstring>
#include <sys/resource.h>

namespace {

// CPU time of the process (user, system) in seconds: on a shared machine this is steadier
// than wall time.
std::pair<double, double> cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto secs = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return {secs(ru.ru_utime), secs(ru.ru_stime)};
}

const char* kThreeStep = R"(name: three-step
description: Three chained transforms over a small record (benchmark)
inputs:
  record:
    type: object
    required: true
steps:
  - id: normalise
    task: transform
    with:
      data: "{{ inputs.record }}"
      mappings:
        - {source: host, target: host, transform: lowercase}
        - {source: severity, target: severity, transform: lowercase, default: medium}
        - {source: score, target: score, transform: scale_to_100}
  - id: enrich
    task: transform
    with:
      data: "{{ steps.normalise.output }}"
      mappings:
        - {source: host, target: ci}
        - {source: severity, target: priority, map: {critical: "1", high: "2", medium: "3", low: "4"}, default: "3"}
        - {source: score, target: confidence}
  - id: shape
    task: transform
    with:
      data: "{{ steps.enrich.output }}"
      mappings:
        - {source: ci, target: ticket.cmdb_ci}
        - {source: priority, target: ticket.priority}
        - {source: confidence, target: ticket.confidence, transform: to_string}
outputs:
  ticket: "{{ steps.shape.output.ticket }}"
)";

const char* kThreeStepInputs =
    R"({"record": {"host": "WEB-01", "severity": "HIGH", "score": 0.87}})";

const char* kNoopTask = R"(-- A task that does nothing: measures the engine's own cost per step.
return {
  name = "noop",
  description = "returns {}",
  input = {},
  run = function(ctx, input) return {} end,
}
)";

std::string noop_workflow(int steps) {
    std::string y = "name: noop-" + std::to_string(steps) + "\nsteps:\n";
    for (int i = 1; i <= steps; ++i) {
        y += "  - id: s" + std::to_string(i) + "\n    task: noop\n";
        if (i > 1) y += "    needs: s" + std::to_string(i - 1) + "\n";
    }
    return y;
}

}  // namespace

int main(int argc, char** argv) {
    std::string workflow = "three-step", base;
    size_t inflight = 200, total = 20000, warmup = 1000;
    bool durable = true, commit_thread = ferry::engine::EngineOptions{}.commit_thread;
    std::string gc_mode = "incremental";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) bench::die(a + " needs a value");
            return argv[++i];
        };
        if (a == "--workflow")
            workflow = next();
        else if (a == "--inflight")
            inflight = std::stoul(next());
        else if (a == "--total")
            total = std::stoul(next());
        else if (a == "--warmup")
            warmup = std::stoul(next());
        else if (a == "--no-sync")
            durable = false;
        else if (a == "--loop-commits")
            commit_thread = false;
        else if (a == "--dir")
            base = next();
        else if (a == "--lua-gc")
            gc_mode = next();
        else {
            std::fprintf(
                stderr,
                "usage: engine_throughput_bench [--workflow three-step|noop-1|noop-3|noop-10] "
                "[--inflight K] [--total N] [--warmup W] [--no-sync] [--loop-commits] [--dir BASE] "
                "[--lua-gc incremental|generational]\n");
            return 2;
        }
    }
    int steps_per_execution = workflow == "three-step" ? 3
                              : workflow == "noop-1"   ? 1
                              : workflow == "noop-3"   ? 3
                              : workflow == "noop-10"  ? 10
                              : workflow == "noop-30"  ? 30
                                                       : 0;
    if (!steps_per_execution) bench::die("unknown workflow " + workflow);

    bench::TempProject project({{"workflows/three-step.yaml", kThreeStep},
                                {"workflows/noop-1.yaml", noop_workflow(1)},
                                {"workflows/noop-3.yaml", noop_workflow(3)},
                                {"workflows/noop-10.yaml", noop_workflow(10)},
                                {"workflows/noop-30.yaml", noop_workflow(30)},
                                {"tasks/noop.lua", kNoopTask}},
                               base);
    auto app = bench::open_app(project.dir(), durable, commit_thread);
    // An experiment, not what ferry does: the VM runs Lua's default incremental collector.
    if (gc_mode == "generational")
        lua_gc(app->vm.state(), LUA_GCGEN, 0, 0);
    else if (gc_mode != "incremental")
        bench::die("--lua-gc: incremental or generational");
    auto wf = bench::load(*app, workflow);
    auto inputs = bench::inputs_for(*wf, workflow == "three-step" ? kThreeStepInputs : "{}");

    if (warmup) {
        bench::Driver warm{*app, wf, inputs, warmup, std::min(inflight, warmup)};
        warm.run();
        if (warm.failed) bench::die("warm-up execution failed: " + warm.first_failure);
    }

    auto& counters = bench::sync_counters();
    uint64_t commits0 = counters.commits, fdatasyncs0 = counters.fdatasyncs,
             fsyncs0 = counters.fsyncs, commit_ns0 = counters.commit_ns;
    bench::Driver driver{*app, wf, inputs, total, inflight};
    size_t lua0 = app->vm.allocated_total();
    auto [user0, sys0] = cpu_seconds();
    double secs = driver.run();
    auto [user1, sys1] = cpu_seconds();
    double lua_bytes = double(app->vm.allocated_total() - lua0) / double(total);
    double cpu_us = 1e6 * ((user1 - user0) + (sys1 - sys0)) / double(total);
    double sys_share = (sys1 - sys0) / std::max(1e-9, (user1 - user0) + (sys1 - sys0));
    uint64_t commits = counters.commits - commits0;
    uint64_t fdatasyncs = counters.fdatasyncs - fdatasyncs0;
    uint64_t fsyncs = counters.fsyncs - fsyncs0;
    double commit_secs = double(counters.commit_ns - commit_ns0) / 1e9;
    double rate = double(total) / secs;

    std::printf(
        "{\"workflow\": \"%s\", \"durable\": %s, \"commit_thread\": %s, \"inflight\": %zu, "
        "\"executions\": %zu, "
        "\"failed\": %zu, \"seconds\": %.3f, \"executions_per_second\": %.0f, "
        "\"steps_per_second\": %.0f, \"commits\": %llu, \"commits_per_second\": %.1f, "
        "\"executions_per_commit\": %.2f, \"fdatasyncs\": %llu, \"fsyncs\": %llu, "
        "\"seconds_in_commit\": %.3f, \"mean_latency_ms\": %.2f, "
        "\"cpu_us_per_execution\": %.1f, \"cpu_us_per_step\": %.1f, \"cpu_system_share\": %.2f, "
        "\"lua_gc\": \"%s\", \"lua_bytes_allocated_per_execution\": %.0f}\n",
        workflow.c_str(), durable ? "true" : "false", commit_thread ? "true" : "false", inflight,
        total, driver.failed, secs, rate, rate * steps_per_execution,
        static_cast<unsigned long long>(commits), double(commits) / secs,
        commits ? double(total) / double(commits) : 0.0,
        static_cast<unsigned long long>(fdatasyncs), static_cast<unsigned long long>(fsyncs),
        commit_secs, 1000.0 * double(inflight) / rate, cpu_us, cpu_us / steps_per_execution,
        sys_share, gc_mode.c_str(), lua_bytes);
    if (driver.failed) std::fprintf(stderr, "first failure: %s\n", driver.first_failure.c_str());
    return driver.failed ? 1 : 0;
}
