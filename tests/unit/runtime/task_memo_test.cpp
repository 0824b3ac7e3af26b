// runtime/task_memo and ferry.step.remember: what a task remembers is handed to its owner as
// the whole memo, waits until the owner says it is kept, and is read back by name.
#include "runtime/loop.h"
#include "runtime/lua_api/task_api.h"
#include "runtime/lua_vm.h"
#include "runtime/scheduler.h"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

using namespace ferry;

TEST_CASE("task memo: kept values are read by name, set, replaced and forgotten", "[memo]") {
    Task task;
    CHECK(task.memo_keeper() == nullptr);
    CHECK_FALSE(task.remember("plan", "1"));  // no keeper: nowhere to keep it
    REQUIRE(task.keep_memo(R"({"plan":{"to":"Done"},"n":1})", [](auto&, auto) {}));
    REQUIRE(task.remembered("plan"));
    CHECK(*task.remembered("plan") == R"({"to":"Done"})");
    CHECK(task.remembered("other") == nullptr);

    Result<std::string> added = task.remember("from", R"("To Do")");
    REQUIRE(added);
    CHECK(added.value() == R"({"plan":{"to":"Done"},"n":1,"from":"To Do"})");
    Result<std::string> replaced = task.remember("n", "2");
    REQUIRE(replaced);
    CHECK(replaced.value() == R"({"plan":{"to":"Done"},"n":2,"from":"To Do"})");
    Result<std::string> forgotten = task.remember("plan", "");
    REQUIRE(forgotten);
    CHECK(forgotten.value() == R"({"n":2,"from":"To Do"})");
    CHECK(task.remembered("plan") == nullptr);
}

TEST_CASE("task memo: past its size nothing changes, and the error says how big", "[memo]") {
    Task task;
    REQUIRE(task.keep_memo("", [](auto&, auto) {}));
    REQUIRE(task.remember("small", "1"));
    Result<std::string> big =
        task.remember("big", "\"" + std::string(Task::kMaxMemoBytes, 'x') + "\"");
    REQUIRE_FALSE(big);
    CHECK(big.error().kind == ErrorKind::Limit);
    CHECK(big.error().message.find("more than the 64 KiB a step keeps") != std::string::npos);
    CHECK(task.remembered("big") == nullptr);
    CHECK(*task.remembered("small") == "1");
}

TEST_CASE("task memo: what an owner kept that is no JSON object is refused", "[memo]") {
    Task task;
    CHECK_FALSE(task.keep_memo("[1,2]", [](auto&, auto) {}));
    CHECK_FALSE(task.keep_memo("{\"a\":", [](auto&, auto) {}));
    CHECK(task.memo_keeper() == nullptr);
    // A name written twice (not by Ferry, but a record read back): the last one counts.
    REQUIRE(task.keep_memo(R"({"a":1,"a":2})", [](auto&, auto) {}));
    CHECK(*task.remembered("a") == "2");
}

namespace {

struct MemoFixture {
    Loop loop;
    LuaVM vm;
    std::optional<Scheduler> scheduler;
    std::vector<std::string> kept;  // every memo the keeper was handed
    std::optional<Status> answer;   // what the keeper answers (ok when unset)
    std::vector<std::unique_ptr<Loop::Timer>> timers;
    MemoFixture() {
        vm.add_module("ferry.step", lua_api::open_step);
        scheduler.emplace(loop, vm);
    }

    TaskOutcome run(const std::string& code, bool with_keeper = true, TaskLimits limits = {}) {
        Result<int> chunk = vm.load_chunk("=task", code);
        REQUIRE(chunk);
        Result<int> fn = vm.run_chunk(chunk.value());
        REQUIRE(fn);
        std::optional<TaskOutcome> result;
        Task* task = scheduler->spawn(
            fn.value(), [](lua_State*) { return 0; }, limits,
            [&](TaskOutcome outcome) { result = std::move(outcome); });
        if (with_keeper) {
            // As the engine's: kept later, once the "commit" is done.
            REQUIRE(task->keep_memo(
                R"({"earlier":"yes"})", [this](const std::string& memo, Task::MemoKept done) {
                    kept.push_back(memo);
                    timers.push_back(
                        loop.timer(1, [this, done] { done(answer.value_or(ok_status())); }));
                }));
        }
        loop.run();
        REQUIRE(result);
        return std::move(*result);
    }
};

std::string message_of(const TaskOutcome& out) {
    return out.error.message;
}

}  // namespace

