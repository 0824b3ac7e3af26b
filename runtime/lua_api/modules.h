// The C side of the ferry.* Lua modules. Each opener has the luaopen_* contract:
// [-0, +1, m] it pushes the module table. The sandbox exposes them as read-only tables.
#pragma once

#include <string_view>

struct lua_State;

namespace ferry::lua_api {

int open_json(lua_State* L);  // ferry.json: encode, decode, null, array, empty_array, is_null
// [-0, +1|2, m] What ferry.json.decode(text) returns: the value, or nil and a validation
// error table (for C functions that read JSON text into Lua as the module does).
int decode_json_text(lua_State* L, std::string_view text);
int open_crypto(lua_State* L);  // ferry.crypto: sha256, hmac_sha256, base64(_url)_encode/decode,
                                // hex_encode/decode, uuid, random_hex, constant_time_equals
int open_time(lua_State* L);    // ferry.time: now, now_ms, parse, format, parse_duration,
                                // format_duration, add

}  // namespace ferry::lua_api
