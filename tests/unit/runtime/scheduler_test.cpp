// runtime/scheduler: tasks run as coroutines; a task spawned without I/O (a pure task)
// raises at the first operation that would wait, and says why.
#include "runtime/loop.h"
#include "runtime/lua_api/task_api.h"
#include "runtime/lua_vm.h"
#include "runtime/lua_watchdog.h"
#include "runtime/scheduler.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>

#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace ferry;

namespace {

struct SchedulerFixture {
    Loop loop;
    LuaVM vm;
    std::optional<Scheduler> scheduler;
    SchedulerFixture() {
        vm.add_module("ferry.sleep", lua_api::open_sleep);
        scheduler.emplace(loop, vm);
    }

    // Runs `code` (a chunk returning a function) as one task to its end.
    TaskOutcome run(const std::string& code, TaskLimits limits) {
        Result<int> chunk = vm.load_chunk("=task", code);
        REQUIRE(chunk);
        Result<int> fn = vm.run_chunk(chunk.value());
        REQUIRE(fn);
        std::optional<TaskOutcome> result;
        scheduler->spawn(
            fn.value(), [](lua_State*) { return 0; }, limits,
            [&](TaskOutcome outcome) { result = std::move(outcome); });
        loop.run();
        REQUIRE(result);
        return std::move(*result);
    }
};

}  // namespace

TEST_CASE("scheduler: print outside any task, with a scheduler, goes to untasked_output",
          "[scheduler]") {
    // The scheduler finds the running task in the thread's extra space; outside a task (a
    // task file's top level, as the catalog loads it) that must read as none. Lua leaves
    // the main thread's extra space uninitialised: the sanitizer build caught a call on a
    // garbage pointer here.
    SchedulerFixture f;
    std::vector<std::string> seen;
    f.vm.untasked_output = [&](std::string_view, std::string_view text) {
        seen.emplace_back(text);
    };
    Result<int> chunk = f.vm.load_chunk("=module", "print('loading') return {}");
    REQUIRE(chunk);
    REQUIRE(f.vm.run_chunk(chunk.value()));
    CHECK(seen == std::vector<std::string>{"loading"});
}

TEST_CASE("scheduler: a task may wait, a task spawned without I/O may not", "[scheduler]") {
    SchedulerFixture f;
    const std::string sleeper = "return function() ferry.sleep(1) return 'woke' end";
    TaskLimits limits;
    SECTION("with I/O allowed, ferry.sleep parks and resumes") {
        TaskOutcome out = f.run(sleeper, limits);
        REQUIRE(out.ok);
        CHECK(std::string(out.value.GetString()) == "woke");
    }
    SECTION("a pure task: ferry.sleep raises, naming the function and the reason") {
        limits.io_allowed = false;
        TaskOutcome out = f.run(sleeper, limits);
        REQUIRE_FALSE(out.ok);
        CHECK(out.error.message.find("ferry.sleep is not allowed in a task declared pure") !=
              std::string::npos);
    }
    SECTION("a pure task that does not wait runs as any other") {
        limits.io_allowed = false;
        TaskOutcome out = f.run("return function() return 1 + 1 end", limits);
        REQUIRE(out.ok);
        CHECK(out.value.GetInt() == 2);
    }
}

TEST_CASE("scheduler: a module's top level cannot wait, and says it is a module's", "[scheduler]") {
    SchedulerFixture f;
    f.vm.set_source_resolver([](const std::string& name) -> std::optional<LuaSource> {
        if (name != "acme.sleepy") return std::nullopt;
        return LuaSource{"@stdlib/acme/sleepy.lua", "ferry.sleep(10) return {}"};
    });
    // It said "inside a metamethod, an iterator or a sort comparator", none of which it was.
    TaskOutcome out = f.run("return function() return require('acme.sleepy') end", TaskLimits{});
    REQUIRE_FALSE(out.ok);
    INFO(out.error.message);
    CHECK(out.error.message.find("stdlib/acme/sleepy.lua:1: ferry.sleep cannot wait in a "
                                 "module's top level (it runs inside require)") !=
          std::string::npos);
    // A wait inside a metamethod keeps its own message.
    out = f.run("return function() return tostring(setmetatable({}, {__tostring = function() "
                "ferry.sleep(1) return 'x' end})) end",
                TaskLimits{});
    REQUIRE_FALSE(out.ok);
    CHECK(out.error.message.find("inside a metamethod") != std::string::npos);
}

