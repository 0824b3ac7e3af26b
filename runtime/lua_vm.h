// One lua_State per loop (ARCHITECTURE.md decision 2): its lifetime, the limiting
// allocator, the sandbox every chunk runs in, Ferry's own `require`, and the chunk cache
// (compile once, call many times).
//
// The sandbox (EXAMPLES.md 2.3): chunks run with a shared environment whose reads fall
// through to a frozen allow-list (base functions, string, table, math, utf8, a few of os, and
// the ferry.* modules) and whose writes raise: a task cannot set a global, so nothing one
// invocation does is seen by another through globals. Shared tables are read-only proxies
// with __metatable set; load is text-only; string.dump, rawset, io, debug, package and
// coroutine are absent; collectgarbage only answers "count".
#pragma once

#include "runtime/error.h"
#include "runtime/small_blocks.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <lua.hpp>

namespace ferry {

struct LuaVmLimits {
    size_t memory_bytes = size_t(1) << 30;  // hard cap for the whole VM; NULL -> LUA_ERRMEM
};

// A Lua source module reachable through require (stdlib/ferry/x.lua as "ferry.x").
struct LuaSource {
    std::string chunkname;  // "@stdlib/ferry/x.lua": error messages name the file
    std::string text;
};

class LuaVM {
  public:
    explicit LuaVM(LuaVmLimits limits = {});
    ~LuaVM();
    LuaVM(const LuaVM&) = delete;
    LuaVM& operator=(const LuaVM&) = delete;

    lua_State* state() { return L_; }
    size_t memory_used() const { return used_; }
    size_t memory_limit() const { return limits_.memory_bytes; }
    // For a long-lived process after a large job (`ferry serve`'s HeapTrimmer, every few
    // seconds): when no Lua code has allocated since the last call and the block pool has
    // grown by pool_growth bytes since it was last released, a full collection, then the
    // pool's slabs that no longer hold anything go back to malloc. Returns their bytes (0:
    // busy, or nothing to do). Call from the loop, outside any Lua call.
    static constexpr size_t kIdlePoolGrowth = size_t(16) << 20;
    size_t release_idle_memory(size_t pool_growth = kIdlePoolGrowth);

    // Adds a C module: ferry.NAME reads it, require("ferry.NAME") returns it. opener has the
    // luaopen contract. Call before the first chunk runs.
    void add_module(const std::string& name, lua_CFunction opener);
    // Resolves require() of Lua source modules; nullopt when unknown.
    void set_source_resolver(std::function<std::optional<LuaSource>(const std::string&)> r);

    // Compiles text (never bytecode) in the sandbox and returns a registry reference to the
    // resulting function; the same chunkname and text give the same reference (cached).
    // Syntax errors come back as Validation errors with FILE:LINE.
    Result<int> load_chunk(const std::string& chunkname, const std::string& text);
    // Compiles text (never runs it, keeps nothing): the syntax error, located as
    // load_chunk's, or ok.
    Status check_syntax(const std::string& chunkname, const std::string& text);
    // Calls a chunk once, unprotected from yields (module bodies: task files return their
    // definition table). Returns a registry reference to the first result.
    Result<int> run_chunk(int chunk_ref);

    // [-0, +1] Pushes the sandbox environment (for C code that needs the globals view).
    void push_env();

    // Where print() in a task goes (the scheduler routes it to the running task's log).
    std::function<void(lua_State*, std::string_view)> print_sink;
    // Where print() and ferry.log write when no task is running (a module's top-level code
    // as it loads): stderr by default, as "TEXT" for print (level "") and "[LEVEL] TEXT" for
    // a log; `ferry serve` makes them JSON lines.
    std::function<void(std::string_view level, std::string_view text)> untasked_output;
    void write_untasked(std::string_view level, std::string_view text) const;
    // Whether the task running on this thread has breached a limit (the scheduler answers).
    // An xpcall message handler is then skipped: Lua calls it from inside the count hook
    // that raised the limit, with hooks off, where nothing could stop it.
    bool (*limit_breached)(lua_State*) = nullptr;

    // The allocator's bookkeeping, read by the scheduler to charge tasks.
    size_t allocated_total() const { return allocated_total_; }
    // While a task runs, the scheduler caps allocated_total() at the task's remaining
    // memory budget: an allocation that would cross the ceiling fails (LUA_ERRMEM) at once,
    // however few instructions made it, and ceiling_hit() stays true until the next
    // set_alloc_ceiling. SIZE_MAX: no ceiling.
    void set_alloc_ceiling(size_t total) {
        alloc_ceiling_ = total;
        ceiling_hit_ = false;
    }
    bool ceiling_hit() const { return ceiling_hit_; }
    // Whether a task's code is running (the scheduler says so around each resume). Outside
    // one, the engine's own allocations on the VM (a failed task's traceback, a new task's
    // thread, a registry ref) may use kEngineReserveBytes past memory_bytes: tasks that
    // filled the VM to its last bytes made them fail unprotected, and Lua aborted the process.
    void set_task_running(bool running) { task_running_ = running; }
    static constexpr size_t kEngineReserveBytes = size_t(16) << 20;
    // Inside require, running a module's top level (which cannot wait).
    bool loading_module() const { return !loading_.empty(); }

  private:
    static void* allocate(void* ud, void* ptr, size_t osize, size_t nsize);
    void* resize_block(void* ptr, size_t old, size_t nsize);  // old == 0: a new block
    void free_block(void* ptr, size_t size);
    void build_sandbox();
    static int sandbox_require(lua_State* L);
    static int sandbox_load(lua_State* L);
    static int sandbox_collectgarbage(lua_State* L);
    static int sandbox_print(lua_State* L);
    static int sandbox_setmetatable(lua_State* L);
    static int sandbox_xpcall(lua_State* L);

    SmallBlocks small_blocks_;  // before L_: lua_close in ~LuaVM gives blocks back to it
    lua_State* L_ = nullptr;
    LuaVmLimits limits_;
    size_t used_ = 0;
    size_t allocated_total_ = 0;  // monotonically growing: bytes ever allocated
    size_t allocated_at_idle_check_ = 0;
    size_t slabs_after_release_ = 0;
    size_t alloc_ceiling_ = SIZE_MAX;
    bool ceiling_hit_ = false;
    bool task_running_ = false;
    int env_ref_ = LUA_NOREF;
    int loaded_ref_ = LUA_NOREF;        // require cache
    std::vector<std::string> loading_;  // modules whose top level is running, innermost last
    int modules_ref_ = LUA_NOREF;       // ferry.* module table (real, behind the proxy)
    std::map<std::string, lua_CFunction> c_modules_;
    std::function<std::optional<LuaSource>(const std::string&)> resolver_;
    std::map<std::string, int> chunk_cache_;  // chunkname + '\0' + text -> ref
};

// [-0, +1] Pushes a read-only proxy of the table at idx: reads and pairs() see the table,
// writes raise, getmetatable() returns a string. Used for every shared table.
void push_readonly_proxy(lua_State* L, int idx, const char* name);

// The LuaVM that owns L (any thread of it).
LuaVM* vm_of(lua_State* L);

}  // namespace ferry
