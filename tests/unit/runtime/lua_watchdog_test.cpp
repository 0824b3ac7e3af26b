// runtime/lua_watchdog: the count hook is armed only on a resume that outlasts a tick, by a
// signal to the thread running it; nested watches hand the outer one back.
#include "runtime/lua_watchdog.h"

#include <catch2/catch.hpp>

#include <lua.hpp>

#include <memory>

using namespace ferry;

namespace {

int g_hook_calls = 0;

void stop_hook(lua_State* L, lua_Debug*) {
    ++g_hook_calls;
    luaL_error(L, "stopped by the hook");
}

struct State {
    std::unique_ptr<lua_State, decltype(&lua_close)> L{luaL_newstate(), &lua_close};
    lua_State* co = nullptr;
    explicit State(const char* code) {
        luaL_openlibs(L.get());
        co = lua_newthread(L.get());
        REQUIRE(luaL_loadstring(co, code) == LUA_OK);
    }
    // Resumes the chunk to its end (or its error) under a watch of dog.
    int run_watched(LuaWatchdog& dog) {
        int nres = 0;
        LuaWatchdog::Watch watch(dog, co);
        return lua_resume(co, L.get(), 0, &nres);
    }
};

}  // namespace

TEST_CASE("lua_watchdog: a short resume is never hooked", "[lua_watchdog]") {
    if (LuaWatchdog::signals_deferred()) return;  // every resume is hooked (ThreadSanitizer)
    LuaWatchdog dog(&stop_hook, 1000, 1000);
    State s("local n = 0 for i = 1, 1000 do n = n + i end return n");
    g_hook_calls = 0;
    REQUIRE(s.run_watched(dog) == LUA_OK);
    CHECK(lua_tointeger(s.co, -1) == 500500);
    CHECK(g_hook_calls == 0);
    CHECK_FALSE(LuaWatchdog::armed(s.co));
}

TEST_CASE("lua_watchdog: a resume that runs on is hooked and stopped", "[lua_watchdog]") {
    LuaWatchdog dog(&stop_hook, 1000, 1000);
    State s("while true do end");
    g_hook_calls = 0;
    CHECK(s.run_watched(dog) == LUA_ERRRUN);
    CHECK(std::string(lua_tostring(s.co, -1)).find("stopped by the hook") != std::string::npos);
    CHECK(g_hook_calls == 1);
    CHECK(LuaWatchdog::armed(s.co));
    LuaWatchdog::disarm(s.co);
    CHECK_FALSE(LuaWatchdog::armed(s.co));
}

TEST_CASE("lua_watchdog: an inner watch hands the outer one back", "[lua_watchdog]") {
    LuaWatchdog dog(&stop_hook, 1000, 1000);
    State outer("while true do end");
    State inner("return 1");
    int nres = 0, status;
    {
        LuaWatchdog::Watch watch(dog, outer.co);
        REQUIRE(inner.run_watched(dog) == LUA_OK);
        // Still watched after the inner watch ended: the loop below is stopped.
        status = lua_resume(outer.co, outer.L.get(), 0, &nres);
    }
    CHECK(status == LUA_ERRRUN);
    if (!LuaWatchdog::signals_deferred()) CHECK_FALSE(LuaWatchdog::armed(inner.co));
}

TEST_CASE("lua_watchdog: without a watchdog every resume is hooked at its start",
          "[lua_watchdog]") {
    // The fallback when no thread or signal handler can be had: the limits still hold.
    LuaWatchdog eager(&stop_hook, 1000, 0);
    State short_run("return 1");
    g_hook_calls = 0;
    REQUIRE(short_run.run_watched(eager) == LUA_OK);
    CHECK(LuaWatchdog::armed(short_run.co));
    State runaway("while true do end");
    CHECK(runaway.run_watched(eager) == LUA_ERRRUN);
    CHECK(g_hook_calls == 1);
}
