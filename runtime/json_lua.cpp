// JSON <-> Lua conversion. Two directions with different constraints:
//
// - Lua -> JSON (to_json) reads task values, so it trusts nothing: raw access only (a task's
//   __index or __pairs never runs inside C++), a visited set for cycles, a depth cap, and no
//   Lua allocation at all, so it cannot raise and works on a finished coroutine outside any
//   protected call. Recursion is bounded by kMaxDepth, so the C++ stack is safe.
// - JSON -> Lua (push) reads documents that may come from anywhere in the engine, with no
//   depth cap of their own, so it is iterative: the chain of open tables lives in an
//   "ancestors" Lua table, not on the C++ or Lua stack (Neovim's converter.c does the same
//   with an explicit stack).
#include "runtime/json_lua.h"

#include "runtime/utf8.h"

#include "runtime/json_writer.h"

#include <lua.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <vector>

namespace ferry::json_lua {

namespace {

// Registry keys and the null sentinel are addresses of private objects: nothing else in the
// process can produce the same light userdata, and lua_rawgetp needs no string interning.
const char kNullSentinel = 0;
const char kArrayMetaKey = 0;
const char kFrozenArrayMetaKey = 0;

constexpr const char* kArrayName = "ferry.json.array";
// RapidJSON string lengths are 32-bit (SizeType).
constexpr size_t kMaxStringBytes = 0xFFFFFFFFu;
// Each value counts 16 bytes against the conversion's max_bytes, besides its text.
constexpr size_t kValueBytes = 16;

// ---- the array markers ------------------------------------------------------------------

int frozen_newindex(lua_State* L) {
    return luaL_error(L, "ferry.json.empty_array is read-only (use ferry.json.array() for a "
                         "new array)");
}

// [-0, +1, m] Pushes the metatable stored under key, creating it on first use. getmetatable()
// answers the string "ferry.json.array" (__metatable), which both tells tasks what the table
// is and makes setmetatable() refuse to strip the marker.
void push_marker(lua_State* L, const char* key, bool frozen) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE) return;
    lua_pop(L, 1);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, kArrayName);
    lua_setfield(L, -2, "__name");
    lua_pushstring(L, kArrayName);
    lua_setfield(L, -2, "__metatable");
    if (frozen) {
        lua_pushcfunction(L, frozen_newindex);
        lua_setfield(L, -2, "__newindex");
    }
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

// ---- paths in error messages ----------------------------------------------------------------

struct PathSegment {
    std::string_view key;   // points into a Lua string kept alive on the stack
    lua_Integer index = 0;  // 1-based, as Lua sees it; 0 for a key
};

bool is_identifier(std::string_view s) {
    if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
    for (char c : s)
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return false;
    return true;
}

// A key in double quotes, escaped as JSON escapes it, so a key that is a secret (a vendor
// map keyed by a token) is found by redaction in this message as in any record; only the
// bytes that are not UTF-8 (often what the message is about) are shown as \xNN.
void append_quoted(std::string& out, std::string_view s) {
    out += '"';
    while (!s.empty()) {
        const size_t bad = std::min(invalid_utf8_at(s), s.size());
        const size_t start = out.size();
        out.resize(start + bad * 6);
        out.resize(size_t(write_json_escaped(out.data() + start, s.substr(0, bad)) - out.data()));
        if (bad == s.size()) break;
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02X", unsigned(static_cast<unsigned char>(s[bad])));
        out += hex;
        s.remove_prefix(bad + 1);
    }
    out += '"';
}

// "fields.tags[3]", `headers["Content-Type"]`; very deep paths keep both ends.
std::string path_text(const std::vector<PathSegment>& path) {
    constexpr size_t kHead = 6, kTail = 6;
    std::string out;
    for (size_t i = 0; i < path.size(); ++i) {
        if (path.size() > kHead + kTail + 1 && i == kHead) {
            out += "...";
            i = path.size() - kTail;
        }
        const PathSegment& seg = path[i];
        if (seg.index > 0) {
            out += '[' + std::to_string(seg.index) + ']';
        } else if (is_identifier(seg.key)) {
            if (!out.empty()) out += '.';
            out += seg.key;
        } else {
            out += '[';
            append_quoted(out, seg.key);
            out += ']';
        }
    }
    return out;
}