TEST_CASE("scheduler: ferry.sleep refuses durations that are no number of milliseconds",
          "[scheduler]") {
    SchedulerFixture f;
    // Each once returned at once: uint64_t(n) of a NaN or of a double past 2^64.
    const std::pair<const char*, const char*> cases[] = {
        {"math.huge", "duration too long"}, {"1e300", "duration too long"},
        {"2^64", "duration too long"},      {"0/0", "got nan"},
        {"-1", "must not be negative"},
    };
    for (const auto& [arg, message] : cases) {
        INFO(arg);
        TaskOutcome out =
            f.run(std::string("return function() ferry.sleep(") + arg + ") return 'woke' end", {});
        REQUIRE_FALSE(out.ok);
        CHECK(out.error.message.find(message) != std::string::npos);
    }
}

TEST_CASE("scheduler: a sleep of years waits, until the timeout ends it", "[scheduler]") {
    // 2^44 ms times 10^6 ns overflowed 64 bits into the past: the sleep returned at once.
    SchedulerFixture f;
    TaskLimits limits;
    limits.timeout_ms = 50;
    for (const char* arg : {"18446744073710", "'36525d'", "2^63"}) {
        INFO(arg);
        TaskOutcome out = f.run(
            std::string("return function() ferry.sleep(") + arg + ") return 'woke' end", limits);
        REQUIRE_FALSE(out.ok);
        CHECK(out.error.kind == ErrorKind::Timeout);
    }
    // A duration text past a century is refused, as everywhere durations are read.
    TaskOutcome out = f.run("return function() ferry.sleep('18446744073710ms') end", limits);
    REQUIRE_FALSE(out.ok);
    CHECK(out.error.message.find("longer than 100 years") != std::string::npos);
}

TEST_CASE("scheduler: a huge error message is cut, at a character boundary", "[scheduler]") {
    SchedulerFixture f;
    TaskOutcome out = f.run("return function() error('x' .. string.rep('\\u{e9}', 100000), 0) end",
                            {});  // 200,001 B
    REQUIRE_FALSE(out.ok);
    CHECK(out.error.message.size() < 65 * 1024);
    // Byte 65,536 is the second of an é: the cut moves back to its first.
    CHECK(out.error.message.find("\xC3\xA9... (134466 more bytes cut)") != std::string::npos);
    CHECK(out.error.message.substr(0, 3) == "x\xC3\xA9");
}

TEST_CASE("scheduler: an error Lua gives no place is told the task's line", "[scheduler]") {
    SchedulerFixture f;
    auto failed = [&](const std::string& body) {
        TaskOutcome out = f.run("return function()\n" + body + "\nend", {});
        REQUIRE_FALSE(out.ok);
        return out.error;
    };
    Error nil = failed("local x = 1\nerror(nil)");
    CHECK(nil.message == "task:3: (error object is a nil value)");
    REQUIRE(nil.location);
    CHECK(nil.location->line == 3);
    CHECK(failed("error(true)").message == "task:2: (error object is a boolean value)");
    CHECK(failed("error({})").message == "task:2: error");
    // Deep recursion through a C function (string.gsub's callback) ends in C.
    Error deep = failed("local function f(s) return (s:gsub('.', f)) end\nreturn f('a')");
    CHECK(deep.message.find("stack overflow") != std::string::npos);
    CHECK(deep.message.starts_with("task:2:"));
    // What already has a place, or chose none, is left as it is.
    CHECK(failed("error('plain')").message == "task:2: plain");
    CHECK(failed("error('as is', 0)").message == "as is");
    CHECK_FALSE(failed("error('as is', 0)").location);
    CHECK(failed("error({kind = 'validation', message = 'bad input'})").message == "bad input");
}

