// Python's format(value, spec): the format mini-language of str, int and float
// (Objects/stringlib/unicode_format.h and Python/formatter_unicode.c), and the float-to-text
// core (PyOS_double_to_string) that `%` formatting shares.
//
// The code follows CPython's structure closely, because its quirks are observable: '0' before
// the width pads strings on the right, zero padding is grouped ('00,001,234'), a spec-less
// float with a precision switches to an exponent one digit earlier than 'g' does.
#include "template/builtins.h"
#include "template/format_internal.h"
#include "template/unicode_data.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>

namespace ferry::tmpl {

// ---- shared helpers -------------------------------------------------------------------

namespace fmt {

namespace {

// The digit string and decimal-point position of _Py_dg_dtoa: value = 0.DIGITS * 10^decpt,
// with trailing zeros removed. Zero is "0" with decpt 1, as dtoa gives it.
struct Digits {
    std::string digits;
    int decpt = 1;
};

// mode 0: shortest round-trip digits; mode 2: `ndigits` significant digits; mode 3: `ndigits`
// digits after the decimal point. glibc's printf rounds exactly (half to even on the binary
// value), as dtoa does, so the digits are the same.
Digits dtoa(double v, int mode, int ndigits) {
    Digits d;
    v = std::fabs(v);
    if (v == 0.0) {
        d.digits.push_back('0');
        return d;
    }
    std::string buf;
    if (mode == 0) {
        char tmp[64];
        auto res = std::to_chars(tmp, tmp + sizeof tmp, v, std::chars_format::scientific);
        buf.assign(tmp, res.ptr);
    } else {
        const char* f = mode == 2 ? "%.*e" : "%.*f";
        int prec = mode == 2 ? ndigits - 1 : ndigits;
        int n = std::snprintf(nullptr, 0, f, prec, v);
        buf.resize(size_t(n) + 1);
        std::snprintf(buf.data(), buf.size(), f, prec, v);
        buf.resize(size_t(n));
    }
    if (mode == 3) {
        size_t dot = buf.find('.');
        std::string intpart = buf.substr(0, dot);
        d.digits = intpart + (dot == std::string::npos ? "" : buf.substr(dot + 1));
        d.decpt = int(intpart.size());
    } else {
        size_t epos = buf.find('e');
        for (size_t i = 0; i < epos; ++i)
            if (buf[i] != '.') d.digits += buf[i];
        d.decpt = std::atoi(buf.c_str() + epos + 1) + 1;
    }
    size_t lead = d.digits.find_first_not_of('0');
    if (lead == std::string::npos) {
        d.digits.assign(1, '0');
        d.decpt = 1;
        return d;
    }
    d.digits.erase(0, lead);
    d.decpt -= int(lead);
    d.digits.erase(d.digits.find_last_not_of('0') + 1);
    return d;
}

}  // namespace

std::string double_to_string(double value, char code, int precision, bool alt, bool add_dot_0,
                             bool no_neg_0) {
    bool upper = code == 'E' || code == 'F' || code == 'G';
    code = char(code | 0x20);
    bool negative = std::signbit(value);
    if (std::isnan(value)) return upper ? "NAN" : "nan";  // CPython ignores a nan's sign
    if (std::isinf(value)) return std::string(negative ? "-" : "") + (upper ? "INF" : "inf");

    int mode = 0;
    switch (code) {
    case 'e':
        mode = 2;
        ++precision;
        break;
    case 'f': mode = 3; break;
    case 'g':
        mode = 2;
        if (precision == 0) precision = 1;
        break;
    default: mode = 0; break;  // 'r'
    }
    Digits d = dtoa(value, mode, precision);
    const std::string& digits = d.digits;
    int64_t digits_len = int64_t(digits.size());
    int64_t decpt = d.decpt;
    if (no_neg_0 && negative && digits == "0") negative = false;

    // What follows is format_float_short: print the slice [vdigits_start, vdigits_end) of the
    // digits padded with zeros on both sides, the decimal point after decpt of them.
    int64_t vdigits_end = digits_len;
    bool use_exp = false;
    switch (code) {
    case 'e':
        use_exp = true;
        vdigits_end = precision;
        break;
    case 'f': vdigits_end = decpt + precision; break;
    case 'g':
        if (decpt <= -4 || decpt > (add_dot_0 ? precision - 1 : precision)) use_exp = true;
        if (alt) vdigits_end = precision;
        break;
    default:
        if (decpt <= -4 || decpt > 16) use_exp = true;
        break;
    }
    int64_t exp = 0;
    if (use_exp) {
        exp = decpt - 1;
        decpt = 1;
    }
    int64_t vdigits_start = decpt <= 0 ? decpt - 1 : 0;
    if (!use_exp && add_dot_0)
        vdigits_end = std::max(vdigits_end, decpt + 1);
    else
        vdigits_end = std::max(vdigits_end, decpt);

    std::string out;
    if (negative) out += '-';
    if (decpt <= 0) {
        out.append(size_t(decpt - vdigits_start), '0');
        out += '.';
        out.append(size_t(-decpt), '0');
    } else {
        out.append(size_t(-vdigits_start), '0');
    }
    if (0 < decpt && decpt <= digits_len) {
        out.append(digits, 0, size_t(decpt));
        out += '.';
        out.append(digits, size_t(decpt));
    } else {
        out += digits;
    }
    if (digits_len < decpt) {
        out.append(size_t(decpt - digits_len), '0');
        out += '.';
        out.append(size_t(vdigits_end - decpt), '0');
    } else {
        out.append(size_t(vdigits_end - digits_len), '0');
    }
    if (out.back() == '.' && !alt) out.pop_back();
    if (use_exp) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%c%+.02d", upper ? 'E' : 'e', int(exp));
        out += buf;
    }
    return out;
}

std::string integral_double_digits(double truncated) {
    char buf[400];
    std::snprintf(buf, sizeof buf, "%.0f", truncated);
    return std::string(buf) == "-0" ? "0" : buf;
}

void check_float_to_int(double value) {
    if (std::isinf(value)) raise(ErrorKind::Overflow, "cannot convert float infinity to integer");
    if (std::isnan(value)) raise(ErrorKind::Value, "cannot convert float NaN to integer");
}

std::string ascii_escape(std::string_view s) {
    bool ascii = std::all_of(s.begin(), s.end(),
                             [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) return std::string(s);
    std::string out;
    for (char32_t c : utf8_decode(s)) {
        char buf[16];
        if (c < 0x80) {
            out += char(c);
            continue;
        }
        if (c < 0x100)
            std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(c));
        else if (c < 0x10000)
            std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
        else
            std::snprintf(buf, sizeof buf, "\\U%08x", unsigned(c));
        out += buf;
    }
    return out;
}

std::string to_ascii(const Value& v) {
    return ascii_escape(to_repr(v));
}

std::string int_digits(int64_t v, int base) {
    uint64_t mag = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
    char buf[72];
    auto res = std::to_chars(buf, buf + sizeof buf, mag, base);
    std::string out;
    if (v < 0) out.push_back('-');
    out.append(buf, res.ptr);
    return out;
}

size_t cp_offset(std::string_view s, size_t n) {
    size_t i = 0;
    while (i < s.size() && n > 0) {
        ++i;
        while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xc0) == 0x80)
            ++i;
        --n;
    }
    return i;
}

}  // namespace fmt

