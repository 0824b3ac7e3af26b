// JSON objects that hold a key twice. RFC 8259 leaves their meaning open and readers
// disagree (Python keeps the last value, RapidJSON's FindMember finds the first), so JSON
// from outside (an inputs file, a request body) is refused with the key and its place
// rather than read one way here and meant another way by whoever wrote it.
//
// RapidJSON's DOM keeps no positions: the keys are seen as the reader passes them, in the
// same pass that builds the document, so the check costs no second parse.
#pragma once

#include "runtime/json_numbers.h"

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry {

// 1-based line and column (in bytes, as every FILE:LINE:COL Ferry prints) of a byte offset.
struct TextPosition {
    int line = 1;
    int column = 1;
};
TextPosition position_at(std::string_view text, size_t offset);

struct RepeatedKey {
    std::string key;
    size_t first_offset = 0;   // of the first occurrence's opening quote
    size_t repeat_offset = 0;  // of the second one's
};

struct JsonParse {
    rapidjson::ParseResult syntax;        // a syntax error and its offset, or ok
    std::optional<RepeatedKey> repeated;  // the repeat that comes first in the text
};

namespace json_repeats_detail {

// Offset of the opening quote of the string whose closing quote is just before `end`:
// the first quote going back that no backslash escapes.
size_t opening_quote_before(std::string_view text, size_t end);

// Passes every event on to the document being built and notes each object's keys.
template <class Stream>
class KeyNotingHandler : public json_sax::Forward<rapidjson::Document> {
  public:
    KeyNotingHandler(rapidjson::Document& doc, const Stream& in, std::string_view text)
        : Forward(doc), in_(in), text_(text) {}

    bool StartObject() {
        // Frames are kept and cleared, not freed: their capacity serves the next object.
        if (depth_ == frames_.size()) frames_.emplace_back();
        frames_[depth_++].clear();
        return next_.StartObject();
    }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) {
        frames_[depth_ - 1].emplace_back(std::string(s, n),
                                         opening_quote_before(text_, in_.Tell()));
        return next_.Key(s, n, copy);
    }
    bool EndObject(rapidjson::SizeType n) {
        note_repeats(frames_[--depth_]);
        return next_.EndObject(n);
    }

    std::optional<RepeatedKey> repeated;

  private:
    using Keys = std::vector<std::pair<std::string, size_t>>;  // key, offset

    // Sorted, equal keys sit together in text order: a run's first two are the first
    // occurrence and the repeat. Sorting keeps an object of n keys at n log n.
    void note_repeats(Keys& keys) {
        std::sort(keys.begin(), keys.end());
        for (size_t i = 1; i < keys.size(); ++i) {
            if (keys[i].first != keys[i - 1].first) continue;
            if (i >= 2 && keys[i - 2].first == keys[i].first) continue;  // a third one
            if (!repeated || keys[i].second < repeated->repeat_offset)
                repeated = RepeatedKey{keys[i].first, keys[i - 1].second, keys[i].second};
        }
    }

    const Stream& in_;
    std::string_view text_;
    std::vector<Keys> frames_;
    size_t depth_ = 0;
};

}  // namespace json_repeats_detail

// How a parse's problems read in byte offsets, where the text has no lines worth naming (a
// request body, a command-line value): "invalid JSON at byte N: reason" for a syntax
// error, "(at bytes A and B)" for the places of a repeated key.
std::string syntax_problem_at_byte(const rapidjson::ParseResult& syntax);
std::string repeat_places_in_bytes(const RepeatedKey& repeated);

// doc.Parse<Flags>(json), noting in the same pass the first key an object repeats (the
// document keeps both members). On a syntax error doc is left null.
template <unsigned Flags>
JsonParse parse_json_noting_repeats(rapidjson::Document& doc, std::string_view json) {
    rapidjson::MemoryStream bytes(json.data(), json.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(bytes);
    json_repeats_detail::KeyNotingHandler<decltype(in)> handler(doc, in, json);
    json_numbers::ExactNumbers<decltype(handler)> exact(handler);
    JsonParse out;
    // Populate hands the document to the generator as the handler and takes the root
    // value it built; Parse would make its own handler and leave no room for ours.
    auto generate = [&](rapidjson::Document&) {
        rapidjson::Reader reader;
        out.syntax = reader.Parse<json_numbers::exact(Flags)>(in, exact);
        json_numbers::refuse_text_after_nul(out.syntax, in, json.size());
        return !out.syntax.IsError();
    };
    doc.Populate(generate);
    if (!out.syntax.IsError()) out.repeated = std::move(handler.repeated);
    return out;
}

}  // namespace ferry
