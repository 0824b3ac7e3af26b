// The sandbox's copies of standard library functions whose C loops the task limits cannot
// reach. The instruction budget and the step's timeout act at the next Lua instruction; a
// library function loops in C for as long as its arguments say, and some of those loops
// allocate nothing, so the memory limit does not stop them either:
// `string.rep("", 1e10)`, `table.move(t, 1, 1e9, 1)`, `table.insert` into a table whose
// __len answers 1e9. Guarded, they refuse such counts before looping. And math.randomseed
// would fix the generator every later task in the process draws from.
#pragma once

#include <lua.hpp>

namespace ferry {

// The most elements a guarded table function walks: what a task's 64 MiB could hold as a
// list (16 bytes a slot), about 0.3 s of C at most.
constexpr lua_Integer kMaxLibraryRange = lua_Integer(1) << 22;

// [-0, +0] Replaces `rep` in the string table at string_idx.
void guard_string_library(lua_State* L, int string_idx);

// [-0, +1] A copy of the table library at table_idx, with move, insert and remove guarded.
void push_guarded_table_library(lua_State* L, int table_idx);

// [-0, +1] A copy of the math library at math_idx, whose randomseed raises.
void push_guarded_math_library(lua_State* L, int math_idx);

}  // namespace ferry