// ---- the mini-language ----------------------------------------------------------------

namespace {

constexpr int64_t kSsizeMax = INT64_MAX;

struct Spec {
    char32_t fill = ' ';
    char32_t align = 0;
    char32_t sign = 0;
    bool no_neg_0 = false;
    bool alternate = false;
    int64_t width = -1;
    char thousands = 0;  // ',' or '_', 0 for none
    int group = 3;       // digits per group: 4 for '_' with b, o, x, X
    int64_t precision = -1;
    char32_t type = 0;
};

bool is_align(char32_t c) {
    return c == '<' || c == '>' || c == '=' || c == '^';
}

// The digits at pos (any Unicode decimal digits, as CPython's get_integer), or -1 if none.
int64_t read_integer(std::u32string_view s, size_t& pos) {
    int64_t acc = -1;
    while (pos < s.size()) {
        int digit = uni::decimal_value(s[pos]);
        if (digit < 0) break;
        if (acc < 0) acc = 0;
        if (acc > (kSsizeMax - digit) / 10)
            raise(ErrorKind::Value, "Too many decimal digits in format string");
        acc = acc * 10 + digit;
        ++pos;
    }
    return acc;
}

std::string describe_code(char32_t c) {
    if (c > 32 && c < 128) return std::string(1, char(c));
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\x%x", unsigned(c));
    return buf;
}

[[noreturn]] void unknown_code(char32_t type, std::string_view type_name) {
    raise(ErrorKind::Value, "Unknown format code '" + describe_code(type) +
                                "' for object of type '" + std::string(type_name) + "'");
}

Spec parse_spec(std::string_view text, std::string_view type_name, char32_t default_type,
                char32_t default_align) {
    std::u32string s = utf8_decode(text);
    Spec f;
    f.align = default_align;
    f.type = default_type;
    size_t pos = 0;
    bool fill_specified = false, align_specified = false;
    if (s.size() >= 2 && is_align(s[1])) {
        f.align = s[1];
        f.fill = s[0];
        fill_specified = align_specified = true;
        pos = 2;
    } else if (!s.empty() && is_align(s[0])) {
        f.align = s[0];
        align_specified = true;
        pos = 1;
    }
    if (pos < s.size() && (s[pos] == '+' || s[pos] == '-' || s[pos] == ' ')) f.sign = s[pos++];
    if (pos < s.size() && s[pos] == 'z') {
        f.no_neg_0 = true;
        ++pos;
    }
    if (pos < s.size() && s[pos] == '#') {
        f.alternate = true;
        ++pos;
    }
    // The '0' before the width: zero fill, and sign-aware for numbers when no alignment was
    // given (strings keep their left alignment: format('ab', '05') == 'ab000').
    if (!fill_specified && pos < s.size() && s[pos] == '0') {
        f.fill = '0';
        if (!align_specified && default_align == '>') f.align = '=';
        ++pos;
    }
    f.width = read_integer(s, pos);
    if (f.width > 0) check_built_size(uint64_t(f.width), "a format spec's width");
    if (pos < s.size() && s[pos] == ',') {
        f.thousands = ',';
        ++pos;
    }
    if (pos < s.size() && s[pos] == '_') {
        if (f.thousands) raise(ErrorKind::Value, "Cannot specify both ',' and '_'.");
        f.thousands = '_';
        ++pos;
    }
    if (pos < s.size() && s[pos] == ',' && f.thousands == '_')
        raise(ErrorKind::Value, "Cannot specify both ',' and '_'.");
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        f.precision = read_integer(s, pos);
        if (f.precision < 0) raise(ErrorKind::Value, "Format specifier missing precision");
    }
    if (s.size() - pos > 1) {
        raise(ErrorKind::Value, "Invalid format specifier '" + std::string(text) +
                                    "' for object of type '" + std::string(type_name) + "'");
    }
    if (pos < s.size()) f.type = s[pos];
    if (f.thousands) {
        switch (f.type) {
        case 'd':
        case 'e':
        case 'f':
        case 'g':
        case 'E':
        case 'G':
        case '%':
        case 'F':
        case 0: break;
        case 'b':
        case 'o':
        case 'x':
        case 'X':
            if (f.thousands == '_') {
                f.group = 4;
                break;
            }
            [[fallthrough]];
        default:
            raise(ErrorKind::Value, std::string("Cannot specify '") + f.thousands + "' with '" +
                                        describe_code(f.type) + "'.");
        }
    }
    return f;
}

