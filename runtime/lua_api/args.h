// Argument checks shared by the ferry.* C functions. Misuse raises (the first error channel
// of EXAMPLES.md 2.4) with Lua's own wording, which names the type received:
// "bad argument #1 to 'sha256' (string expected, got nil)".
#pragma once

#include <lua.hpp>

#include <string_view>

namespace ferry::lua_api {

// [-0, +0, v] The bytes of the string at arg. Unlike luaL_checklstring, a number is not
// converted: hashing or parsing the text of a number is almost always a mistake.
inline std::string_view check_bytes(lua_State* L, int arg) {
    if (lua_type(L, arg) != LUA_TSTRING) luaL_typeerror(L, arg, "string");
    size_t len = 0;
    const char* s = lua_tolstring(L, arg, &len);
    return {s, len};
}

// [-0, +0, v] Like check_bytes, with def when the argument is absent or nil.
inline std::string_view opt_bytes(lua_State* L, int arg, std::string_view def) {
    return lua_isnoneornil(L, arg) ? def : check_bytes(L, arg);
}

// [-0, +0, v] A field of an options table (read raw: no metamethod runs) that must be a
// boolean when present.
inline bool opt_bool_field(lua_State* L, int arg, const char* field, bool def) {
    lua_pushstring(L, field);
    int type = lua_rawget(L, arg);
    bool value = def;
    if (type == LUA_TBOOLEAN)
        value = lua_toboolean(L, -1) != 0;
    else if (type != LUA_TNIL)
        luaL_argerror(
            L, arg,
            lua_pushfstring(L, "'%s': boolean expected, got %s", field, luaL_typename(L, -1)));
    lua_pop(L, 1);
    return value;
}

// [-0, +0, v] Raises unless every key of the options table at arg is one of names (a
// misspelt option silently ignored is a bug found late).
template <size_t N>
void check_option_names(lua_State* L, int arg, const char* const (&names)[N]) {
    lua_pushnil(L);
    while (lua_next(L, arg) != 0) {
        bool known = false;
        if (lua_type(L, -2) == LUA_TSTRING) {
            std::string_view key = lua_tostring(L, -2);
            for (const char* name : names)
                known = known || key == name;
        }
        if (!known) {
            if (lua_type(L, -2) == LUA_TSTRING)
                luaL_argerror(L, arg,
                              lua_pushfstring(L, "unknown option '%s'", lua_tostring(L, -2)));
            luaL_argerror(
                L, arg,
                lua_pushfstring(L, "options are named; got a %s key", luaL_typename(L, -2)));
        }
        lua_pop(L, 1);
    }
}

}  // namespace ferry::lua_api
