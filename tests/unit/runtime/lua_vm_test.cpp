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

TEST_CASE("lua vm: a syntax error's column is the token Lua stopped at, when it is unique",
          "[runtime][lua_vm]") {
    LuaVM vm;
    // ')' once on line 2: its column is certain.
    auto once = vm.check_syntax("=a.script", "local a = 1\nx = a )\n");
    REQUIRE_FALSE(once);
    INFO(once.error().message);
    CHECK(once.error().message.find("near ')'") != std::string::npos);
    CHECK(once.error().location->line == 2);
    CHECK(once.error().location->column == 7);
    CHECK(once.error().describe().rfind("a.script:2:7: ", 0) == 0);
    // '=' twice on the line: which one Lua means is not known, so no column is claimed.
    auto twice = vm.check_syntax("=b.script", "local b = = 2\n");
    REQUIRE_FALSE(twice);
    INFO(twice.error().message);
    CHECK(twice.error().message.find("near '='") != std::string::npos);
    CHECK(twice.error().location->column == 0);
    CHECK(twice.error().describe().rfind("b.script:1: ", 0) == 0);
    // At the end of the text there is no token to find.
    auto eof = vm.check_syntax("=c.script", "if x then\n");
    REQUIRE_FALSE(eof);
    CHECK(eof.error().message.find("<eof>") != std::string::npos);
    CHECK(eof.error().location->column == 0);
}
