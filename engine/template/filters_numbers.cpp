// Number helpers the builtin filters share (see filters_util.h): Python's int() and
// float() conversions, rounding and formatting as the filters need them.
#include "template/filters_util.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace ferry::tmpl::filter_impl {

namespace {

// Python strips whitespace around int()/float() input and reads any Unicode decimal
// digit as its ASCII counterpart (_PyUnicode_TransformDecimalAndSpaceToASCII).
std::u32string numeric_text(std::string_view s) {
    std::u32string t = strip(utf8_decode(s), nullptr);
    for (char32_t& c : t) {
        if (c >= 0x80) {
            int d = decimal_value(c);
            if (d >= 0) c = char32_t('0' + d);
        }
    }
    return t;
}

int digit_value(char32_t c) {
    if (c >= '0' && c <= '9') return int(c - '0');
    if (c >= 'a' && c <= 'z') return int(c - 'a') + 10;
    if (c >= 'A' && c <= 'Z') return int(c - 'A') + 10;
    return 99;
}

}  // namespace

std::optional<int64_t> py_int_from_string(std::string_view s, int64_t base) {
    if (base != 0 && (base < 2 || base > 36)) {
        raise(ErrorKind::Value, "int() base must be >= 2 and <= 36, or 0");
    }
    std::u32string t = numeric_text(s);
    size_t i = 0;
    bool neg = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
        neg = t[i] == '-';
        ++i;
    }
    bool prefixed = false;
    if (i + 1 < t.size() && t[i] == '0') {
        char32_t p = t[i + 1] | 0x20;
        int64_t b = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
        if (b && (base == 0 || base == b)) {
            base = b;
            i += 2;
            prefixed = true;
        }
    }
    bool base0_decimal = false;
    if (base == 0) {
        base = 10;
        base0_decimal = true;  // "010" is not a valid base-0 literal, "000" is
    }
    if (i >= t.size()) return std::nullopt;
    size_t digits_start = i;
    unsigned __int128 mag = 0;
    // One underscore may follow a digit or the base prefix; none may end the number.
    enum { Start, Prefix, Digit, Underscore } prev = prefixed ? Prefix : Start;
    bool nonzero = false;
    for (; i < t.size(); ++i) {
        char32_t c = t[i];
        if (c == '_') {
            if (prev != Digit && prev != Prefix) return std::nullopt;
            prev = Underscore;
            continue;
        }
        int d = digit_value(c);
        if (d >= base) return std::nullopt;
        prev = Digit;
        if (d) nonzero = true;
        mag = mag * unsigned(base) + unsigned(d);
        if (mag > (unsigned __int128)(INT64_MAX) + 1) {
            raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
        }
    }
    if (prev != Digit) return std::nullopt;
    if (base0_decimal && nonzero && t[digits_start] == '0') return std::nullopt;
    if (!neg && mag > (unsigned __int128)INT64_MAX) {
        raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
    }
    return neg ? int64_t(-(__int128)mag) : int64_t(mag);
}

std::optional<double> py_float_from_string(std::string_view s) {
    std::u32string t = numeric_text(s);
    std::string a;  // ASCII, underscores removed after validation
    for (char32_t c : t) {
        if (c >= 0x80) return std::nullopt;
        a += char(c);
    }
    std::string_view body = a;
    bool neg = false;
    if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
        neg = body[0] == '-';
        body.remove_prefix(1);
    }
    std::string lower;
    for (char c : body)
        lower += char(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "inf" || lower == "infinity") return neg ? -HUGE_VAL : HUGE_VAL;
    if (lower == "nan") return neg ? -std::nan("") : std::nan("");
    // digits [. digits] [e [sign] digits], underscores only between two digits.
    std::string clean;
    size_t i = 0;
    auto digits = [&](bool& seen) {
        while (i < body.size()) {
            char c = body[i];
            if (c >= '0' && c <= '9') {
                clean += c;
                seen = true;
                ++i;
            } else if (c == '_' && seen && i + 1 < body.size() && body[i + 1] >= '0' &&
                       body[i + 1] <= '9' && body[i - 1] != '_') {
                ++i;
            } else {
                break;
            }
        }
    };
    bool int_digits = false, frac_digits = false, exp_digits = false;
    digits(int_digits);
    if (i < body.size() && body[i] == '.') {
        clean += '.';
        ++i;
        digits(frac_digits);
    }
    if (!int_digits && !frac_digits) return std::nullopt;
    int64_t exp_value = 0;
    if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
        clean += 'e';
        ++i;
        if (i < body.size() && (body[i] == '+' || body[i] == '-')) clean += body[i++];
        size_t exp_start = clean.size();
        digits(exp_digits);
        if (!exp_digits) return std::nullopt;
        std::from_chars(clean.data() + exp_start, clean.data() + clean.size(), exp_value);
        if (clean[exp_start - 1] == '-') exp_value = -exp_value;
    }
    if (i != body.size()) return std::nullopt;
    double d = 0;
    auto res = std::from_chars(clean.data(), clean.data() + clean.size(), d);
    if (res.ec == std::errc::result_out_of_range) {
        // Too large becomes inf, too small 0.0: where is the first significant digit?
        size_t point = clean.find('.');
        std::string_view mant(clean.data(), std::min(clean.find('e'), clean.size()));
        if (point == std::string::npos) point = mant.size();
        size_t first = mant.find_first_of("123456789");
        int64_t magnitude = first == std::string::npos
                                ? INT64_MIN / 2
                                : exp_value + (first < point ? int64_t(point - first)
                                                             : -int64_t(first - point - 1));
        d = magnitude > 0 ? HUGE_VAL : 0.0;
    } else if (res.ec != std::errc()) {
        return std::nullopt;
    }
    return neg ? -d : d;
}

