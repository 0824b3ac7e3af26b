// Python's arithmetic operators over template values.
#include "template/builtins.h"
#include "template/render.h"

#include <cmath>

namespace ferry::tmpl {

namespace {

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
    raise(ErrorKind::Type, "unsupported operand type(s) for " + std::string(op) + ": '" +
                               std::string(type_name(a)) + "' and '" + std::string(type_name(b)) +
                               "'");
}

Value repeat(const Value& seq, int64_t times, size_t max_size) {
    if (times < 0) times = 0;
    // Nothing repeated is nothing, however many times: the loops below would spin `times`
    // rounds appending nothing (2^62 from a payload's number, past any render deadline).
    if (seq.is_string() && seq.str().empty()) times = 0;
    if (!seq.is_string() && seq.list_obj().items.empty()) times = 0;
    if (seq.is_string()) {
        std::string_view s = seq.str();
        if (!s.empty() && uint64_t(times) > max_size / s.size()) {
            raise(ErrorKind::Limit, "string repetition exceeds the output limit of " +
                                        std::to_string(max_size) + " bytes");
        }
        std::string out;
        out.reserve(s.size() * size_t(times));
        for (int64_t i = 0; i < times; ++i)
            out += s;
        return Value::string(std::move(out), seq.is_safe());
    }
    const auto& items = seq.list_obj().items;
    if (!items.empty() && uint64_t(times) > (max_size / 16) / items.size()) {
        const unsigned __int128 wanted = static_cast<unsigned __int128>(times) * items.size();
        raise(ErrorKind::Limit,
              "'*' would build a list of " +
                  (wanted > UINT64_MAX ? std::string("more than 2^64")
                                       : std::to_string(uint64_t(wanted))) +
                  " items, over the limit of " + std::to_string(max_size / 16));
    }
    std::vector<Value> out;
    out.reserve(items.size() * size_t(times));
    for (int64_t i = 0; i < times; ++i)
        out.insert(out.end(), items.begin(), items.end());
    return seq.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

Value add(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return Value::floating(a.as_float() + b.as_float());
        return Value::integer(checked_add(a.as_int(), b.as_int()));
    }
    if (a.is_string() && b.is_string()) {
        check_built_size(uint64_t(a.str().size()) + b.str().size(), "'+'");
        return markup_concat(a.str(), a.is_safe(), b.str(), b.is_safe());
    }
    if ((a.is_list() && b.is_list()) || (a.is_tuple() && b.is_tuple())) {
        uint64_t n = uint64_t(a.list_obj().items.size()) + b.list_obj().items.size();
        check_built_list(n, "'+'");
        std::vector<Value> out;
        out.reserve(n);  // a copy of a, then b's items, would grow the copy again
        out.insert(out.end(), a.list_obj().items.begin(), a.list_obj().items.end());
        out.insert(out.end(), b.list_obj().items.begin(), b.list_obj().items.end());
        return a.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
    if (a.is_string() || a.is_list() || a.is_tuple()) {
        raise(ErrorKind::Type, "can only concatenate " + std::string(type_name(a)) + " (not \"" +
                                   std::string(type_name(b)) + "\") to " +
                                   std::string(type_name(a)));
    }
    unsupported("+", a, b);
}

Value power(const Value& a, const Value& b) {
    if (!a.is_number() || !b.is_number()) unsupported("** or pow()", a, b);
    if (a.is_integral() && b.is_integral() && b.as_int() >= 0) {
        int64_t base = a.as_int(), exp = b.as_int(), result = 1;
        while (exp > 0) {
            if (exp & 1) result = checked_mul(result, base);
            exp >>= 1;
            if (exp) base = checked_mul(base, base);
        }
        return Value::integer(result);
    }
    double x = a.as_float(), y = b.as_float();
    if (x == 0.0 && y < 0) {
        raise(ErrorKind::ZeroDivision, "0.0 cannot be raised to a negative power");
    }
    if (x < 0 && y != std::floor(y)) {
        raise(ErrorKind::Value, "negative number cannot be raised to a fractional power "
                                "(Python would return a complex number)");
    }
    double r = std::pow(x, y);
    if (std::isinf(r) && std::isfinite(x) && std::isfinite(y)) {
        raise(ErrorKind::Overflow, "(34, 'Numerical result out of range')");
    }
    return Value::floating(r);
}

}  // namespace

Value binary_op(std::string_view op, const Value& a, const Value& b, size_t max_size) {
    // Undefined's arithmetic operators raise UndefinedError (strict or not), except where
    // Python never reaches them: str % x is str's own operator, which formats any x (an
    // Undefined prints as '' unless strict, as {{ x }} does).
    if (a.is_undefined()) raise_undefined(a);
    if (b.is_undefined() && !(op[0] == '%' && a.is_string())) raise_undefined(b);
    switch (op[0]) {
    case '+': return add(a, b);
    case '-':
        if (a.is_number() && b.is_number()) {
            if (a.is_float() || b.is_float()) return Value::floating(a.as_float() - b.as_float());
            return Value::integer(checked_sub(a.as_int(), b.as_int()));
        }
        unsupported("-", a, b);
    case '*':
        if (op.size() == 2) return power(a, b);
        if (a.is_number() && b.is_number()) {
            if (a.is_float() || b.is_float()) return Value::floating(a.as_float() * b.as_float());
            return Value::integer(checked_mul(a.as_int(), b.as_int()));
        }
        if ((a.is_string() || a.is_sequence()) && b.is_integral())
            return repeat(a, b.as_int(), max_size);
        if (a.is_integral() && (b.is_string() || b.is_sequence()))
            return repeat(b, a.as_int(), max_size);
        if (a.is_string() || a.is_sequence() || b.is_string() || b.is_sequence()) {
            const Value& other = (a.is_string() || a.is_sequence()) ? b : a;
            raise(ErrorKind::Type, "can't multiply sequence by non-int of type '" +
                                       std::string(type_name(other)) + "'");
        }
        unsupported("*", a, b);
    case '/':
        if (op.size() == 2) {
            if (!a.is_number() || !b.is_number()) unsupported("//", a, b);
            if (a.is_float() || b.is_float())
                return Value::floating(float_floor_div(a.as_float(), b.as_float()));
            return Value::integer(floor_div(a.as_int(), b.as_int()));
        }
        if (!a.is_number() || !b.is_number()) unsupported("/", a, b);
        if (b.as_float() == 0.0) {
            // Python names the float operation when either side is a float.
            raise(ErrorKind::ZeroDivision,
                  a.is_float() || b.is_float() ? "float division by zero" : "division by zero");
        }
        if (a.is_integral() && b.is_integral()) {
            // Python divides ints exactly before rounding to float.
            int64_t x = a.as_int(), y = b.as_int();
            // 0 / -1 is -0.0 in Python, as 0.0 / -1.0 is; INT64_MIN % -1 traps.
            if (x == 0) return Value::floating(0.0 / double(y));
            if (y != -1 && x % y == 0 && std::llabs(x / y) < (int64_t(1) << 53))
                return Value::floating(double(x / y));
            return Value::floating(
                static_cast<double>(static_cast<long double>(x) / static_cast<long double>(y)));
        }
        return Value::floating(a.as_float() / b.as_float());
    case '%':
        if (a.is_string())
            return Value::string(percent_format(a.str(), b, a.is_safe()), a.is_safe());
        if (!a.is_number() || !b.is_number()) unsupported("%", a, b);
        if (a.is_float() || b.is_float())
            return Value::floating(float_mod(a.as_float(), b.as_float()));
        return Value::integer(floor_mod(a.as_int(), b.as_int()));
    default: raise(ErrorKind::Runtime, "unknown operator " + std::string(op));
    }
}

Value unary_minus(const Value& v) {
    if (v.is_undefined()) raise_undefined(v);
    if (v.is_float()) return Value::floating(-v.as_float());
    if (v.is_integral()) return Value::integer(checked_sub(0, v.as_int()));
    raise(ErrorKind::Type, "bad operand type for unary -: '" + std::string(type_name(v)) + "'");
}

Value unary_plus(const Value& v) {
    if (v.is_undefined()) raise_undefined(v);
    if (v.is_float()) return v;
    if (v.is_integral()) return Value::integer(v.as_int());
    raise(ErrorKind::Type, "bad operand type for unary +: '" + std::string(type_name(v)) + "'");
}

}  // namespace ferry::tmpl
