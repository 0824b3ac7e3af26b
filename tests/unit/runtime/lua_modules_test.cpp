// ferry.json, ferry.crypto and ferry.time as a task sees them, plus the guarded() thunk.
// Each case is Lua code and the expected result or error, in the spirit of OpenResty's t/*.t.
#include "runtime/lua_api/guard.h"
#include "runtime/lua_api/modules.h"
#include "runtime/lua_api/task_api.h"

#include "runtime/lua_fixture.h"

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

using ferry::test::LuaFixture;

namespace {

// ---- guarded() ---------------------------------------------------------------------------------

int destroyed = 0;
struct Witness {
    ~Witness() { ++destroyed; }
};

int throws_runtime_error(lua_State*) {
    throw std::runtime_error("boom");
}
int throws_bad_alloc(lua_State*) {
    throw std::bad_alloc();
}
int raises_lua_error(lua_State* L) {
    Witness w;
    return luaL_error(L, "raised %d", 42);
}
int raises_table(lua_State* L) {
    Witness w;
    lua_newtable(L);
    lua_pushstring(L, "custom");
    lua_setfield(L, -2, "kind");
    return lua_error(L);
}
int calls_back(lua_State* L) {
    Witness w;
    lua_pushvalue(L, 1);
    lua_call(L, 0, 1);  // a Lua error in the callee unwinds through here
    return 1;
}

}  // namespace

TEST_CASE("guarded: C++ exceptions become Lua errors, Lua errors pass through", "[lua_api]") {
    using ferry::lua_api::guarded;
    LuaFixture lua;
    lua_register(lua.L, "throws_runtime_error", guarded<throws_runtime_error>);
    lua_register(lua.L, "throws_bad_alloc", guarded<throws_bad_alloc>);
    lua_register(lua.L, "raises_lua_error", guarded<raises_lua_error>);
    lua_register(lua.L, "raises_table", guarded<raises_table>);
    lua_register(lua.L, "calls_back", guarded<calls_back>);

    CHECK(lua.eval("return select(2, pcall(throws_runtime_error))") == "boom");
    CHECK(lua.eval("local ok, e = pcall(function() throws_runtime_error() end) return e") ==
          "test:1: boom");
    CHECK(lua.eval("return select(2, pcall(throws_bad_alloc))") == "not enough memory");

    destroyed = 0;
    CHECK(lua.eval("return select(2, pcall(function() raises_lua_error() end))") ==
          "test:1: raised 42");
    // The error value itself (a table) arrives untouched: guarded() did not catch it.
    CHECK(lua.eval("return select(2, pcall(raises_table)).kind") == "custom");
    CHECK(lua.eval("return select(2, pcall(calls_back, function() error({code = 7}) end)).code") ==
          "7");
    // C++ destructors ran while the Lua errors unwound (lua5.4-c++ throws).
    CHECK(destroyed == 3);
    CHECK(lua_gettop(lua.L) == 0);
}

// ---- ferry.json --------------------------------------------------------------------------------

