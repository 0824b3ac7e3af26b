// JSON numbers read exactly. Debian's RapidJSON 1.1.0 reads a zero significand with a large
// negative exponent ("0e-34") in its full-precision mode through clz(0), undefined
// behaviour that gives garbage (4.2e-53, or another value in another build); tests/fuzz
// found it. With kParseNumbersAsStringsFlag the reader hands each number over as its text
// instead, and ExactNumbers converts it with std::from_chars: correctly rounded, as
// Python's json module reads it. Integers stay integers up to 64 bits and become doubles
// beyond, as RapidJSON reads them.
//
// Header-only and RapidJSON-only, so the template library (which knows nothing else of the
// runtime) reads JSON the same way.
#pragma once

#include "runtime/json_sax.h"

#include <rapidjson/reader.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace ferry::json_numbers {

// What a reader's flags become: numbers as text (converted here), never RapidJSON's own
// full-precision conversion.
constexpr unsigned exact(unsigned flags) {
    return (flags & ~unsigned(rapidjson::kParseFullPrecisionFlag)) |
           rapidjson::kParseNumbersAsStringsFlag;
}

// Hands the number written as [s, s + n) to next as Int64, Uint64 or Double.
template <class Next>
bool forward(Next& next, const char* s, size_t n) {
    const char* end = s + n;
    bool integer = std::none_of(
        s, end, [](char c) { return c == '.' || c == 'e' || c == 'E' || c == 'N' || c == 'I'; });
    if (integer) {
        if (n > 0 && *s == '-') {
            int64_t v = 0;
            auto r = std::from_chars(s, end, v);
            if (r.ec == std::errc() && r.ptr == end) return next.Int64(v);
        } else {
            uint64_t v = 0;
            auto r = std::from_chars(s, end, v);
            if (r.ec == std::errc() && r.ptr == end) return next.Uint64(v);
        }
    }
    double d = 0;
    auto r = std::from_chars(s, end, d);
    if (r.ec == std::errc() && r.ptr == end) return next.Double(d);
    // Out of range (1e400, 1e-400): from_chars leaves d alone; strtod gives the infinity or
    // the zero (glibc's is correctly rounded too; the C locale reads '.').
    std::string text(s, n);
    return next.Double(std::strtod(text.c_str(), nullptr));
}

// Passes every SAX event on to next, numbers converted by forward().
template <class Next>
class ExactNumbers : public json_sax::Forward<Next> {
  public:
    using json_sax::Forward<Next>::Forward;
    bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
        return forward(this->next_, s, n);
    }
};

// RapidJSON's streams say '\0' at their end, so a NUL byte after the value reads as the
// end of the text ({"a": 1}\0garbage passed): a parse of `size` bytes that stopped short of
// them is the error the rest would have been.
template <class Stream>
void refuse_text_after_nul(rapidjson::ParseResult& result, Stream& in, size_t size) {
    if (!result.IsError() && in.Tell() < size)
        result = rapidjson::ParseResult(rapidjson::kParseErrorDocumentRootNotSingular, in.Tell());
}

// Runs the reader over `in` into doc, numbers read exactly; doc is left null on an error.
// `size`: the text's length, for a stream that ends there (not a NUL-terminated one).
template <unsigned Flags, class Document, class Stream>
rapidjson::ParseResult parse_stream(Document& doc, Stream& in, size_t size = 0) {
    rapidjson::ParseResult result;
    auto generate = [&](Document& d) {
        ExactNumbers<Document> handler(d);
        rapidjson::Reader reader;
        result = reader.Parse<exact(Flags)>(in, handler);
        if (size) refuse_text_after_nul(result, in, size);
        return !result.IsError();
    };
    doc.Populate(generate);
    return result;
}

// doc.Parse<Flags>(text, length), numbers read exactly.
template <unsigned Flags, class Document>
rapidjson::ParseResult parse(Document& doc, const char* text, size_t length) {
    rapidjson::MemoryStream bytes(text, length);
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(bytes);
    return parse_stream<Flags>(doc, in, length);
}

// doc.ParseInsitu<Flags>(text), numbers read exactly: strings stay in text (NUL-terminated,
// rewritten in place), which must outlive doc.
template <unsigned Flags, class Document>
rapidjson::ParseResult parse_insitu(Document& doc, char* text) {
    rapidjson::InsituStringStream in(text);
    return parse_stream<Flags | rapidjson::kParseInsituFlag>(doc, in);
}

}  // namespace ferry::json_numbers
