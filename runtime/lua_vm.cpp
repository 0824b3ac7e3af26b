#include "runtime/lua_vm.h"

#include "runtime/lua_library_guards.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <new>

namespace ferry {

namespace {

constexpr const char* kSandboxMeta = "ferry.sandbox";
constexpr const char* kLoadingSentinel = "ferry.loading";

int readonly_newindex(lua_State* L) {
    const char* name = lua_tostring(L, lua_upvalueindex(1));
    return luaL_error(L, "attempt to modify read-only table '%s'", name ? name : "?");
}

// next(real, key), the real table an upvalue: pairs() must not hand it to the caller as
// the iteration state, or `local _, real = pairs(ferry.http)` could rewrite a module every
// later step (and the built-in tasks) would use.
int readonly_next(lua_State* L) {
    lua_settop(L, 2);
    if (lua_next(L, lua_upvalueindex(1))) return 2;
    lua_pushnil(L);
    return 1;
}

int readonly_pairs(lua_State* L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, readonly_next, 1);
    lua_pushnil(L);  // the state: nothing
    lua_pushnil(L);
    return 3;
}

int readonly_len(lua_State* L) {
    lua_pushinteger(L, lua_Integer(lua_rawlen(L, lua_upvalueindex(1))));
    return 1;
}

int env_newindex(lua_State* L) {
    const char* key = lua_tostring(L, 2);
    return luaL_error(L, "assignment to global '%s': tasks cannot set globals (use 'local %s')",
                      key ? key : "?", key ? key : "x");
}

// [-0, +1] Copies the named fields of the table at idx into a new table.
void copy_fields(lua_State* L, int idx, std::initializer_list<const char*> names) {
    idx = lua_absindex(L, idx);
    lua_createtable(L, 0, int(names.size()));
    for (const char* n : names) {
        lua_getfield(L, idx, n);
        lua_setfield(L, -2, n);
    }
}

}  // namespace

void push_readonly_proxy(lua_State* L, int idx, const char* name) {
    idx = lua_absindex(L, idx);
    lua_newtable(L);           // proxy
    lua_createtable(L, 0, 5);  // its metatable
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_pushcclosure(L, readonly_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, readonly_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, readonly_len, 1);
    lua_setfield(L, -2, "__len");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__metatable");  // getmetatable() answers the name; setmetatable fails
    lua_setmetatable(L, -2);
}

void LuaVM::write_untasked(std::string_view level, std::string_view text) const {
    if (untasked_output) return untasked_output(level, text);
    if (level.empty())
        std::fprintf(stderr, "%.*s\n", int(text.size()), text.data());
    else
        std::fprintf(stderr, "[%.*s] %.*s\n", int(level.size()), level.data(), int(text.size()),
                     text.data());
}

LuaVM* vm_of(lua_State* L) {
    void* ud = nullptr;
    lua_getallocf(L, &ud);
    return static_cast<LuaVM*>(ud);
}

namespace {

// Under AddressSanitizer every block comes from malloc, so use-after-free in the VM's
// blocks stays visible to it.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPooled = false;
#else
constexpr bool kPooled = true;
#endif

bool pooled(size_t size) {
    return kPooled && size <= SmallBlocks::kLargest;
}

}  // namespace

void* LuaVM::resize_block(void* ptr, size_t old, size_t nsize) {
    if (!ptr) return pooled(nsize) ? small_blocks_.allocate(nsize) : std::malloc(nsize);
    if (!pooled(old) && !pooled(nsize)) return std::realloc(ptr, nsize);
    if (pooled(old) && pooled(nsize) && SmallBlocks::class_of(old) == SmallBlocks::class_of(nsize))
        return ptr;
    void* moved = pooled(nsize) ? small_blocks_.allocate(nsize) : std::malloc(nsize);
    if (!moved) return nullptr;
    std::memcpy(moved, ptr, std::min(old, nsize));
    free_block(ptr, old);
    return moved;
}

size_t LuaVM::release_idle_memory(size_t pool_growth) {
    bool idle = allocated_total_ == allocated_at_idle_check_;
    allocated_at_idle_check_ = allocated_total_;
    // Busy: the pool is being used, and a full collection would stall the tasks running.
    if (!idle || small_blocks_.slab_bytes() < slabs_after_release_ + pool_growth) return 0;
    lua_gc(L_, LUA_GCCOLLECT);  // what the last job left is garbage not yet collected
    allocated_at_idle_check_ = allocated_total_;
    size_t released = 0;
    try {
        released = small_blocks_.release_free_slabs();
    } catch (const std::bad_alloc&) {
        // Its working lists did not fit: nothing was changed.
    }
    slabs_after_release_ = small_blocks_.slab_bytes();
    return released;
}

