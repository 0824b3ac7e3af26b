// LuaVM: compiling chunks and reporting where their syntax is wrong.
#include "runtime/lua_vm.h"

#include <catch2/catch.hpp>

#include <lua.hpp>

#include <string>
#include <utility>
#include <vector>

using ferry::LuaVM;

TEST_CASE("lua vm: a syntax check compiles, locates the error and keeps nothing",
          "[runtime][lua_vm]") {
    LuaVM vm;
    const int top = lua_gettop(vm.state());
    CHECK(vm.check_syntax("=a.script", "local x = 1\nreturn x\n"));
    auto bad = vm.check_syntax("=b.script", "local x = 1\nif x then\n  return x\n");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().location->file == "b.script");
    CHECK(bad.error().location->line == 4);
    CHECK(bad.error().message.find("'end' expected") != std::string::npos);
    // Text only: bytecode is refused as it is by load_chunk.
    CHECK_FALSE(vm.check_syntax("=c", std::string("\x1bLua\x54", 5)));
    // Nothing runs: a chunk with a side effect leaves no trace.
    CHECK(vm.check_syntax("=d", "error('never raised')"));
    CHECK(lua_gettop(vm.state()) == top);
    // The same location rules as load_chunk: a file name after '@'.
    auto file = vm.load_chunk("@tasks/t.lua", "return function(");
    REQUIRE_FALSE(file);
    CHECK(file.error().location->file == "tasks/t.lua");
    CHECK(file.error().location->line == 1);
}

TEST_CASE("lua vm: print outside any task goes to untasked_output, with no level",
          "[runtime][lua_vm]") {
    LuaVM vm;
    std::vector<std::pair<std::string, std::string>> seen;
    vm.untasked_output = [&](std::string_view level, std::string_view text) {
        seen.emplace_back(std::string(level), std::string(text));
    };
    auto chunk = vm.load_chunk("=module", "print('loading', 42) return {}");
    REQUIRE(chunk);
    REQUIRE(vm.run_chunk(chunk.value()));
    REQUIRE(seen.size() == 1);
    CHECK(seen[0] == std::pair<std::string, std::string>{"", "loading\t42"});
}
