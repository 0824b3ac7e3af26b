// Python's str case mappings and character-class predicates (upper, lower, title, swapcase,
// casefold, capitalize; isalpha, isdigit, istitle...) for str_methods.cpp: by code point, with
// Python's full case mappings, final sigma and Unicode 14 classes (unicode_data.h).
#include "template/methods_internal.h"
#include "template/unicode_data.h"

#include <algorithm>

namespace ferry::tmpl::methods {

namespace {

using U32 = std::u32string;
using U32View = std::u32string_view;

U32 U(std::string_view s) {
    return utf8_decode(s);
}
std::string E(U32View s) {
    return utf8_encode(s);
}

// ---- characters ---------------------------------------------------------------------------

bool is_titlecase(char32_t c) {  // category Lt
    return c == 0x1C5 || c == 0x1C8 || c == 0x1CB || c == 0x1F2 || (c >= 0x1F88 && c <= 0x1F8F) ||
           (c >= 0x1F98 && c <= 0x1F9F) || (c >= 0x1FA8 && c <= 0x1FAF) || c == 0x1FBC ||
           c == 0x1FCC || c == 0x1FFC;
}
// Python's Uppercase/Lowercase: glibc's classes, except that glibc counts titlecase letters.
bool py_isupper(char32_t c) {
    return char_is_upper(c) && !is_titlecase(c);
}
bool py_islower(char32_t c) {
    return char_is_lower(c) && !is_titlecase(c);
}

void append_cps(const char32_t* s, U32& out) {
    while (*s)
        out += *s++;
}

void upper_full(char32_t c, U32& out) {
    if (const char32_t* x = uni::upper_expansion(c))
        append_cps(x, out);
    else
        out += char_upper(c);
}

void title_full(char32_t c, U32& out) {
    if (const char32_t* x = uni::title_special(c))
        append_cps(x, out);
    else
        upper_full(c, out);
}

// Python's lower_ucs4: 'İ' lowers to "i̇", and 'Σ' to final 'ς' at the end of a word.
void lower_full(U32View s, size_t i, U32& out) {
    char32_t c = s[i];
    if (c == 0x130) {
        out += U"i\u0307";
        return;
    }
    if (c != 0x3A3) {
        out += char_lower(c);
        return;
    }
    // Final_Sigma: preceded by a cased letter and not followed by one (case-ignorable
    // characters skipped on both sides).
    size_t j = i;
    char32_t before = 0;
    bool found = false;
    while (j > 0) {
        before = s[--j];
        if (!uni::is_case_ignorable(before)) {
            found = true;
            break;
        }
    }
    bool final_sigma = found && uni::is_cased(before);
    if (final_sigma) {
        for (j = i + 1; j < s.size(); ++j) {
            if (!uni::is_case_ignorable(s[j])) {
                final_sigma = !uni::is_cased(s[j]);
                break;
            }
        }
    }
    out += final_sigma ? char32_t(0x3C2) : char32_t(0x3C3);
}

bool is_ascii_only(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

template <class Pred>
bool all_chars(std::string_view s, Pred pred) {
    if (s.empty()) return false;
    for (char32_t c : U(s))
        if (!pred(c)) return false;
    return true;
}

bool cased_check(std::string_view s, bool upper) {
    bool cased = false;
    for (char32_t c : U(s)) {
        bool same = upper ? py_isupper(c) : py_islower(c);
        bool other = upper ? py_islower(c) : py_isupper(c);
        if (other || is_titlecase(c)) return false;
        if (same) cased = true;
    }
    return cased;
}

bool is_title_string(std::string_view s) {
    bool cased = false, previous_cased = false;
    for (char32_t c : U(s)) {
        if (py_isupper(c) || is_titlecase(c)) {
            if (previous_cased) return false;
            previous_cased = cased = true;
        } else if (py_islower(c)) {
            if (!previous_cased) return false;
            previous_cased = cased = true;
        } else {
            previous_cased = false;
        }
    }
    return cased;
}

}  // namespace

// ---- case mapping --------------------------------------------------------------------------

std::string do_upper(std::string_view s) {
    if (is_ascii_only(s)) return str_upper(s);
    U32 out;
    for (char32_t c : U(s))
        upper_full(c, out);
    return E(out);
}

std::string do_lower(std::string_view s) {
    if (is_ascii_only(s)) return str_lower(s);
    U32 cps = U(s), out;
    for (size_t i = 0; i < cps.size(); ++i)
        lower_full(cps, i, out);
    return E(out);
}

std::string do_casefold(std::string_view s) {
    if (is_ascii_only(s)) return str_lower(s);
    U32 cps = U(s), out;
    for (char32_t c : cps) {
        if (const char32_t* x = uni::fold_special(c))
            append_cps(x, out);
        else if (c == 0x130)
            out += U"i\u0307";
        else
            out += char_lower(c);
    }
    return E(out);
}

std::string do_swapcase(std::string_view s) {
    U32 cps = U(s), out;
    for (size_t i = 0; i < cps.size(); ++i) {
        char32_t c = cps[i];
        if (py_isupper(c))
            lower_full(cps, i, out);
        else if (py_islower(c))
            upper_full(c, out);
        else
            out += c;
    }
    return E(out);
}

std::string do_title(std::string_view s) {
    U32 cps = U(s), out;
    bool previous_cased = false;
    for (size_t i = 0; i < cps.size(); ++i) {
        if (previous_cased)
            lower_full(cps, i, out);
        else
            title_full(cps[i], out);
        previous_cased = uni::is_cased(cps[i]);
    }
    return E(out);
}

std::string do_capitalize(std::string_view s) {
    U32 cps = U(s), out;
    for (size_t i = 0; i < cps.size(); ++i) {
        if (i == 0)
            title_full(cps[i], out);
        else
            lower_full(cps, i, out);
    }
    return E(out);
}

// ---- predicates ---------------------------------------------------------------------------

Value predicate(std::string_view name, std::string_view s) {
    bool r = false;
    if (name == "isalnum") {
        r = all_chars(s, [](char32_t c) {
            return uni::is_alpha(c) || uni::is_numeric(c);  // numeric covers decimal, digit
        });
    } else if (name == "isalpha") {
        r = all_chars(s, uni::is_alpha);
    } else if (name == "isascii") {
        r = is_ascii_only(s);
    } else if (name == "isdecimal") {
        r = all_chars(s, [](char32_t c) { return uni::decimal_value(c) >= 0; });
    } else if (name == "isdigit") {
        r = all_chars(s, uni::is_digit);
    } else if (name == "isnumeric") {
        r = all_chars(s, uni::is_numeric);
    } else if (name == "isspace") {
        r = all_chars(s, char_is_space);
    } else if (name == "isprintable") {
        r = s.empty() || all_chars(s, uni::is_printable);
    } else if (name == "isidentifier") {
        U32 cps = U(s);
        r = !cps.empty() && (cps[0] == '_' || uni::is_xid_start(cps[0])) &&
            std::all_of(cps.begin() + 1, cps.end(), uni::is_xid_continue);
    } else if (name == "isupper") {
        r = cased_check(s, true);
    } else if (name == "islower") {
        r = cased_check(s, false);
    } else {
        r = is_title_string(s);  // istitle
    }
    return Value::boolean(r);
}

}  // namespace ferry::tmpl::methods