// The count hook is armed by the watchdog only for a resume that runs long; the limits it
// checks still end runaway code, and say which limit.
TEST_CASE("scheduler: limits end runaway code, short resumes run unhooked", "[scheduler][limits]") {
    SchedulerFixture f;
    TaskLimits limits;
    SECTION("a short task is never counted") {
        TaskOutcome out = f.run("return function() local n = 0 for i = 1, 100 do n = n + i end "
                                "return n end",
                                limits);
        REQUIRE(out.ok);
        CHECK(out.value.GetInt() == 5050);
        // Under ThreadSanitizer every resume is hooked (lua_watchdog.cpp): counted.
        if (!LuaWatchdog::signals_deferred()) CHECK(out.instructions == 0);
    }
    SECTION("a loop that never ends hits the instruction budget") {
        limits.instruction_budget = 2'000'000;
        TaskOutcome out = f.run("return function() while true do end end", limits);
        REQUIRE_FALSE(out.ok);
        CHECK(out.error.kind == ErrorKind::Limit);
        CHECK(out.error.message.find("instruction budget exceeded") != std::string::npos);
        CHECK(out.instructions > 2'000'000);
    }
    SECTION("pcall cannot swallow the breach") {
        limits.instruction_budget = 2'000'000;
        TaskOutcome out = f.run("return function() for i = 1, 1000 do pcall(function() while "
                                "true do end end) end return 'escaped' end",
                                limits);
        REQUIRE_FALSE(out.ok);
        CHECK(out.error.message.find("instruction budget exceeded") != std::string::npos);
    }
    SECTION("with no budget, the deadline ends it") {
        limits.instruction_budget = 0;
        limits.timeout_ms = 50;
        TaskOutcome out = f.run("return function() while true do end end", limits);
        REQUIRE_FALSE(out.ok);
        // The hook's check or the loop's timer, whichever sees the deadline first (a slow
        // build, ThreadSanitizer's, lets the timer win at times): either ends it.
        INFO(out.error.message);
        CHECK((out.error.message.find("timeout exceeded") != std::string::npos ||
               out.error.message.find("timed out after 50 ms") != std::string::npos));
    }
    SECTION("a to-be-closed variable that never ends is stopped too") {
        limits.instruction_budget = 2'000'000;
        // The error leaves the variable open; the scheduler closes it when the task ends,
        // under the task's limits, instead of hanging the loop.
        TaskOutcome out = f.run("return function() local guard <close> = setmetatable({}, "
                                "{__close = function() while true do end end}) error('boom') end",
                                limits);
        REQUIRE_FALSE(out.ok);
        CHECK(out.error.message.find("boom") != std::string::npos);
    }
    SECTION("the task after a breach runs unhooked") {
        limits.instruction_budget = 2'000'000;
        REQUIRE_FALSE(f.run("return function() while true do end end", limits).ok);
        TaskOutcome out = f.run("return function() return 'next' end", limits);
        REQUIRE(out.ok);
        CHECK(out.instructions == 0);
    }
    SECTION("the task after a breach is still held to its limits") {
        // The breach is raised inside the count hook, which leaves hooks off on its thread:
        // reusing that thread let the next runaway task run forever (an on_failure hook
        // after a step hit its budget).
        limits.instruction_budget = 2'000'000;
        for (const char* first : {"return function() while true do end end",
                                  "return function() pcall(function() while true do end end) "
                                  "while true do end end"}) {
            REQUIRE_FALSE(f.run(first, limits).ok);
            TaskOutcome out = f.run("return function() while true do end end", limits);
            REQUIRE_FALSE(out.ok);
            CHECK(out.error.message.find("instruction budget exceeded") != std::string::npos);
        }
        limits.instruction_budget = 0;
        limits.timeout_ms = 50;
        REQUIRE_FALSE(f.run("return function() while true do end end", limits).ok);
        TaskOutcome out = f.run("return function() while true do end end", limits);
        REQUIRE_FALSE(out.ok);
        // The hook's check or the loop's timer, whichever sees the deadline first (a slow
        // build, ThreadSanitizer's, lets the timer win at times): either ends it.
        INFO(out.error.message);
        CHECK((out.error.message.find("timeout exceeded") != std::string::npos ||
               out.error.message.find("timed out after 50 ms") != std::string::npos));
    }
    SECTION("a breached task's to-be-closed variables do not run past its limits") {
        limits.instruction_budget = 2'000'000;
        TaskOutcome out = f.run("return function() local guard <close> = setmetatable({}, "
                                "{__close = function() while true do end end}) "
                                "while true do end end",
                                limits);
        REQUIRE_FALSE(out.ok);
        CHECK(out.error.message.find("instruction budget exceeded") != std::string::npos);
    }
}

