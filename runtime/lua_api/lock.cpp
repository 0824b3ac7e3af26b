// ferry.lock(key): keyed locks between tasks, and what a key's holders pass on to the next.
// The waiting and the handover live in the scheduler (runtime/scheduler_locks.cpp); this is
// the handle a task holds.
#include "runtime/json_lua.h"
#include "runtime/json_numbers.h"
#include "runtime/lua_api/args.h"
#include "runtime/lua_api/task_api.h"
#include "runtime/scheduler.h"

#include <string>

namespace ferry::lua_api {

namespace {

// ferry.lock's handle: the holding task's id, and as user values the key and the value the
// key's last holder passed on (nil: none).
constexpr const char* kLockHandle = "ferry.lock";
constexpr size_t kMaxLockKey = 1024;

struct LockHandle {
    uint64_t task = 0;
    bool released = false;
    uint64_t interrupted_at_ms = 0;  // when the last holder ended mid-request (0: it did not)
};

// [-0, +0, v] The handle at 1, used by the task that took the key: a handle passed to
// another task (through a shared module table) must not let that one release the key.
LockHandle* check_own_handle(lua_State* L, const char* what) {
    auto* handle = static_cast<LockHandle*>(luaL_checkudata(L, 1, kLockHandle));
    Task* running = Scheduler::running(L);
    if (!running || running->id() != handle->task)
        luaL_error(L,
                   "ferry.lock: %s: this handle belongs to another task (only the task that "
                   "took the key may use it)",
                   what);
    return handle;
}

// [-0, +1] The handle's key.
std::string handle_key(lua_State* L) {
    lua_getiuservalue(L, 1, 1);
    size_t len = 0;
    const char* key = lua_tolstring(L, -1, &len);
    std::string out = key ? std::string(key, len) : std::string();
    lua_pop(L, 1);
    return out;
}

// handle:release(), and the handle's __close: gives the key up (once; later calls do nothing).
// [-0, +0, v]
int lock_release(lua_State* L) {
    LockHandle* handle = check_own_handle(L, "release");
    if (handle->released) return 0;
    handle->released = true;
    Scheduler::of(L)->unlock(handle->task, handle_key(L));
    return 0;
}

// handle:passed() -> what the key's last holder passed on with handle:pass(value), or nil.
// [-0, +1, v]
int lock_passed(lua_State* L) {
    check_own_handle(L, "passed");
    lua_getiuservalue(L, 1, 2);
    return 1;
}

// handle:interrupted() -> when (unix ms) the key's last holder ended in the middle of an
// HTTP request (cancelled, timed out): what that request did is not known yet; nil when it
// did not.
// [-0, +1, v]
int lock_interrupted(lua_State* L) {
    uint64_t at = check_own_handle(L, "interrupted")->interrupted_at_ms;
    if (at)
        lua_pushinteger(L, lua_Integer(at));
    else
        lua_pushnil(L);
    return 1;
}

// handle:pass(value): leaves value (a JSON value, at most 1 MiB as JSON) to the tasks that
// take the key next; each gets its own copy.
// [-0, +0, v]
int lock_pass(lua_State* L) {
    LockHandle* handle = check_own_handle(L, "pass");
    if (handle->released) luaL_error(L, "ferry.lock: pass: the key was released already");
    luaL_checkany(L, 2);
    Result<std::string> json = json_lua::to_json_text(L, 2);
    if (!json) luaL_error(L, "ferry.lock: pass: %s", json.error().message.c_str());
    if (json.value().size() > Scheduler::kMaxPassed)
        luaL_error(L, "ferry.lock: pass: the value is %d bytes as JSON, more than the %d it may be",
                   int(json.value().size()), int(Scheduler::kMaxPassed));
    Scheduler::of(L)->pass_on(handle->task, handle_key(L), std::move(json.value()));
    return 0;
}

// [-0, +2, m] The handle of task's lock on key, and whether the task waited for it.
int push_lock_handle(lua_State* L, uint64_t task, std::string_view key, bool waited,
                     const Scheduler::LockHandover& handover) {
    auto* handle = static_cast<LockHandle*>(lua_newuserdatauv(L, sizeof(LockHandle), 2));
    *handle = LockHandle{task, false, handover.interrupted_at_ms};
    lua_pushlstring(L, key.data(), key.size());
    lua_setiuservalue(L, -2, 1);
    if (!handover.passed_json.empty()) {
        rapidjson::Document passed;
        json_numbers::parse<rapidjson::kParseIterativeFlag>(passed, handover.passed_json.data(),
                                                            handover.passed_json.size());
        json_lua::push(L, passed);  // it was written from a Lua value: it parses
        lua_setiuservalue(L, -2, 2);
    }
    if (luaL_newmetatable(L, kLockHandle)) {
        lua_pushcfunction(L, lock_release);
        lua_setfield(L, -2, "__close");
        static const luaL_Reg kMethods[] = {{"release", lock_release},
                                            {"passed", lock_passed},
                                            {"interrupted", lock_interrupted},
                                            {"pass", lock_pass},
                                            {nullptr, nullptr}};
        luaL_newlib(L, kMethods);
        lua_setfield(L, -2, "__index");
        lua_pushliteral(L, "ferry.lock");  // shared by every handle: no task may change it
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    lua_pushboolean(L, waited);
    return 2;
}

// Takes the lock or parks the task in its line; what lock_fn returns (kParked: it yields).
// Apart from lock_fn so that no C++ object is alive in the frame that yields.
int start_lock(lua_State* L) {
    std::string_view key = check_bytes(L, 1);
    if (key.empty() || key.size() > kMaxLockKey)
        luaL_argerror(L, 1, "a key of 1 to 1024 bytes expected");
    Task* task = Scheduler::current(L, "ferry.lock");
    Scheduler* scheduler = Scheduler::of(L);
    const uint64_t id = task->id();
    if (scheduler->holds_a_lock(id))
        luaL_error(L, "ferry.lock: this task holds a lock already; release it first (one at a "
                      "time, so that no two tasks can wait for each other)");
    std::string owned(key);
    auto granted = [id, owned](lua_State* co, const Scheduler::LockHandover& handover) {
        return push_lock_handle(co, id, owned, true, handover);
    };
    if (!scheduler->lock(task, owned, std::move(granted))) return kParked;
    return push_lock_handle(L, id, key, false, scheduler->handover(owned));
}

// ferry.lock(key) -> handle, waited. Waits while another task holds key; the task holds it
// until handle:release(), the end of a `local h <close>` scope, or the task's end.
int lock_fn(lua_State* L) {
    int results = start_lock(L);
    return results == kParked ? lua_yield(L, 0) : results;
}

}  // namespace

int open_lock(lua_State* L) {
    lua_pushcfunction(L, lock_fn);
    return 1;
}

}  // namespace ferry::lua_api
