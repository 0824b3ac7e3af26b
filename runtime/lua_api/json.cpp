// ferry.json: encode, decode, null, is_null, array, empty_array.
//
// Two error channels (EXAMPLES.md 2.4): decode() of bad text is an operational failure (the
// text usually comes from a peer) and returns nil, err; encode() of a value JSON cannot
// hold (a function, a cycle, a sparse array) is a bug in the task and raises, naming the path.
// decode("null") returns json.null, never nil, so nil always means failure.
#include "runtime/json_lua.h"
#include "runtime/json_numbers.h"
#include "runtime/json_writer.h"
#include "runtime/lua_api/args.h"
#include "runtime/lua_api/guard.h"
#include "runtime/lua_api/modules.h"
#include "runtime/scheduler.h"  // push_error_table
#include "runtime/utf8.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <string>

namespace ferry::lua_api {

namespace {

using rapidjson::SizeType;

// Iterative, so a hostile document cannot exhaust the C++ stack before the depth check
// sees it; full precision, so a float read back is the float that was written; validated
// encoding, because a Lua string from JSON is later re-encoded and must be UTF-8.
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseFullPrecisionFlag |
                                 rapidjson::kParseValidateEncodingFlag;

// Forwards SAX events to next (the Document) and stops the parse when containers nest
// deeper than json_lua::kMaxDepth: the same cap as encode, so whatever decodes re-encodes.
template <class Next>
class DepthLimit : public json_sax::Forward<Next> {
  public:
    using json_sax::Forward<Next>::Forward;
    bool too_deep() const { return too_deep_; }

    bool StartObject() { return enter() && this->next_.StartObject(); }
    bool EndObject(SizeType members) { return leave() && this->next_.EndObject(members); }
    bool StartArray() { return enter() && this->next_.StartArray(); }
    bool EndArray(SizeType elements) { return leave() && this->next_.EndArray(elements); }

  private:
    bool enter() {
        if (++depth_ <= json_lua::kMaxDepth) return true;
        too_deep_ = true;
        return false;
    }
    bool leave() {
        --depth_;
        return true;
    }

    int depth_ = 0;
    bool too_deep_ = false;
};

// A generator for Document::Populate: runs the reader over text into the document.
struct Parser {
    std::string_view text;
    rapidjson::ParseResult result;
    bool too_deep = false;

    bool operator()(rapidjson::Document& doc) {
        rapidjson::MemoryStream stream(text.data(), text.size());
        DepthLimit<rapidjson::Document> limited(doc);
        json_numbers::ExactNumbers<decltype(limited)> exact(limited);
        rapidjson::Reader reader;
        result = reader.Parse<json_numbers::exact(kParseFlags)>(stream, exact);
        too_deep = limited.too_deep();
        return !result.IsError();
    }
};

// [-0, +2, m] The second channel: nil and a validation error table.
int push_validation_failure(lua_State* L, std::string message) {
    lua_pushnil(L);
    push_error_table(L, make_error(ErrorKind::Validation, std::move(message)));
    return 2;
}

// Orders every object's members by key bytes, at every depth (the value came from to_json,
// so the depth is at most kMaxDepth and recursion is safe).
void sort_keys(rapidjson::Value& v) {
    if (v.IsArray()) {
        for (auto& element : v.GetArray())
            sort_keys(element);
        return;
    }
    if (!v.IsObject()) return;
    for (auto& member : v.GetObject())
        sort_keys(member.value);
    std::sort(v.MemberBegin(), v.MemberEnd(), [](const auto& a, const auto& b) {
        std::string_view x(a.name.GetString(), a.name.GetStringLength());
        std::string_view y(b.name.GetString(), b.name.GetStringLength());
        return x < y;
    });
}

// json.encode(value [, {pretty = bool, sort_keys = bool}]) -> string
// [-0, +1, v] Raises on a value JSON cannot represent, naming its path.
int json_encode(lua_State* L) {
    luaL_checkany(L, 1);  // encode() is a mistake; encode(nil) is "null"
    bool pretty = false, sorted = false;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        static const char* const kOptions[] = {"pretty", "sort_keys"};
        check_option_names(L, 2, kOptions);
        pretty = opt_bool_field(L, 2, "pretty", false);
        sorted = opt_bool_field(L, 2, "sort_keys", false);
    }

