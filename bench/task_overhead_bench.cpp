// The cost of one Lua task invocation through Scheduler::spawn, without the engine or the
// store: a trivial function (`return {}`) spawned N times, one at a time (each spawned from
// the previous one's done callback) and with M in flight.
//
//   task_overhead_bench [--total N] [--inflight M] [--timeout-ms T]
//
// --timeout-ms gives every task a wall-clock limit, which arms a libuv deadline timer per
// task (the engine always does: a step's timeout defaults to 300 s). For comparison it also
// runs the bare Lua part (new thread, push, resume, convert the result to JSON, unref) with no
// scheduler, which is the floor the scheduler adds to.
//
// Prints one JSON line per mode with ns per invocation, heap allocations (operator new) per
// invocation and bytes the Lua allocator handed out per invocation.
#include "runtime/json_lua.h"
#include "runtime/loop.h"
#include "runtime/lua_vm.h"
#include "runtime/scheduler.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

namespace {
std::atomic<uint64_t> g_allocations{0};
}

void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

using Clock = std::chrono::steady_clock;

struct Figures {
    double seconds = 0;
    uint64_t allocations = 0;
    size_t lua_bytes = 0;
};

void print(const char* mode, size_t n, size_t inflight, uint64_t timeout_ms, const Figures& f) {
    std::printf("{\"mode\": \"%s\", \"invocations\": %zu, \"inflight\": %zu, \"timeout_ms\": %llu, "
                "\"seconds\": %.3f, \"ns_per_invocation\": %.0f, \"invocations_per_second\": %.0f, "
                "\"allocations_per_invocation\": %.1f, \"lua_bytes_per_invocation\": %.0f}\n",
                mode, n, inflight, static_cast<unsigned long long>(timeout_ms), f.seconds,
                1e9 * f.seconds / double(n), double(n) / f.seconds,
                double(f.allocations) / double(n), double(f.lua_bytes) / double(n));
}

struct SpawnRun {
    ferry::Scheduler& sched;
    int fn;
    ferry::TaskLimits limits;
    size_t total;
    size_t started = 0;
    size_t done = 0;
    size_t failed = 0;

    void spawn_one() {
        ++started;
        sched.spawn(fn, nullptr, limits, [this](ferry::TaskOutcome o) {
            ++done;
            if (!o.ok) ++failed;
            if (started < total) spawn_one();
        });
    }
};

Figures spawn_mode(ferry::Loop& loop, ferry::LuaVM& vm, ferry::Scheduler& sched, int fn,
                   ferry::TaskLimits limits, size_t total, size_t inflight) {
    SpawnRun r{sched, fn, limits, total};
    uint64_t a0 = g_allocations.load();
    size_t l0 = vm.allocated_total();
    auto t0 = Clock::now();
    for (size_t i = 0; i < inflight && i < total; ++i)
        r.spawn_one();
    loop.run();
    Figures f;
    f.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    f.allocations = g_allocations.load() - a0;
    f.lua_bytes = vm.allocated_total() - l0;
    if (r.done != total || r.failed) {
        std::fprintf(stderr, "task_overhead_bench: %zu done, %zu failed\n", r.done, r.failed);
        std::exit(1);
    }
    return f;
}

// The Lua work of one invocation without the scheduler: what spawn/resume/finish cannot avoid.
Figures bare_lua(ferry::LuaVM& vm, int fn, size_t total) {
    lua_State* L = vm.state();
    uint64_t a0 = g_allocations.load();
    size_t l0 = vm.allocated_total();
    auto t0 = Clock::now();
    for (size_t i = 0; i < total; ++i) {
        lua_State* co = lua_newthread(L);
        int ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_rawgeti(co, LUA_REGISTRYINDEX, fn);
        int nres = 0;
        if (lua_resume(co, L, 0, &nres) != LUA_OK) std::abort();
        rapidjson::Document doc;
        if (!ferry::json_lua::to_json(co, -nres, doc, doc.GetAllocator())) std::abort();
        lua_pop(co, nres);
        lua_resetthread(co);
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
    }
    Figures f;
    f.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    f.allocations = g_allocations.load() - a0;
    f.lua_bytes = vm.allocated_total() - l0;
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    size_t total = 1'000'000, inflight = 1000;
    uint64_t timeout_ms = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(
                stderr, "usage: task_overhead_bench [--total N] [--inflight M] [--timeout-ms T]\n");
            return 2;
        }
        if (a == "--total")
            total = std::stoul(argv[++i]);
        else if (a == "--inflight")
            inflight = std::stoul(argv[++i]);
        else if (a == "--timeout-ms")
            timeout_ms = std::stoull(argv[++i]);
        else {
            std::fprintf(stderr, "task_overhead_bench: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    ferry::Loop loop;
    ferry::LuaVM vm;
    ferry::Scheduler sched(loop, vm);
    auto chunk = vm.load_chunk("=bench", "return function() return {} end");
    if (!chunk) return 1;
    auto fn = vm.run_chunk(chunk.value());
    if (!fn) return 1;
    ferry::TaskLimits limits;  // default instruction budget and memory cap: the hook is armed
    limits.timeout_ms = timeout_ms;

    spawn_mode(loop, vm, sched, fn.value(), limits, 10'000, 100);  // warm-up
    print("bare_lua", total, 1, 0, bare_lua(vm, fn.value(), total));
    print("spawn_sequential", total, 1, timeout_ms,
          spawn_mode(loop, vm, sched, fn.value(), limits, total, 1));
    print("spawn_inflight", total, inflight, timeout_ms,
          spawn_mode(loop, vm, sched, fn.value(), limits, total, inflight));
    return 0;
}
