// runtime/json_lua: the JSON <-> Lua mapping at the C++ level (push, to_json), including the
// failure paths and their error paths, deep and cyclic values, and raw access.
#include "runtime/json_lua.h"

#include "runtime/lua_fixture.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

using namespace ferry;
using ferry::test::LuaFixture;

namespace {

rapidjson::Document parse(std::string_view text) {
    rapidjson::Document doc;
    constexpr unsigned kFlags = rapidjson::kParseFullPrecisionFlag | rapidjson::kParseIterativeFlag;
    doc.Parse<kFlags>(text.data(), text.size());
    REQUIRE_FALSE(doc.HasParseError());
    return doc;
}

// JSON text -> Lua (push) -> JSON text (to_json_text).
std::string round_trip(lua_State* L, std::string_view text) {
    rapidjson::Document doc = parse(text);
    json_lua::push(L, doc);
    auto back = json_lua::to_json_text(L, -1);
    lua_pop(L, 1);
    REQUIRE(back.ok());
    // Objects come back with their keys sorted: compare as documents.
    rapidjson::Document again = parse(back.value());
    CHECK(again == doc);
    return back.value();
}

// Evaluates a Lua expression and converts its value; returns the JSON text or the error.
std::string encode(LuaFixture& lua, const std::string& expression,
                   json_lua::InvalidUtf8 invalid = json_lua::InvalidUtf8::Refuse) {
    std::string code = "return " + expression;
    REQUIRE(luaL_loadstring(lua.L, code.c_str()) == LUA_OK);
    REQUIRE(lua_pcall(lua.L, 0, 1, 0) == LUA_OK);
    int top = lua_gettop(lua.L);
    auto text = json_lua::to_json_text(lua.L, -1, invalid);
    CHECK(lua_gettop(lua.L) == top);  // balanced on success and on failure
    lua_pop(lua.L, 1);
    return text.ok() ? text.value() : "error: " + text.error().message;
}

}  // namespace

TEST_CASE("json_lua: scalars and containers round trip", "[json_lua]") {
    LuaFixture lua;
    CHECK(round_trip(lua.L, "null") == "null");
    CHECK(round_trip(lua.L, "true") == "true");
    CHECK(round_trip(lua.L, "false") == "false");
    CHECK(round_trip(lua.L, "0") == "0");
    CHECK(round_trip(lua.L, "-17") == "-17");
    CHECK(round_trip(lua.L, "\"text\"") == "\"text\"");
    CHECK(round_trip(lua.L, "[]") == "[]");
    CHECK(round_trip(lua.L, "{}") == "{}");
    CHECK(round_trip(lua.L, "[[]]") == "[[]]");
    CHECK(round_trip(lua.L, "[{}]") == "[{}]");
    CHECK(round_trip(lua.L, "{\"a\":[]}") == "{\"a\":[]}");
    CHECK(round_trip(lua.L, "{\"a\":{}}") == "{\"a\":{}}");
    CHECK(round_trip(lua.L, "[null,1,null]") == "[null,1,null]");
    CHECK(round_trip(lua.L, "[1,\"two\",3.5,true,null,[4],{\"five\":5}]") ==
          "[1,\"two\",3.5,true,null,[4],{\"five\":5}]");
    round_trip(lua.L, R"({"ticket":{"fields":{"tags":["a","b"],"priority":2,"due":null,
                         "nested":{"deeper":[{"x":[[],[{}]]}]}},"count":3}})");
    // Keys that look like numbers stay object keys.
    CHECK(round_trip(lua.L, "{\"1\":\"a\"}") == "{\"1\":\"a\"}");
    CHECK(lua_gettop(lua.L) == 0);
}

TEST_CASE("json_lua: an object's keys are sorted, at every level", "[json_lua]") {
    // Lua's traversal order changes between states (string hashes are seeded per state):
    // the same table gave another JSON text each run.
    LuaFixture lua;
    CHECK(encode(lua, "{sev='high', rule='R1', owner='ops', host='web1', Z=1, ['a b']=2}") ==
          R"({"Z":1,"a b":2,"host":"web1","owner":"ops","rule":"R1","sev":"high"})");
    CHECK(encode(lua, "{z={y=1, x={w=2, v=3}}, list={{b=1, a=2}}}") ==
          R"({"list":[{"a":2,"b":1}],"z":{"x":{"v":3,"w":2},"y":1}})");
    // Bytewise: a key's prefix first, then by byte value (UTF-8 after ASCII).
    CHECK(encode(lua, "{['\\u{e9}']=1, ab=2, a=3, b=4}") ==
          "{\"a\":3,\"ab\":2,\"b\":4,\"\xC3\xA9\":1}");
}