std::string describe_number(lua_State* L, int idx) {
    if (lua_isinteger(L, idx)) return std::to_string(lua_tointeger(L, idx));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", lua_tonumber(L, idx));
    return buf;
}

// ---- Lua -> JSON ----------------------------------------------------------------------------

class Encoder {
  public:
    Encoder(lua_State* L, rapidjson::Document::AllocatorType& alloc, InvalidUtf8 invalid,
            size_t max_bytes)
        : L_(L), alloc_(alloc), invalid_(invalid), max_bytes_(max_bytes) {}

    Status run(int idx, rapidjson::Value& out) {
        int top = lua_gettop(L_);
        bool ok = value(lua_absindex(L_, idx), out, 0);
        lua_settop(L_, top);  // an error may leave lua_next's key and value behind
        if (!ok) return error_;
        return ok_status();
    }

  private:
    // [-0, +0, -] Converts the value at the absolute index idx; depth counts the tables
    // around it. On failure error_ is set and the caller unwinds (the stack is restored
    // once, in run()).
    bool value(int idx, rapidjson::Value& out, int depth) {
        produced_ += kValueBytes;
        if (lua_type(L_, idx) == LUA_TSTRING) produced_ += lua_rawlen(L_, idx);
        if (produced_ > max_bytes_)
            return fail_limit("the value is larger than " + std::to_string(max_bytes_ >> 20) +
                              " MiB as JSON (a table or string reached through several "
                              "references is copied for each of them)");
        switch (lua_type(L_, idx)) {
        case LUA_TNIL: out.SetNull(); return true;
        case LUA_TBOOLEAN: out.SetBool(lua_toboolean(L_, idx) != 0); return true;
        case LUA_TNUMBER:
            if (lua_isinteger(L_, idx)) {
                out.SetInt64(lua_tointeger(L_, idx));
                return true;
            } else {
                double d = lua_tonumber(L_, idx);
                if (std::isnan(d)) return fail("NaN cannot be encoded as JSON");
                if (std::isinf(d))
                    return fail(std::string(d < 0 ? "-inf" : "inf") + " cannot be encoded as JSON");
                out.SetDouble(d);
                return true;
            }
        case LUA_TSTRING: {
            size_t len = 0;
            const char* s = lua_tolstring(L_, idx, &len);
            if (len > kMaxStringBytes) return fail("string longer than 4 GiB");
            std::string_view text(s, len);
            std::string repaired;  // holds text when it was repaired
            if (!usable(text, repaired)) return check_utf8(text, "string");
            out.SetString(text.data(), rapidjson::SizeType(text.size()), alloc_);
            return true;
        }
        case LUA_TLIGHTUSERDATA:
            if (lua_touserdata(L_, idx) == &kNullSentinel) {
                out.SetNull();
                return true;
            }
            return fail("cannot encode a light userdata as JSON (only ferry.json.null)");
        case LUA_TTABLE: return table(idx, out, depth + 1);
        default:
            return fail(std::string("cannot encode a ") + lua_typename(L_, lua_type(L_, idx)) +
                        " as JSON");
        }
    }