void append_fill(std::string& out, char32_t fill, int64_t n) {
    if (n <= 0) return;
    if (fill < 0x80) {
        out.append(size_t(n), char(fill));
        return;
    }
    std::string one;
    utf8_append(fill, one);
    for (int64_t i = 0; i < n; ++i)
        out += one;
}

// _PyUnicode_InsertThousandsGrouping: the digits with a separator every `group` of them
// (none when sep is 0), padded on the left with zeros to min_width, separators included.
std::string group_digits(std::string_view digits, int64_t min_width, int group, char sep) {
    std::string rev;  // built right to left, then reversed (all ASCII)
    int64_t remaining = int64_t(digits.size());
    size_t pos = digits.size();
    min_width = std::max<int64_t>(0, min_width);
    bool use_sep = false;
    auto emit = [&](int64_t len) {
        int64_t zeros = std::max<int64_t>(0, len - remaining);
        int64_t chars = std::max<int64_t>(0, std::min(remaining, len));
        if (use_sep) rev += sep;
        for (int64_t i = 0; i < chars; ++i)
            rev += digits[--pos];
        rev.append(size_t(zeros), '0');
        remaining -= chars;
    };
    bool finished = false;
    if (sep) {
        for (;;) {
            int64_t len = std::min<int64_t>(group, std::max({remaining, min_width, int64_t(1)}));
            emit(len);
            use_sep = true;
            min_width -= len;
            if (remaining <= 0 && min_width <= 0) {
                finished = true;
                break;
            }
            min_width -= 1;
        }
    }
    if (!finished) emit(std::max({remaining, min_width, int64_t(1)}));
    std::reverse(rev.begin(), rev.end());
    return rev;
}