TEST_CASE("scheduler: arguments that cannot be built fail the task, not the process",
          "[scheduler]") {
    // Building arguments runs outside the task: an error there (out of memory for a large
    // input, say) used to reach Lua's panic handler and abort.
    SchedulerFixture f;
    Result<int> chunk = f.vm.load_chunk("=task", "return function(x) return x end");
    REQUIRE(chunk);
    Result<int> fn = f.vm.run_chunk(chunk.value());
    REQUIRE(fn);
    std::optional<TaskOutcome> raised, fine;
    f.scheduler->spawn(
        fn.value(),
        [](lua_State* L) -> int {
            lua_pushinteger(L, 1);
            return luaL_error(L, "no room for the input");
        },
        TaskLimits{}, [&](TaskOutcome o) { raised = std::move(o); });
    f.scheduler->spawn(
        fn.value(),
        [](lua_State* L) {
            lua_pushliteral(L, "argument");
            return 1;
        },
        TaskLimits{}, [&](TaskOutcome o) { fine = std::move(o); });
    f.loop.run();
    REQUIRE(raised);
    REQUIRE_FALSE(raised->ok);
    CHECK(raised->error.message.find("no room for the input") != std::string::npos);
    REQUIRE(fine);
    REQUIRE(fine->ok);
    CHECK(std::string(fine->value.GetString()) == "argument");
}

namespace {

// The argument of spinning tasks: `released()` is true once the flag is set (by a loop
// timer: only a task that yields to the loop lets it fire).
std::function<int(lua_State*)> released_arg(const bool* flag) {
    return [flag](lua_State* L) {
        lua_pushlightuserdata(L, const_cast<bool*>(flag));
        lua_pushcclosure(
            L,
            [](lua_State* S) {
                lua_pushboolean(S,
                                *static_cast<const bool*>(lua_touserdata(S, lua_upvalueindex(1))));
                return 1;
            },
            1);
        return 1;
    };
}

int load_task(LuaVM& vm, const std::string& code) {
    Result<int> chunk = vm.load_chunk("=task", code);
    REQUIRE(chunk);
    Result<int> fn = vm.run_chunk(chunk.value());
    REQUIRE(fn);
    return fn.value();
}

const char* const kSpinner =
    "return function(released) local n = 0 while not released() do n = n + 1 end return n end";

}  // namespace

