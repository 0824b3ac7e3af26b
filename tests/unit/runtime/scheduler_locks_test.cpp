// runtime/scheduler_locks: ferry.lock(key) lets one task at a time hold a key; the others
// wait in line, and a task gives its key up however it ends.
#include "runtime/json_writer.h"
#include "runtime/loop.h"
#include "runtime/lua_api/task_api.h"
#include "runtime/lua_vm.h"
#include "runtime/scheduler.h"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

using namespace ferry;

namespace {

struct Spawned {
    std::string code;
    TaskLimits limits;
};

struct Finished {
    size_t index = 0;  // of the task in the list given to run()
    TaskOutcome outcome;
};

struct LockFixture {
    Loop loop;
    LuaVM vm;
    std::optional<Scheduler> scheduler;
    LockFixture() {
        vm.add_module("ferry.sleep", lua_api::open_sleep);
        vm.add_module("ferry.lock", lua_api::open_lock);
        // A table every task reaches (as a project's shared module is).
        vm.set_source_resolver([](const std::string& name) -> std::optional<LuaSource> {
            if (name == "acme.box") return LuaSource{"=box", "return {state = {}}"};
            return std::nullopt;
        });
        scheduler.emplace(loop, vm);
    }

    // Spawns each chunk (returning a function) as a task, in order, runs the loop until all
    // ended, and returns them in the order they finished.
    std::vector<Finished> run(const std::vector<Spawned>& tasks) {
        std::vector<Finished> finished;
        for (size_t i = 0; i < tasks.size(); ++i) {
            Result<int> chunk = vm.load_chunk("=task" + std::to_string(i), tasks[i].code);
            REQUIRE(chunk);
            Result<int> fn = vm.run_chunk(chunk.value());
            REQUIRE(fn);
            scheduler->spawn(
                fn.value(), [](lua_State*) { return 0; }, tasks[i].limits,
                [&finished, i](TaskOutcome outcome) {
                    finished.push_back(Finished{i, std::move(outcome)});
                });
        }
        loop.run();
        REQUIRE(finished.size() == tasks.size());
        return finished;
    }
};

TaskLimits with_timeout(uint64_t ms) {
    TaskLimits limits;
    limits.timeout_ms = ms;
    return limits;
}

const Finished& of(const std::vector<Finished>& finished, size_t index) {
    for (const Finished& f : finished)
        if (f.index == index) return f;
    FAIL("task " << index << " did not finish");
    return finished.front();
}

// A task that takes key, returns whether it waited.
const std::string kTakes = "return function() local h, waited = ferry.lock('k') return waited end";

}  // namespace

TEST_CASE("scheduler locks: a second task waits for the key, then gets it", "[scheduler][lock]") {
    LockFixture f;
    auto done = f.run({
        {"return function() local h, waited = ferry.lock('k') ferry.sleep(30) h:release() "
         "return waited end",
         {}},
        {kTakes, {}},
    });
    REQUIRE(done.size() == 2);
    CHECK(done[0].index == 0);  // the holder finished first: the waiter ran after its release
    REQUIRE(of(done, 0).outcome.ok);
    CHECK_FALSE(of(done, 0).outcome.value.GetBool());
    REQUIRE(of(done, 1).outcome.ok);
    CHECK(of(done, 1).outcome.value.GetBool());
    CHECK(of(done, 1).outcome.duration_ms >= 25);
}

TEST_CASE("scheduler locks: different keys do not wait for each other", "[scheduler][lock]") {
    LockFixture f;
    auto done = f.run({
        {"return function() local h, w = ferry.lock('a') ferry.sleep(20) return w end", {}},
        {"return function() local h, w = ferry.lock('b') return w end", {}},
    });
    CHECK(done[0].index == 1);
    CHECK_FALSE(of(done, 0).outcome.value.GetBool());
    CHECK_FALSE(of(done, 1).outcome.value.GetBool());
}

