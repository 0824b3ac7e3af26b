// The one thunk every ferry.* C function goes through (EXAMPLES.md 2.4): a C++ exception
// must never unwind through the Lua VM's frames, so it is caught here and re-raised as a
// Lua error. Register `guarded<my_function>` instead of `my_function`.
//
// Lua itself, built as C++ (liblua5.4-c++), raises errors by throwing a private type
// (`lua_longjmp*`), which is not a std::exception. Catching only std::exception lets Lua's
// own errors (luaL_error, memory errors, errors from called Lua code) pass through untouched
// to the enclosing lua_pcall/lua_resume. A `catch (...)` here would swallow them, so there
// is none: Ferry's C++ code throws std::exception-derived types only.
#pragma once

#include <lua.hpp>

#include <exception>
#include <new>

namespace ferry::lua_api {

// [-0, +?, v] Runs F; a std::exception escaping it becomes a Lua error with its what() text
// ("not enough memory" for std::bad_alloc, the text Lua uses for its own memory errors).
template <lua_CFunction F>
int guarded(lua_State* L) {
    try {
        return F(L);
    } catch (const std::bad_alloc&) {
        lua_pushliteral(L, "not enough memory");
    } catch (const std::exception& e) {
        // luaL_where adds "chunk:line:" of the Lua caller, as luaL_error would.
        luaL_where(L, 1);
        lua_pushstring(L, e.what());
        lua_concat(L, 2);
    }
    // Raised outside the handler, so the C++ exception object is already destroyed.
    return lua_error(L);
}

}  // namespace ferry::lua_api
