#include "runtime/json_members.h"

#include <rapidjson/reader.h>

namespace ferry {

namespace {

// A NUL-terminated text read by rapidjson. Not rapidjson::StringStream: the reader works on a
// copy of that one and writes its position back only after calling the handler, so Tell()
// in a handler would lag behind.
struct TextStream {
    using Ch = char;
    const char* at;
    const char* begin;
    Ch Peek() const { return *at; }
    Ch Take() { return *at++; }
    size_t Tell() const { return size_t(at - begin); }
    Ch* PutBegin() { return nullptr; }  // read only
    void Put(Ch) {}
    void Flush() {}
    size_t PutEnd(Ch*) { return 0; }
};

// For the iterative reader: in the handler, the stream is just past a key's closing quote
// and just past a scalar, but still at the closing bracket of an object or array it ends
// (the unit tests pin this).
class MemberSpans : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, MemberSpans> {
  public:
    MemberSpans(std::string_view text, const TextStream& in) : text_(text), in_(in) {}

    JsonMembers members;

    bool Default() { return depth_ != 1 || end_value(in_.Tell()); }
    bool String(const char*, rapidjson::SizeType, bool) { return Default(); }
    bool Key(const char* name, rapidjson::SizeType length, bool) {
        if (depth_ != 1) return true;
        key_.assign(name, length);
        size_t at = in_.Tell();  // whitespace, ':', whitespace, then the value
        while (at < text_.size() && text_[at] != ':')
            ++at;
        start_ = text_.find_first_not_of(" \t\n\r", at + 1);
        return start_ != std::string_view::npos;
    }
    bool StartObject() { return ++depth_, true; }
    bool EndObject(rapidjson::SizeType) { return --depth_ != 1 || end_value(in_.Tell() + 1); }
    bool StartArray() { return depth_ == 0 ? false : (++depth_, true); }
    bool EndArray(rapidjson::SizeType) { return --depth_ != 1 || end_value(in_.Tell() + 1); }

  private:
    bool end_value(size_t end) {
        members.emplace_back(std::move(key_), text_.substr(start_, end - start_));
        return true;
    }
    std::string_view text_;
    const TextStream& in_;
    int depth_ = 0;
    std::string key_;
    size_t start_ = 0;
};

}  // namespace

std::optional<JsonMembers> json_members(const std::string& json) {
    size_t open = json.find_first_not_of(" \t\n\r");
    if (open == std::string::npos || json[open] != '{') return std::nullopt;
    // The reader stops at a NUL: one inside the text would end it early, unseen.
    if (json.find('\0') != std::string::npos) return std::nullopt;
    TextStream in{json.c_str(), json.c_str()};
    MemberSpans spans(json, in);
    rapidjson::Reader reader;
    // Iterative: the depth of what a value nests does not reach the C++ stack.
    if (!reader.Parse<rapidjson::kParseIterativeFlag>(in, spans)) return std::nullopt;
    return std::move(spans.members);
}

const std::string_view* json_member(const JsonMembers& members, std::string_view key) {
    for (const auto& [k, value] : members)
        if (k == key) return &value;
    return nullptr;
}

std::string json_object_of(const JsonMembers& members, std::span<const char* const> keys) {
    std::string out = "{";
    for (const char* key : keys) {
        const std::string_view* value = json_member(members, key);
        if (!value) continue;
        if (out.size() > 1) out += ',';
        out.append("\"").append(key).append("\":").append(*value);
    }
    out += '}';
    return out;
}

}  // namespace ferry
