// A plain Lua state for the ferry.* module tests: the standard libraries plus json, crypto
// and time as globals. It is not the sandbox (runtime/lua_vm tests cover that); these tests
// are about what the modules do with their arguments.
#pragma once

#include "runtime/lua_api/modules.h"

#include <catch2/catch.hpp>
#include <lua.hpp>

#include <string>
#include <string_view>

namespace ferry::test {

class LuaFixture {
  public:
    LuaFixture() : L(luaL_newstate()) {
        luaL_openlibs(L);
        install("json", lua_api::open_json);
        install("crypto", lua_api::open_crypto);
        install("time", lua_api::open_time);
    }
    ~LuaFixture() { lua_close(L); }
    LuaFixture(const LuaFixture&) = delete;
    LuaFixture& operator=(const LuaFixture&) = delete;

    // Runs a chunk; "" on success, else the error text. The stack is left as it was.
    std::string run(std::string_view code) {
        int top = lua_gettop(L);
        std::string error;
        if (luaL_loadbuffer(L, code.data(), code.size(), "=test") != LUA_OK ||
            lua_pcall(L, 0, 0, 0) != LUA_OK)
            error = describe(-1);
        lua_settop(L, top);
        return error;
    }

    // Runs a chunk and returns tostring() of its first result, or "error: <text>".
    std::string eval(std::string_view code) {
        int top = lua_gettop(L);
        std::string out;
        if (luaL_loadbuffer(L, code.data(), code.size(), "=test") != LUA_OK ||
            lua_pcall(L, 0, 1, 0) != LUA_OK)
            out = "error: " + describe(-1);
        else
            out = describe(-1);
        lua_settop(L, top);
        return out;
    }

    lua_State* const L;

    // A module as a global of that name (what the sandbox exposes as ferry.NAME).
    void install(const char* name, lua_CFunction opener) {
        luaL_requiref(L, name, opener, 1);
        lua_pop(L, 1);
    }

  private:
    std::string describe(int idx) {
        size_t len = 0;
        const char* s = luaL_tolstring(L, idx, &len);
        std::string out(s, len);
        lua_pop(L, 1);
        return out;
    }
};

}  // namespace ferry::test
