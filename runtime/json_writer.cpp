#include "runtime/json_writer.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ferry {
namespace {

bool needs_escape(unsigned char c) {
    return c < 0x20 || c == '"' || c == '\\';
}

// The index of the first character from `from` on that needs escaping, or text.size().
size_t next_escape(std::string_view text, size_t from) {
    size_t i = from;
#if defined(__SSE2__)
    // Unaligned loads that stay inside the text: nothing past its end is read.
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i control_max = _mm_set1_epi8(0x1F);
    for (; i + 16 <= text.size(); i += 16) {
        __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
        // c <= 0x1F unsigned  <=>  max(c, 0x1F) == 0x1F
        __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(c, control_max), control_max);
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(c, quote), _mm_cmpeq_epi8(c, backslash)), control);
        if (int mask = _mm_movemask_epi8(hit)) return i + size_t(__builtin_ctz(unsigned(mask)));
    }
#endif
    for (; i < text.size(); ++i)
        if (needs_escape(static_cast<unsigned char>(text[i]))) return i;
    return text.size();
}

} // namespace

void append_json_escaped(rapidjson::StringBuffer& out, std::string_view text) {
    static const char kHex[] = "0123456789ABCDEF";
    size_t at = 0;
    while (at < text.size()) {
        size_t stop = next_escape(text, at);
        if (stop > at) std::memcpy(out.Push(stop - at), text.data() + at, stop - at);
        if (stop == text.size()) return;
        unsigned char c = static_cast<unsigned char>(text[stop]);
        char short_form = 0;
        switch (c) {
        case '"': short_form = '"'; break;
        case '\\': short_form = '\\'; break;
        case '\b': short_form = 'b'; break;
        case '\f': short_form = 'f'; break;
        case '\n': short_form = 'n'; break;
        case '\r': short_form = 'r'; break;
        case '\t': short_form = 't'; break;
        default: break;
        }
        if (short_form) {
            char* p = out.Push(2);
            p[0] = '\\';
            p[1] = short_form;
        } else {
            char* p = out.Push(6);
            std::memcpy(p, "\\u00", 4);
            p[4] = kHex[c >> 4];
            p[5] = kHex[c & 0xF];
        }
        at = stop + 1;
    }
}

std::string json_text(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

} // namespace ferry