// calc_number_widths + fill_number: lay out
//   <lpad><sign><prefix><spad><grouped digits><decimal point><remainder><rpad>
// where exactly one padding is used, chosen by the alignment.
std::string layout_number(const Spec& f, char sign_char, std::string_view prefix,
                          std::string_view digits, bool has_decimal, std::string_view remainder,
                          char sep) {
    char sign = 0;
    if (f.sign == '+')
        sign = sign_char == '-' ? '-' : '+';
    else if (f.sign == ' ')
        sign = sign_char == '-' ? '-' : ' ';
    else if (sign_char == '-')
        sign = '-';
    int64_t n_remainder = int64_t(utf8_length(remainder));
    int64_t non_digits =
        (sign ? 1 : 0) + int64_t(prefix.size()) + (has_decimal ? 1 : 0) + n_remainder;
    int64_t min_width = (f.fill == '0' && f.align == '=') ? f.width - non_digits : 0;
    std::string grouped = digits.empty() ? "" : group_digits(digits, min_width, f.group, sep);
    int64_t padding = f.width - (non_digits + int64_t(grouped.size()));
    int64_t lpad = 0, spad = 0, rpad = 0;
    if (padding > 0) {
        switch (f.align) {
        case '<': rpad = padding; break;
        case '^':
            lpad = padding / 2;
            rpad = padding - lpad;
            break;
        case '=': spad = padding; break;
        default: lpad = padding; break;
        }
    }
    std::string out;
    append_fill(out, f.fill, lpad);
    if (sign) out += sign;
    out += prefix;
    append_fill(out, f.fill, spad);
    out += grouped;
    if (has_decimal) out += '.';
    out += remainder;
    append_fill(out, f.fill, rpad);
    return out;
}

std::string format_string(std::string_view text, std::string_view spec,
                          std::string_view type_name) {
    if (spec.empty()) return std::string(text);
    Spec f = parse_spec(spec, type_name, 's', '<');
    if (f.type != 's') unknown_code(f.type, type_name);
    if (f.sign == ' ') raise(ErrorKind::Value, "Space not allowed in string format specifier");
    if (f.sign) raise(ErrorKind::Value, "Sign not allowed in string format specifier");
    if (f.no_neg_0) {
        raise(ErrorKind::Value,
              "Negative zero coercion (z) not allowed in string format specifier");
    }
    if (f.alternate)
        raise(ErrorKind::Value, "Alternate form (#) not allowed in string format specifier");
    if (f.align == '=')
        raise(ErrorKind::Value, "'=' alignment not allowed in string format specifier");
    int64_t len = int64_t(utf8_length(text));
    if (f.precision >= 0 && len > f.precision) {
        text = text.substr(0, fmt::cp_offset(text, size_t(f.precision)));
        len = f.precision;
    }
    int64_t total = std::max(len, f.width);
    int64_t lpad = 0;
    if (f.align == '>')
        lpad = total - len;
    else if (f.align == '^')
        lpad = (total - len) / 2;
    std::string out;
    append_fill(out, f.fill, lpad);
    out += text;
    append_fill(out, f.fill, total - len - lpad);
    return out;
}

