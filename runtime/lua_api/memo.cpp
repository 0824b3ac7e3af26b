// ferry.step.remember / ferry.step.remembered: a task's notes to its later attempts, kept
// durably by the task's owner (Task::remember; the engine keeps them on the step's record).
#include "runtime/json_lua.h"
#include "runtime/lua_api/modules.h"
#include "runtime/lua_api/task_api.h"
#include "runtime/scheduler.h"

#include <memory>
#include <string>

namespace ferry::lua_api {

namespace {

// What a remembering task waits for: its owner's commit, which cannot be called back. A
// task cancelled meanwhile (its timeout, a cancel) is gone when the commit lands: the
// completion then finds `waiting` false and does nothing.
struct RememberOp final : PendingOp {
    std::shared_ptr<bool> waiting = std::make_shared<bool>(true);
    void cancel() override { *waiting = false; }
    const char* what() const override { return "remember"; }
};

// [-0, +0, v] The name at 1: a word a reader of the step's record recognises.
std::string_view check_memo_name(lua_State* L) {
    size_t len = 0;
    const char* name = luaL_checklstring(L, 1, &len);
    std::string_view text(name, len);
    bool word = !text.empty() && text.size() <= Task::kMaxMemoName;
    for (char c : text)
        word = word && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.');
    if (!word)
        luaL_argerror(L, 1,
                      ("a name of 1 to " + std::to_string(Task::kMaxMemoName) +
                       " letters, digits, '_', '-' or '.' expected")
                          .c_str());
    return text;
}

// Builds the memo and hands it to the keeper, the task parked: what the keeper calls back
// resumes it with true, or nil and an error. C++ objects live only in this frame, so its
// caller yields with none alive (scheduler.h).
void start_remember(lua_State* L, Task* task) {
    std::string_view name = check_memo_name(L);
    std::string value;
    if (!lua_isnoneornil(L, 2)) {
        // Bounded while it is encoded: a huge table is refused before it is all text.
        Result<std::string> text =
            json_lua::to_json_text(L, 2, json_lua::InvalidUtf8::Refuse, Task::kMaxMemoBytes);
        if (!text && text.error().kind == ErrorKind::Limit) {
            push_error_table(L, make_error(ErrorKind::Limit,
                                           "ferry.step.remember: the value takes more than the " +
                                               std::to_string(Task::kMaxMemoBytes >> 10) +
                                               " KiB a step keeps as JSON (remember ids and "
                                               "names, not documents)"));
            lua_error(L);
        }
        if (!text)
            luaL_error(L, "ferry.step.remember: the value cannot be kept as JSON: %s",
                       text.error().message.c_str());
        value = std::move(text.value());
    }
    const Task::MemoKeeper* keeper = task->memo_keeper();
    if (!keeper || !*keeper)
        luaL_error(L, "ferry.step.remember: this task has nowhere to keep what it remembers "
                      "(only a workflow step's task can remember)");
    Result<std::string> memo = task->remember(name, std::move(value));
    if (!memo) {
        push_error_table(L, memo.error());
        lua_error(L);
    }
    Scheduler* scheduler = Scheduler::of(L);  // before parking: nothing raises after it
    auto op = std::make_unique<RememberOp>();
    std::shared_ptr<bool> waiting = op->waiting;
    task->park(std::move(op));
    (*keeper)(memo.value(), [scheduler, task, waiting](Status kept) {
        if (!*waiting) return;
        *waiting = false;
        scheduler->complete(task, [kept = std::move(kept)](lua_State* co) {
            if (kept) {
                lua_pushboolean(co, 1);
                return 1;
            }
            lua_pushnil(co);
            push_error_table(co, kept.error());
            return 2;
        });
    });
}

// remember(name, value) -> true, or nil and an error: kept for the step's later attempts
// once it returns (nil forgets the name).
int step_remember(lua_State* L) {
    lua_settop(L, 2);
    start_remember(L, Scheduler::current(L, "ferry.step.remember"));
    return lua_yield(L, 0);
}

// remembered(name) -> what this attempt or an earlier one of the step remembered, or nil.
int step_remembered(lua_State* L) {
    std::string_view name = check_memo_name(L);
    Task* task = Scheduler::running(L);
    // Nil here would read as "nothing was remembered" (a coroutine the task made, a hook).
    if (!task)
        return luaL_error(L, "ferry.step.remembered is only allowed in a task's own code, not "
                             "in a coroutine it made or at a module's top level");
    const std::string* text = task->remembered(name);
    if (!text) {
        lua_pushnil(L);
        return 1;
    }
    // Read as ferry.json.decode reads text: the same numbers and limits.
    if (decode_json_text(L, *text) != 1)
        return luaL_error(L, "ferry.step.remembered: the value kept as '%s' is not JSON",
                          std::string(name).c_str());
    return 1;
}

}  // namespace

void add_memo_functions(lua_State* L) {
    lua_pushcfunction(L, step_remember);
    lua_setfield(L, -2, "remember");
    lua_pushcfunction(L, step_remembered);
    lua_setfield(L, -2, "remembered");
}

}  // namespace ferry::lua_api
