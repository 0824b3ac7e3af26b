// JSON <-> Lua conversion (ARCHITECTURE.md decision 3), shared by ferry.json, task inputs and
// outputs, and ctx.http's JSON helpers.
//
// Mapping: object <-> table with string keys; array <-> table with keys 1..n carrying the
// array marker metatable (so an empty array survives a round trip); null <-> ferry.json.null
// (a unique light userdata); numbers: integers stay Lua integers (int64), others floats.
// A Lua table is an array when it has the marker, or when it is non-empty with exactly the
// keys 1..n; an empty table without the marker is an object. A table becomes an object with
// its keys sorted (bytewise): Lua keeps no order, and its traversal order changes between runs.
#pragma once

#include "runtime/error.h"

#include <rapidjson/document.h>

#include <string>
#include <string_view>

struct lua_State;

namespace ferry::json_lua {

constexpr int kMaxDepth = 200;
// A table whose metatable holds a table under this name takes that table's fields as its
// own where it has none under the same key, in to_json as in pairs() (a task's ctx keeps
// there what every invocation of its step has in common: stdlib/ferry/ctx.lua).
constexpr std::string_view kSharedField = "__shared";

// [-0, +1, m] Pushes v as a Lua value. Iterative: any depth costs a few Lua stack slots.
void push(lua_State* L, const rapidjson::Value& v);
// [-0, +1, -] Pushes the null sentinel.
void push_null(lua_State* L);
// [-0, +0, -]
bool is_null(lua_State* L, int idx);
// [-0, +0, m] Sets the array marker metatable on the table at idx.
void mark_array(lua_State* L, int idx);
// [-0, +0, -] True for a table carrying the marker (or the empty_array one).
bool is_marked_array(lua_State* L, int idx);
// [-0, +1, m] Pushes the shared empty array (json.empty_array): marked, and its __newindex
// raises, so no task can fill the one table every task sees.
void push_empty_array(lua_State* L);

// [-0, +0, -] Converts the Lua value at idx into out (allocated with alloc). Raw access only
// (no metamethods run; kSharedField is read raw too) and nothing allocated by Lua, so it
// never raises a Lua error and may run outside a protected call (the scheduler converts a
// finished task's result this way).
// Errors (Validation) for functions, userdata other than null, threads, cycles,
// non-string/non-integer keys, mixed tables, NaN/inf, strings that are not UTF-8, depth >
// kMaxDepth, and a Limit error past max_bytes; the message names the path, e.g. "fields.tags[3]:
// cannot encode a function as JSON". C++ exceptions (std::bad_alloc) propagate. What to do with a
// string or key that is not UTF-8: refuse it (a task's output, a request body: data that must
// arrive as it was), or keep it with U+FFFD for each bad byte (a log line's fields: worth more a
// little damaged than lost).
enum class InvalidUtf8 { Refuse, Repair };
// What one conversion may produce (its strings' bytes plus 16 per value); past it, a Limit
// error. JSON has no references: a table reached through many is copied for each, and 23
// small tables nested as t = {t, t} were 4 M values, GBs of memory and seconds of the loop,
// outside every limit a task has (the conversion runs in C++).
constexpr size_t kMaxEncodedBytes = size_t(128) << 20;
Status to_json(lua_State* L, int idx, rapidjson::Value& out,
               rapidjson::Document::AllocatorType& alloc, InvalidUtf8 invalid = InvalidUtf8::Refuse,
               size_t max_bytes = kMaxEncodedBytes);
// Convenience: to JSON text (compact).
Result<std::string> to_json_text(lua_State* L, int idx, InvalidUtf8 invalid = InvalidUtf8::Refuse,
                                 size_t max_bytes = kMaxEncodedBytes);

}  // namespace ferry::json_lua