void LuaVM::free_block(void* ptr, size_t size) {
    if (pooled(size))
        small_blocks_.release(ptr, size);
    else
        std::free(ptr);
}

void* LuaVM::allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
    auto* vm = static_cast<LuaVM*>(ud);
    size_t old = ptr ? osize : 0;  // for a new block, osize is the object's type, not a size
    if (nsize == 0) {
        vm->used_ -= old;
        if (ptr) vm->free_block(ptr, old);
        return nullptr;
    }
    const size_t cap = vm->limits_.memory_bytes + (vm->task_running_ ? 0 : kEngineReserveBytes);
    if (nsize > old && vm->used_ + (nsize - old) > cap) return nullptr;
    if (nsize > old && vm->allocated_total_ + (nsize - old) > vm->alloc_ceiling_) {
        vm->ceiling_hit_ = true;  // the running task's own budget, not the VM's
        return nullptr;
    }
    void* p = vm->resize_block(ptr, old, nsize);
    if (!p) return nullptr;
    vm->used_ = vm->used_ - old + nsize;
    if (nsize > old) vm->allocated_total_ += nsize - old;
    return p;
}

LuaVM::LuaVM(LuaVmLimits limits) : limits_(limits) {
    L_ = lua_newstate(&LuaVM::allocate, this);
    if (!L_) throw std::bad_alloc();
    // Lua leaves the main thread's extra space uninitialised and copies it into every new
    // thread: zeroed here, so code that keeps a pointer there (the scheduler's running task)
    // reads null, not garbage, outside its coroutines (a task file printing as it loads).
    std::memset(lua_getextraspace(L_), 0, LUA_EXTRASPACE);
    lua_atpanic(L_, [](lua_State* L) -> int {
        std::fprintf(stderr, "ferry: unprotected Lua error: %s\n", lua_tostring(L, -1));
        std::abort();
    });
    build_sandbox();
}

LuaVM::~LuaVM() {
    if (L_) lua_close(L_);
}

void LuaVM::add_module(const std::string& name, lua_CFunction opener) {
    c_modules_[name] = opener;
}

void LuaVM::set_source_resolver(std::function<std::optional<LuaSource>(const std::string&)> r) {
    resolver_ = std::move(r);
}

void LuaVM::push_env() {
    lua_rawgeti(L_, LUA_REGISTRYINDEX, env_ref_);
}