    bool table(int idx, rapidjson::Value& out, int depth) {
        if (depth > kMaxDepth)
            return fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
        const void* self = lua_topointer(L_, idx);
        for (const void* open : open_)
            if (open == self) return fail("table contains itself (a cycle)");
        // lua_next needs two slots per level, the element one more. lua_checkstack does not
        // raise when it cannot grow.
        if (!lua_checkstack(L_, 4)) return fail("nesting too deep for the Lua stack");

        // Most tables are objects: string keys only, no array marker, an empty array part.
        // Those are converted in one pass. A key that is not a string sends the table through
        // the classifying pass below instead, which names the problem as it always has; so
        // does a value that fails when the table has such a key (the classifying pass would
        // report the key first). Otherwise the value's error stands: the classifying pass
        // would meet the same value first too (and running it again would redo each level
        // below, twice per level).
        if (lua_rawlen(L_, idx) == 0 && !is_marked_array(L_, idx)) {
            const int top = lua_gettop(L_);
            const size_t path_depth = path_.size(), open_depth = open_.size();
            open_.push_back(self);
            Pass pass = object(idx, out, depth, /*strings_only=*/true);
            open_.resize(open_depth);  // a failure deeper down leaves its tables there
            if (pass == Pass::done) return true;
            lua_settop(L_, top);
            if (pass == Pass::failed && only_string_keys(idx)) return false;
            path_.resize(path_depth);
        }

        // First pass: classify the keys. Lua folds integral float keys (t[2.0]) into
        // integers, so a float key here is genuinely fractional.
        size_t strings = 0, integers = 0;
        lua_Integer max_index = 0;
        std::string_view first_string;
        lua_pushnil(L_);
        while (lua_next(L_, idx) != 0) {
            switch (lua_type(L_, -2)) {
            case LUA_TSTRING:
                if (strings++ == 0) {
                    size_t len = 0;
                    const char* k = lua_tolstring(L_, -2, &len);
                    first_string = {k, len};  // valid: the key is still in the table
                }
                break;
            case LUA_TNUMBER:
                if (!lua_isinteger(L_, -2))
                    return fail("table key " + describe_number(L_, -2) +
                                " is neither a string nor an array index");
                if (lua_tointeger(L_, -2) < 1)
                    return fail("table key " + describe_number(L_, -2) +
                                " is not an array index (arrays start at 1)");
                ++integers;
                max_index = std::max(max_index, lua_tointeger(L_, -2));
                break;
            default:
                return fail(std::string("table key of type ") + luaL_typename(L_, -2) +
                            " (only strings and array indices can be encoded)");
            }
            lua_pop(L_, 1);
        }

        bool marked = is_marked_array(L_, idx);
        if (strings > 0 && (integers > 0 || marked)) {
            std::string key;
            append_quoted(key, first_string);
            if (integers == 0) return fail("array (json.array) has a string key " + key);
            return fail(std::string(marked ? "array (json.array) " : "table ") +
                        "mixes array indices and string keys (such as " + key + ")");
        }

        open_.push_back(self);
        bool ok = (integers > 0 || marked) ? array(idx, out, depth, integers, max_index)
                                           : object(idx, out, depth) == Pass::done;
        open_.pop_back();
        return ok;
    }

    bool only_string_keys(int idx) {
        lua_pushnil(L_);
        while (lua_next(L_, idx) != 0) {
            bool is_string = lua_type(L_, -2) == LUA_TSTRING;
            lua_pop(L_, is_string ? 1 : 2);
            if (!is_string) return false;
        }
        return true;
    }

    bool array(int idx, rapidjson::Value& out, int depth, size_t count, lua_Integer max_index) {
        if (lua_Integer(count) != max_index) {
            // Some index in 1..count is missing: name the first one.
            lua_Integer hole = 1;
            while (lua_rawgeti(L_, idx, hole) != LUA_TNIL) {
                lua_pop(L_, 1);
                ++hole;
            }
            return fail("array has no element at index " + std::to_string(hole) +
                        " (JSON arrays cannot have holes; use ferry.json.null)");
        }
        out.SetArray();
        out.Reserve(rapidjson::SizeType(count), alloc_);
        for (lua_Integer i = 1; i <= max_index; ++i) {
            lua_rawgeti(L_, idx, i);
            path_.push_back({{}, i});
            rapidjson::Value element;
            if (!value(lua_gettop(L_), element, depth)) return false;
            path_.pop_back();
            lua_pop(L_, 1);
            out.PushBack(element, alloc_);
        }
        return true;
    }

