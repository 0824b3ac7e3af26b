#include "runtime/lua_library_guards.h"

#include <climits>

namespace ferry {
namespace {

// Calls the original function (upvalue 1) with the wrapper's arguments. The wrappers check
// every argument the original would refuse first, so its own checks pass and no error of
// its comes without the caller's file and line (raised from under a C wrapper, they would).
int call_original(lua_State* L) {
    const int args = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, args, LUA_MULTRET);
    return lua_gettop(L);
}

int refuse_range(lua_State* L, int arg, lua_Integer count, const char* what) {
    lua_pushfstring(L,
                    "%I %s: more than a task's memory could hold as a list (at most %I); a "
                    "wrong count or __len?",
                    count, what, kMaxLibraryRange);
    return luaL_argerror(L, arg, lua_tostring(L, -1));
}

// string.rep(s, n, sep): with s and sep empty, Lua's loop still runs n - 1 times, copying
// nothing (any other repeat fails the memory limit when it is too long).
int guarded_rep(lua_State* L) {
    size_t length = 0, separator = 0;
    luaL_checklstring(L, 1, &length);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &separator);
    if (length == 0 && separator == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    // lstrlib's own check (MAXSIZE is INT_MAX where size_t is wider), made here so that
    // the error names the caller's file and line.
    const size_t max_size = sizeof(size_t) < sizeof(int) ? ~size_t(0) : size_t(INT_MAX);
    if (n > 0 && (length + separator < length || length + separator > max_size / size_t(n)))
        return luaL_error(L, "resulting string too large");
    return call_original(L);
}

// table.insert(t, [pos,] v): moving t[pos..#t] up one walks #t - pos elements, and #t is
// whatever the table's __len says. (With pos given, a __len runs twice: here and in the
// original.)
int guarded_insert(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    const int args = lua_gettop(L);
    if (args == 3) {
        const lua_Integer first_empty = lua_Integer(lua_Unsigned(luaL_len(L, 1)) + 1u);
        const lua_Integer pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, lua_Unsigned(pos) - 1u < lua_Unsigned(first_empty), 2,
                      "position out of bounds");
        // Unsigned, as Lua's own bound check: #t = math.maxinteger wraps first_empty.
        const lua_Unsigned moved = lua_Unsigned(first_empty) - lua_Unsigned(pos);
        if (moved > lua_Unsigned(kMaxLibraryRange))
            return refuse_range(L, 2, lua_Integer(moved), "elements to move up");
    } else if (args != 2) {
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    return call_original(L);
}

// table.remove(t, [pos]): moving t[pos+1..#t] down one, the same walk.
int guarded_remove(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_isnoneornil(L, 2)) {
        const lua_Integer size = luaL_len(L, 1);
        const lua_Integer pos = luaL_checkinteger(L, 2);
        if (pos != size)
            luaL_argcheck(L, lua_Unsigned(pos) - 1u <= lua_Unsigned(size), 2,
                          "position out of bounds");
        // Unsigned: with pos = math.mininteger (allowed when size is math.maxinteger, as
        // Lua's own check is unsigned too) a signed size - pos overflowed past the check.
        if (size > pos && lua_Unsigned(size) - lua_Unsigned(pos) > lua_Unsigned(kMaxLibraryRange))
            return refuse_range(L, 2, lua_Integer(lua_Unsigned(size) - lua_Unsigned(pos)),
                                "elements to move down");
    }
    return call_original(L);
}

// table.move(a1, f, e, t [,a2]): e - f + 1 reads and writes, whatever a1 holds.
int guarded_move(lua_State* L) {
    const lua_Integer from = luaL_checkinteger(L, 2);
    const lua_Integer end = luaL_checkinteger(L, 3);
    const lua_Integer to = luaL_checkinteger(L, 4);
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_isnoneornil(L, 5)) luaL_checktype(L, 5, LUA_TTABLE);
    if (end >= from) {
        luaL_argcheck(L, from > 0 || end < LUA_MAXINTEGER + from, 3, "too many elements to move");
        const lua_Integer count = end - from + 1;
        luaL_argcheck(L, to <= LUA_MAXINTEGER - count + 1, 4, "destination wrap around");
        if (count > kMaxLibraryRange) return refuse_range(L, 3, count, "elements to move");
    }
    return call_original(L);
}

int refuse_randomseed(lua_State* L) {
    return luaL_error(L, "math.randomseed is not available in tasks: the generator is shared by "
                         "every task in the process, so a seed would fix what all the others "
                         "draw (math.random is seeded at start; ferry.crypto.random_hex or uuid "
                         "for values no one may guess)");
}

// [-0, +0] t[name] = the guard, with the current t[name] as its upvalue.
void wrap_field(lua_State* L, int table, const char* name, lua_CFunction guard) {
    lua_getfield(L, table, name);
    lua_pushcclosure(L, guard, 1);
    lua_setfield(L, table, name);
}

// [-0, +1] A shallow copy of the table at idx.
void push_copy(lua_State* L, int idx) {
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
}

}  // namespace

void guard_string_library(lua_State* L, int string_idx) {
    wrap_field(L, lua_absindex(L, string_idx), "rep", guarded_rep);
}

void push_guarded_table_library(lua_State* L, int table_idx) {
    push_copy(L, table_idx);
    const int copy = lua_gettop(L);
    wrap_field(L, copy, "insert", guarded_insert);
    wrap_field(L, copy, "remove", guarded_remove);
    wrap_field(L, copy, "move", guarded_move);
}

void push_guarded_math_library(lua_State* L, int math_idx) {
    push_copy(L, math_idx);
    lua_pushcfunction(L, refuse_randomseed);
    lua_setfield(L, -2, "randomseed");
}

}  // namespace ferry