void LuaVM::build_sandbox() {
    lua_State* L = L_;
    // Only these libraries are opened at all; io, package, debug and coroutine never are.
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
    int os_idx = lua_gettop(L);
    int utf8_idx = os_idx - 1, math_idx = os_idx - 2, table_idx = os_idx - 3,
        string_idx = os_idx - 4, base_idx = os_idx - 5;

    // Protect the string metatable: otherwise getmetatable("").__index is the real string
    // library, writable by any task (the CVE-2022-24735 class).
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushliteral(L, "string");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    lua_newtable(L);  // the allow-list
    int allow = lua_gettop(L);
    for (const char* name :
         {"assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring",
          "type", "rawequal", "rawlen", "rawget", "getmetatable", "_VERSION"}) {
        lua_getfield(L, base_idx, name);
        lua_setfield(L, allow, name);
    }
    lua_pushcfunction(L, sandbox_setmetatable);
    lua_setfield(L, allow, "setmetatable");
    lua_getfield(L, base_idx, "xpcall");
    lua_pushcclosure(L, sandbox_xpcall, 1);
    lua_setfield(L, allow, "xpcall");
    lua_pushlightuserdata(L, this);
    lua_pushcclosure(L, sandbox_require, 1);
    lua_setfield(L, allow, "require");
    lua_pushcfunction(L, sandbox_load);
    lua_setfield(L, allow, "load");
    lua_pushcfunction(L, sandbox_collectgarbage);
    lua_setfield(L, allow, "collectgarbage");
    lua_pushcfunction(L, sandbox_print);
    lua_setfield(L, allow, "print");

    copy_fields(L, string_idx,
                {"byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match", "rep",
                 "reverse", "sub", "upper", "pack", "packsize", "unpack"});
    guard_string_library(L, -1);
    // Methods on strings ("x":upper()) come from the same allowed functions, not the whole
    // library ("x".dump would be string.dump); nothing else refers to this table.
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
    push_readonly_proxy(L, -1, "string");
    lua_setfield(L, allow, "string");
    lua_pop(L, 1);
    push_guarded_table_library(L, table_idx);
    push_readonly_proxy(L, -1, "table");
    lua_setfield(L, allow, "table");
    lua_pop(L, 1);
    push_guarded_math_library(L, math_idx);
    push_readonly_proxy(L, -1, "math");
    lua_setfield(L, allow, "math");
    lua_pop(L, 1);
    push_readonly_proxy(L, utf8_idx, "utf8");
    lua_setfield(L, allow, "utf8");
    copy_fields(L, os_idx, {"time", "clock", "date"});
    push_readonly_proxy(L, -1, "os");
    lua_setfield(L, allow, "os");
    lua_pop(L, 1);

    // ferry: modules resolved on first use through require.
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_pushlightuserdata(L, this);
    lua_pushcclosure(
        L,
        [](lua_State* S) -> int {
            const char* key = luaL_checkstring(S, 2);
            lua_pushvalue(S, lua_upvalueindex(1));
            lua_pushcclosure(S, sandbox_require, 1);
            lua_pushfstring(S, "ferry.%s", key);
            int status = lua_pcall(S, 1, 1, 0);
            if (status == LUA_OK) return 1;
            // Raised in C, the message named no place: say where the script named it.
            if (status == LUA_ERRRUN && lua_type(S, -1) == LUA_TSTRING) {
                luaL_where(S, 1);
                lua_insert(S, -2);
                lua_concat(S, 2);
            }
            return lua_error(S);
        },
        1);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, "ferry");
    lua_pushcclosure(L, readonly_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "ferry");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setfield(L, allow, "ferry");

    lua_newtable(L);  // the shared environment every chunk runs in
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, allow);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, env_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushstring(L, kSandboxMeta);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushliteral(L, "_G");
    lua_pushvalue(L, -2);
    lua_rawset(L, -3);  // raw: the environment's __newindex refuses every write
    env_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_newtable(L);
    loaded_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
}

namespace {

bool is_module_name(std::string_view name) {
    bool word = false;  // inside a word: a dot may follow
    for (char c : name) {
        if (c == '.') {
            if (!word) return false;
            word = false;
        } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') {
            word = true;
        } else {
            return false;
        }
    }
    return word;
}

}  // namespace

int LuaVM::sandbox_require(lua_State* L) {
    auto* vm = static_cast<LuaVM*>(lua_touserdata(L, lua_upvalueindex(1)));
    std::string name = luaL_checkstring(L, 1);
    // One spelling per module: modules are cached by name, and 'acme/state' or
    // 'acme..state' reached the file of 'acme.state' as a second copy, with state of its own.
    if (!is_module_name(name))
        return luaL_error(L,
                          "require: '%s' is not a module name: dotted words of letters, "
                          "digits, '_' and '-' (as 'acme.state')",
                          name.c_str());
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->loaded_ref_);
    int loaded = lua_gettop(L);
    lua_getfield(L, loaded, name.c_str());
    const bool marked_loading =
        lua_isstring(L, -1) && std::strcmp(lua_tostring(L, -1), kLoadingSentinel) == 0;
    if (marked_loading &&
        std::find(vm->loading_.begin(), vm->loading_.end(), name) != vm->loading_.end()) {
        return luaL_error(L, "require: module '%s' requires itself (a loop)", name.c_str());
    }
    // Marked but no longer loading: its top level raised (or hit a limit) and the error
    // went past the mark; it has not loaded, so this require loads it again, as Lua's does.
    if (!marked_loading && !lua_isnil(L, -1)) return 1;
    lua_pop(L, 1);

    auto c = vm->c_modules_.find(name);
    if (c != vm->c_modules_.end()) {
        lua_pushcfunction(L, c->second);
        lua_call(L, 0, 1);
    } else {
        std::optional<LuaSource> src = vm->resolver_ ? vm->resolver_(name) : std::nullopt;
        if (!src) {
            return luaL_error(L,
                              "module '%s' not found (tasks can require ferry.* modules and "
                              "the Ferry standard library only)",
                              name.c_str());
        }
        Result<int> chunk = vm->load_chunk(src->chunkname, src->text);
        if (!chunk) return luaL_error(L, "%s", chunk.error().describe().c_str());
        lua_pushstring(L, kLoadingSentinel);
        lua_setfield(L, loaded, name.c_str());
        lua_rawgeti(L, LUA_REGISTRYINDEX, chunk.value());
        lua_pushstring(L, name.c_str());
        // Loads never yield, so the modules loading are the ones on this C stack; the
        // Lua library is built as C++, so an error unwinds through this mark too.
        struct LoadingMark {
            std::vector<std::string>& loading;
            ~LoadingMark() { loading.pop_back(); }
        };
        vm->loading_.push_back(name);
        LoadingMark mark{vm->loading_};
        lua_call(L, 1, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushboolean(L, 1);
        }
    }
    if (lua_istable(L, -1)) {
        push_readonly_proxy(L, -1, name.c_str());
        lua_remove(L, -2);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, loaded, name.c_str());
    return 1;
}

