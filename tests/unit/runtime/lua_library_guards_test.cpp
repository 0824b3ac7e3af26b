// runtime/lua_library_guards and the sandbox's require: library functions whose C loops the
// task limits cannot reach refuse such counts; a module whose load failed loads again.
#include "runtime/lua_vm.h"

#include <catch2/catch.hpp>

#include <lua.hpp>

#include <chrono>
#include <string>

using ferry::LuaVM;

namespace {

// Runs code as a file's top level in the sandbox; "ok: <result>" or "error: <message>".
std::string run(LuaVM& vm, const std::string& code) {
    auto chunk = vm.load_chunk("@test.lua", code);
    REQUIRE(chunk);
    auto ref = vm.run_chunk(chunk.value());
    if (!ref) return "error: " + ref.error().message.substr(0, ref.error().message.find('\n'));
    lua_State* L = vm.state();
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref.value());
    std::string out = "ok: " + std::string(luaL_tolstring(L, -1, nullptr));
    lua_pop(L, 2);
    luaL_unref(L, LUA_REGISTRYINDEX, ref.value());
    return out;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("library guards: counts no task could hold are refused before the C loop",
          "[runtime][lua_vm]") {
    LuaVM vm;
    const auto start = std::chrono::steady_clock::now();
    // Each of these looped in C for tens of seconds (or for ever with math.maxinteger),
    // past the instruction budget and the step's timeout.
    CHECK(run(vm, "return #string.rep('', 10000000000)") == "ok: 0");
    CHECK(run(vm, "return #('').rep('', math.maxinteger, '')") == "ok: 0");
    std::string moved = run(vm, "return #table.move({}, 1, 1000000000, 1, {})");
    INFO(moved);
    CHECK(contains(moved, "test.lua:1: bad argument #3 to 'move' (1000000000 elements to "
                          "move: more than a task's memory could hold as a list (at most "
                          "4194304); a wrong count or __len?)"));
    std::string inserted =
        run(vm, "local t = setmetatable({}, {__len = function() return 1e9 end})\n"
                "table.insert(t, 1, 'x')");
    INFO(inserted);
    CHECK(contains(inserted, "test.lua:2: bad argument #2 to 'insert' (1000000000 elements "
                             "to move up"));
    std::string removed =
        run(vm, "local t = setmetatable({}, {__len = function() return math.maxinteger end})\n"
                "table.remove(t, 1)");
    INFO(removed);
    CHECK(contains(removed, "test.lua:2: bad argument #2 to 'remove' ("));
    // math.mininteger as the position passes Lua's (unsigned) bound check when #t is
    // math.maxinteger: a signed size - pos overflowed past the guard (2^64 turns of C).
    std::string wrapped =
        run(vm, "local t = setmetatable({}, {__len = function() return math.maxinteger end})\n"
                "table.remove(t, math.mininteger)");
    INFO(wrapped);
    CHECK(contains(wrapped, "test.lua:2: bad argument #2 to 'remove' ("));
    std::string inserted_end =
        run(vm, "local t = setmetatable({}, {__len = function() return math.maxinteger end})\n"
                "table.insert(t, 1, 'x')");
    CHECK(contains(inserted_end, "test.lua:2: bad argument #2 to 'insert' ("));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("library guards: the guarded functions still do what Lua's do", "[runtime][lua_vm]") {
    LuaVM vm;
    CHECK(run(vm, "return string.rep('ab', 3, ',')") == "ok: ab,ab,ab");
    CHECK(run(vm, "return ('x'):rep(2) .. string.rep('', 3, '-') .. string.rep('y', 0)") ==
          "ok: xx--");
    CHECK(run(vm, "return table.concat(table.move({1, 2, 3}, 1, 3, 2), ',')") == "ok: 1,1,2,3");
    CHECK(run(vm, "return table.concat(table.move({1, 2}, 1, 2, 1, {9, 9, 9}), ',')") ==
          "ok: 1,2,9");
    CHECK(run(vm, "local t = {1, 2, 3} table.insert(t, 'e') table.insert(t, 1, 'b') "
                  "return table.concat(t, ',')") == "ok: b,1,2,3,e");
    CHECK(run(vm, "local t = {1, 2, 3} local a = table.remove(t, 1) local b = table.remove(t) "
                  "return a .. b .. #t .. tostring(table.remove({}))") == "ok: 131nil");
    // A count from an ordinary __len is fine; the refused ones are past any real list.
    CHECK(run(vm, "local t = setmetatable({}, {__len = function() return 3 end}) "
                  "table.insert(t, 1, 'x') return t[1] .. tostring(t[4])") == "ok: xnil");
    // Lua's own argument errors keep the caller's line (the guard checks them first).
    CHECK(contains(run(vm, "\ntable.insert({}, 5, 'x')"),
                   "test.lua:2: bad argument #2 to 'insert' (position out of bounds)"));
    CHECK(contains(run(vm, "table.insert(nil, 'x')"),
                   "test.lua:1: bad argument #1 to 'insert' (table expected, got nil)"));
    CHECK(contains(run(vm, "table.insert({}, 1, 2, 3)"), "wrong number of arguments to 'insert'"));
    CHECK(contains(run(vm, "table.remove({1}, 7)"),
                   "test.lua:1: bad argument #2 to 'remove' (position out of bounds)"));
    CHECK(contains(run(vm, "table.move({}, 1, 2, math.maxinteger)"), "destination wrap around"));
    CHECK(contains(run(vm, "string.rep()"), "test.lua:1: bad argument #1 to 'rep'"));
    // The copies are read-only like every shared table.
    CHECK(contains(run(vm, "table.insert = print"), "read-only table 'table'"));
    CHECK(contains(run(vm, "math.random = print"), "read-only table 'math'"));
}

TEST_CASE("library guards: errors raised under a wrapper name the script's line",
          "[runtime][lua_vm]") {
    LuaVM vm;
    CHECK(run(vm, "local x = 1\nreturn string.rep('x', 1 << 40)") ==
          "error: test.lua:2: resulting string too large");
    CHECK(run(vm, "local x = 1\nreturn ('ab'):rep(1 << 31, ',')") ==
          "error: test.lua:2: resulting string too large");
    CHECK(contains(run(vm, "local x = 1\nreturn ferry.nope"), "test.lua:2: module 'ferry.nope' "
                                                              "not found"));
    // What fits is made as before.
    CHECK(run(vm, "return string.rep('ab', 3, '-')") == "ok: ab-ab-ab");
}

TEST_CASE("library guards: math.randomseed is refused, math.random works", "[runtime][lua_vm]") {
    LuaVM vm;
    // A seed in one task fixed the numbers every later task in the process drew.
    CHECK(contains(run(vm, "math.randomseed(42)"),
                   "math.randomseed is not available in tasks: the generator is shared"));
    CHECK(run(vm, "local n = math.random(1, 6) return n >= 1 and n <= 6") == "ok: true");
    CHECK(run(vm, "return math.floor(math.pi * 100) .. math.type(1)") == "ok: 314integer");
}

TEST_CASE("require: a module whose top level failed loads again on the next require",
          "[runtime][lua_vm]") {
    LuaVM vm;
    int loads = 0;
    vm.set_source_resolver([&](const std::string& name) -> std::optional<ferry::LuaSource> {
        if (name == "acme.warmup") {
            ++loads;
            return ferry::LuaSource{"@stdlib/acme/warmup.lua",
                                    loads == 1 ? "error('not ready yet')" : "return {v = 'ready'}"};
        }
        if (name == "acme.self")
            return ferry::LuaSource{"@self.lua", "return require('acme.self')"};
        if (name == "acme.ping")
            return ferry::LuaSource{"@ping.lua", "return require('acme.pong')"};
        if (name == "acme.pong")
            return ferry::LuaSource{"@pong.lua", "return require('acme.ping')"};
        return std::nullopt;
    });
    CHECK(contains(run(vm, "return require('acme.warmup').v"), "not ready yet"));
    // It said "module 'acme.warmup' requires itself (a loop)" until the process restarted.
    CHECK(run(vm, "return require('acme.warmup').v") == "ok: ready");
    CHECK(run(vm, "return require('acme.warmup').v") == "ok: ready");
    CHECK(loads == 2);
    // A real loop is still one, every time it is required.
    for (int i = 0; i < 2; ++i) {
        CHECK(contains(run(vm, "return require('acme.self')"),
                       "module 'acme.self' requires itself (a loop)"));
        CHECK(contains(run(vm, "return require('acme.ping')"),
                       "module 'acme.ping' requires itself (a loop)"));
    }
    CHECK_FALSE(vm.loading_module());
}
