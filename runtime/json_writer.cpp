#include "runtime/json_writer.h"

#include <rapidjson/internal/dtoa.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

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

// Nonzero when a byte of x needs escaping (< 0x20, '"' or '\\'): the classic SWAR tests for
// a zero byte and a byte below n (exact as a yes/no, which is all that is used).
template <class Word>
Word special_bytes(Word x) {
    constexpr Word kOnes = Word(~Word(0)) / 0xFF;
    constexpr Word kHighs = kOnes * 0x80;
    auto has_zero = [](Word v) { return Word((v - kOnes) & ~v & kHighs); };
    Word below_space = Word((x - kOnes * 0x20) & ~x & kHighs);
    return below_space | has_zero(x ^ (kOnes * '"')) | has_zero(x ^ (kOnes * '\\'));
}

// Strings of 4 to 15 bytes (most keys and many values) are checked as two overlapping words
// and, when clean, copied the same way: no loop over their bytes.
template <class Word>
bool copy_if_clean(char* w, const char* s, size_t n) {
    Word head, tail;
    std::memcpy(&head, s, sizeof head);
    std::memcpy(&tail, s + n - sizeof tail, sizeof tail);
    if (special_bytes(head) | special_bytes(tail)) return false;
    std::memcpy(w, &head, sizeof head);
    std::memcpy(w + n - sizeof tail, &tail, sizeof tail);
    return true;
}

char* escape_bytewise(char* w, const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (needs_escape(c))
            w = write_escape(w, c);
        else
            *w++ = char(c);
    }
    return w;
}

}  // namespace

size_t json_escaped_size(std::string_view text) {
    size_t size = text.size();
    auto add_escapes = [&size](const char* s, size_t n) {
        for (size_t i = 0; i < n; ++i) {
            unsigned char c = static_cast<unsigned char>(s[i]);
            if (!needs_escape(c)) continue;
            char escape[6];
            size += size_t(write_escape(escape, c) - escape) - 1;
        }
    };
    // Eight bytes at a time: most text has nothing to escape (a typed value measured before
    // it is kept is often a rendered ticket body).
    const char* s = text.data();
    size_t i = 0;
    for (; i + 8 <= text.size(); i += 8) {
        uint64_t word;
        std::memcpy(&word, s + i, 8);
        if (special_bytes(word)) add_escapes(s + i, 8);
    }
    add_escapes(s + i, text.size() - i);
    return size;
}

char* write_json_escaped(char* w, std::string_view text) {
    const size_t n = text.size();
    const char* s = text.data();
    if (n < 16) {
        if (n >= 8 && copy_if_clean<uint64_t>(w, s, n)) return w + n;
        if (n >= 4 && n < 8 && copy_if_clean<uint32_t>(w, s, n)) return w + n;
        return escape_bytewise(w, s, n);
    }
    size_t i = 0;
#if defined(__SSE2__)
    // 16 bytes at a time: unaligned loads inside the text (nothing past its end is read),
    // stored whole, kept up to the first byte that needs escaping. Output byte i lies at
    // most 6 * i past the start, so a 16-byte store at w never passes the room.
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i control_max = _mm_set1_epi8(0x1F);
    auto special = [&](__m128i c) {
        // c <= 0x1F unsigned  <=>  max(c, 0x1F) == 0x1F
        __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(c, control_max), control_max);
        return unsigned(_mm_movemask_epi8(_mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(c, quote), _mm_cmpeq_epi8(c, backslash)), control)));
    };
    while (i + 16 <= n) {
        __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(w), c);
        unsigned mask = special(c);
        if (!mask) {
            w += 16;
            i += 16;
            continue;
        }
        size_t clean = size_t(__builtin_ctz(mask));
        w = write_escape(w + clean, static_cast<unsigned char>(s[i + clean]));
        i += clean + 1;
    }
    if (i < n) {
        // The last bytes: the final 16 of the text, loaded once (they overlap what is
        // done), with the bits of the bytes already written shifted out.
        const size_t last = n - 16;
        unsigned mask =
            special(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + last))) >> (i - last);
        while (mask) {
            size_t clean = size_t(__builtin_ctz(mask));
            std::memcpy(w, s + i, clean);
            w = write_escape(w + clean, static_cast<unsigned char>(s[i + clean]));
            i += clean + 1;
            mask >>= clean + 1;
        }
        std::memcpy(w, s + i, n - i);
        w += n - i;
    }
    return w;
#else
    return escape_bytewise(w, s + i, n - i);
#endif
}

void append_json_escaped_blocks(rapidjson::StringBuffer& out, std::string_view text) {
    // The worst-case room is taken a block at a time: the buffer grows with what is written,
    // not six times as fast (a 2 KB text reserving 12 KB reallocated most buffers it went to).
    while (!text.empty()) {
        const size_t n = std::min(text.size(), kEscapeBlock);
        append_json_escaped(out, text.substr(0, n));
        text.remove_prefix(n);
    }
}

std::string json_text(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

char* write_json_double(char* w, double v) {
    // Exact when m / 1000.0 == v: the text "I.FFF" then parses back to v (both are the
    // double nearest to the same rational), and no shorter text does, since two decimals of
    // three places lie far more than an ulp apart below 1e9.
    constexpr double kFixedLimit = 1e9;  // ulp 1.2e-7: far below 0.001
    const double magnitude = std::fabs(v);
    if (magnitude < kFixedLimit && magnitude >= 0.001) {
        const auto m = static_cast<int64_t>(std::llround(magnitude * 1000.0));
        if (static_cast<double>(m) / 1000.0 == magnitude) {
            if (std::signbit(v)) *w++ = '-';
            w = std::to_chars(w, w + 24, m / 1000).ptr;
            *w++ = '.';
            int64_t fraction = m % 1000;
            if (fraction == 0) {
                *w++ = '0';  // rapidjson writes integral doubles as "N.0"
                return w;
            }
            const char digits[3] = {char('0' + fraction / 100), char('0' + fraction / 10 % 10),
                                    char('0' + fraction % 10)};
            int n = 3;
            while (digits[n - 1] == '0')
                --n;
            std::memcpy(w, digits, size_t(n));
            return w + n;
        }
    }
    return rapidjson::internal::dtoa(v, w);
}

namespace {

constexpr size_t kMaxKeptScratch = 64 * 1024;
constexpr size_t kKeptScratchBuffers = 4;

std::vector<std::unique_ptr<rapidjson::StringBuffer>>& spare_scratch_buffers() {
    thread_local std::vector<std::unique_ptr<rapidjson::StringBuffer>> spare;
    return spare;
}

}  // namespace

ScratchBuffer::ScratchBuffer() {
    auto& spare = spare_scratch_buffers();
    if (spare.empty()) {
        auto fresh = std::make_unique<rapidjson::StringBuffer>();
        fresh->Reserve(1024);
        buffer_ = fresh.release();
        return;
    }
    buffer_ = spare.back().release();
    spare.pop_back();
}

ScratchBuffer::~ScratchBuffer() {
    std::unique_ptr<rapidjson::StringBuffer> owned(buffer_);
    auto& spare = spare_scratch_buffers();
    if (spare.size() >= kKeptScratchBuffers || buffer_->stack_.GetCapacity() > kMaxKeptScratch)
        return;  // freed
    buffer_->Clear();
    spare.push_back(std::move(owned));
}

}  // namespace ferry
