// RFC 6902 JSON Patch: generating one from two documents, and applying one.
// The unified text diff is in unified_diff.cpp.
#include "store/diff.h"

#include "runtime/json_writer.h"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>

#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ferry::store {

namespace {

// JsonWriter, not rapidjson's: a created ticket's patch carries the whole record (a
// rendered report included), and rapidjson escapes a character at a time.
using Writer = JsonWriter;

// RFC 6901 section 3: '~' is written "~0" and '/' is written "~1" (in that order, so a '/'
// that became "~1" is not escaped again).
void append_token(std::string& pointer, std::string_view token) {
    pointer += '/';
    for (char c : token) {
        if (c == '~')
            pointer += "~0";
        else if (c == '/')
            pointer += "~1";
        else
            pointer += c;
    }
}

void write_op(Writer& w, const char* op, const std::string& path, const rapidjson::Value* value) {
    w.StartObject();
    w.Key("op");
    w.String(op);
    w.Key("path");
    w.String(path.data(), static_cast<rapidjson::SizeType>(path.size()));
    if (value) {
        w.Key("value");
        value->Accept(w);
    }
    w.EndObject();
}

std::string_view name_of(const rapidjson::Value& name) {
    return {name.GetString(), name.GetStringLength()};
}

// A member by name. RapidJSON's FindMember scans the members, so diffing two objects of n
// members that way is O(n^2): two 40,000-CI snapshots of a CMDB took a minute. Objects past
// kScanLimit members are looked up through a hash index instead.
class Members {
  public:
    static constexpr rapidjson::SizeType kScanLimit = 32;

    explicit Members(const rapidjson::Value& object) : object_(object) {
        if (object.MemberCount() <= kScanLimit) return;
        index_.reserve(object.MemberCount());
        // emplace keeps the first of repeated names, as FindMember finds it.
        for (auto m = object.MemberBegin(); m != object.MemberEnd(); ++m)
            index_.emplace(name_of(m->name), &m->value);
    }

    const rapidjson::Value* find(const rapidjson::Value& name) const {
        if (index_.empty()) {
            auto found = object_.FindMember(name);
            return found == object_.MemberEnd() ? nullptr : &found->value;
        }
        auto found = index_.find(name_of(name));
        return found == index_.end() ? nullptr : found->second;
    }

  private:
    const rapidjson::Value& object_;
    std::unordered_map<std::string_view, const rapidjson::Value*> index_;
};

// Depth-first over both documents. `path` is the pointer to a and b; it is extended in place
// and restored before returning, so the walk allocates no path per node.
void diff_values(Writer& w, std::string& path, const rapidjson::Value& a,
                 const rapidjson::Value& b) {
    if (a.IsObject() && b.IsObject()) {
        size_t base = path.size();
        const Members in_a(a), in_b(b);
        for (auto m = a.MemberBegin(); m != a.MemberEnd(); ++m) {
            append_token(path, name_of(m->name));
            if (const rapidjson::Value* found = in_b.find(m->name))
                diff_values(w, path, m->value, *found);
            else
                write_op(w, "remove", path, nullptr);
            path.resize(base);
        }
        for (auto m = b.MemberBegin(); m != b.MemberEnd(); ++m) {
            if (in_a.find(m->name)) continue;
            append_token(path, name_of(m->name));
            write_op(w, "add", path, &m->value);
            path.resize(base);
        }
        return;
    }
    if (a.IsArray() && b.IsArray()) {
        size_t base = path.size();
        rapidjson::SizeType na = a.Size(), nb = b.Size();
        rapidjson::SizeType common = na < nb ? na : nb;
        for (rapidjson::SizeType i = 0; i < common; ++i) {
            append_token(path, std::to_string(i));
            diff_values(w, path, a[i], b[i]);
            path.resize(base);
        }
        // Trailing removes go from the last element down, so each index is still valid when
        // its operation is applied; trailing adds go up, each appending at the end.
        for (rapidjson::SizeType i = na; i-- > common;) {
            append_token(path, std::to_string(i));
            write_op(w, "remove", path, nullptr);
            path.resize(base);
        }
        for (rapidjson::SizeType i = common; i < nb; ++i) {
            append_token(path, std::to_string(i));
            write_op(w, "add", path, &b[i]);
            path.resize(base);
        }
        return;
    }
    // Scalars, or a change of type. rapidjson's == compares numbers by value (1 == 1.0),
    // which is JSON equality (RFC 6902 section 4.6).
    if (a != b) write_op(w, "replace", path, &b);
}

// Iterative parsing: the recursive parser overflows the stack on deep input (rapidjson
// issues #1027, #2282).
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag;

void parse_or_string(rapidjson::Document& doc, const std::string& text) {
    doc.Parse<kParseFlags>(text.data(), text.size());
    if (doc.HasParseError())
        doc.SetString(text.data(), static_cast<rapidjson::SizeType>(text.size()),
                      doc.GetAllocator());
}

// ---- applying ----

// An RFC 6901 pointer split into unescaped reference tokens; nullopt when malformed.
std::optional<std::vector<std::string>> parse_pointer(std::string_view text) {
    std::vector<std::string> tokens;
    if (text.empty()) return tokens;  // the whole document
    if (text[0] != '/') return std::nullopt;
    std::string token;
    for (size_t i = 1; i <= text.size(); ++i) {
        if (i == text.size() || text[i] == '/') {
            tokens.push_back(std::move(token));
            token.clear();
        } else if (text[i] == '~') {
            if (i + 1 >= text.size()) return std::nullopt;
            char next = text[++i];
            if (next == '0')
                token += '~';
            else if (next == '1')
                token += '/';
            else
                return std::nullopt;  // "~" followed by anything else is an error
        } else {
            token += text[i];
        }
    }
    return tokens;
}

// An array index per RFC 6901: "0" or digits without a leading zero.
std::optional<rapidjson::SizeType> parse_index(const std::string& token) {
    if (token.empty() || token.size() > 9) return std::nullopt;
    if (token.size() > 1 && token[0] == '0') return std::nullopt;
    rapidjson::SizeType n = 0;
    for (char c : token) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<rapidjson::SizeType>(c - '0');
    }
    return n;
}