TEST_CASE("ferry.json: encode and decode", "[lua_api][json]") {
    LuaFixture lua;
    CHECK(lua.eval("return json.encode({1, 2, 3})") == "[1,2,3]");
    CHECK(lua.eval("return json.encode('x')") == "\"x\"");
    CHECK(lua.eval("return json.encode(nil)") == "null");
    CHECK(lua.eval("return json.encode({b = 1, a = {d = 2, c = {}}}, {sort_keys = true})") ==
          R"({"a":{"c":{},"d":2},"b":1})");
    CHECK(lua.eval("return json.encode({b = {1, json.array()}, a = 'x'}, "
                   "{pretty = true, sort_keys = true})") ==
          "{\n  \"a\": \"x\",\n  \"b\": [\n    1,\n    []\n  ]\n}");
    CHECK(lua.eval("return json.encode({}, {pretty = false})") == "{}");

    CHECK(lua.run(R"(
        local v = json.decode('{"a": [1, 2.5, "x", null, true], "b": {}, "c": [], "n": null}')
        assert(v.a[1] == 1 and math.type(v.a[1]) == "integer")
        assert(v.a[2] == 2.5 and v.a[3] == "x" and v.a[4] == json.null and v.a[5] == true)
        assert(#v.a == 5)
        assert(getmetatable(v.a) == "ferry.json.array")
        assert(next(v.b) == nil and getmetatable(v.b) == nil)
        assert(getmetatable(v.c) == "ferry.json.array")
        assert(json.is_null(v.n) and not json.is_null(nil) and not json.is_null(false))
        -- empty array and empty object survive the round trip
        assert(json.encode(v.b) == "{}" and json.encode(v.c) == "[]")
        assert(json.decode("null") == json.null)
        assert(json.decode(" 12 ") == 12)
        assert(math.type(json.decode("1.0")) == "float")
        assert(json.decode('"\\u00e9"') == "\xc3\xa9")
    )") == "");

    // Numbers read as Python's json module reads them, correctly rounded. RapidJSON 1.1.0's
    // own full-precision reader made 0e-34 4.2e-53 (clz of zero; found by tests/fuzz).
    CHECK(lua.eval("return string.format('%.17g %.17g %.17g', json.decode('0e-34'), "
                   "json.decode('-0.0e-50'), json.decode('[0.000e-25]')[1])") == "0 -0 0");
    CHECK(lua.eval("return string.format('%.17g|%.17g|%.17g|%s|%.17g', json.decode('0.1'), "
                   "json.decode('1.00000000000000011102230246251565404236316680908203125'), "
                   "json.decode('2.2250738585072011e-308'), math.type(json.decode('-0')), "
                   "json.decode('-9223372036854775809'))") ==
          "0.10000000000000001|1|2.2250738585072009e-308|integer|-9.2233720368547758e+18");

    // Round trip through Lua: text -> value -> text, with sorted keys to compare.
    CHECK(lua.eval(R"(
        local text = [[{"a":[1,-9223372036854775808,9223372036854775807,0.1,1.0,[],{},null],]]
                  .. [["b":{"c":"\u00fc\u4e2d\ud83d\ude00"}}]]
        local again = json.encode(json.decode(text), {sort_keys = true})
        return again == json.encode(json.decode(again), {sort_keys = true}) and again)") ==
          "{\"a\":[1,-9223372036854775808,9223372036854775807,0.1,1.0,[],{},null],"
          "\"b\":{\"c\":\"\xc3\xbc\xe4\xb8\xad\xf0\x9f\x98\x80\"}}");
}

TEST_CASE("ferry.json: decode failures are nil, err", "[lua_api][json]") {
    LuaFixture lua;
    auto decode_error = [&](const std::string& text) {
        lua_pushlstring(lua.L, text.data(), text.size());
        lua_setglobal(lua.L, "input");
        return lua.eval(R"(
            local v, err = json.decode(input)
            assert(v == nil and type(err) == "table" and err.kind == "validation")
            assert(err.retryable == false)
            assert(tostring(err) == "validation: " .. err.message)
            return err.message)");
    };
    CHECK(decode_error("{\"a\":") == "invalid JSON: Invalid value at offset 5");
    CHECK(decode_error("") == "invalid JSON: The document is empty at offset 0");
    CHECK(decode_error("[1,]") == "invalid JSON: Invalid value at offset 3");
    // RapidJSON decodes a lone low surrogate to bytes that are not UTF-8.
    CHECK(decode_error("\"\\udc00x\"") ==
          "invalid JSON: a low surrogate escape without a high one at offset 1");
    CHECK(decode_error("{\"a\" 1}") ==
          "invalid JSON: Missing a colon after a name of object member at offset 5");
    CHECK(decode_error("[1] [2]") ==
          "invalid JSON: The document root must not be followed by other values at offset 4");
    CHECK(decode_error(std::string("[1]\0[2]", 7)) == "invalid JSON: NUL byte at offset 3");
    CHECK(decode_error("NaN") == "invalid JSON: Invalid value at offset 0");
    CHECK(decode_error("1e400") == "invalid JSON: Number too big to be stored in double at "
                                   "offset 0");
    CHECK(decode_error("\"\xff\"") == "invalid JSON: Invalid encoding in string at offset 1");
    CHECK(decode_error("'single'") == "invalid JSON: Invalid value at offset 0");
    // 10,000 levels: an error at the 201st, no crash.
    CHECK(decode_error(std::string(10'000, '[') + std::string(10'000, ']')) ==
          "invalid JSON: nesting deeper than 200 levels at offset 200");
    CHECK(decode_error(std::string(201, '[') + std::string(201, ']')) ==
          "invalid JSON: nesting deeper than 200 levels at offset 200");
    CHECK(lua.eval("return #json.encode(json.decode(string.rep('[', 200) .. "
                   "string.rep(']', 200)))") == "400");
    CHECK(lua.eval("return #json.encode(json.decode(string.rep('{\"a\":', 200) .. '1' .. "
                   "string.rep('}', 200)))") == "1201");
}

TEST_CASE("ferry.json: encode errors raise with the path", "[lua_api][json]") {
    LuaFixture lua;
    CHECK(lua.eval("return select(2, pcall(json.encode, {fields = {tags = {'a', 'b', print}}}))") ==
          "ferry.json.encode: fields.tags[3]: cannot encode a function as JSON");
    // Called from a Lua line, the message carries it.
    CHECK(lua.eval("return select(2, pcall(function() return json.encode({f = print}) end))") ==
          "test:1: ferry.json.encode: f: cannot encode a function as JSON");
    CHECK(lua.eval("local t = {}; t.me = t; return select(2, pcall(json.encode, t))") ==
          "ferry.json.encode: me: table contains itself (a cycle)");
    CHECK(lua.eval("return select(2, pcall(json.encode, {0/0}))") ==
          "ferry.json.encode: [1]: NaN cannot be encoded as JSON");
    CHECK(lua.eval("return select(2, pcall(json.encode, {[1] = 1, [3] = 3}))") ==
          "ferry.json.encode: array has no element at index 2 (JSON arrays cannot have holes; "
          "use ferry.json.null)");
    // 10,000 nested tables: an error, not a crash.
    CHECK(lua.eval(R"(
        local root = {}
        local t = root
        for i = 1, 10000 do t.next = {}; t = t.next end
        local ok, err = pcall(json.encode, root)
        return ok or err:match("nesting deeper than 200 levels$") ~= nil)") == "true");

    // Programmer errors: bad arguments name the type received.
    CHECK(lua.eval("return select(2, pcall(function() return json.encode() end))") ==
          "test:1: bad argument #1 to 'encode' (value expected)");
    CHECK(lua.eval("return select(2, pcall(function() return json.encode(1, 'pretty') end))") ==
          "test:1: bad argument #2 to 'encode' (table expected, got string)");
    CHECK(lua.eval("return select(2, pcall(function() return json.encode(1, {prety = true}) "
                   "end))") == "test:1: bad argument #2 to 'encode' (unknown option 'prety')");
    CHECK(lua.eval("return select(2, pcall(function() return json.encode(1, {pretty = 'yes'}) "
                   "end))") ==
          "test:1: bad argument #2 to 'encode' ('pretty': boolean expected, got string)");
    CHECK(lua.eval("return select(2, pcall(function() return json.decode(42) end))") ==
          "test:1: bad argument #1 to 'decode' (string expected, got number)");
    CHECK(lua.eval("return select(2, pcall(function() return json.decode(json.array()) end))") ==
          "test:1: bad argument #1 to 'decode' (string expected, got ferry.json.array)");
    CHECK(lua.eval("return select(2, pcall(function() return json.is_null() end))") ==
          "test:1: bad argument #1 to 'is_null' (value expected)");
}

TEST_CASE("ferry.json: null, array, empty_array", "[lua_api][json]") {
    LuaFixture lua;
    CHECK(lua.eval("return type(json.null)") == "userdata");
    CHECK(lua.eval("return json.encode({a = json.null, b = {json.null}})").size() ==
          std::string(R"({"a":null,"b":[null]})").size());
    CHECK(lua.eval("return json.encode(json.array())") == "[]");
    CHECK(lua.eval("local t = {3, 4}; return json.array(t) == t and json.encode(t)") == "[3,4]");
    CHECK(lua.eval("local t = json.array(); t[1] = 'x'; return json.encode(t)") == "[\"x\"]");
    CHECK(lua.eval("return json.array(json.empty_array) == json.empty_array") == "true");
    CHECK(lua.eval("return getmetatable(json.array())") == "ferry.json.array");
    CHECK(lua.eval("return select(2, pcall(setmetatable, json.array(), nil))") ==
          "cannot change a protected metatable");
    CHECK(lua.eval("return select(2, pcall(function() return json.array(setmetatable({}, {})) "
                   "end))") ==
          "test:1: bad argument #1 to 'array' (the table already has a metatable)");
    CHECK(lua.eval("return select(2, pcall(function() return json.array(5) end))") ==
          "test:1: bad argument #1 to 'array' (table expected, got number)");

    // The shared empty array cannot be filled by one task for all the others.
    CHECK(lua.eval("return json.encode(json.empty_array)") == "[]");
    CHECK(lua.eval("return select(2, pcall(function() json.empty_array[1] = 'x' end))") ==
          "test:1: ferry.json.empty_array is read-only (use ferry.json.array() for a new array)");
    CHECK(lua.eval("return select(2, pcall(table.insert, json.empty_array, 'x'))")
              .ends_with("is read-only (use ferry.json.array() for a new array)"));
    CHECK(lua.eval("return #json.empty_array") == "0");
    CHECK(lua.eval("return getmetatable(json.empty_array)") == "ferry.json.array");
}

// ---- ferry.crypto ------------------------------------------------------------------------------

TEST_CASE("ferry.http: text repairs bytes and never tells which texts hold secrets",
          "[lua_api][http]") {
    LuaFixture lua;
    lua.install("http", ferry::lua_api::open_http);
    CHECK(lua.eval("return http.text('caf\\xe9 ok')") == "caf\xef\xbf\xbd ok");
    CHECK(lua.eval("return http.text('plain')") == "plain");
    // A redaction Lua could call was an oracle for guesses of every secret (session 28).
    CHECK(lua.eval("return select(2, pcall(http.redact, 'x'))") ==
          "ferry.http.redact was removed (it told a task which texts hold a secret); records are "
          "redacted as they are written: cut texts with ferry.text.clip, repair bytes with "
          "ferry.http.text");
}

TEST_CASE("ferry.crypto: hashes and MACs", "[lua_api][crypto]") {
    LuaFixture lua;
    CHECK(lua.eval("return crypto.sha256('abc')") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(lua.eval("return crypto.hex_encode(crypto.sha256_raw('abc'))") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(lua.eval("return #crypto.sha256_raw('')") == "32");
    CHECK(lua.eval("return crypto.hmac_sha256('Jefe', 'what do ya want for nothing?')") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(lua.eval("return crypto.hmac_sha256('Jefe', 'what do ya want for nothing?', 'hex')") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(lua.eval("return crypto.hmac_sha256('Jefe', 'what do ya want for nothing?', "
                   "'base64')") == "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    CHECK(lua.eval("return crypto.hex_encode(crypto.hmac_sha256('Jefe', "
                   "'what do ya want for nothing?', 'raw'))") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(lua.eval("return select(2, pcall(function() return crypto.hmac_sha256('k', 'd', "
                   "'b64') end))") == "test:1: bad argument #3 to 'hmac_sha256' (invalid "
                                      "option 'b64')");
    CHECK(lua.eval("return select(2, pcall(function() return crypto.sha256(nil) end))") ==
          "test:1: bad argument #1 to 'sha256' (string expected, got nil)");
    CHECK(lua.eval("return select(2, pcall(function() return crypto.sha256(5) end))") ==
          "test:1: bad argument #1 to 'sha256' (string expected, got number)");
}

TEST_CASE("ferry.crypto: a Standard Webhooks signature, as a task computes it",
          "[lua_api][crypto]") {
    LuaFixture lua;
    CHECK(lua.eval(R"(
        local secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        local key = assert(crypto.base64_decode(secret:sub(#"whsec_" + 1)))
        local content = "msg_p5jXN8AQM9LWM0D4loKWxJek" .. "." .. 1614265330 .. "."
                        .. '{"test": 2432232314}'
        local signature = "v1," .. crypto.hmac_sha256(key, content, "base64")
        assert(crypto.constant_time_equals(signature,
                                           "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="))
        return signature)") == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST_CASE("ferry.crypto: encodings", "[lua_api][crypto]") {
    LuaFixture lua;
    CHECK(lua.eval("return crypto.base64_encode('foobar')") == "Zm9vYmFy");
    CHECK(lua.eval("return crypto.base64_encode('fooba')") == "Zm9vYmE=");
    CHECK(lua.eval("return crypto.base64_decode('Zm9vYmE=')") == "fooba");
    CHECK(lua.eval("return crypto.base64_decode('Zm9vYmE')") == "fooba");
    CHECK(lua.eval("return crypto.base64url_encode('\\xfb\\xff')") == "-_8");
    CHECK(lua.eval("return crypto.base64url_encode('\\xfb\\xff', true)") == "-_8=");
    CHECK(lua.eval("return crypto.base64url_decode('-_8') == '\\xfb\\xff'") == "true");
    CHECK(lua.eval("return crypto.base64url_decode('+/8=') == '\\xfb\\xff'") == "true");
    CHECK(lua.eval("return crypto.hex_encode('\\0\\1\\255')") == "0001ff");
    CHECK(lua.eval("return crypto.hex_decode('0001FF') == '\\0\\1\\255'") == "true");
    CHECK(lua.run(R"(
        for _, bad in ipairs({"Zg=", "Z", "Zh==", "Zm9v YmFy", "+-"}) do
            local v, err = crypto.base64_decode(bad)
            assert(v == nil and err.kind == "validation", bad)
            assert(err.message:find("invalid base64", 1, true), err.message)
            local v2, err2 = crypto.base64url_decode(bad)
            assert(v2 == nil and err2.kind == "validation", bad)
        end
        local v, err = crypto.hex_decode("abc")
        assert(v == nil and err.kind == "validation")
        assert(tostring(err):find("^validation: invalid hex"))
    )") == "");
}

TEST_CASE("ferry.crypto: randomness and comparison", "[lua_api][crypto]") {
    LuaFixture lua;
    CHECK(lua.run(R"(
        local seen = {}
        local x4 = string.rep("%x", 4)
        local shape = "^" .. x4 .. x4 .. "%-" .. x4 .. "%-4%x%x%x%-[89ab]%x%x%x%-" .. x4:rep(3) .. "$"
        for i = 1, 50 do
            local id = crypto.uuid()
            assert(id:match(shape), id)
            assert(not seen[id]); seen[id] = true
        end
        assert(#crypto.random_hex(1) == 2)
        assert(#crypto.random_hex(1024) == 2048)
        assert(crypto.random_hex(16):match("^%x+$"))
        assert(crypto.random_hex(16) ~= crypto.random_hex(16))
        assert(crypto.constant_time_equals("abc", "abc"))
        assert(not crypto.constant_time_equals("abc", "abd"))
        assert(not crypto.constant_time_equals("abc", "abcd"))
    )") == "");
    CHECK(lua.eval("return select(2, pcall(function() return crypto.random_hex(0) end))") ==
          "test:1: bad argument #1 to 'random_hex' (byte count must be 1..1024)");
    CHECK(lua.eval("return select(2, pcall(function() return crypto.random_hex(1025) end))") ==
          "test:1: bad argument #1 to 'random_hex' (byte count must be 1..1024)");
    CHECK(lua.eval("return select(2, pcall(function() return crypto.random_hex(1.5) end))") ==
          "test:1: bad argument #1 to 'random_hex' (number has no integer representation)");
    CHECK(lua.eval("return select(2, pcall(function() return crypto.constant_time_equals('a') "
                   "end))") ==
          "test:1: bad argument #2 to 'constant_time_equals' (string expected, got no value)");
}

// ---- ferry.time --------------------------------------------------------------------------------

TEST_CASE("ferry.time: parse RFC 3339", "[lua_api][time]") {
    LuaFixture lua;
    auto parse = [&](const std::string& text) {
        return lua.eval("local ms, err = time.parse('" + text +
                        "'); if ms then return math.type(ms) .. ' ' .. ms end "
                        "assert(err.kind == 'validation'); return 'nil ' .. err.message");
    };
    CHECK(parse("1970-01-01T00:00:00Z") == "integer 0");
    CHECK(parse("2021-02-24T16:22:10Z") == "integer 1614183730000");
    CHECK(parse("2021-02-24T16:22:10.123Z") == "integer 1614183730123");
    CHECK(parse("2021-02-24T16:22:10.1Z") == "integer 1614183730100");
    CHECK(parse("2021-02-24T16:22:10.123456789Z") == "integer 1614183730123");  // truncated
    CHECK(parse("2021-02-24T18:22:10+02:00") == "integer 1614183730000");
    CHECK(parse("2021-02-24T11:52:10.5-04:30") == "integer 1614183730500");
    CHECK(parse("2021-02-24T16:22:10-00:00") == "integer 1614183730000");
    CHECK(parse("2021-02-24t16:22:10z") == "integer 1614183730000");
    CHECK(parse("2021-02-24 16:22:10Z") == "integer 1614183730000");
    CHECK(parse("2021-02-24T18:22:10.000+0200") == "integer 1614183730000");  // Jira's form
    CHECK(parse("2026-12-01") == "integer 1796083200000");                    // midnight UTC
    CHECK(parse("2024-02-29") == "integer 1709164800000");
    CHECK(parse("1969-12-31T23:59:59.999Z") == "integer -1");
    CHECK(parse("0000-01-01T00:00:00Z") == "integer -62167219200000");
    CHECK(parse("9999-12-31T23:59:59.999Z") == "integer 253402300799999");
    CHECK(parse("2016-12-31T23:59:60Z") == "integer 1483228800000");  // leap second

    const std::string prefix = "nil expected an RFC 3339 timestamp like 2026-12-01T05:31:10Z "
                               "or a date like 2026-12-01, got '";
    CHECK(parse("2021-02-24T16:22:10") ==
          prefix + "2021-02-24T16:22:10' (missing time zone: end the time with Z or an offset "
                   "like +02:00 at position 20)");
    CHECK(parse("2021-13-01") == prefix + "2021-13-01' (month 13 at position 6)");
    CHECK(parse("2021-02-29") ==
          prefix + "2021-02-29' (day 29 does not exist in that month at position 9)");
    CHECK(parse("2021-04-31T00:00:00Z") ==
          prefix + "2021-04-31T00:00:00Z' (day 31 does not exist in that month at position 9)");
    CHECK(parse("2021-02-24T24:00:00Z") ==
          prefix + "2021-02-24T24:00:00Z' (hour 24 at position 12)");
    CHECK(parse("2021-02-24T16:60:00Z") ==
          prefix + "2021-02-24T16:60:00Z' (minute 60 at position 15)");
    CHECK(parse("2021-02-24T16:22:61Z") ==
          prefix + "2021-02-24T16:22:61Z' (second 61 at position 18)");
    CHECK(parse("2021-02-24T16:22Z") ==
          prefix + "2021-02-24T16:22Z' (':' expected at position 17)");
    CHECK(parse("2021-02-24T16:22:10.Z") ==
          prefix + "2021-02-24T16:22:10.Z' (expected digits after '.' at position 21)");
    CHECK(parse("2021-02-24T16:22:10+2:00") ==
          prefix + "2021-02-24T16:22:10+2:00' (2 digits expected at position 22)");
    CHECK(parse("2021-02-24T16:22:10+24:00") ==
          prefix + "2021-02-24T16:22:10+24:00' (offset out of range at position 21)");
    CHECK(parse("2021-02-24T16:22:10Zjunk") ==
          prefix + "2021-02-24T16:22:10Zjunk' (unexpected text after the time zone at "
                   "position 21)");
    CHECK(parse("2021-02-24X16:22:10Z") ==
          prefix + "2021-02-24X16:22:10Z' (expected 'T' after the date at position 11)");
    CHECK(parse("21-02-24") == prefix + "21-02-24' (4 digits expected at position 3)");
    CHECK(parse("") == prefix + "' (4 digits expected at position 1)");
    CHECK(parse(" 2021-02-24") == prefix + " 2021-02-24' (4 digits expected at position 1)");
    CHECK(parse("yesterday") == prefix + "yesterday' (4 digits expected at position 1)");
    CHECK(lua.eval("return select(2, pcall(function() return time.parse(1) end))") ==
          "test:1: bad argument #1 to 'parse' (string expected, got number)");
}

TEST_CASE("ferry.time: format, now", "[lua_api][time]") {
    LuaFixture lua;
    CHECK(lua.eval("return time.format(1614183730123)") == "2021-02-24T16:22:10.123Z");
    CHECK(lua.eval("return time.format(1614183730123, 'rfc3339')") == "2021-02-24T16:22:10.123Z");
    CHECK(lua.eval("return time.format(1614183730123, 'date')") == "2021-02-24");
    CHECK(lua.eval("return time.format(1614183730123, 'unix')") == "1614183730");
    CHECK(lua.eval("return time.format(0)") == "1970-01-01T00:00:00.000Z");
    CHECK(lua.eval("return time.format(-1)") == "1969-12-31T23:59:59.999Z");
    CHECK(lua.eval("return time.format(-1, 'unix')") == "-1");
    CHECK(lua.eval("return time.format(-62167219200000)") == "0000-01-01T00:00:00.000Z");
    CHECK(lua.eval("return time.format(253402300799999)") == "9999-12-31T23:59:59.999Z");
    CHECK(lua.eval("return time.format(1709164800000, 'date')") == "2024-02-29");
    CHECK(lua.eval("return select(2, pcall(function() return time.format(253402300800000) "
                   "end))") ==
          "test:1: bad argument #1 to 'format' (timestamp out of range (years 0000-9999))");
    CHECK(lua.eval("return select(2, pcall(function() return time.format(0, 'iso') end))") ==
          "test:1: bad argument #2 to 'format' (invalid option 'iso')");
    CHECK(lua.eval("return select(2, pcall(function() return time.format('now') end))") ==
          "test:1: bad argument #1 to 'format' (number expected, got string)");

    // Every millisecond over a few centuries survives format -> parse (sampled).
    CHECK(lua.run(R"(
        for ms = -5000000000000, 5000000000000, 123456789013 do
            assert(time.parse(time.format(ms)) == ms, ms)
            local day = time.parse(time.format(ms, "date"))
            assert(day <= ms and ms - day < 86400000)
        end
    )") == "");
    CHECK(lua.run(R"(
        local text = time.now()
        assert(text:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"), text)
        local ms = time.now_ms()
        assert(math.type(ms) == "integer")
        assert(math.abs(ms - os.time() * 1000) < 5000)
        assert(math.abs(time.parse(text) - ms) < 5000)
    )") == "");
}

TEST_CASE("ferry.time: durations and arithmetic", "[lua_api][time]") {
    LuaFixture lua;
    CHECK(lua.eval("return time.parse_duration('1m30s')") == "90000");
    CHECK(lua.eval("return math.type(time.parse_duration('300ms'))") == "integer");
    CHECK(lua.eval("return time.parse_duration('2d')") == "172800000");
    // Negative, as format_duration writes it: the round trip holds.
    CHECK(lua.eval("return time.parse_duration('-30m')") == "-1800000");
    CHECK(lua.eval("return time.parse_duration(time.format_duration(-3600000))") == "-3600000");
    CHECK(lua.eval("local v, err = time.parse_duration('5 minutes'); "
                   "return tostring(v) .. ' ' .. err.kind .. ': ' .. err.message") ==
          "nil validation: expected a duration like 300ms, 2s, 1m30s or 1h, got '5 minutes'");
    CHECK(lua.eval("return (select(2, time.parse_duration('90'))).kind") == "validation");
    CHECK(lua.eval("return time.format_duration(90000)") == "1m30s");
    CHECK(lua.eval("return time.format_duration(250)") == "250ms");
    CHECK(lua.eval("return time.format_duration(0)") == "0s");
    CHECK(lua.eval("return time.format_duration(-1500)") == "-1.5s");

    CHECK(lua.eval("return time.add(0, '1h')") == "3600000");
    CHECK(lua.eval("return time.add(3600000, '-30m')") == "1800000");
    CHECK(lua.eval("return time.add(1000, 500)") == "1500");
    CHECK(lua.eval("return time.format(time.add(time.parse('2024-02-28'), '1d'), 'date')") ==
          "2024-02-29");
    CHECK(lua.eval("return select(2, pcall(function() return time.add(0, 'soon') end))") ==
          "test:1: bad argument #2 to 'add' (expected a duration like 300ms, 2s, 1m30s or 1h, "
          "got 'soon')");
    CHECK(lua.eval("return select(2, pcall(function() return time.add(math.maxinteger, 1) "
                   "end))") == "test:1: time.add: overflow");

    CHECK(lua.eval("return time.days_between(time.parse('2026-12-01'), "
                   "time.parse('2026-12-31'))") == "30.0");
    CHECK(lua.eval("return time.days_between(time.parse('2026-12-02'), "
                   "time.parse('2026-12-01T12:00:00Z'))") == "-0.5");
    CHECK(lua.eval("return math.type(time.days_between(0, 0))") == "float");
}

// ---- memory errors -----------------------------------------------------------------------------

namespace {

// An allocator that fails once the budget is spent, as ltests.c does: every allocation a
// module makes can fail, and the failure must unwind cleanly (C++ objects destroyed; ASan
// reports a leak otherwise).
struct Budget {
    size_t used = 0;
    size_t limit = SIZE_MAX;
};

void* budget_alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
    auto* b = static_cast<Budget*>(ud);
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        std::free(ptr);
        b->used -= old;
        return nullptr;
    }
    if (nsize > old && b->used + (nsize - old) > b->limit) return nullptr;
    void* p = std::realloc(ptr, nsize);
    if (p) b->used = b->used - old + nsize;
    return p;
}

}  // namespace

TEST_CASE("ferry.* under failing allocations", "[lua_api][json][crypto][time]") {
    Budget budget;
    lua_State* L = lua_newstate(budget_alloc, &budget);
    luaL_openlibs(L);
    luaL_requiref(L, "json", ferry::lua_api::open_json, 1);
    luaL_requiref(L, "crypto", ferry::lua_api::open_crypto, 1);
    luaL_requiref(L, "time", ferry::lua_api::open_time, 1);
    lua_settop(L, 0);
    const char* code = R"(
        local v = json.decode('{"a":[1,2,{"b":"text","c":[]}],"d":null,"e":"\\u00e9"}')
        local s = json.encode(v, {sort_keys = true, pretty = true})
        local d = crypto.base64_decode(crypto.base64_encode(s))
        local t = time.format(time.parse("2026-12-01T05:31:10.123+02:00"))
        local bad, err = json.decode("[1,")
        return #s + #d + #t + #err.message)";
    REQUIRE(luaL_loadstring(L, code) == LUA_OK);
    lua_setglobal(L, "work");
    lua_gc(L, LUA_GCCOLLECT);
    int failures = 0, successes = 0;
    for (size_t extra = 0; extra < 64 * 1024 && successes < 3; extra += 97) {
        budget.limit = budget.used + extra;
        lua_getglobal(L, "work");
        int status = lua_pcall(L, 0, 1, 0);
        CHECK((status == LUA_OK || status == LUA_ERRMEM || status == LUA_ERRRUN));
        (status == LUA_OK ? successes : failures)++;
        budget.limit = SIZE_MAX;
        lua_settop(L, 0);
        lua_gc(L, LUA_GCCOLLECT);
    }
    CHECK(failures > 0);
    CHECK(successes > 0);
    lua_close(L);
}

// ---- HTTP responses as tasks see them
// ------------------------------------------------------------

namespace {

// A Lua allocator that counts every byte asked for (freed or not).
void* counting_alloc(void* ud, void* ptr, size_t, size_t nsize) {
    if (nsize == 0) {
        std::free(ptr);
        return nullptr;
    }
    *static_cast<size_t*>(ud) += nsize;
    return std::realloc(ptr, nsize);
}

}  // namespace

TEST_CASE("push_http_response: repeated headers are joined once, in the order they came",
          "[lua_api][http]") {
    ferry::HttpResponse res;
    res.status = 200;
    res.headers.push_back({"Set-Cookie", "first"});
    for (int i = 0; i < 8000; ++i)
        res.headers.push_back({i % 2 ? "x-a" : "X-A", "b"});
    res.headers.push_back({"set-cookie", "second"});
    res.body = "{}";
    size_t allocated = 0;
    lua_State* L = lua_newstate(counting_alloc, &allocated);
    REQUIRE(L != nullptr);
    size_t before = allocated;
    ferry::lua_api::push_http_response(L, res);
    // Joined in Lua, each repeat made a string of all the repeats before it: 8,000 one-byte
    // headers were ~100 MB of garbage, past a task's 64 MiB limit.
    CHECK(allocated - before < (size_t(1) << 20));
    lua_getfield(L, -1, "headers");
    lua_getfield(L, -1, "x-a");
    size_t len = 0;
    const char* joined = lua_tolstring(L, -1, &len);
    CHECK(len == 8000 + 7999 * 2);
    CHECK(std::string(joined, 6) == "b, b, ");
    lua_pop(L, 1);
    lua_getfield(L, -1, "set-cookie");
    CHECK(std::string(lua_tostring(L, -1)) == "first, second");
    lua_close(L);
}

TEST_CASE("push_http_response: a JSON body is decoded into .json, escapes and all",
          "[lua_api][http]") {
    LuaFixture lua;
    ferry::HttpResponse res;
    res.status = 201;
    res.headers = {
        {"Content-Type", "application/json; charset=utf-8"}, {"X-Req", "a"}, {"x-req", "b"}};
    res.body = R"({"result": {"number": "INC1", "description": "line 1\nline \"2\"\t\u00e9\\",)"
               R"( "n": 12345678901234567890, "f": 0.1, "list": [1, null, true]}})";
    ferry::lua_api::push_http_response(lua.L, res);
    lua_setglobal(lua.L, "res");
    CHECK(lua.eval("return res.status") == "201");
    CHECK(lua.eval("return res.headers['x-req']") == "a, b");
    CHECK(lua.eval("return res.json.result.number") == "INC1");
    CHECK(lua.eval("return res.json.result.description") == "line 1\nline \"2\"\t\xc3\xa9\\");
    CHECK(lua.eval("return res.json.result.f") == "0.1");
    CHECK(lua.eval("return #res.json.result.list") == "3");
    // The body itself is untouched by the decoding.
    CHECK(lua.eval("return res.body") == res.body);

    // Not JSON, or JSON cut short by a NUL: the body only.
    for (std::string body : {std::string("{\"a\": "), std::string("{\"a\": \"x\0y\"}", 12),
                             std::string("{\"a\": \"x\"}\0{{{", 15), std::string("not json")}) {
        res.body = body;
        ferry::lua_api::push_http_response(lua.L, res);
        lua_setglobal(lua.L, "res");
        CHECK(lua.eval("return tostring(res.json)") == "nil");
        CHECK(lua.eval("return #res.body") == std::to_string(body.size()));
    }
}
