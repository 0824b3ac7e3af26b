// ferry.template for tasks: the template engine bound into the Lua VM by the engine (the
// runtime knows nothing of templates). render(name, vars), render_string(text, vars) and
// evaluate(text, vars) (a lone `{{ expr }}` keeps its type). Templates render with Jinja2's
// default (lenient) undefined, like `ferry render`.
#pragma once

#include "template/environment.h"

struct lua_State;

namespace ferry::engine {

// Registers ferry.template in vm, rendering with env (which must outlive the VM's use).
void install_template_module(lua_State* L, tmpl::Environment* env);
int open_template(lua_State* L);

}  // namespace ferry::engine