    enum class Pass { done, not_object, failed };
    // strings_only: stop at the first key that is not a string (not_object); otherwise table()
    // has checked every key is one. failed: error_ says why.
    Pass object(int idx, rapidjson::Value& out, int depth, bool strings_only = false) {
        out.SetObject();
        lua_pushnil(L_);
        while (lua_next(L_, idx) != 0) {
            if (strings_only && lua_type(L_, -2) != LUA_TSTRING) return Pass::not_object;
            if (!member(out, depth)) return Pass::failed;
        }
        if (!shared_members(idx, out, depth)) return Pass::failed;
        sort_members(out);
        return Pass::done;
    }

    // A Lua table has no order, and its traversal order changes from run to run (string
    // hashes are seeded per state): a task's output, a request body, a dry-run preview
    // listed the same fields in another order each time. Sorted by key (bytes), as
    // Python's json.dumps(sort_keys=True) writes them, the same table is the same JSON.
    static void sort_members(rapidjson::Value& object) {
        if (object.MemberCount() < 2) return;
        std::sort(object.MemberBegin(), object.MemberEnd(), [](const auto& a, const auto& b) {
            std::string_view x(a.name.GetString(), a.name.GetStringLength());
            std::string_view y(b.name.GetString(), b.name.GetStringLength());
            return x < y;
        });
    }

    // The fields the table at idx takes from its metatable's `__shared` table (a task's ctx
    // keeps there what every invocation of its step has in common), where it has none of its
    // own.
    bool shared_members(int idx, rapidjson::Value& out, int depth) {
        // The metatable, a key and a value, then the shared table's key, value and a copy of
        // a key: table() made room for four slots only.
        if (!lua_checkstack(L_, 6)) return fail("nesting too deep for the Lua stack");
        if (!push_shared(idx)) return true;
        const int shared = lua_gettop(L_);
        lua_pushnil(L_);
        while (lua_next(L_, shared) != 0) {
            bool own = lua_type(L_, -2) != LUA_TSTRING;  // not a field: skipped as if shadowed
            if (!own) {
                lua_pushvalue(L_, -2);
                own = lua_rawget(L_, idx) != LUA_TNIL;
                lua_pop(L_, 1);
            }
            if (own)
                lua_pop(L_, 1);
            else if (!member(out, depth))
                return false;
        }
        lua_pop(L_, 1);
        return true;
    }

    // [-1, +0] Adds the member whose string key is at -2 and value at -1; pops the value.
    bool member(rapidjson::Value& out, int depth) {
        size_t len = 0;
        const char* k = lua_tolstring(L_, -2, &len);  // a string: checked
        std::string_view key(k, len);
        std::string repaired;  // holds key when it was repaired
        const bool ok = usable(key, repaired);
        path_.push_back({key, 0});
        if (!ok) return check_utf8(key, "key");
        rapidjson::Value element;
        if (!value(lua_gettop(L_), element, depth)) return false;
        path_.pop_back();
        lua_pop(L_, 1);
        produced_ += key.size();
        rapidjson::Value name(key.data(), rapidjson::SizeType(key.size()), alloc_);
        out.AddMember(name, element, alloc_);
        return true;
    }

    // [-0, +(0|1)] Pushes the table the metatable of the table at idx holds under
    // "__shared" and returns true; pushes nothing and returns false when there is none. Its
    // keys are compared rather than looked up: interning the name could allocate.
    bool push_shared(int idx) {
        if (!lua_getmetatable(L_, idx)) return false;
        const int metatable = lua_gettop(L_);
        lua_pushnil(L_);
        while (lua_next(L_, metatable) != 0) {
            if (lua_type(L_, -2) == LUA_TSTRING && lua_type(L_, -1) == LUA_TTABLE) {
                size_t len = 0;
                const char* k = lua_tolstring(L_, -2, &len);
                if (std::string_view(k, len) == kSharedField) {
                    lua_replace(L_, metatable);  // the shared table where the metatable was
                    lua_pop(L_, 1);              // the key
                    return true;
                }
            }
            lua_pop(L_, 1);
        }
        lua_pop(L_, 1);
        return false;
    }