TEST_CASE("json_lua: numbers", "[json_lua]") {
    LuaFixture lua;
    CHECK(round_trip(lua.L, "9223372036854775807") == "9223372036854775807");
    CHECK(round_trip(lua.L, "-9223372036854775808") == "-9223372036854775808");
    CHECK(round_trip(lua.L, "1.0") == "1.0");  // an integral float stays a float
    CHECK(round_trip(lua.L, "0.1") == "0.1");
    CHECK(round_trip(lua.L, "-0.0") == "-0.0");
    CHECK(round_trip(lua.L, "1e300") == "1e300");
    CHECK(round_trip(lua.L, "5e-324") == "5e-324");
    // RapidJSON's Grisu2 may not pick the shortest spelling ("...07" here), but the value
    // read back is the same double, which round_trip() checks.
    round_trip(lua.L, "0.30000000000000004");
    round_trip(lua.L, "[2.2250738585072014e-308, 1.7976931348623157e308, 123456.789e-3]");

    // Integers become Lua integers, the rest floats.
    rapidjson::Document doc = parse("[9223372036854775807, 1.0, 18446744073709551615]");
    json_lua::push(lua.L, doc);
    lua_rawgeti(lua.L, -1, 1);
    CHECK(lua_isinteger(lua.L, -1));
    CHECK(lua_tointeger(lua.L, -1) == LUA_MAXINTEGER);
    lua_rawgeti(lua.L, -2, 2);
    CHECK_FALSE(lua_isinteger(lua.L, -1));
    // Above int64: a float, the nearest one.
    lua_rawgeti(lua.L, -3, 3);
    CHECK_FALSE(lua_isinteger(lua.L, -1));
    CHECK(lua_tonumber(lua.L, -1) == 18446744073709551615.0);
    lua_pop(lua.L, 4);

    CHECK(encode(lua, "math.mininteger") == "-9223372036854775808");
    CHECK(encode(lua, "math.maxinteger") == "9223372036854775807");
    CHECK(encode(lua, "2^53") == "9007199254740992.0");
    CHECK(encode(lua, "3 / 2") == "1.5");
    CHECK(encode(lua, "{1.0, 2}") == "[1.0,2]");
}

