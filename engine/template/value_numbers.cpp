// Integer arithmetic with Python's semantics (checked, floor division and modulo) and
// number parsing as int() and float() do it.
#include "template/value.h"

#include <charconv>
#include <cmath>

namespace ferry::tmpl {

// ---- integers ----------------------------------------------------------------------------

int64_t checked_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
    return r;
}
int64_t checked_sub(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
    return r;
}
int64_t checked_mul(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
    return r;
}
int64_t floor_div(int64_t a, int64_t b) {
    if (b == 0) raise(ErrorKind::ZeroDivision, "integer division or modulo by zero");
    if (a == INT64_MIN && b == -1)
        raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}
int64_t floor_mod(int64_t a, int64_t b) {
    // Python 3.11's int % message; divmod() and // say "integer division or modulo by zero".
    if (b == 0) raise(ErrorKind::ZeroDivision, "integer modulo by zero");
    if (b == -1) return 0;
    int64_t m = a % b;
    if (m != 0 && ((m < 0) != (b < 0))) m += b;
    return m;
}
// CPython's float_floor_div (Objects/floatobject.c): from fmod, not floor(a / b), whose
// rounded quotient is a whole number too many (1 // 0.1 is 9.0, while 1 / 0.1 is 10.0).
double float_floor_div(double a, double b) {
    if (b == 0.0) raise(ErrorKind::ZeroDivision, "float floor division by zero");
    double mod = std::fmod(a, b);
    double div = (a - mod) / b;
    if (mod != 0.0 && ((b < 0) != (mod < 0))) div -= 1.0;
    if (div == 0.0) return std::copysign(0.0, a / b);
    double floored = std::floor(div);
    if (div - floored > 0.5) floored += 1.0;
    return floored;
}
double float_mod(double a, double b) {
    if (b == 0.0) raise(ErrorKind::ZeroDivision, "float modulo");
    double m = std::fmod(a, b);
    if (m != 0.0 && ((m < 0) != (b < 0))) m += b;
    if (m == 0.0) m = std::copysign(0.0, b);
    return m;
}

std::optional<int64_t> parse_int(std::string_view s, int base) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
        s.remove_suffix(1);
    bool neg = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        neg = s.front() == '-';
        s.remove_prefix(1);
    }
    if (base == 16 || base == 8 || base == 2 || base == 0) {
        if (s.size() > 2 && s[0] == '0') {
            char p = char(s[1] | 0x20);
            int b = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
            if (b && (base == 0 || base == b)) {
                base = b;
                s.remove_prefix(2);
            }
        }
        if (base == 0) base = 10;
    }
    if (s.empty()) return std::nullopt;
    std::string digits;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '_') {
            if (i == 0 || i + 1 == s.size() || s[i + 1] == '_') return std::nullopt;
            continue;
        }
        digits += s[i];
    }
    uint64_t mag = 0;
    auto res = std::from_chars(digits.data(), digits.data() + digits.size(), mag, base);
    if (res.ec != std::errc() || res.ptr != digits.data() + digits.size()) return std::nullopt;
    if (neg) {
        if (mag > uint64_t(INT64_MAX) + 1) return std::nullopt;
        return int64_t(0 - mag);
    }
    if (mag > uint64_t(INT64_MAX)) return std::nullopt;
    return int64_t(mag);
}

std::optional<double> take_sign_and_special_float(std::string_view& body, bool& negative) {
    negative = false;
    if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
        negative = body[0] == '-';
        body.remove_prefix(1);
    }
    if (body == "inf" || body == "infinity") return negative ? -HUGE_VAL : HUGE_VAL;
    if (body == "nan") return std::nan("");
    return std::nullopt;
}

std::optional<double> parse_float(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
        s.remove_suffix(1);
    if (s.empty()) return std::nullopt;
    std::string t;
    for (char c : s)
        if (c != '_') t += char(std::tolower(static_cast<unsigned char>(c)));
    std::string_view body = t;
    bool neg = false;
    if (auto special = take_sign_and_special_float(body, neg)) return special;
    double d = 0;
    auto res = std::from_chars(body.data(), body.data() + body.size(), d);
    if (res.ec == std::errc::result_out_of_range) {
        d = HUGE_VAL;
    } else if (res.ec != std::errc() || res.ptr != body.data() + body.size()) {
        return std::nullopt;
    }
    return neg ? -d : d;
}

}  // namespace ferry::tmpl
