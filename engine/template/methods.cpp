// The Python methods templates call on builtin values: `d.items()`, `l.append(x)`,
// `(1.5).is_integer()`... Jinja2's default environment lets templates call every public method
// of str, list, tuple, dict, int and float, mutating ones included (`{% set _ = d.update(x) %}`
// is a common idiom). This file checks arguments, dispatches, and has the int and float
// methods; str methods are in str_methods.cpp, dict, list and tuple ones in
// methods_containers.cpp.
//
// Argument errors are CPython's own messages (see methods_internal.h for the styles).
#include "template/methods_internal.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ferry::tmpl {

// ---- argument checking ------------------------------------------------------------------

namespace methods {

namespace {

[[noreturn]] void type_error(std::string message) {
    raise(ErrorKind::Type, std::move(message));
}

std::string plural(size_t n, std::string_view word) {
    return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

void no_keywords(const Args& args, std::string_view qualname) {
    if (!args.named.empty()) type_error(std::string(qualname) + "() takes no keyword arguments");
}

}  // namespace

void no_args(const Args& args, std::string_view qualname) {
    no_keywords(args, qualname);
    if (!args.positional.empty()) {
        type_error(std::string(qualname) + "() takes no arguments (" +
                   std::to_string(args.positional.size()) + " given)");
    }
}

const Value& one_arg(const Args& args, std::string_view qualname) {
    no_keywords(args, qualname);
    if (args.positional.size() != 1) {
        type_error(std::string(qualname) + "() takes exactly one argument (" +
                   std::to_string(args.positional.size()) + " given)");
    }
    return args.positional[0];
}

void positional(const Args& args, std::string_view qualname, std::string_view name, size_t min,
                size_t max) {
    no_keywords(args, qualname);
    size_t n = args.positional.size();
    if (n < min || n > max) {
        size_t bound = n < min ? min : max;
        std::string quantity = min == max ? "" : n < min ? "at least " : "at most ";
        type_error(std::string(name) + " expected " + quantity + plural(bound, "argument") +
                   ", got " + std::to_string(n));
    }
}

void legacy(const Args& args, std::string_view qualname, std::string_view name, size_t min,
            size_t max) {
    (void)qualname;
    if (!args.named.empty()) type_error(std::string(name) + "() takes no keyword arguments");
    size_t n = args.positional.size();
    if (n < min || n > max) {
        size_t bound = n < min ? min : max;
        std::string quantity = min == max ? "exactly" : n < min ? "at least" : "at most";
        type_error(std::string(name) + "() takes " + quantity + " " + plural(bound, "argument") +
                   " (" + std::to_string(n) + " given)");
    }
}

std::vector<const Value*> keywords(const Args& args, std::string_view name,
                                   std::initializer_list<std::string_view> params,
                                   size_t max_positional) {
    std::string fn = std::string(name) + "()";
    size_t total = args.positional.size() + args.named.size();
    if (total > params.size()) {
        type_error(fn + " takes at most " + plural(params.size(), "argument") + " (" +
                   std::to_string(total) + " given)");
    }
    if (args.positional.size() > max_positional) {
        if (max_positional == 0) type_error(fn + " takes no positional arguments");
        type_error(fn + " takes at most " + plural(max_positional, "positional argument") + " (" +
                   std::to_string(args.positional.size()) + " given)");
    }
    std::vector<const Value*> bound(params.size(), nullptr);
    for (size_t i = 0; i < args.positional.size(); ++i)
        bound[i] = &args.positional[i];
    for (const auto& [key, value] : args.named) {
        auto it = std::find(params.begin(), params.end(), key);
        if (it == params.end())
            type_error("'" + key + "' is an invalid keyword argument for " + fn);
        size_t i = size_t(it - params.begin());
        if (bound[i]) {
            type_error("argument for " + fn + " given by name ('" + key + "') and position (" +
                       std::to_string(i + 1) + ")");
        }
        bound[i] = &value;
    }
    return bound;
}

int64_t index_value(const Value& v) {
    if (v.is_integral()) return v.as_int();
    type_error("'" + std::string(type_name(v)) + "' object cannot be interpreted as an integer");
}

std::optional<int64_t> slice_bound(const Value* v) {
    if (!v || v->is_none()) return std::nullopt;
    if (v->is_integral()) return v->as_int();
    type_error("slice indices must be integers or None or have an __index__ method");
}

}  // namespace methods

using namespace methods;

namespace {

// ---- numbers -------------------------------------------------------------------------------

constexpr std::string_view kIntMethods[] = {"as_integer_ratio", "bit_count", "bit_length",
                                            "conjugate"};
constexpr std::string_view kFloatMethods[] = {"as_integer_ratio", "conjugate", "fromhex", "hex",
                                              "is_integer"};

int bit_length(int64_t v) {
    uint64_t mag = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
    int n = 0;
    while (mag) {
        ++n;
        mag >>= 1;
    }
    return n;
}

Value int_method(const Value& self, std::string_view name, const Args& args) {
    std::string qual = std::string(type_name(self)) + "." + std::string(name);
    no_args(args, qual);
    int64_t v = self.as_int();
    if (name == "bit_length") return Value::integer(bit_length(v));
    if (name == "bit_count") {
        uint64_t mag = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
        return Value::integer(__builtin_popcountll(mag));
    }
    if (name == "conjugate") return Value::integer(v);
    return Value::tuple({Value::integer(v), Value::integer(1)});  // as_integer_ratio
}

// float.hex(): '0x1.8000000000000p+0', always 13 hex digits of fraction (unlike C's %a).
std::string float_hex(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
    std::string out = std::signbit(x) ? "-" : "";
    if (x == 0) return out + "0x0.0p+0";
    int exp;
    double m = std::frexp(std::fabs(x), &exp);  // m in [0.5, 1)
    // Python shifts a subnormal's mantissa to keep the exponent at -1022.
    int shift = 1 - std::max(-1021 - exp, 0);
    m = std::ldexp(m, shift);
    exp -= shift;
    int lead = int(m);
    m -= lead;
    out += "0x" + std::to_string(lead) + ".";
    for (int i = 0; i < 13; ++i) {
        m *= 16;
        int digit = int(m);
        out += "0123456789abcdef"[digit];
        m -= digit;
    }
    char buf[16];
    std::snprintf(buf, sizeof buf, "p%+d", exp);
    return out + buf;
}

// float.fromhex: [sign] ['0x'] hexdigits ['.' hexdigits] ['p' exponent], or inf/nan.
double float_fromhex(std::string_view text) {
    auto invalid = [] { raise(ErrorKind::Value, "invalid hexadecimal floating-point string"); };
    size_t b = text.find_first_not_of(" \t\n\r\f\v");
    size_t e = text.find_last_not_of(" \t\n\r\f\v");
    if (b == std::string_view::npos) invalid();
    text = text.substr(b, e - b + 1);
    std::string lower = str_lower(text);
    std::string_view body = lower;
    bool negative = false;
    if (auto special = take_sign_and_special_float(body, negative)) return *special;
    if (body.substr(0, 2) == "0x") body.remove_prefix(2);
    size_t i = 0, digits = 0;
    auto is_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
    while (i < body.size() && is_hex(body[i]))
        ++i, ++digits;
    if (i < body.size() && body[i] == '.') {
        ++i;
        while (i < body.size() && is_hex(body[i]))
            ++i, ++digits;
    }
    if (digits == 0) invalid();
    std::string c_text = "0x" + std::string(body.substr(0, i));
    if (i < body.size() && body[i] == 'p') {
        size_t j = i + 1;
        if (j < body.size() && (body[j] == '+' || body[j] == '-')) ++j;
        size_t exp_digits = j;
        while (j < body.size() && body[j] >= '0' && body[j] <= '9')
            ++j;
        if (j == exp_digits) invalid();
        c_text += std::string(body.substr(i, j - i));
        i = j;
    }
    if (i != body.size()) invalid();
    double v = std::strtod(c_text.c_str(), nullptr);
    if (std::isinf(v))
        raise(ErrorKind::Overflow, "hexadecimal value too large to represent as a float");
    return negative ? -v : v;
}

Value float_method(const Value& self, std::string_view name, const Args& args) {
    double x = self.as_float();
    if (name == "fromhex") {
        // A classmethod, callable on an instance; the instance plays no part.
        const Value& s = one_arg(args, "float.fromhex");
        if (!s.is_string()) raise(ErrorKind::Type, "bad argument type for built-in operation");
        return Value::floating(float_fromhex(s.str()));
    }
    no_args(args, "float." + std::string(name));
    if (name == "is_integer") return Value::boolean(std::isfinite(x) && x == std::floor(x));
    if (name == "conjugate") return Value::floating(x);
    if (name == "hex") return Value::string(float_hex(x));
    // as_integer_ratio: exact, when both parts fit in 64 bits.
    if (std::isinf(x)) raise(ErrorKind::Overflow, "cannot convert Infinity to integer ratio");
    if (std::isnan(x)) raise(ErrorKind::Value, "cannot convert NaN to integer ratio");
    if (x == 0) return Value::tuple({Value::integer(0), Value::integer(1)});
    int exp;
    double m = std::frexp(x, &exp);
    auto num = int64_t(std::ldexp(m, 53));  // exact: a double has 53 significant bits
    exp -= 53;
    while (num % 2 == 0 && exp < 0) {
        num /= 2;
        ++exp;
    }
    if (exp >= 0) {
        if (exp >= 63 || std::abs(num) > (INT64_MAX >> exp))
            raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
        return Value::tuple({Value::integer(num << exp), Value::integer(1)});
    }
    if (-exp >= 63) raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
    return Value::tuple({Value::integer(num), Value::integer(int64_t(1) << -exp)});
}

template <size_t N>
bool listed(const std::string_view (&names)[N], std::string_view name) {
    return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

}  // namespace

bool has_method(const Value& receiver, std::string_view name) {
    switch (receiver.kind()) {
    case Kind::String: return is_str_method(name, receiver.is_safe());
    case Kind::List: return is_list_method(name);
    case Kind::Tuple: return name == "count" || name == "index";
    case Kind::Dict: return is_dict_method(name);
    case Kind::Bool:
    case Kind::Int: return listed(kIntMethods, name);
    case Kind::Float: return listed(kFloatMethods, name);
    default: return false;
    }
}

Value call_method(Runtime& rt, const Value& receiver, std::string_view name, const Args& args) {
    if (!has_method(receiver, name)) {
        raise(ErrorKind::Runtime, "'" + std::string(type_name(receiver)) +
                                      "' object has no attribute '" + std::string(name) + "'");
    }
    switch (receiver.kind()) {
    case Kind::String: return call_str_method(rt, receiver, name, args);
    case Kind::List: return call_list_method(rt, receiver, name, args);
    case Kind::Tuple: return call_tuple_method(receiver, name, args);
    case Kind::Dict: return call_dict_method(rt, receiver, name, args);
    case Kind::Float: return float_method(receiver, name, args);
    default: return int_method(receiver, name, args);
    }
}

}  // namespace ferry::tmpl