double py_float(const Value& v) {
    switch (v.kind()) {
    case Kind::Float: return v.as_float();
    case Kind::Int:
    case Kind::Bool: return double(v.as_int());
    case Kind::String: {
        if (auto d = py_float_from_string(v.str())) return *d;
        std::string msg = "could not convert string to float: ";
        append_string_repr(v.str(), msg);
        raise(ErrorKind::Value, msg);
    }
    case Kind::Undefined: raise_undefined(v);
    default:
        raise(ErrorKind::Type, "float() argument must be a string or a real number, not '" +
                                   std::string(type_name(v)) + "'");
    }
}

int64_t float_to_int(double f) {
    if (std::isnan(f)) raise(ErrorKind::Value, "cannot convert float NaN to integer");
    if (std::isinf(f)) raise(ErrorKind::Overflow, "cannot convert float infinity to integer");
    double t = std::trunc(f);
    if (t >= 9223372036854775808.0 || t < -9223372036854775808.0) {
        raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
    }
    return int64_t(t);
}

double round_float(double x, int64_t ndigits) {
    // CPython's float.__round__: non-finite values and extreme ndigits short-circuit, else
    // the exact decimal value is rounded half-even at the requested digit.
    if (!std::isfinite(x)) return x;
    if (ndigits > 323) return x;
    if (ndigits < -308) return 0.0 * x;
    // To a whole number (round's default): half-even on the exact binary value, as below,
    // without printing it (printf was most of a render's cold code).
    if (ndigits == 0) return std::nearbyint(x);
    char buf[1500];  // %.1080f of the largest double: 309 digits, the point, 1080 more
    if (ndigits > 0) {
        // glibc's printf rounds the exact binary value half-even, as Python's dtoa does.
        int n = std::snprintf(buf, sizeof buf, "%.*f", int(ndigits), std::fabs(x));
        double r = 0;
        std::from_chars(buf, buf + n, r);
        return std::signbit(x) ? -r : r;
    }
    // Rounding left of the point: take the exact decimal expansion (a double has at most
    // 1074 fractional digits) and round it by hand.
    int n = std::snprintf(buf, sizeof buf, "%.1080f", std::fabs(x));
    std::string_view text(buf, size_t(n));
    size_t point = text.find('.');
    std::string digits(text.substr(0, point));
    digits.append(text.substr(point + 1));
    int64_t int_len = int64_t(point);
    int64_t keep = int_len + ndigits;  // digits kept from the left
    std::string kept;
    bool round_up = false;
    if (keep >= 0) {
        kept = digits.substr(0, size_t(std::min<int64_t>(keep, int64_t(digits.size()))));
        std::string_view dropped = std::string_view(digits).substr(kept.size());
        if (!dropped.empty()) {
            char first = dropped[0];
            bool rest_nonzero = dropped.find_first_not_of('0', 1) != std::string_view::npos;
            if (first > '5' || (first == '5' && rest_nonzero)) {
                round_up = true;
            } else if (first == '5') {
                int last = kept.empty() ? 0 : kept.back() - '0';
                round_up = last % 2 == 1;
            }
        }
    }
    if (kept.empty()) kept = "0";
    if (round_up) {
        size_t i = kept.size();
        while (i > 0 && kept[i - 1] == '9')
            kept[--i] = '0';
        if (i == 0)
            kept.insert(kept.begin(), '1');
        else
            ++kept[i - 1];
    }
    std::string number = kept + "e" + std::to_string(-ndigits);
    double r = 0;
    auto res = std::from_chars(number.data(), number.data() + number.size(), r);
    if (res.ec == std::errc::result_out_of_range || std::isinf(r)) {
        bool zero = kept.find_first_not_of('0') == std::string::npos;
        if (!zero && ndigits < 0)
            raise(ErrorKind::Overflow, "rounded value too large to represent");
        r = 0.0;
    }
    return std::signbit(x) ? -r : r;
}

int64_t round_int(int64_t i, int64_t ndigits) {
    if (ndigits >= 0) return i;
    if (ndigits < -19) return 0;
    __int128 pow10 = 1;
    for (int64_t k = 0; k < -ndigits; ++k)
        pow10 *= 10;
    __int128 v = i;
    __int128 q = v / pow10, r = v % pow10;
    if (r < 0) {
        r += pow10;
        --q;
    }
    // Half-even on the floor quotient q with remainder r in [0, pow10).
    if (2 * r > pow10 || (2 * r == pow10 && (q & 1))) ++q;
    __int128 result = q * pow10;
    if (result > INT64_MAX || result < INT64_MIN) {
        raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
    }
    return int64_t(result);
}

}  // namespace ferry::tmpl::filter_impl