std::string format_float(double value, const Spec& f) {
    if (f.precision > INT_MAX) raise(ErrorKind::Value, "precision too big");
    // Every digit after the point is written out.
    if (f.precision > 0) check_built_size(uint64_t(f.precision), "a format spec's precision");
    char32_t type = f.type;
    int precision = int(f.precision);
    int default_precision = 6;
    bool add_dot_0 = false, add_pct = false;
    if (type == 0) {
        // No type: repr() without a precision, else 'g' that keeps a digit after the point.
        add_dot_0 = true;
        type = 'r';
        default_precision = 0;
    }
    if (type == 'n') type = 'g';
    if (type == '%') {
        type = 'f';
        value *= 100;
        add_pct = true;
    }
    if (precision < 0)
        precision = default_precision;
    else if (type == 'r')
        type = 'g';
    std::string text =
        fmt::double_to_string(value, char(type), precision, f.alternate, add_dot_0, f.no_neg_0);
    if (add_pct) text += '%';
    char sign_char = 0;
    std::string_view body = text;
    if (body.front() == '-') {
        sign_char = '-';
        body.remove_prefix(1);
    }
    size_t ndigits = 0;
    while (ndigits < body.size() && body[ndigits] >= '0' && body[ndigits] <= '9')
        ++ndigits;
    bool has_decimal = ndigits < body.size() && body[ndigits] == '.';
    std::string_view remainder = body.substr(ndigits + (has_decimal ? 1 : 0));
    char sep = f.type == 'n' ? 0 : f.thousands;
    return layout_number(f, sign_char, "", body.substr(0, ndigits), has_decimal, remainder, sep);
}

std::string format_int(int64_t value, const Spec& f, std::string_view type_name) {
    switch (f.type) {
    case 'b':
    case 'c':
    case 'd':
    case 'o':
    case 'x':
    case 'X':
    case 'n': break;
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
    case '%': return format_float(double(value), f);
    default: unknown_code(f.type, type_name);
    }
    if (f.precision != -1)
        raise(ErrorKind::Value, "Precision not allowed in integer format specifier");
    if (f.no_neg_0) {
        raise(ErrorKind::Value,
              "Negative zero coercion (z) not allowed in integer format specifier");
    }
    if (f.type == 'c') {
        if (f.sign) raise(ErrorKind::Value, "Sign not allowed with integer format specifier 'c'");
        if (f.alternate) {
            raise(ErrorKind::Value,
                  "Alternate form (#) not allowed with integer format specifier 'c'");
        }
        if (value < 0 || value > 0x10ffff)
            raise(ErrorKind::Overflow, "%c arg not in range(0x110000)");
        std::string ch;
        utf8_append(char32_t(value), ch);
        return layout_number(f, 0, "", "", false, ch, 0);
    }
    int base = 10;
    const char* prefix = "";
    switch (f.type) {
    case 'b': base = 2, prefix = "0b"; break;
    case 'o': base = 8, prefix = "0o"; break;
    case 'x': base = 16, prefix = "0x"; break;
    case 'X': base = 16, prefix = "0X"; break;
    default: break;
    }
    std::string digits = fmt::int_digits(value, base);
    char sign_char = 0;
    if (digits[0] == '-') {
        sign_char = '-';
        digits.erase(0, 1);
    }
    if (f.type == 'X')
        for (char& c : digits)
            c = char(std::toupper(static_cast<unsigned char>(c)));
    char sep = f.type == 'n' ? 0 : f.thousands;
    return layout_number(f, sign_char, f.alternate ? prefix : "", digits, false, "", sep);
}

[[noreturn]] void unsupported_spec(const Value& v) {
    raise(ErrorKind::Type,
          "unsupported format string passed to " + std::string(type_name(v)) + ".__format__");
}

}  // namespace

std::string format_spec(const Value& value, std::string_view spec) {
    switch (value.kind()) {
    case Kind::String: return format_string(value.str(), spec, type_name(value));
    case Kind::Bool:
    case Kind::Int:
        if (spec.empty()) return to_str(value);
        return format_int(value.as_int(), parse_spec(spec, type_name(value), 'd', '>'),
                          type_name(value));
    case Kind::Float: {
        if (spec.empty()) return to_str(value);
        Spec f = parse_spec(spec, "float", 0, '>');
        switch (f.type) {
        case 0:
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
        case 'n':
        case '%': return format_float(value.as_float(), f);
        default: unknown_code(f.type, "float");
        }
    }
    default:
        // object.__format__: only the empty spec, meaning str(value).
        if (!spec.empty()) unsupported_spec(value);
        return to_str(value);
    }
}

}  // namespace ferry::tmpl
