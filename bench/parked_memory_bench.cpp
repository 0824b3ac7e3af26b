// Memory per running execution: starts N executions of a one-step workflow that sleeps 30 s,
// runs the loop until every one of them is parked (a built-in `sleep` step is a timer of the
// engine, Engine::sleeping_steps(); with --lua-sleep the step is a project Lua task calling
// ferry.sleep, a parked coroutine, Scheduler::parked_tasks()), and reports what the process
// grew by, per execution.
//
//   parked_memory_bench [--executions N] [--lua-sleep] [--no-sync] [--destroy] [--dir BASE]
//
// Readings before and after: RSS (/proc/self/statm resident, and resident minus shared,
// i.e. without LMDB's file-backed pages), the malloc heap in use (mallinfo2), and the Lua
// VM's own count (LuaVM::memory_used(), also after a full collection: live bytes).
// One warm-up execution (10 ms sleep) runs first so one-time costs (runner and ctx modules,
// task chunks, the store's first pages) are not charged to the N.
//
// Then it exits without waiting the 30 s: by default with _Exit (nothing is flushed that
// matters: the records are committed). --destroy destroys the App instead, timing it.
#include "engine_bench_util.h"

#include <fstream>

namespace {

const char* kSleepWorkflow = R"(name: sleep-30s
description: One step parked in ferry.sleep (benchmark)
inputs:
  duration:
    type: string
    default: 30s
steps:
  - id: nap
    task: sleep
    with:
      duration: "{{ inputs.duration }}"
)";

// --lua-sleep: the same step as a project task, so the execution parks a Lua coroutine.
const char* kLuaNapTask = R"(return {
  name = "nap",
  input = { duration = { type = "string", required = true } },
  run = function(ctx, input)
    ferry.sleep(input.duration)
    return {}
  end,
}
)";

struct Reading {
    size_t rss = 0;
    size_t rss_private = 0;
    size_t heap = 0;
    size_t lua = 0;
    size_t lua_live = 0;
};

Reading read(ferry::engine::App& app) {
    Reading r;
    std::ifstream in("/proc/self/statm");
    size_t size = 0, resident = 0, shared = 0;
    in >> size >> resident >> shared;
    size_t page = size_t(sysconf(_SC_PAGESIZE));
    r.rss = resident * page;
    r.rss_private = (resident - shared) * page;
    r.heap = bench::heap_in_use();
    r.lua = app.vm.memory_used();
    lua_gc(app.vm.state(), LUA_GCCOLLECT);
    r.lua_live = app.vm.memory_used();
    return r;
}

double per(size_t after, size_t before, size_t n) {
    return (double(after) - double(before)) / double(n);
}

}  // namespace

int main(int argc, char** argv) {
    size_t n = 10'000;
    bool durable = true, destroy = false, lua_sleep = false;
    std::string base;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--executions" && i + 1 < argc)
            n = std::stoul(argv[++i]);
        else if (a == "--no-sync")
            durable = false;
        else if (a == "--destroy")
            destroy = true;
        else if (a == "--lua-sleep")
            lua_sleep = true;
        else if (a == "--dir" && i + 1 < argc)
            base = argv[++i];
        else {
            std::fprintf(stderr,
                         "usage: parked_memory_bench [--executions N] [--lua-sleep] [--no-sync] "
                         "[--destroy] [--dir BASE]\n");
            return 2;
        }
    }
    std::string workflow = kSleepWorkflow;
    if (lua_sleep) workflow.replace(workflow.find("task: sleep"), 11, "task: nap");
    bench::TempProject project(
        {{"workflows/sleep-30s.yaml", workflow}, {"tasks/nap.lua", kLuaNapTask}}, base);
    auto app = bench::open_app(project.dir(), durable);
    auto wf = bench::load(*app, "sleep-30s");

    // Warm-up: one short execution to its end.
    {
        bench::Driver warm{*app, wf, bench::inputs_for(*wf, R"({"duration": "10ms"})"), 1, 1};
        warm.run();
        if (warm.failed) bench::die("warm-up failed: " + warm.first_failure);
    }
    ferry::tmpl::Value inputs = bench::inputs_for(*wf, "{}");
    Reading before = read(*app);

    size_t finished = 0, failed = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < n; ++i) {
        ferry::engine::StartOptions opts;
        auto id =
            app->engine->start(wf, inputs, opts, [&](const ferry::engine::ExecutionSummary& s) {
                ++finished;
                if (s.status != "succeeded") ++failed;
            });
        if (!id) bench::die("start: " + id.error().describe());
    }
    size_t parked = 0, iterations = 0;
    while ((parked = app->scheduler.parked_tasks() + app->engine->sleeping_steps()) < n) {
        app->loop.run_once(true);
        ++iterations;
        if (finished) bench::die("an execution finished before all were parked");
        if (bench::seconds_since(t0) > 25) bench::die("not all parked after 25 s");
    }
    double park_secs = bench::seconds_since(t0);
    Reading after = read(*app);

    std::printf("{\"executions\": %zu, \"step\": \"%s\", \"parked\": %zu, \"live_tasks\": %zu, "
                "\"active_executions\": %zu, \"seconds_to_park\": %.3f, \"loop_iterations\": %zu, "
                "\"rss_before\": %zu, \"rss_after\": %zu, \"rss_bytes_per_execution\": %.0f, "
                "\"rss_private_bytes_per_execution\": %.0f, \"heap_bytes_per_execution\": %.0f, "
                "\"lua_bytes_per_execution\": %.0f, \"lua_live_bytes_per_execution\": %.0f, "
                "\"lua_used_before\": %zu, \"lua_used_after\": %zu}\n",
                n, lua_sleep ? "lua task in ferry.sleep" : "built-in sleep", parked,
                app->scheduler.live_tasks(), app->engine->active_executions(), park_secs,
                iterations, before.rss, after.rss, per(after.rss, before.rss, n),
                per(after.rss_private, before.rss_private, n), per(after.heap, before.heap, n),
                per(after.lua, before.lua, n), per(after.lua_live, before.lua_live, n),
                before.lua_live, after.lua_live);
    std::fflush(stdout);
    if (!destroy) {
        project.remove();  // _Exit runs no destructors
        std::_Exit(0);
    }
    auto t1 = std::chrono::steady_clock::now();
    app.reset();
    std::fprintf(stderr,
                 "App destroyed in %.3f s with %zu executions live (%zu finished, %zu failed)\n",
                 bench::seconds_since(t1), n, finished, failed);
    return 0;
}