TEST_CASE("scheduler: a task that keeps the CPU yields to the loop between slices",
          "[scheduler][slices]") {
    SchedulerFixture f;
    bool released = false;
    TaskLimits limits;

    SECTION("a timer fires while it spins, and the task sees what the timer did") {
        // Before time slicing the loop never got a turn: the task spun until its budget.
        auto timer = f.loop.timer(20, [&] { released = true; });
        std::optional<TaskOutcome> out;
        f.scheduler->spawn(load_task(f.vm, kSpinner), released_arg(&released), limits,
                           [&](TaskOutcome o) { out = std::move(o); });
        f.loop.run();
        REQUIRE(out);
        INFO(out->error.message);
        REQUIRE(out->ok);
        CHECK(out->value.GetInt64() > 0);
    }
    SECTION("several spinning tasks take turns, and the loop runs between them") {
        int ticks = 0;
        auto ticker = f.loop.timer(
            1,
            [&] {
                if (++ticks == 10) released = true;
            },
            1);
        const int fn = load_task(f.vm, kSpinner);
        std::vector<std::optional<TaskOutcome>> outcomes(3);
        for (auto& slot : outcomes)
            f.scheduler->spawn(fn, released_arg(&released), limits, [&, s = &slot](TaskOutcome o) {
                *s = std::move(o);
                bool all = true;
                for (auto& other : outcomes)
                    all = all && other.has_value();
                if (all) ticker.reset();
            });
        f.loop.run();
        for (auto& out : outcomes) {
            REQUIRE(out);
            REQUIRE(out->ok);
            CHECK(out->value.GetInt64() > 0);  // each had a slice before the release
        }
        CHECK(ticks >= 10);
    }
    SECTION("its budgets count across slices") {
        limits.instruction_budget = 20'000'000;
        int ticks = 0;
        auto ticker = f.loop.timer(
            1, [&] { ++ticks; }, 1);
        const int fn = load_task(f.vm, "return function() while true do end end");
        std::optional<TaskOutcome> out;
        f.scheduler->spawn(
            fn, [](lua_State*) { return 0; }, limits,
            [&](TaskOutcome o) {
                out = std::move(o);
                ticker.reset();
            });
        f.loop.run();
        REQUIRE(out);
        REQUIRE_FALSE(out->ok);
        CHECK(out->error.message.find("instruction budget exceeded") != std::string::npos);
        CHECK(out->instructions > 20'000'000);
        CHECK(ticks >= 2);
    }
    SECTION("a spinning task can be cancelled from the loop") {
        const int fn = load_task(f.vm, "return function() while true do end end");
        std::optional<TaskOutcome> out;
        Task* task = f.scheduler->spawn(
            fn, [](lua_State*) { return 0; }, limits, [&](TaskOutcome o) { out = std::move(o); });
        auto timer = f.loop.timer(20, [&] { f.scheduler->cancel(task); });
        f.loop.run();
        REQUIRE(out);
        REQUIRE_FALSE(out->ok);
        CHECK(out->error.kind == ErrorKind::Cancelled);
        CHECK(out->instructions < limits.instruction_budget);
    }
    SECTION("a fan-out of spinning tasks does not start them all before the loop's turn") {
        // Each runs a watchdog tick before its hook can slice it: one drain started all 40
        // (40 ticks of a held loop) before a timer could fire.
        int started = 0, started_at_first_tick = -1, ticks = 0;
        auto counter = [](lua_State* L) {
            ++*static_cast<int*>(lua_touserdata(L, lua_upvalueindex(1)));
            return 0;
        };
        auto ticker = f.loop.timer(
            1,
            [&] {
                // The loop runs due timers before its first drain: on a slow build (ASan) the
                // first tick can come before any task started, and says nothing then.
                if (started_at_first_tick < 0 && started > 0) started_at_first_tick = started;
                if (++ticks == 5) released = true;
            },
            1);
        const int fn = load_task(f.vm, "return function(released, started) started() "
                                       "while not released() do end return true end");
        int finished = 0;
        for (int i = 0; i < 40; ++i)
            f.scheduler->spawn(
                fn,
                [&](lua_State* L) {
                    released_arg (&released)(L);
                    lua_pushlightuserdata(L, &started);
                    lua_pushcclosure(L, counter, 1);
                    return 2;
                },
                limits,
                [&](TaskOutcome o) {
                    CHECK(o.ok);
                    if (++finished == 40) ticker.reset();
                });
        f.loop.run();
        CHECK(finished == 40);
        CHECK(started == 40);
        CHECK(started_at_first_tick >= 1);
        CHECK(started_at_first_tick <= 8);
    }
    SECTION("to-be-closed variables that loop get a short budget when the task fails") {
        // They cannot yield, and ran for the rest of the task's budget (100M instructions:
        // seconds of a held loop, and of a cancel waiting for them).
        int closes = 0;
        const int fn = load_task(f.vm, "return function(tick) local guard <close> = "
                                       "setmetatable({}, {__close = function() while true do "
                                       "tick() end end}) error('boom') end");
        std::optional<TaskOutcome> out;
        f.scheduler->spawn(
            fn,
            [&](lua_State* L) {
                lua_pushlightuserdata(L, &closes);
                lua_pushcclosure(
                    L,
                    [](lua_State* S) {
                        ++*static_cast<int*>(lua_touserdata(S, lua_upvalueindex(1)));
                        return 0;
                    },
                    1);
                return 1;
            },
            limits, [&](TaskOutcome o) { out = std::move(o); });
        f.loop.run();
        REQUIRE(out);
        CHECK(out->error.message.find("boom") != std::string::npos);
        CHECK(closes > 0);
        // ~1M counted instructions, not the task's 100M (some 25M calls). Counting starts only
        // once the watchdog thread has armed the hook; until then the cleanup runs uncounted,
        // longer when a busy host keeps that thread waiting (2,111,188 calls seen).
        CHECK(closes < 10'000'000);
        // Its thread breached a limit (hooks off): the next task is still held to its own.
        limits.instruction_budget = 2'000'000;
        TaskOutcome next = f.run("return function() while true do end end", limits);
        CHECK(next.error.message.find("instruction budget exceeded") != std::string::npos);
    }
    SECTION("tasks cancelled together share the to-be-closed time") {
        // A cancelled fan-out ends all its items at once: 50 looping cleanups held the loop
        // 100 ms each. Here each cleanup turn takes 20 us (limits are checked every 1,000
        // instructions): 30 tasks at 100 ms each held the loop 3 s; sharing 100 ms, they
        // take that plus a floor of about a millisecond each (the bound leaves room).
        int ticks = 0;
        const int fn = load_task(f.vm, "return function(tick) local guard <close> = "
                                       "setmetatable({}, {__close = function() while true do "
                                       "tick() end end}) ferry.sleep(60000) end");
        int cancelled = 0;
        std::vector<Task*> tasks;
        for (int i = 0; i < 30; ++i) {
            tasks.push_back(f.scheduler->spawn(
                fn,
                [&](lua_State* L) {
                    lua_pushlightuserdata(L, &ticks);
                    lua_pushcclosure(
                        L,
                        [](lua_State* S) {
                            ++*static_cast<int*>(lua_touserdata(S, lua_upvalueindex(1)));
                            // Busy, not asleep: a sleep's slack on a loaded host is a
                            // millisecond, and limits are checked between instructions.
                            const auto until =
                                std::chrono::steady_clock::now() + std::chrono::microseconds(20);
                            while (std::chrono::steady_clock::now() < until) {
                            }
                            return 0;
                        },
                        1);
                    return 1;
                },
                limits, [&](TaskOutcome o) { cancelled += o.error.kind == ErrorKind::Cancelled; }));
        }
        // The loop thread's CPU time, not the wall clock: each task waits for the watchdog
        // thread to arm its hook, and on a busy host that wait stretched the wall time from
        // 0.4 s to over 4 s while the work stayed ~0.4 s of CPU. One after another, the
        // cleanups would take 30 x kCloseMs = 3 s of it.
        auto cpu_now = [] {
            timespec ts{};
            ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
            return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
        };
        std::chrono::nanoseconds took{};
        auto timer = f.loop.timer(20, [&] {
            const auto began = cpu_now();
            for (Task* t : tasks)
                f.scheduler->cancel(t);
            took = cpu_now() - began;
        });
        f.loop.run();
        CHECK(cancelled == 30);
        CHECK(ticks > 0);
        CHECK(took < std::chrono::milliseconds(1500));
    }
    SECTION("where Lua cannot yield (a sort comparator) the task runs on, unharmed") {
        TaskOutcome out = f.run("return function() local t = {3, 1, 2} "
                                "table.sort(t, function(a, b) local n = 0 "
                                "for i = 1, 3000000 do n = n + 1 end return a < b end) "
                                "return t[1] * 100 + t[2] * 10 + t[3] end",
                                limits);
        REQUIRE(out.ok);
        CHECK(out.value.GetInt() == 123);
    }
}

