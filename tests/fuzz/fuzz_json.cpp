// Fuzz target: JSON text as every edge reads it. The input goes to value_from_json (task
// data, `ferry render --vars`, stored records) and, when it parses, through the Lua edge
// (json_lua: a task's data as Lua tables and back). A value read from JSON must write back
// to JSON that reads as the same value: the text written twice is the same text.
#include "core/values.h"
#include "runtime/json_lua.h"
#include "runtime/json_numbers.h"
#include "runtime/lua_vm.h"
#include "template/environment.h"
#include "template/json_value.h"

#include <lua.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace ferry;

namespace {

[[noreturn]] void broken(const char* what, const std::string& a, const std::string& b) {
    std::fprintf(stderr, "%s\n first: %s\nsecond: %s\n", what, a.c_str(), b.c_str());
    std::abort();
}

// push may raise a Lua memory error, so it runs in a protected call as the engine's does.
int push_and_back(lua_State* L) {
    const auto* doc = static_cast<const rapidjson::Document*>(lua_touserdata(L, 1));
    json_lua::push(L, *doc);
    rapidjson::Document back;
    (void)json_lua::to_json(L, -1, back, back.GetAllocator());
    return 0;
}

void through_lua(const rapidjson::Document& doc) {
    static LuaVM vm;
    lua_State* L = vm.state();
    int top = lua_gettop(L);
    lua_pushcfunction(L, push_and_back);
    lua_pushlightuserdata(L, const_cast<rapidjson::Document*>(&doc));
    (void)lua_pcall(L, 1, 0, 0);
    lua_settop(L, top);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    tmpl::Value value;
    try {
        value = tmpl::value_from_json(text);
    } catch (const tmpl::TemplateError& e) {
        (void)e.describe();
        return 0;
    }
    std::string once = engine::to_json_text(value);
    std::string twice;
    try {
        twice = engine::to_json_text(tmpl::value_from_json(once));
    } catch (const tmpl::TemplateError& e) {
        broken("JSON written from a value does not read back", once, e.message());
    }
    if (once != twice) broken("JSON written from a value reads back as another value", once, twice);

    rapidjson::Document doc;
    if (!json_numbers::parse<tmpl::kJsonReadFlags>(doc, text.data(), text.size()).IsError())
        through_lua(doc);
    return 0;
}
