#include "core/printable.h"

#include <cstdio>

namespace ferry::engine {

namespace {

// The characters that reorder or break text unseen: U+2028, U+2029, the bidi embeddings
// and overrides U+202A-U+202E, the isolates U+2066-U+2069, and the marks U+200E, U+200F
// and U+061C. Returns the code point, and its UTF-8 length in *length; 0 for another.
unsigned invisible_format_at(std::string_view text, size_t i, size_t* length) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
    if (i + 1 < text.size() && byte(0) == 0xD8 && byte(1) == 0x9C) {
        *length = 2;
        return 0x061C;
    }
    if (i + 2 >= text.size() || byte(0) != 0xE2) return 0;
    *length = 3;
    if (byte(1) == 0x80 && byte(2) >= 0xA8 && byte(2) <= 0xAE) return 0x2000u + (byte(2) - 0x80u);
    if (byte(1) == 0x80 && (byte(2) == 0x8E || byte(2) == 0x8F)) return 0x2000u + (byte(2) - 0x80u);
    if (byte(1) == 0x81 && byte(2) >= 0xA6 && byte(2) <= 0xA9) return 0x2040u + (byte(2) - 0x80u);
    return 0;
}

}  // namespace

std::string printable(std::string_view text, bool one_line) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        size_t length = 0;
        if (unsigned format = invisible_format_at(text, i, &length)) {
            char esc[16];
            std::snprintf(esc, sizeof esc, "\\u%04X", format);
            out += esc;
            i += length - 1;
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