TEST_CASE("ferry.step.remember: waits for the keeper, then the value reads back", "[memo]") {
    MemoFixture f;
    TaskOutcome out = f.run(R"(
        local step = require("ferry.step")
        return function()
          local before = step.remembered("plan")
          local ok = step.remember("plan", { to = "Done" })
          return { before = before == nil, earlier = step.remembered("earlier"), ok = ok,
                   to = step.remembered("plan").to }
        end)");
    REQUIRE(out.ok);
    CHECK(out.value["before"].GetBool());
    CHECK(std::string(out.value["earlier"].GetString()) == "yes");
    CHECK(out.value["ok"].GetBool());
    CHECK(std::string(out.value["to"].GetString()) == "Done");
    CHECK(f.kept == std::vector<std::string>{R"({"earlier":"yes","plan":{"to":"Done"}})"});
}

TEST_CASE("ferry.step.remember: a keeper that fails answers nil and the error", "[memo]") {
    MemoFixture f;
    f.answer = make_error(ErrorKind::Storage, "the disk is full");
    TaskOutcome out = f.run(R"(
        local step = require("ferry.step")
        return function()
          local ok, err = step.remember("plan", 1)
          return { ok = ok == nil, kind = err.kind, message = err.message }
        end)");
    REQUIRE(out.ok);
    CHECK(out.value["ok"].GetBool());
    CHECK(std::string(out.value["kind"].GetString()) == "storage");
    CHECK(std::string(out.value["message"].GetString()) == "the disk is full");
}

TEST_CASE("ferry.step.remember: misuse raises, naming what is wrong", "[memo]") {
    MemoFixture f;
    SECTION("a name that is no word") {
        TaskOutcome out =
            f.run("return function() require('ferry.step').remember('the plan', 1) end");
        REQUIRE_FALSE(out.ok);
        CHECK(message_of(out).find("bad argument #1 to 'remember' (a name of 1 to 64 letters, "
                                   "digits, '_', '-' or '.' expected)") != std::string::npos);
    }
    SECTION("a value JSON cannot hold") {
        TaskOutcome out = f.run("return function() require('ferry.step').remember('f', print) end");
        REQUIRE_FALSE(out.ok);
        CHECK(message_of(out).find("ferry.step.remember: the value cannot be kept as JSON") !=
              std::string::npos);
        CHECK(f.kept.empty());
    }
    SECTION("a task whose owner keeps nothing (a hook)") {
        TaskOutcome out =
            f.run("return function() require('ferry.step').remember('a', 1) end", false);
        REQUIRE_FALSE(out.ok);
        CHECK(message_of(out).find("this task has nowhere to keep what it remembers") !=
              std::string::npos);
    }
    SECTION("a pure task, which may not wait") {
        TaskLimits pure;
        pure.io_allowed = false;
        TaskOutcome out =
            f.run("return function() require('ferry.step').remember('a', 1) end", true, pure);
        REQUIRE_FALSE(out.ok);
        CHECK(message_of(out).find("ferry.step.remember is not allowed in a task declared pure") !=
              std::string::npos);
    }
    SECTION("past the memo's size: a limit error, nothing handed to the keeper") {
        TaskOutcome out = f.run(
            "return function() require('ferry.step').remember('big', string.rep('x', 70000)) end");
        REQUIRE_FALSE(out.ok);
        CHECK(out.error.kind == ErrorKind::Limit);
        CHECK(f.kept.empty());
    }
}

TEST_CASE("ferry.step.remember: a task cancelled while it waits is not resumed by the keeper",
          "[memo]") {
    MemoFixture f;
    Result<int> chunk = f.vm.load_chunk(
        "=task", "return function() require('ferry.step').remember('a', 1) return 'resumed' end");
    REQUIRE(chunk);
    Result<int> fn = f.vm.run_chunk(chunk.value());
    REQUIRE(fn);
    std::optional<TaskOutcome> result;
    Task::MemoKept later;
    Task* task = f.scheduler->spawn(
        fn.value(), [](lua_State*) { return 0; }, {},
        [&](TaskOutcome outcome) { result = std::move(outcome); });
    REQUIRE(task->keep_memo("", [&](const std::string&, Task::MemoKept done) {
        later = std::move(done);
        f.timers.push_back(f.loop.timer(1, [&] { f.scheduler->cancel(task); }));
    }));
    f.loop.run();
    REQUIRE(result);
    CHECK(result->error.kind == ErrorKind::Cancelled);
    REQUIRE(later);
    later(ok_status());  // the commit lands after the task is gone: nothing happens
    f.loop.run();
}
