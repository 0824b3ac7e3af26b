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

TEST_CASE("lua vm: a syntax error's column is the token Lua stopped at", "[runtime][lua_vm]") {
    LuaVM vm;
    auto column_of = [&](const std::string& text) {
        auto checked = vm.check_syntax("=s.script", text);
        REQUIRE_FALSE(checked);
        INFO(checked.error().message);
        return std::pair(checked.error().location->line, checked.error().location->column);
    };
    const int top = lua_gettop(vm.state());
    // ')' once on line 2.
    auto once = vm.check_syntax("=a.script", "local a = 1\nx = a )\n");
    REQUIRE_FALSE(once);
    CHECK(once.error().message.find("near ')'") != std::string::npos);
    CHECK(once.error().describe().rfind("a.script:2:7: ", 0) == 0);
    // '=' twice on the line: the second, where Lua stopped (not the first, as a search finds).
    CHECK(column_of("local b = = 2\n") == std::pair(1, 11));
    CHECK(column_of("local t = { 1, 2,, 3 }\n") == std::pair(1, 18));
    CHECK(column_of("x = f(a, b))\n") == std::pair(1, 12));
    // The same name earlier on the line, inside a longer name and as a whole one.
    CHECK(column_of("local ending, e = 1 end\n") == std::pair(1, 21));
    CHECK(column_of("local function f() return end end end\n") == std::pair(1, 31));
    // A string token: Lua names the text it read.
    CHECK(column_of("x = 'a' 'a'\n") == std::pair(1, 9));
    // At the end of the text: just past the last line's last byte.
    CHECK(column_of("if x then\n") == std::pair(2, 1));
    CHECK(column_of("if x then") == std::pair(1, 10));
    CHECK(column_of("x = 'abc") == std::pair(1, 9));  // "unfinished string near <eof>"
    // A message naming no token: the line's first non-blank byte.
    CHECK(column_of("  goto nowhere\n") == std::pair(2, 1));  // Lua's line: where it knew
    // The searches leave the stack as it was.
    CHECK(lua_gettop(vm.state()) == top);
}