    // Whether text can go into the JSON: UTF-8 as it is (one scan, the usual case), or
    // repaired under InvalidUtf8::Repair (text then views repaired). False under Refuse:
    // check_utf8 says why.
    bool usable(std::string_view& text, std::string& repaired) const {
        if (invalid_utf8_at(text) == std::string_view::npos) return true;
        if (invalid_ == InvalidUtf8::Refuse) return false;
        repaired = to_valid_utf8(text);
        text = repaired;
        return true;
    }

    bool check_utf8(std::string_view s, const char* what) {
        size_t bad = invalid_utf8_at(s);
        if (bad == std::string_view::npos) return true;
        char buf[96];
        std::snprintf(buf, sizeof buf, "%s is not valid UTF-8 (byte 0x%02X at offset %zu)", what,
                      unsigned(static_cast<unsigned char>(s[bad])), bad);
        return fail(std::string(buf) + "; encode binary data with ferry.crypto.base64_encode");
    }

    bool fail(std::string what) {
        std::string where = path_text(path_);
        error_ = make_error(ErrorKind::Validation, where.empty() ? what : where + ": " + what);
        return false;
    }
    bool fail_limit(std::string what) {
        fail(std::move(what));
        error_.kind = ErrorKind::Limit;
        return false;
    }

    lua_State* L_;
    rapidjson::Document::AllocatorType& alloc_;
    InvalidUtf8 invalid_;
    std::vector<PathSegment> path_;
    std::vector<const void*> open_;  // tables on the current path, for cycle detection
    size_t max_bytes_;
    size_t produced_ = 0;  // bytes counted against max_bytes_
    Error error_;
};

// ---- JSON -> Lua ----------------------------------------------------------------------------

// [-0, +1, m]
void push_scalar(lua_State* L, const rapidjson::Value& v) {
    switch (v.GetType()) {
    case rapidjson::kNullType: push_null(L); break;
    case rapidjson::kFalseType: lua_pushboolean(L, 0); break;
    case rapidjson::kTrueType: lua_pushboolean(L, 1); break;
    case rapidjson::kNumberType:
        if (v.IsInt64())
            lua_pushinteger(L, v.GetInt64());
        else if (v.IsUint64())
            lua_pushnumber(L, lua_Number(v.GetUint64()));  // > INT64_MAX
        else
            lua_pushnumber(L, v.GetDouble());
        break;
    case rapidjson::kStringType: lua_pushlstring(L, v.GetString(), v.GetStringLength()); break;
    default: assert(false && "push_scalar: a container"); lua_pushnil(L);
    }
}

// [-0, +1, m]
void push_container(lua_State* L, const rapidjson::Value& v) {
    if (v.IsArray()) {
        lua_createtable(L, int(v.Size()), 0);
        mark_array(L, -1);
    } else {
        lua_createtable(L, 0, int(v.MemberCount()));
    }
}

}  // namespace

void push_null(lua_State* L) {
    lua_pushlightuserdata(L, const_cast<char*>(&kNullSentinel));
}

bool is_null(lua_State* L, int idx) {
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == &kNullSentinel;
}

void mark_array(lua_State* L, int idx) {
    idx = lua_absindex(L, idx);
    push_marker(L, &kArrayMetaKey, false);
    lua_setmetatable(L, idx);
}

bool is_marked_array(lua_State* L, int idx) {
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return false;
    // Stack: [metatable] [marker] [frozen marker]
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kArrayMetaKey);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kFrozenArrayMetaKey);
    bool marked = lua_rawequal(L, -3, -2) || lua_rawequal(L, -3, -1);
    lua_pop(L, 3);
    return marked;
}