namespace {

// A 24 MiB VM whose tasks have no memory budget of their own: the VM's cap is the one met.
struct SmallVm {
    Loop loop;
    LuaVM vm{LuaVmLimits{size_t(24) << 20}};
    std::optional<Scheduler> scheduler;
    std::vector<TaskOutcome> outcomes;
    SmallVm() {
        vm.add_module("ferry.sleep", lua_api::open_sleep);
        scheduler.emplace(loop, vm);
    }
    // Spawns `count` tasks of `code` (a chunk returning a function), each given push_args'
    // values, and runs them all to their end.
    void run(const char* code, int count, std::function<int(lua_State*)> push_args) {
        Result<int> chunk = vm.load_chunk("=task", code);
        REQUIRE(chunk);
        for (int i = 0; i < count; ++i) {
            Result<int> fn = vm.run_chunk(chunk.value());
            REQUIRE(fn);
            TaskLimits limits;
            limits.memory_bytes = 0;
            scheduler->spawn(fn.value(), push_args, limits, [this](TaskOutcome outcome) {
                outcomes.push_back(std::move(outcome));
            });
        }
        loop.run();
        REQUIRE(outcomes.size() == size_t(count));
    }
    // How many failed; each failure must be the VM's limit.
    size_t failed_at_the_limit() const {
        size_t failed = 0;
        for (const TaskOutcome& o : outcomes) {
            if (o.ok) continue;
            ++failed;
            INFO(o.error.message);
            CHECK(o.error.kind == ErrorKind::Limit);
            CHECK(o.error.message.find("the Lua VM is out of memory") != std::string::npos);
        }
        return failed;
    }
};

}  // namespace