TEST_CASE("scheduler locks: waiters get the key in the order they asked", "[scheduler][lock]") {
    LockFixture f;
    const std::string waiter =
        "return function() local h, w = ferry.lock('k') ferry.sleep(2) return w end";
    auto done = f.run({
        {"return function() local h = ferry.lock('k') ferry.sleep(10) return false end", {}},
        {waiter, {}},
        {waiter, {}},
        {waiter, {}},
    });
    std::vector<size_t> order;
    for (const Finished& d : done)
        order.push_back(d.index);
    CHECK(order == std::vector<size_t>{0, 1, 2, 3});
    for (size_t i = 1; i < 4; ++i)
        CHECK(of(done, i).outcome.value.GetBool());
}

TEST_CASE("scheduler locks: a task gives its key up however it ends", "[scheduler][lock]") {
    LockFixture f;
    std::string holder;
    TaskLimits limits;
    SECTION("returning without a release") {
        holder = "return function() ferry.lock('k') ferry.sleep(5) return 1 end";
    }
    SECTION("raising an error") {
        holder = "return function() ferry.lock('k') ferry.sleep(5) error('boom') end";
    }
    SECTION("cancelled by its timeout while parked") {
        holder = "return function() ferry.lock('k') ferry.sleep(60000) end";
        limits = with_timeout(20);
    }
    SECTION("stopped by its instruction budget (its to-be-closed variables do not run then)") {
        holder = "return function() local h <close> = ferry.lock('k') ferry.sleep(5) "
                 "while true do end end";
        limits.instruction_budget = 200'000;
    }
    // The waiter's timeout turns a key never given up into a failure instead of a hang.
    auto done = f.run({{holder, limits}, {kTakes, with_timeout(5000)}});
    INFO(of(done, 1).outcome.error.message);
    REQUIRE(of(done, 1).outcome.ok);
    CHECK(of(done, 1).outcome.value.GetBool());
    // Nobody holds it now: the next task takes it at once.
    auto again = f.run({{kTakes, {}}});
    CHECK_FALSE(again[0].outcome.value.GetBool());
}

TEST_CASE("scheduler locks: a waiter that times out leaves the line", "[scheduler][lock]") {
    LockFixture f;
    auto done = f.run({
        {"return function() ferry.lock('k') ferry.sleep(60) return false end", {}},
        {kTakes, with_timeout(10)},
        {kTakes, {}},
    });
    REQUIRE_FALSE(of(done, 1).outcome.ok);
    CHECK(of(done, 1).outcome.error.kind == ErrorKind::Timeout);
    REQUIRE(of(done, 2).outcome.ok);
    CHECK(of(done, 2).outcome.value.GetBool());
    auto again = f.run({{kTakes, {}}});
    CHECK_FALSE(again[0].outcome.value.GetBool());
}

TEST_CASE("scheduler locks: <close> and release give the key up early", "[scheduler][lock]") {
    LockFixture f;
    auto done = f.run({{
        "return function()\n"
        "  do local h <close> = ferry.lock('k') end\n"
        "  local h = ferry.lock('k')\n"
        "  h:release() h:release()\n"  // a second release does nothing
        "  local again, waited = ferry.lock('k')\n"
        "  return waited\n"
        "end",
        {},
    }});
    INFO(done[0].outcome.error.message);
    REQUIRE(done[0].outcome.ok);
    CHECK_FALSE(done[0].outcome.value.GetBool());
}

TEST_CASE("scheduler locks: misuse is a clear error", "[scheduler][lock]") {
    LockFixture f;
    std::string code;
    std::string expected;
    SECTION("a second key while holding one") {
        code = "return function() ferry.lock('a') ferry.lock('b') end";
        expected = "ferry.lock: this task holds a lock already";
    }
    SECTION("an empty key") {
        code = "return function() ferry.lock('') end";
        expected = "a key of 1 to 1024 bytes expected";
    }
    SECTION("no key") {
        code = "return function() ferry.lock() end";
        expected = "bad argument #1";
    }
    SECTION("passing on what JSON cannot hold, or too much of it") {
        code = "return function() ferry.lock('a'):pass(print) end";
        expected = "ferry.lock: pass:";
        SECTION("too much") {
            code = "return function() ferry.lock('a'):pass(string.rep('x', 1048577)) end";
            expected = "more than the 1048576 it may be";
        }
    }
    auto done = f.run({{code, {}}});
    REQUIRE_FALSE(done[0].outcome.ok);
    CHECK_THAT(done[0].outcome.error.message, Catch::Contains(expected));
}