void push_empty_array(lua_State* L) {
    // One shared table per state, kept in the registry beside its metatable.
    static const char kEmptyArrayKey = 0;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kEmptyArrayKey) == LUA_TTABLE) return;
    lua_pop(L, 1);
    lua_createtable(L, 0, 0);
    push_marker(L, &kFrozenArrayMetaKey, true);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kEmptyArrayKey);
}

void push(lua_State* L, const rapidjson::Value& v) {
    if (!v.IsArray() && !v.IsObject()) {
        luaL_checkstack(L, 1, "json_lua::push");
        push_scalar(L, v);
        return;
    }
    // Deepest moment: [ancestors] [current] [key] [child] [child] plus two slots while the
    // marker metatable is first built. (Raises only when the Lua stack is at its 1M limit.)
    luaL_checkstack(L, 8, "json_lua::push");
    [[maybe_unused]] int top = lua_gettop(L);

    // Stack while converting: [ancestors] [current table]. ancestors[d] is the open table
    // at depth d, so going back up is one rawgeti whatever the depth.
    lua_createtable(L, 8, 0);
    int ancestors = lua_gettop(L);
    push_container(L, v);
    lua_pushvalue(L, -1);
    lua_rawseti(L, ancestors, 1);

    struct Frame {
        const rapidjson::Value* container;
        rapidjson::SizeType next;
    };
    std::vector<Frame> frames{{&v, 0}};
    while (!frames.empty()) {
        const rapidjson::Value& c = *frames.back().container;
        rapidjson::SizeType i = frames.back().next;
        bool is_array = c.IsArray();
        if (i == (is_array ? c.Size() : c.MemberCount())) {
            frames.pop_back();
            lua_pop(L, 1);
            if (!frames.empty()) lua_rawgeti(L, ancestors, lua_Integer(frames.size()));
            continue;
        }
        frames.back().next = i + 1;
        const rapidjson::Value* child;
        if (is_array) {
            child = &c[i];
        } else {
            const auto& member = *(c.MemberBegin() + i);
            lua_pushlstring(L, member.name.GetString(), member.name.GetStringLength());
            child = &member.value;
        }
        // Stack: [ancestors] [current] [key, objects only]
        if (child->IsArray() || child->IsObject()) {
            push_container(L, *child);
            lua_pushvalue(L, -1);
            lua_rawseti(L, ancestors, lua_Integer(frames.size() + 1));
            if (is_array) {
                lua_pushvalue(L, -1);
                lua_rawseti(L, -3, lua_Integer(i) + 1);
            } else {
                lua_pushvalue(L, -1);
                lua_rotate(L, -3, 1);  // [current] [child] [key] [child]
                lua_rawset(L, -4);
            }
            lua_replace(L, -2);  // the child becomes the current table
            frames.push_back({child, 0});
        } else {
            push_scalar(L, *child);
            if (is_array)
                lua_rawseti(L, -2, lua_Integer(i) + 1);
            else
                lua_rawset(L, -3);
        }
    }
    // Stack: [ancestors]; the root is ancestors[1].
    lua_rawgeti(L, ancestors, 1);
    lua_replace(L, ancestors);
    assert(lua_gettop(L) == top + 1);
}

Status to_json(lua_State* L, int idx, rapidjson::Value& out,
               rapidjson::Document::AllocatorType& alloc, InvalidUtf8 invalid, size_t max_bytes) {
    return Encoder(L, alloc, invalid, max_bytes).run(idx, out);
}

Result<std::string> to_json_text(lua_State* L, int idx, InvalidUtf8 invalid, size_t max_bytes) {
    rapidjson::Document doc;
    Status converted = to_json(L, idx, doc, doc.GetAllocator(), invalid, max_bytes);
    if (!converted) return converted.error();
    return json_text(doc);
}

}  // namespace ferry::json_lua
