#include "core/lua_template.h"

#include "core/expressions.h"
#include "core/values.h"
#include "runtime/json_lua.h"
#include "runtime/scheduler.h"
#include "template/parser.h"
#include "workflow/loader.h"

#include <lua.hpp>

namespace ferry::engine {

namespace {

constexpr const char* kEnvKey = "ferry.template_env";

tmpl::Environment* env_of(lua_State* L) {
    lua_getfield(L, LUA_REGISTRYINDEX, kEnvKey);
    auto* env = static_cast<tmpl::Environment*>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    if (!env) luaL_error(L, "ferry.template is not available in this process");
    return env;
}

tmpl::Value vars_arg(lua_State* L, int idx) {
    if (lua_isnoneornil(L, idx)) return tmpl::Value::dict();
    luaL_checktype(L, idx, LUA_TTABLE);
    rapidjson::Document doc;
    Status s = json_lua::to_json(L, idx, doc, doc.GetAllocator());
    if (!s) luaL_error(L, "ferry.template: vars: %s", s.error().message.c_str());
    tmpl::Value v = from_rapidjson(doc);
    return v.is_dict() ? v : tmpl::Value::dict();
}

// Template errors are the task's failure: raise an error table naming the place, kind
// limit for a runaway render, else validation.
[[noreturn]] void raise_template_error(lua_State* L, const tmpl::TemplateError& e) {
    push_error_table(L, template_failure(e, e.describe()));
    lua_error(L);
    throw;  // unreachable: lua_error does not return
}

// A string argument whole: luaL_checkstring's C string stopped at a NUL ("a\0b" rendered
// as "a").
std::string text_arg(lua_State* L, int index) {
    size_t size = 0;
    const char* text = luaL_checklstring(L, index, &size);
    return std::string(text, size);
}

int render(lua_State* L) {
    std::string name = text_arg(L, 1);
    if (name.find('\0') != std::string::npos)
        return luaL_argerror(L, 1, "a template name holds no NUL byte");
    tmpl::Value vars = vars_arg(L, 2);
    tmpl::Environment* env = env_of(L);
    std::string out;
    try {
        out = env->render_or_throw(*env->get_template(name), vars);
    } catch (const tmpl::TemplateError& e) {
        raise_template_error(L, e);
    }
    lua_pushlstring(L, out.data(), out.size());
    return 1;
}

int render_string(lua_State* L) {
    std::string text = text_arg(L, 1);
    tmpl::Value vars = vars_arg(L, 2);
    tmpl::Environment* env = env_of(L);
    std::string out;
    try {
        auto parsed = env->from_string(text, "<string>");
        out = env->render_or_throw(*parsed, vars);
    } catch (const tmpl::TemplateError& e) {
        raise_template_error(L, e);
    }
    lua_pushlstring(L, out.data(), out.size());
    return 1;
}

int evaluate(lua_State* L) {
    std::string text = text_arg(L, 1);
    tmpl::Value vars = vars_arg(L, 2);
    tmpl::Environment* env = env_of(L);
    tmpl::Value result;
    try {
        std::string inner;
        if (workflow::is_single_expression(text, &inner)) {
            env->check_source_size(text, "<expression>");
            tmpl::ExprPtr expr = tmpl::parse_expression(inner, "<expression>");
            result = env->evaluate(*expr, vars, "<expression>");
            // Before it is built as JSON, then as Lua, outside the task's limits.
            check_json_fit(result);
        } else {
            auto parsed = env->from_string(text, "<string>");
            result = tmpl::Value::string(env->render_or_throw(*parsed, vars));
        }
    } catch (const tmpl::TemplateError& e) {
        raise_template_error(L, e);
    }
    rapidjson::Document doc;
    to_rapidjson(result, doc, doc.GetAllocator());
    json_lua::push(L, doc);
    return 1;
}

}  // namespace

void install_template_module(lua_State* L, tmpl::Environment* env) {
    lua_pushlightuserdata(L, env);
    lua_setfield(L, LUA_REGISTRYINDEX, kEnvKey);
}

int open_template(lua_State* L) {
    luaL_Reg fns[] = {{"render", render},
                      {"render_string", render_string},
                      {"evaluate", evaluate},
                      {nullptr, nullptr}};
    luaL_newlib(L, fns);
    return 1;
}

}  // namespace ferry::engine
