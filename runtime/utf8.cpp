#include "runtime/utf8.h"

#include <cstdint>
#include <cstring>

namespace ferry {

size_t invalid_utf8_at(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        // ASCII eight bytes at a time: every string a task returns is checked, most text is
        // ASCII, and a byte at a time was 2 % of the ticket benchmark (a 5.5 KB report).
        while (i + 8 <= n) {
            uint64_t word;
            std::memcpy(&word, p + i, 8);
            if (word & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c == 0xE0)
            len = 3, lo = 0xA0;
        else if (c == 0xED)
            len = 3, hi = 0x9F;  // excludes surrogates D800-DFFF
        else if (c >= 0xE1 && c <= 0xEF)
            len = 3;
        else if (c == 0xF0)
            len = 4, lo = 0x90;
        else if (c == 0xF4)
            len = 4, hi = 0x8F;  // nothing above U+10FFFF
        else if (c >= 0xF1 && c <= 0xF3)
            len = 4;
        else
            return i;
        if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
        for (size_t k = 2; k < len; ++k)
            if ((p[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return std::string_view::npos;
}

namespace {

char lower_ascii(char c) {
    return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

// Whether json[at] is a backslash that starts an escape (not itself escaped).
bool escape_starts_at(std::string_view json, size_t at) {
    size_t first = at;
    while (first > 0 && json[first - 1] == '\\')
        --first;
    return (at - first) % 2 == 0;
}

}  // namespace

size_t lone_low_surrogate_escape_at(std::string_view json, size_t from) {
    for (size_t i = json.find("\\u", from); i != std::string_view::npos;
         i = json.find("\\u", i + 1)) {
        if (i + 6 > json.size()) break;
        char d = lower_ascii(json[i + 2]), x = lower_ascii(json[i + 3]);
        if (d != 'd' || x < 'c' || x > 'f' || !escape_starts_at(json, i)) continue;
        bool after_high =
            i >= 6 && json[i - 6] == '\\' && json[i - 5] == 'u' &&
            lower_ascii(json[i - 4]) == 'd' &&
            std::string_view("89ab").find(lower_ascii(json[i - 3])) != std::string_view::npos &&
            escape_starts_at(json, i - 6);
        if (!after_high) return i;
    }
    return std::string_view::npos;
}

std::string to_valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 16);
    while (!s.empty()) {
        size_t bad = invalid_utf8_at(s);
        if (bad == std::string_view::npos) {
            out.append(s);
            break;
        }
        out.append(s.substr(0, bad));
        out.append("\xEF\xBF\xBD");
        s.remove_prefix(bad + 1);
    }
    return out;
}

}  // namespace ferry