    rapidjson::Document doc;
    Status converted = json_lua::to_json(L, 1, doc, doc.GetAllocator());
    if (!converted)
        return luaL_error(L, "ferry.json.encode: %s", converted.error().message.c_str());
    if (sorted) sort_keys(doc);

    rapidjson::StringBuffer buffer;
    if (pretty) {
        rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
        writer.SetIndent(' ', 2);
        doc.Accept(writer);
    } else {
        JsonWriter writer(buffer);
        doc.Accept(writer);
    }
    lua_pushlstring(L, buffer.GetString(), buffer.GetSize());
    return 1;
}

// json.decode(text) -> value | nil, err
// [-0, +1|2, m] Bad text is an operational failure: nil and {kind = "validation",
// message = "invalid JSON: <what> at offset N"} (N counts bytes from 0).
int json_decode(lua_State* L) {
    return decode_json_text(L, check_bytes(L, 1));
}

// json.is_null(v) -> boolean
// [-0, +1, v]
int json_is_null(lua_State* L) {
    luaL_checkany(L, 1);
    lua_pushboolean(L, json_lua::is_null(L, 1));
    return 1;
}

// json.array([t]) -> t, marked as a JSON array (a new empty table when t is absent)
// [-0, +1, v] A table that already has some other metatable is refused rather than
// silently stripped (lua_setmetatable would ignore its __metatable protection).
int json_array(lua_State* L) {
    if (lua_isnoneornil(L, 1)) {
        lua_createtable(L, 0, 0);
        json_lua::mark_array(L, -1);
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!json_lua::is_marked_array(L, 1)) {
        if (lua_getmetatable(L, 1)) return luaL_argerror(L, 1, "the table already has a metatable");
        json_lua::mark_array(L, 1);
    }
    lua_settop(L, 1);
    return 1;
}

}  // namespace

int decode_json_text(lua_State* L, std::string_view text) {
    // RapidJSON reads a NUL byte as the end of input and would accept "[1]\0junk"; a raw NUL
    // is never valid JSON anyway.
    if (size_t nul = text.find('\0'); nul != std::string_view::npos)
        return push_validation_failure(L,
                                       "invalid JSON: NUL byte at offset " + std::to_string(nul));
    rapidjson::Document doc;
    Parser parser{text, {}, false};
    doc.Populate(parser);
    if (parser.result.IsError()) {
        std::string what;
        if (parser.too_deep) {
            what = "nesting deeper than " + std::to_string(json_lua::kMaxDepth) + " levels";
        } else {
            what = rapidjson::GetParseError_En(parser.result.Code());
            if (!what.empty() && what.back() == '.') what.pop_back();
        }
        return push_validation_failure(L, "invalid JSON: " + what + " at offset " +
                                              std::to_string(parser.result.Offset()));
    }
    if (size_t at = lone_low_surrogate_escape_at(text); at != std::string_view::npos) {
        return push_validation_failure(
            L, "invalid JSON: a low surrogate escape without a high one at offset " +
                   std::to_string(at));
    }
    json_lua::push(L, doc);
    return 1;
}

int open_json(lua_State* L) {
    static const luaL_Reg kFunctions[] = {
        {"encode", guarded<json_encode>},
        {"decode", guarded<json_decode>},
        {"is_null", guarded<json_is_null>},
        {"array", guarded<json_array>},
        {nullptr, nullptr},
    };
    luaL_newlib(L, kFunctions);
    json_lua::push_null(L);
    lua_setfield(L, -2, "null");
    json_lua::push_empty_array(L);
    lua_setfield(L, -2, "empty_array");
    return 1;
}

}  // namespace ferry::lua_api
