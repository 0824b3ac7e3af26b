// ferry.crypto: hashes, HMAC, encodings and randomness for tasks (webhook signatures,
// idempotency keys, tokens). Strings are byte strings throughout; "raw" results may hold any
// byte. Decoders are operational (the text comes from a peer): nil, err when invalid.
#include "runtime/crypto.h"
#include "runtime/lua_api/args.h"
#include "runtime/lua_api/guard.h"
#include "runtime/lua_api/modules.h"
#include "runtime/scheduler.h"  // push_error_table

#include <optional>
#include <string>

namespace ferry::lua_api {

namespace {

constexpr lua_Integer kMaxRandomBytes = 1024;

// [-0, +1|2, m] The decoded bytes, or nil and a validation error table.
int push_decoded(lua_State* L, const std::optional<std::string>& bytes, const char* what) {
    if (bytes) {
        lua_pushlstring(L, bytes->data(), bytes->size());
        return 1;
    }
    lua_pushnil(L);
    push_error_table(L, make_error(ErrorKind::Validation, what));
    return 2;
}

// [-0, +1, m]
void push_string(lua_State* L, const std::string& s) {
    lua_pushlstring(L, s.data(), s.size());
}

// crypto.sha256(data) -> lowercase hex
// [-0, +1, v]
int crypto_sha256(lua_State* L) {
    push_string(L, crypto::sha256_hex(check_bytes(L, 1)));
    return 1;
}

// crypto.sha256_raw(data) -> 32 bytes
// [-0, +1, v]
int crypto_sha256_raw(lua_State* L) {
    push_string(L, crypto::sha256(check_bytes(L, 1)));
    return 1;
}

// crypto.hmac_sha256(key, data [, "hex" | "base64" | "raw"]) -> digest, hex by default
// [-0, +1, v]
int crypto_hmac_sha256(lua_State* L) {
    static const char* const kEncodings[] = {"hex", "base64", "raw", nullptr};
    std::string_view key = check_bytes(L, 1);
    std::string_view data = check_bytes(L, 2);
    int encoding = luaL_checkoption(L, 3, "hex", kEncodings);
    std::string mac = crypto::hmac_sha256(key, data);
    switch (encoding) {
    case 0: push_string(L, crypto::hex_encode(mac)); break;
    case 1: push_string(L, crypto::base64_encode(mac)); break;
    default: push_string(L, mac); break;
    }
    return 1;
}

// crypto.base64_encode(data) -> standard alphabet, padded (RFC 4648 section 4)
// [-0, +1, v]
int crypto_base64_encode(lua_State* L) {
    push_string(L, crypto::base64_encode(check_bytes(L, 1)));
    return 1;
}

// crypto.base64url_encode(data [, pad]) -> URL-safe alphabet (section 5), unpadded unless
// pad is true: the form JWTs and most URL uses expect.
// [-0, +1, v]
int crypto_base64url_encode(lua_State* L) {
    std::string_view data = check_bytes(L, 1);
    bool pad = false;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TBOOLEAN);
        pad = lua_toboolean(L, 2) != 0;
    }
    push_string(L, crypto::base64_encode(data, true, pad));
    return 1;
}

// crypto.base64_decode(text) / crypto.base64url_decode(text) -> bytes | nil, err
// Both accept either alphabet, with complete padding or none: a peer's choice of variant
// should not break a task.
// [-0, +1|2, v]
int crypto_base64_decode(lua_State* L) {
    return push_decoded(L, crypto::base64_decode(check_bytes(L, 1)),
                        "invalid base64 (standard or URL-safe alphabet, complete padding or "
                        "none, no whitespace)");
}

// crypto.hex_encode(data) -> lowercase hex
// [-0, +1, v]
int crypto_hex_encode(lua_State* L) {
    push_string(L, crypto::hex_encode(check_bytes(L, 1)));
    return 1;
}

// crypto.hex_decode(text) -> bytes | nil, err (either case; an even number of digits)
// [-0, +1|2, v]
int crypto_hex_decode(lua_State* L) {
    return push_decoded(L, crypto::hex_decode(check_bytes(L, 1)),
                        "invalid hex (an even number of digits 0-9, a-f, A-F)");
}

// crypto.uuid() -> a random (version 4) UUID, lowercase: "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
// [-0, +1, m]
int crypto_uuid(lua_State* L) {
    std::string b = crypto::random_bytes(16);
    b[6] = char((b[6] & 0x0F) | 0x40);  // version 4 (RFC 4122 section 4.4)
    b[8] = char((b[8] & 0x3F) | 0x80);  // variant 10xx
    std::string hex = crypto::hex_encode(b);
    std::string text = hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
                       hex.substr(16, 4) + '-' + hex.substr(20);
    push_string(L, text);
    return 1;
}

// crypto.random_hex(n) -> 2n hex digits from n random bytes, 1 <= n <= 1024
// [-0, +1, v]
int crypto_random_hex(lua_State* L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= kMaxRandomBytes, 1, "byte count must be 1..1024");
    push_string(L, crypto::hex_encode(crypto::random_bytes(size_t(n))));
    return 1;
}

// crypto.constant_time_equals(a, b) -> boolean, in time independent of where a and b differ
// (compare a received signature with the expected one through this, never with ==).
// [-0, +1, v]
int crypto_constant_time_equals(lua_State* L) {
    std::string_view a = check_bytes(L, 1);
    std::string_view b = check_bytes(L, 2);
    lua_pushboolean(L, crypto::constant_time_equals(a, b));
    return 1;
}

}  // namespace

int open_crypto(lua_State* L) {
    static const luaL_Reg kFunctions[] = {
        {"sha256", guarded<crypto_sha256>},
        {"sha256_raw", guarded<crypto_sha256_raw>},
        {"hmac_sha256", guarded<crypto_hmac_sha256>},
        {"base64_encode", guarded<crypto_base64_encode>},
        {"base64_decode", guarded<crypto_base64_decode>},
        {"base64url_encode", guarded<crypto_base64url_encode>},
        {"base64url_decode", guarded<crypto_base64_decode>},
        {"hex_encode", guarded<crypto_hex_encode>},
        {"hex_decode", guarded<crypto_hex_decode>},
        {"uuid", guarded<crypto_uuid>},
        {"random_hex", guarded<crypto_random_hex>},
        {"constant_time_equals", guarded<crypto_constant_time_equals>},
        {nullptr, nullptr},
    };
    luaL_newlib(L, kFunctions);
    return 1;
}

}  // namespace ferry::lua_api