int LuaVM::sandbox_load(lua_State* L) {
    size_t len = 0;
    const char* text = nullptr;
    if (lua_type(L, 1) == LUA_TSTRING) {
        text = lua_tolstring(L, 1, &len);
    } else {
        return luaL_argerror(L, 1, "load: only source text is accepted in tasks");
    }
    // The environment's slot stays index 4 whatever was given: with three arguments the
    // chunk landed there, and was taken as its own environment.
    lua_settop(L, 4);
    const char* chunkname = luaL_optstring(L, 2, "=(load)");
    const char* mode = luaL_optstring(L, 3, "t");
    if (std::strcmp(mode, "t") != 0) {
        return luaL_argerror(L, 3, "load: binary chunks are not allowed (mode must be \"t\")");
    }
    if (luaL_loadbufferx(L, text, len, chunkname, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    // The chunk runs in the caller-supplied environment, or the sandbox's. The environment
    // goes on L (the calling task's thread), not on the main state: otherwise the chunk
    // keeps its default upvalue, the real global table (os.execute, io...).
    if (!lua_isnil(L, 4)) {
        lua_pushvalue(L, 4);
    } else {
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm_of(L)->env_ref_);
    }
    lua_setupvalue(L, -2, 1);
    return 1;
}

int LuaVM::sandbox_collectgarbage(lua_State* L) {
    const char* opt = luaL_optstring(L, 1, "count");
    if (std::strcmp(opt, "count") != 0) {
        return luaL_argerror(L, 1, "collectgarbage: only \"count\" is allowed in tasks");
    }
    lua_pushnumber(L, lua_Number(lua_gc(L, LUA_GCCOUNT, 0)) +
                          lua_Number(lua_gc(L, LUA_GCCOUNTB, 0)) / 1024.0);
    return 1;
}

namespace {

// Returns what the call left on the stack: the results of the wrapped function.
int pass_results(lua_State* L, int, lua_KContext) {
    return lua_gettop(L);
}

// Calls upvalue 1 with the whole stack as arguments; yields inside it are allowed (a task
// calls ferry.http inside xpcall).
int call_original(lua_State* L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, pass_results);
    return pass_results(L, LUA_OK, 0);
}

// The message handler of a sandboxed xpcall (upvalue 1: the task's handler).
int guarded_handler(lua_State* L) {
    LuaVM* vm = vm_of(L);
    if (vm->limit_breached && vm->limit_breached(L)) return 1;  // the limit's message as is
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

}  // namespace

// setmetatable refusing __gc: Lua runs finalizers with hooks off, so a finalizer that loops
// would hang whatever step (or the process exit) the collector happened to run in.
// Otherwise lbaselib's setmetatable, written out so that its errors name the caller's line.
int LuaVM::sandbox_setmetatable(lua_State* L) {
    int type = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, type == LUA_TNIL || type == LUA_TTABLE, 2, "nil or table");
    if (type == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        bool has_gc = lua_rawget(L, 2) != LUA_TNIL;
        lua_pop(L, 1);
        if (has_gc)
            return luaL_argerror(L, 2,
                                 "__gc is not allowed in tasks (finalizers run outside "
                                 "the step's limits)");
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

int LuaVM::sandbox_xpcall(lua_State* L) {
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, guarded_handler, 1);
    lua_replace(L, 2);
    return call_original(L);
}

int LuaVM::sandbox_print(lua_State* L) {
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; ++i) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, nullptr);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t len = 0;
    const char* text = lua_tolstring(L, -1, &len);
    LuaVM* vm = vm_of(L);
    if (vm->print_sink)
        vm->print_sink(L, std::string_view(text, len));
    else
        vm->write_untasked("", std::string_view(text, len));
    return 0;
}

}  // namespace ferry
