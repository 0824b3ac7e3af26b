// Code-point string helpers with Python's semantics. Character classes and simple case
// mappings come from glibc's C.UTF-8 locale (Unicode data, no ICU needed); Python's full
// case mappings that expand one character into several (SpecialCasing.txt) are listed here.
#include "template/value.h"

#include <clocale>
#include <cwctype>
#include <locale.h>

namespace ferry::tmpl {

namespace {

locale_t unicode_locale() {
    static locale_t loc = [] {
        locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
        if (!l) l = newlocale(LC_CTYPE_MASK, "C", static_cast<locale_t>(nullptr));
        return l;
    }();
    return loc;
}

struct Expansion {
    char32_t from;
    const char32_t* to;
};

// Unconditional one-to-many mappings of SpecialCasing.txt that Python's str.upper applies.
constexpr Expansion kUpperExpansions[] = {
    {U'\u00DF', U"SS"},           {U'\uFB00', U"FF"},      {U'\uFB01', U"FI"},
    {U'\uFB02', U"FL"},           {U'\uFB03', U"FFI"},     {U'\uFB04', U"FFL"},
    {U'\uFB05', U"ST"},           {U'\uFB06', U"ST"},      {U'\u0149', U"\u02BCN"},
    {U'\u01F0', U"J\u030C"},      {U'\u0390', U"\u0399\u0308\u0301"},
    {U'\u03B0', U"\u03A5\u0308\u0301"}, {U'\u0587', U"\u0535\u0552"},
    {U'\u1E96', U"H\u0331"},      {U'\u1E97', U"T\u0308"}, {U'\u1E98', U"W\u030A"},
    {U'\u1E99', U"Y\u030A"},      {U'\u1E9A', U"A\u02BE"},
};

}  // namespace

std::u32string utf8_decode(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        char32_t cp;
        size_t n;
        if (c < 0x80) {
            cp = c;
            n = 1;
        } else if ((c & 0xe0) == 0xc0) {
            cp = c & 0x1f;
            n = 2;
        } else if ((c & 0xf0) == 0xe0) {
            cp = c & 0x0f;
            n = 3;
        } else if ((c & 0xf8) == 0xf0) {
            cp = c & 0x07;
            n = 4;
        } else {
            out += U'\uFFFD';
            ++i;
            continue;
        }
        if (i + n > s.size()) {
            out += U'\uFFFD';
            ++i;
            continue;
        }
        bool ok = true;
        for (size_t k = 1; k < n; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) {
                ok = false;
                break;
            }
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (!ok) {
            out += U'\uFFFD';
            ++i;
            continue;
        }
        out += cp;
        i += n;
    }
    return out;
}

void utf8_append(char32_t cp, std::string& out) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xc0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += char(0xe0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3f));
        out += char(0x80 | (cp & 0x3f));
    } else {
        out += char(0xf0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3f));
        out += char(0x80 | ((cp >> 6) & 0x3f));
        out += char(0x80 | (cp & 0x3f));
    }
}

std::string utf8_encode(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s) utf8_append(c, out);
    return out;
}

size_t utf8_length(std::string_view s) {
    size_t n = 0;
    for (char c : s)
        if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;
    return n;
}

char32_t char_upper(char32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
    return char32_t(towupper_l(wint_t(c), unicode_locale()));
}

char32_t char_lower(char32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    return char32_t(towlower_l(wint_t(c), unicode_locale()));
}

std::string str_upper(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    bool ascii = true;
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) ascii = false;
    if (ascii) {
        for (char c : s) out += (c >= 'a' && c <= 'z') ? char(c - 32) : c;
        return out;
    }
    for (char32_t c : utf8_decode(s)) {
        const Expansion* exp = nullptr;
        for (const auto& e : kUpperExpansions)
            if (e.from == c) exp = &e;
        if (exp) {
            for (const char32_t* p = exp->to; *p; ++p) utf8_append(*p, out);
        } else {
            utf8_append(char_upper(c), out);
        }
    }
    return out;
}

std::string str_lower(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    bool ascii = true;
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) ascii = false;
    if (ascii) {
        for (char c : s) out += (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
        return out;
    }
    for (char32_t c : utf8_decode(s)) {
        if (c == U'\u0130') {  // İ lowercases to i + combining dot above
            out += 'i';
            utf8_append(U'\u0307', out);
        } else {
            utf8_append(char_lower(c), out);
        }
    }
    return out;
}

bool char_is_space(char32_t c) {
    // Python's str.isspace: Unicode White_Space plus the ASCII separators 0x1c-0x1f.
    switch (c) {
    case ' ': case '\t': case '\n': case '\v': case '\f': case '\r':
    case 0x1c: case 0x1d: case 0x1e: case 0x1f: case 0x85: case 0xa0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
        return true;
    default: return c >= 0x2000 && c <= 0x200a;
    }
}

bool char_is_alpha(char32_t c) {
    if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    return iswalpha_l(wint_t(c), unicode_locale()) != 0;
}

bool char_is_digit(char32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    return iswdigit_l(wint_t(c), unicode_locale()) != 0;
}

bool char_is_alnum(char32_t c) { return char_is_alpha(c) || char_is_digit(c); }

bool char_is_upper(char32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z';
    return iswupper_l(wint_t(c), unicode_locale()) != 0;
}

bool char_is_lower(char32_t c) {
    if (c < 0x80) return c >= 'a' && c <= 'z';
    return iswlower_l(wint_t(c), unicode_locale()) != 0;
}

void append_html_escaped(std::string_view s, std::string& out) {
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '\'': out += "&#39;"; break;
        case '"': out += "&#34;"; break;
        default: out += c;
        }
    }
}

}  // namespace ferry::tmpl