TEST_CASE("scheduler locks: outside a task, ferry.lock raises", "[scheduler][lock]") {
    LockFixture f;
    Result<int> chunk = f.vm.load_chunk("=module", "ferry.lock('k') return {}");
    REQUIRE(chunk);
    Result<int> ran = f.vm.run_chunk(chunk.value());
    REQUIRE_FALSE(ran);
    CHECK_THAT(ran.error().message, Catch::Contains("only allowed inside a task"));
}

TEST_CASE("scheduler locks: a holder passes a value on to the next holders", "[scheduler][lock]") {
    LockFixture f;
    const std::string reader =
        "return function() local h, waited = ferry.lock('k') local v = h:passed() "
        "return {waited, v and v.number or 'none', h:interrupted() or 'no'} end";
    auto done = f.run({
        {"return function() local h = ferry.lock('k') ferry.sleep(10) "
         "h:pass({number = 'INC1'}) return 0 end",
         {}},
        {reader, {}},
    });
    CHECK(ferry::json_text(of(done, 1).outcome.value) == R"([true,"INC1","no"])");
    // Nobody holds it now, and what was passed on is still there for a later task.
    auto later = f.run({{reader, {}}});
    CHECK(ferry::json_text(later[0].outcome.value) == R"([false,"INC1","no"])");
    // A key nothing was passed on with keeps nothing once released.
    auto other = f.run({{"return function() local h = ferry.lock('other') return "
                         "h:passed() == nil end",
                         {}},
                        {"return function() local h = ferry.lock('other') return "
                         "h:passed() == nil end",
                         {}}});
    CHECK(other[0].outcome.value.GetBool());
    CHECK(other[1].outcome.value.GetBool());
}

TEST_CASE("scheduler locks: only the task that took the key may use its handle",
          "[scheduler][lock]") {
    LockFixture f;
    auto done = f.run({
        {"return function() local box = require('acme.box').state box.h = ferry.lock('k') "
         "ferry.sleep(40) return 'held' end",
         {}},
        {"return function() ferry.sleep(5) require('acme.box').state.h:release() end", {}},
        {"return function() ferry.sleep(10) local h, waited = ferry.lock('k') return waited "
         "end",
         {}},
    });
    INFO(of(done, 0).outcome.error.message);
    REQUIRE(of(done, 0).outcome.ok);
    REQUIRE_FALSE(of(done, 1).outcome.ok);
    CHECK_THAT(of(done, 1).outcome.error.message,
               Catch::Contains("release: this handle belongs to another task"));
    // The third waited for the holder: the failed release took nothing from it.
    REQUIRE(of(done, 2).outcome.ok);
    CHECK(of(done, 2).outcome.value.GetBool());
    CHECK(done[0].index == 1);
    CHECK(done[1].index == 0);
}

TEST_CASE("scheduler locks: what keys hand over is bounded", "[scheduler][lock]") {
    LockFixture f;
    // One task passes a value on for each of kIdleKeepMax + 1 keys: the oldest is forgotten.
    const size_t keys = Scheduler::kIdleKeepMax + 1;
    auto done = f.run({{"return function() for i = 1, " + std::to_string(keys) +
                            " do local h <close> = ferry.lock('k' .. i) h:pass(i) end end",
                        {}}});
    REQUIRE(done[0].outcome.ok);
    auto read = f.run({{"return function() local first = ferry.lock('k1') local a = "
                        "first:passed() first:release() local last = ferry.lock('k" +
                            std::to_string(keys) + "') return {a or 'none', last:passed()} end",
                        {}}});
    INFO(read[0].outcome.error.message);
    REQUIRE(read[0].outcome.ok);
    CHECK(ferry::json_text(read[0].outcome.value) == "[\"none\"," + std::to_string(keys) + "]");
}