TEST_CASE("json_lua: strings are bytes, JSON output must be UTF-8", "[json_lua]") {
    LuaFixture lua;
    CHECK(round_trip(lua.L, R"("h\u00e9llo \u00fcber \u4e2d\u6587 \ud83d\ude00")") ==
          "\"h\xc3\xa9llo \xc3\xbc"
          "ber \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80\"");
    CHECK(round_trip(lua.L, R"("nul\u0000inside")") == R"("nul\u0000inside")");
    CHECK(round_trip(lua.L, R"("quote\" backslash\\ tab\t")") == R"("quote\" backslash\\ tab\t")");
    CHECK(round_trip(lua.L, R"({"cl\u00e9":1})") == "{\"cl\xc3\xa9\":1}");

    CHECK(encode(lua, "'\\xff'") ==
          "error: string is not valid UTF-8 (byte 0xFF at offset 0); encode binary data with "
          "ferry.crypto.base64_encode");
    CHECK(encode(lua, "{tags = {'ok', 'bad\\xc3'}}") ==
          "error: tags[2]: string is not valid UTF-8 (byte 0xC3 at offset 3); encode binary "
          "data with ferry.crypto.base64_encode");
    // Overlong encodings, surrogates and code points above U+10FFFF are not UTF-8.
    CHECK(encode(lua, "'\\xc0\\x80'").starts_with("error: string is not valid UTF-8"));
    CHECK(encode(lua, "'\\xed\\xa0\\x80'").starts_with("error: string is not valid UTF-8"));
    CHECK(encode(lua, "'\\xf4\\x90\\x80\\x80'").starts_with("error: string is not valid UTF-8"));
    CHECK(encode(lua, "'\\xf4\\x8f\\xbf\\xbf'") == "\"\xf4\x8f\xbf\xbf\"");  // U+10FFFF
    CHECK(encode(lua, "{['k\\xff'] = 1}") ==
          "error: [\"k\\xFF\"]: key is not valid UTF-8 (byte 0xFF at offset 1); encode binary "
          "data with ferry.crypto.base64_encode");
    // A key quoted in a message keeps its UTF-8 and is escaped as JSON escapes it (a key may
    // be a secret, which redaction finds in those forms); only the bad bytes are \xNN.
    CHECK(encode(lua, "{['cl\xc3\xa9\t\\\"\xff'] = 1}") ==
          "error: [\"cl\xc3\xa9\\t\\\"\\xFF\"]: key is not valid UTF-8 (byte 0xFF at offset "
          "6); encode binary data with ferry.crypto.base64_encode");
    CHECK(encode(lua, "{['tok\xc3\xa9\x01n'] = print}") ==
          "error: [\"tok\xc3\xa9\\u0001n\"]: cannot encode a function as JSON");
    // Repaired (log fields): each bad byte is U+FFFD, in values and keys, the rest kept.
    auto repair = json_lua::InvalidUtf8::Repair;
    CHECK(encode(lua, "{name = 'Jos\\233'}", repair) == "{\"name\":\"Jos\xef\xbf\xbd\"}");
    CHECK(encode(lua, "{['k\\xff'] = {'x\\xc3'}}", repair) ==
          "{\"k\xef\xbf\xbd\":[\"x\xef\xbf\xbd\"]}");
    CHECK(encode(lua, "{f = print}", repair) == "error: f: cannot encode a function as JSON");
}

TEST_CASE("json_lua: arrays and objects from Lua tables", "[json_lua]") {
    LuaFixture lua;
    CHECK(encode(lua, "{}") == "{}");  // an unmarked empty table is an object
    CHECK(encode(lua, "json.array()") == "[]");
    CHECK(encode(lua, "json.empty_array") == "[]");
    CHECK(encode(lua, "json.array({1, 2})") == "[1,2]");
    CHECK(encode(lua, "{1, 2, 3}") == "[1,2,3]");
    CHECK(encode(lua, "{[1] = 'a', [2] = 'b'}") == "[\"a\",\"b\"]");
    CHECK(encode(lua, "{a = 1}") == "{\"a\":1}");
    CHECK(encode(lua, "{json.null, 2}") == "[null,2]");
    CHECK(encode(lua, "{a = json.null}") == "{\"a\":null}");
    CHECK(encode(lua, "nil") == "null");
    CHECK(encode(lua, "json.null") == "null");
}

TEST_CASE("json_lua: unencodable values name their path", "[json_lua]") {
    LuaFixture lua;
    CHECK(encode(lua, "print") == "error: cannot encode a function as JSON");
    CHECK(encode(lua, "{fields = {tags = {'a', 'b', print}}}") ==
          "error: fields.tags[3]: cannot encode a function as JSON");
    CHECK(encode(lua, "{headers = {['Content-Type'] = coroutine.create(print)}}") ==
          "error: headers[\"Content-Type\"]: cannot encode a thread as JSON");
    CHECK(encode(lua, "{io.stdout}") == "error: [1]: cannot encode a userdata as JSON");
    CHECK(encode(lua, "{x = 0/0}") == "error: x: NaN cannot be encoded as JSON");
    CHECK(encode(lua, "{x = math.huge}") == "error: x: inf cannot be encoded as JSON");
    CHECK(encode(lua, "{x = {-math.huge}}") == "error: x[1]: -inf cannot be encoded as JSON");
    CHECK(encode(lua, "{a = {[1] = 1, [3] = 3}}") ==
          "error: a: array has no element at index 2 (JSON arrays cannot have holes; use "
          "ferry.json.null)");
    CHECK(encode(lua, "{[2] = 'x'}") ==
          "error: array has no element at index 1 (JSON arrays cannot have holes; use "
          "ferry.json.null)");
    CHECK(encode(lua, "{1, 2, x = 3}") ==
          "error: table mixes array indices and string keys (such as \"x\")");
    CHECK(encode(lua, "{list = json.array({1, k = 2})}") ==
          "error: list: array (json.array) mixes array indices and string keys (such as "
          "\"k\")");
    CHECK(encode(lua, "json.array({k = 1})") == "error: array (json.array) has a string key \"k\"");
    CHECK(encode(lua, "{[0] = 'zero'}") ==
          "error: table key 0 is not an array index (arrays start at 1)");
    CHECK(encode(lua, "{[-1] = 'x'}") ==
          "error: table key -1 is not an array index (arrays start at 1)");
    CHECK(encode(lua, "{[1.5] = 'x'}") ==
          "error: table key 1.5 is neither a string nor an array index");
    CHECK(encode(lua, "{[true] = 'x'}") ==
          "error: table key of type boolean (only strings and array indices can be encoded)");
    CHECK(encode(lua, "{[{}] = 'x'}") ==
          "error: table key of type table (only strings and array indices can be encoded)");
    // An integral float key is the integer key in Lua.
    CHECK(encode(lua, "{[1.0] = 'x'}") == "[\"x\"]");
    // A table's own keys are judged before its values, whichever the traversal meets first
    // (objects are converted in one pass that hands anything unusual to the classifying one).
    for (int n = 1; n <= 40; ++n) {
        std::string many = "(function() local t = {} for i = 1, " + std::to_string(n) +
                           " do t['k' .. i] = {deep = {i}} end ";
        CHECK(encode(lua, many + "t.bad = {print} t[1.5] = 1 return t end)()") ==
              "error: table key 1.5 is neither a string nor an array index");
        CHECK(encode(lua, many + "t.bad = {x = print} t[true] = 1 return t end)()") ==
              "error: table key of type boolean (only strings and array indices can be encoded)");
        CHECK(encode(lua, many + "t[7] = {} t.z = print return t end)()")
                  .starts_with("error: table mixes array indices and string keys"));
        CHECK(encode(lua, many + "t.z = {y = {print}} return t end)()") ==
              "error: z.y[1]: cannot encode a function as JSON");
    }
    REQUIRE(lua.run("shared2 = {}; twice = {a = {b = shared2}, c = {d = shared2, e = print}}") ==
            "");
    CHECK(encode(lua, "twice") == "error: c.e: cannot encode a function as JSON");

    // Light userdata other than json.null.
    lua_pushlightuserdata(lua.L, &lua);
    auto text = json_lua::to_json_text(lua.L, -1);
    lua_pop(lua.L, 1);
    REQUIRE_FALSE(text.ok());
    CHECK(text.error().kind == ErrorKind::Validation);
    CHECK(text.error().message == "cannot encode a light userdata as JSON (only ferry.json.null)");
}

TEST_CASE("json_lua: cycles are errors, shared tables are not", "[json_lua]") {
    LuaFixture lua;
    REQUIRE(lua.run("cyclic = {name = 'root', child = {}}; cyclic.child.parent = cyclic") == "");
    CHECK(encode(lua, "cyclic") == "error: child.parent: table contains itself (a cycle)");
    REQUIRE(lua.run("self_list = {1}; self_list[2] = self_list") == "");
    CHECK(encode(lua, "self_list") == "error: [2]: table contains itself (a cycle)");
    // The same table twice, side by side, is a DAG, not a cycle.
    REQUIRE(lua.run("shared = {1}; dag = {a = shared, b = shared, c = {shared}}") == "");
    rapidjson::Document doc;
    lua_getglobal(lua.L, "dag");
    REQUIRE(json_lua::to_json(lua.L, -1, doc, doc.GetAllocator()).ok());
    lua_pop(lua.L, 1);
    CHECK(doc == parse(R"({"a":[1],"b":[1],"c":[[1]]})"));
}

TEST_CASE("json_lua: depth cap", "[json_lua]") {
    LuaFixture lua;
    REQUIRE(lua.run(R"(
        function nest(n)
            local root = {}
            local t = root
            for i = 2, n do t[1] = {}; t = t[1] end
            return root
        end)") == "");
    // nest(n) is n tables: n-1 arrays around an empty table (an object).
    CHECK(encode(lua, "nest(200)") == std::string(199, '[') + "{}" + std::string(199, ']'));
    // Long paths keep their ends.
    CHECK(encode(lua, "nest(201)") ==
          "error: [1][1][1][1][1][1]...[1][1][1][1][1][1]: nesting deeper than 200 levels");
    // 10,000 levels: an error, not a crash (and no recursion that deep).
    CHECK(encode(lua, "nest(10000)").ends_with("nesting deeper than 200 levels"));
    CHECK(encode(lua, "{a = {b = nest(300)}}").starts_with("error: a.b[1][1][1][1]..."));
    // Objects 199 deep with a function at the bottom: each level reports the error once (a
    // level that converted its values again after a failure below would take 2^199 steps).
    REQUIRE(lua.run(R"(
        function nest_objects(n)
            local root = {}
            local t = root
            for i = 2, n do t.a = {}; t = t.a end
            t.f = print
            return root
        end)") == "");
    CHECK(encode(lua, "nest_objects(199)") ==
          "error: a.a.a.a.a.a....a.a.a.a.a.f: cannot encode a function as JSON");
}

TEST_CASE("json_lua: push is iterative at any depth", "[json_lua]") {
    LuaFixture lua;
    // 10,000 nested arrays around an object: built by hand (a recursive parser could not).
    rapidjson::Document doc;
    doc.SetArray();
    rapidjson::Value* inner = &doc;
    for (int i = 1; i < 10'000; ++i) {
        inner->PushBack(rapidjson::Value(rapidjson::kArrayType), doc.GetAllocator());
        inner = &(*inner)[0];
    }
    inner->PushBack(rapidjson::Value(rapidjson::kObjectType), doc.GetAllocator());
    (*inner)[0].AddMember("leaf", 42, doc.GetAllocator());

    json_lua::push(lua.L, doc);
    CHECK(lua_gettop(lua.L) == 1);
    lua_setglobal(lua.L, "deep");
    CHECK(lua.eval(R"(
        local t, depth = deep, 0
        while t[1] ~= nil do
            assert(getmetatable(t) == "ferry.json.array")
            t, depth = t[1], depth + 1
        end
        return depth .. " " .. t.leaf)") == "10000 42");
    // And converting it back stops at the cap.
    lua_getglobal(lua.L, "deep");
    auto text = json_lua::to_json_text(lua.L, -1);
    lua_pop(lua.L, 1);
    REQUIRE_FALSE(text.ok());
    CHECK(text.error().message.ends_with("nesting deeper than 200 levels"));
}

TEST_CASE("json_lua: raw access only", "[json_lua]") {
    LuaFixture lua;
    // No metamethod runs: not __index, __pairs, __len, nor __tostring.
    REQUIRE(lua.run(R"(
        hits = 0
        local mt = {
            __index = function() hits = hits + 1; return 'virtual' end,
            __pairs = function() hits = hits + 1; error('no') end,
            __len = function() hits = hits + 1; return 5 end,
            __tostring = function() hits = hits + 1; return 'x' end,
        }
        proxy = setmetatable({real = 1}, mt)
        proxied_list = setmetatable({1, 2}, mt))") == "");
    CHECK(encode(lua, "proxy") == "{\"real\":1}");
    CHECK(encode(lua, "proxied_list") == "[1,2]");
    CHECK(lua.eval("return hits") == "0");
}

TEST_CASE("json_lua: a metatable's __shared fields are encoded as the table's own", "[json_lua]") {
    LuaFixture lua;
    // What a task's ctx keeps in its step's metatable shows when ctx is returned or logged;
    // its own fields win; read raw, so no metamethod runs for it either.
    REQUIRE(lua.run(R"(
        hits = 0
        local shared = setmetatable({workflow = 'w', step_id = 's', dry_run = false,
                                     [1] = 'not a field'},
                                    {__index = function() hits = hits + 1 end})
        local mt = {__shared = shared, __index = shared,
                    __pairs = function() hits = hits + 1; error('no') end}
        ctx = setmetatable({attempt = 2, step_id = 'own'}, mt)
        bare = setmetatable({}, mt)
        not_a_table = setmetatable({a = 1}, {__shared = 'text'}))") == "");
    auto as_document = [&](const std::string& name) {
        std::string text = encode(lua, name);
        INFO(text);
        return parse(text);
    };
    CHECK(as_document("ctx") ==
          parse(R"({"attempt":2,"step_id":"own","workflow":"w","dry_run":false})"));
    CHECK(as_document("bare") == parse(R"({"workflow":"w","step_id":"s","dry_run":false})"));
    CHECK(encode(lua, "not_a_table") == "{\"a\":1}");
    CHECK(encode(lua, "{inner = ctx}").find("\"workflow\":\"w\"") != std::string::npos);
    CHECK(lua.eval("return hits") == "0");
}

TEST_CASE("json_lua: markers, null and the stack", "[json_lua]") {
    LuaFixture lua;
    lua_State* L = lua.L;
    json_lua::push_null(L);
    CHECK(json_lua::is_null(L, -1));
    lua_pushlightuserdata(L, &lua);
    CHECK_FALSE(json_lua::is_null(L, -1));
    lua_pushnil(L);
    CHECK_FALSE(json_lua::is_null(L, -1));
    lua_pop(L, 3);

    lua_newtable(L);
    CHECK_FALSE(json_lua::is_marked_array(L, -1));
    json_lua::mark_array(L, -1);
    CHECK(json_lua::is_marked_array(L, -1));
    CHECK(lua_gettop(L) == 1);
    lua_setglobal(L, "marked");
    CHECK(lua.eval("return getmetatable(marked)") == "ferry.json.array");
    CHECK(lua.eval("return select(2, pcall(setmetatable, marked, nil))") ==
          "cannot change a protected metatable");
    json_lua::push_empty_array(L);
    CHECK(json_lua::is_marked_array(L, -1));
    json_lua::push_empty_array(L);
    CHECK(lua_rawequal(L, -1, -2));  // one shared table
    lua_pop(L, 2);
    lua_pushinteger(L, 1);
    CHECK_FALSE(json_lua::is_marked_array(L, -1));
    lua_pop(L, 1);

    // A relative index, with other values above the converted one.
    lua.run("");
    REQUIRE(luaL_dostring(L, "return {a = 1}, 'above'") == LUA_OK);
    auto text = json_lua::to_json_text(L, -2);
    REQUIRE(text.ok());
    CHECK(text.value() == "{\"a\":1}");
    CHECK(lua_gettop(L) == 2);
    lua_settop(L, 0);
}

TEST_CASE("json_lua: a value shared many times is bounded as the JSON it would be",
          "[json_lua][limits]") {
    // JSON has no references: a table reached through N references is copied N times. 23
    // small tables as t = {t, t} were 4 M values, GBs of memory and seconds of the loop,
    // outside every limit a task has (the conversion runs in C++).
    LuaFixture lua;
    constexpr size_t kCap = size_t(1) << 20;  // the default (128 MiB) takes seconds to reach
    auto encode_capped = [&](const std::string& expression) {
        REQUIRE(luaL_loadstring(lua.L, ("return " + expression).c_str()) == LUA_OK);
        REQUIRE(lua_pcall(lua.L, 0, 1, 0) == LUA_OK);
        auto text = json_lua::to_json_text(lua.L, -1, json_lua::InvalidUtf8::Refuse, kCap);
        lua_pop(lua.L, 1);
        return text;
    };
    auto dag = encode_capped(
        "(function() local t = {'x'} for i = 1, 40 do t = {t, t} end return t end)()");
    REQUIRE_FALSE(dag.ok());  // 2^40 values: stopped at the bound, not after them
    CHECK(dag.error().kind == ErrorKind::Limit);
    CHECK(dag.error().message.find("the value is larger than 1 MiB as JSON (a table or string "
                                   "reached through several references is copied for each "
                                   "of them)") != std::string::npos);
    // One long string shared many times counts each time.
    auto strings = encode_capped("(function() local s = string.rep('a', 100000) local t = {} "
                                 "for i = 1, 20 do t[i] = s end return t end)()");
    REQUIRE_FALSE(strings.ok());
    CHECK(strings.error().kind == ErrorKind::Limit);
    // Under the bound, sharing is the ordinary case: encoded.
    auto shared = encode_capped("(function() local s = {1} return {s, s} end)()");
    REQUIRE(shared.ok());
    CHECK(shared.value() == "[[1],[1]]");
    CHECK(json_lua::kMaxEncodedBytes == size_t(128) << 20);
}
