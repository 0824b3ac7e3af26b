#include "core/printable.h"

#include <cstdio>

namespace ferry::engine {

namespace {

// U+2028, U+2029, U+202A-U+202E and U+2066-U+2069: E2 80 A8-AE and E2 81 A6-A9 in UTF-8.
unsigned invisible_format_at(std::string_view text, size_t i) {
    if (i + 2 >= text.size() || static_cast<unsigned char>(text[i]) != 0xE2) return 0;
    auto b1 = static_cast<unsigned char>(text[i + 1]);
    auto b2 = static_cast<unsigned char>(text[i + 2]);
    if (b1 == 0x80 && b2 >= 0xA8 && b2 <= 0xAE) return 0x2000u + (b2 - 0x80u);
    if (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9) return 0x2040u + (b2 - 0x80u);
    return 0;
}

}  // namespace

std::string printable(std::string_view text, bool one_line) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (unsigned format = invisible_format_at(text, i)) {
            char esc[16];
            std::snprintf(esc, sizeof esc, "\\u%04X", format);
            out += esc;
            i += 2;
            continue;
        }
        unsigned code = c;
        // C1 controls are U+0080-U+009F: C2 80 to C2 9F in UTF-8.
        if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9F &&
            static_cast<unsigned char>(text[i + 1]) >= 0x80)
            code = static_cast<unsigned char>(text[++i]);
        bool control = (code < 0x20 && code != '\n' && code != '\t') || code == 0x7F ||
                       (code >= 0x80 && code <= 0x9F && code != c);
        if (one_line && code == '\n') {
            out += "\\n";
        } else if (control) {
            char esc[16];
            std::snprintf(esc, sizeof esc, "\\x%02X", code);
            out += esc;
        } else {
            out += char(c);
        }
    }
    return out;
}

}  // namespace ferry::engine
