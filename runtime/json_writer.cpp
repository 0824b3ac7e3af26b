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

// Writes the escape of c at w; returns the new end.
char* write_escape(char* w, unsigned char c) {
    static const char kHex[] = "0123456789ABCDEF";
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
    *w++ = '\\';
    if (short_form) {
        *w++ = short_form;
        return w;
    }
    std::memcpy(w, "u00", 3);
    w[3] = kHex[c >> 4];
    w[4] = kHex[c & 0xF];
    return w + 5;
}

}  // namespace

void append_json_escaped(rapidjson::StringBuffer& out, std::string_view text) {
    // Room for the worst case (every byte a \u00XX) taken once, the unused part given back at
    // the end: one reservation per string however many runs and escapes it has. Output byte
    // i lies at most 6 * i past the start, so a 16-byte store at w never passes the room.
    const size_t n = text.size();
    const char* s = text.data();
    char* const start = out.Push(n * 6);
    char* w = start;
    size_t i = 0;
#if defined(__SSE2__)
    // 16 bytes at a time while 16 are left: unaligned loads inside the text (nothing past
    // its end is read), stored whole, kept up to the first byte that needs escaping.
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i control_max = _mm_set1_epi8(0x1F);
    while (i + 16 <= n) {
        __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
        // c <= 0x1F unsigned  <=>  max(c, 0x1F) == 0x1F
        __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(c, control_max), control_max);
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(c, quote), _mm_cmpeq_epi8(c, backslash)), control);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(w), c);
        int mask = _mm_movemask_epi8(hit);
        if (!mask) {
            w += 16;
            i += 16;
            continue;
        }
        size_t clean = size_t(__builtin_ctz(unsigned(mask)));
        w = write_escape(w + clean, static_cast<unsigned char>(s[i + clean]));
        i += clean + 1;
    }
#endif
    for (; i < n; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (needs_escape(c))
            w = write_escape(w, c);
        else
            *w++ = char(c);
    }
    out.Pop(n * 6 - size_t(w - start));
}

std::string json_text(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace ferry
