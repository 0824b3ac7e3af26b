// Code-point string helpers with Python's semantics. Character classes and simple case
// mappings come from glibc's C.UTF-8 locale (Unicode data, no ICU needed); Python's full
// case mappings that expand one character into several (SpecialCasing.txt) are listed here.
#include "template/value.h"

#include "template/methods_internal.h"
#include "template/unicode_data.h"

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
    for (char32_t c : s)
        utf8_append(c, out);
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

// Python's str.upper/str.lower, with full case mappings and final sigma: the same code the
// str methods use (str_case.cpp), so the upper filter and "x".upper() never disagree.
// ASCII text (the common case) is mapped here; do_upper/do_lower call back for it.
std::string str_upper(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return methods::do_upper(s);
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = char(c - 32);
    return out;
}

std::string str_lower(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return methods::do_lower(s);
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c + 32);
    return out;
}

bool char_is_space(char32_t c) {
    // Python's str.isspace: Unicode White_Space plus the ASCII separators 0x1c-0x1f.
    switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case 0x1c:
    case 0x1d:
    case 0x1e:
    case 0x1f:
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000: return true;
    default: return c >= 0x2000 && c <= 0x200a;
    }
}

bool char_is_alpha(char32_t c) {
    if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    return uni::is_alpha(c);
}

bool char_is_digit(char32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    return uni::is_digit(c);
}

bool char_is_alnum(char32_t c) {
    return char_is_alpha(c) || char_is_digit(c);
}

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
    // Up to five times the text: escaping a string near the cap passes it.
    check_built_size(out.size(), "escaping");
}

Value markup_concat(std::string_view a, bool a_safe, std::string_view b, bool b_safe) {
    std::string out;
    if (a_safe || b_safe) {
        if (a_safe)
            out += a;
        else
            append_html_escaped(a, out);
        if (b_safe)
            out += b;
        else
            append_html_escaped(b, out);
        return Value::string(std::move(out), true);
    }
    out.reserve(a.size() + b.size());
    out += a;
    out += b;
    return Value::string(std::move(out));
}

}  // namespace ferry::tmpl