TEST_CASE("scheduler: tasks that fill the VM to its last bytes fail with limit, the process "
          "lives",
          "[scheduler][limits]") {
    // Many small allocations filled the VM within a few bytes of its cap; the failed task's
    // traceback, built on the main state outside any protected call, could not be
    // allocated, and Lua's panic handler aborted the whole process (a 40-item for_each of
    // row tables took ferry serve down, and every restart resumed into the same abort).
    SmallVm f;
    f.run(R"(return function()
        local rows = {}
        for i = 1, 200000 do rows[i] = {i} end
        ferry.sleep(100)
        return #rows
    end)",
          8, [](lua_State*) { return 0; });
    size_t failed = f.failed_at_the_limit();
    CHECK(failed > 0);
    CHECK(failed < 8);  // the first ones fit
}

TEST_CASE("scheduler: a fan-out whose inputs meet the full VM fails its tasks, the process "
          "lives",
          "[scheduler][limits]") {
    // New tasks' arguments were built outside any task, in the engine's reserve: a fan-out
    // at the VM's cap filled it with data nothing could free, and the next new thread
    // could not be made (Lua's panic: an abort of the whole process).
    SmallVm f;
    // 400 x ~100 KB of arguments: past the cap and the reserve.
    f.run(R"(return function(rows)
        ferry.sleep(200)
        return #rows
    end)",
          400, [](lua_State* L) {
              lua_createtable(L, 1000, 0);
              for (int r = 1; r <= 1000; ++r) {
                  lua_pushfstring(L, "row %d of the task's input, some text to weigh", r);
                  lua_rawseti(L, -2, r);
              }
              return 1;
          });
    CHECK(f.failed_at_the_limit() > 0);
    CHECK(f.vm.memory_used() <= f.vm.memory_limit() + LuaVM::kEngineReserveBytes);
}