rapidjson::Value::MemberIterator find_member(rapidjson::Value& obj, const std::string& name) {
    return obj.FindMember(rapidjson::Value(
        rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
}

// The value tokens[0..count) points to, or nullptr when it does not exist.
rapidjson::Value* resolve(rapidjson::Value& root, const std::vector<std::string>& tokens,
                          size_t count) {
    rapidjson::Value* cur = &root;
    for (size_t i = 0; i < count; ++i) {
        const std::string& t = tokens[i];
        if (cur->IsObject()) {
            auto m = find_member(*cur, t);
            if (m == cur->MemberEnd()) return nullptr;
            cur = &m->value;
        } else if (cur->IsArray()) {
            auto index = parse_index(t);
            if (!index || *index >= cur->Size()) return nullptr;
            cur = &(*cur)[*index];
        } else {
            return nullptr;
        }
    }
    return cur;
}

using Alloc = rapidjson::Document::AllocatorType;

// RFC 6902 4.1: into an object, add or replace the member; into an array, insert before the
// index (which may equal the size) or append for "-".
bool add_at(rapidjson::Document& doc, const std::vector<std::string>& path,
            rapidjson::Value&& value) {
    Alloc& alloc = doc.GetAllocator();
    if (path.empty()) {
        static_cast<rapidjson::Value&>(doc) = value;  // the whole document
        return true;
    }
    rapidjson::Value* parent = resolve(doc, path, path.size() - 1);
    if (!parent) return false;
    const std::string& last = path.back();
    if (parent->IsObject()) {
        auto m = find_member(*parent, last);
        if (m != parent->MemberEnd()) {
            m->value = value;
        } else {
            rapidjson::Value name(last.data(), static_cast<rapidjson::SizeType>(last.size()),
                                  alloc);
            parent->AddMember(name, value, alloc);
        }
        return true;
    }
    if (!parent->IsArray()) return false;
    rapidjson::SizeType size = parent->Size();
    rapidjson::SizeType index = size;
    if (last != "-") {
        auto parsed = parse_index(last);
        if (!parsed || *parsed > size) return false;
        index = *parsed;
    }
    // rapidjson has no insert: append, then swap the new element down into place.
    parent->PushBack(value, alloc);
    for (rapidjson::SizeType i = size; i > index; --i)
        (*parent)[i].Swap((*parent)[i - 1]);
    return true;
}

bool remove_at(rapidjson::Document& doc, const std::vector<std::string>& path) {
    if (path.empty()) return false;  // the document itself cannot be removed
    rapidjson::Value* parent = resolve(doc, path, path.size() - 1);
    if (!parent) return false;
    if (parent->IsObject()) {
        auto m = find_member(*parent, path.back());
        if (m == parent->MemberEnd()) return false;
        parent->EraseMember(m);  // EraseMember keeps the other members' order
        return true;
    }
    if (!parent->IsArray()) return false;
    auto index = parse_index(path.back());
    if (!index || *index >= parent->Size()) return false;
    parent->Erase(parent->Begin() + *index);
    return true;
}

bool is_proper_prefix(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    if (a.size() >= b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}

std::optional<std::vector<std::string>> member_pointer(const rapidjson::Value& op,
                                                       const char* name) {
    auto m = op.FindMember(name);
    if (m == op.MemberEnd() || !m->value.IsString()) return std::nullopt;
    return parse_pointer({m->value.GetString(), m->value.GetStringLength()});
}

bool apply_op(rapidjson::Document& doc, const rapidjson::Value& op) {
    if (!op.IsObject()) return false;
    auto op_member = op.FindMember("op");
    if (op_member == op.MemberEnd() || !op_member->value.IsString()) return false;
    std::string_view name(op_member->value.GetString(), op_member->value.GetStringLength());
    auto path = member_pointer(op, "path");
    if (!path) return false;
    auto value = op.FindMember("value");
    bool has_value = value != op.MemberEnd();
    Alloc& alloc = doc.GetAllocator();

    if (name == "add") {
        if (!has_value) return false;
        return add_at(doc, *path, rapidjson::Value(value->value, alloc));
    }
    if (name == "replace") {
        if (!has_value) return false;
        // 4.3: the target must exist. Replacing in place keeps an object's member order.
        rapidjson::Value* target = resolve(doc, *path, path->size());
        if (!target) return false;
        *target = rapidjson::Value(value->value, alloc);
        return true;
    }
    if (name == "remove") return remove_at(doc, *path);
    if (name == "test") {
        if (!has_value) return false;
        const rapidjson::Value* target = resolve(doc, *path, path->size());
        return target && *target == value->value;
    }
    if (name == "move" || name == "copy") {
        auto from = member_pointer(op, "from");
        if (!from) return false;
        rapidjson::Value* source = resolve(doc, *from, from->size());
        if (!source) return false;
        rapidjson::Value moved(*source, alloc);  // a deep copy, made before anything changes
        if (name == "move") {
            // 4.4: a location cannot be moved into one of its own children.
            if (is_proper_prefix(*from, *path)) return false;
            if (*from == *path) return true;
            if (!remove_at(doc, *from)) return false;
        }
        return add_at(doc, *path, std::move(moved));
    }
    return false;  // an unknown operation
}

}  // namespace

std::string json_patch(const rapidjson::Value& before, const rapidjson::Value& after) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    std::string path;
    w.StartArray();
    diff_values(w, path, before, after);
    w.EndArray();
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::string json_patch(const std::string& before_json, const std::string& after_json) {
    rapidjson::Document before, after;
    parse_or_string(before, before_json);
    parse_or_string(after, after_json);
    return json_patch(static_cast<const rapidjson::Value&>(before),
                      static_cast<const rapidjson::Value&>(after));
}

std::optional<std::string> change_with_patch(std::string record) {
    rapidjson::Document doc;
    doc.Parse<kParseFlags>(record.data(), record.size());
    if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
    // The first ,"before": is the top-level member: the members before it are strings, and
    // inside a JSON string a quote is always escaped.
    static constexpr std::string_view kBefore = ",\"before\":";
    const size_t at = record.find(kBefore);
    if (at == std::string::npos || doc.HasMember("patch")) return record;
    auto before = doc.FindMember("before"), after = doc.FindMember("after");
    if (before == doc.MemberEnd() || after == doc.MemberEnd()) return record;
    record.insert(at, ",\"patch\":" + json_patch(before->value, after->value));
    return record;
}

// All or nothing: the operations run on a copy that replaces doc only when every one
// succeeded (RFC 6902 section 5: an error ends the evaluation and the patch has not applied).
bool apply_json_patch(rapidjson::Document& doc, const rapidjson::Value& patch) {
    if (!patch.IsArray()) return false;
    rapidjson::Document work;
    work.CopyFrom(doc, work.GetAllocator());
    for (const auto& op : patch.GetArray())
        if (!apply_op(work, op)) return false;
    doc.Swap(work);
    return true;
}

}  // namespace ferry::store
