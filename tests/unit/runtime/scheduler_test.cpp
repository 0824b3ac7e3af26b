// runtime/scheduler: tasks run as coroutines; a task spawned without I/O (a pure task)
// raises at the first operation that would wait, and says why.
#include "runtime/loop.h"
#include "runtime/lua_api/task_api.h"
#include "runtime/lua_vm.h"
#include "runtime/scheduler.h"

#include <catch2/catch.hpp>

#include <optional>

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
