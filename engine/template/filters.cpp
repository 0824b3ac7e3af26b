// Jinja2 3.1's builtin filters: the registry, and the filters over single values (numbers,
// conversions, escaping, first/last). Text filters live in filters_text.cpp, sequence filters
// in filters_seq.cpp, tojson and pprint in filters_json.cpp.
//
// Each filter follows jinja2/filters.py line by line, with the environment's defaults
// (autoescape off, Undefined or StrictUndefined). Generators that Jinja2 returns (map,
// select, reverse of a list...) are materialised as lists: they iterate, test and join the
// same way, and only their repr (`<generator object ...>`) differs.
#include "template/filters_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ferry::tmpl {

using namespace filter_impl;

namespace {

Value f_abs(Runtime&, const Value& value, const Args& args) {
    ArgReader("abs", args, {});
    if (value.is_float()) return Value::floating(std::fabs(value.as_float()));
    if (value.is_integral()) {
        int64_t i = value.as_int();
        return Value::integer(i < 0 ? checked_sub(0, i) : i);
    }
    raise(ErrorKind::Type, "bad operand type for abs(): '" + std::string(type_name(value)) + "'");
}

Value f_attr(Runtime& rt, const Value& value, const Args& args) {
    ArgReader r("do_attr", args, {"name"});
    const Value& name = r.required(0);
    // hasattr() on an undefined object runs Undefined.__getattr__, which fails.
    if (value.is_undefined()) raise_undefined(value);
    if (!name.is_string()) {
        raise(ErrorKind::Type,
              "attribute name must be string, not '" + std::string(type_name(name)) + "'");
    }
    // A number has no items to fall back to, and its data attributes (real, imag,
    // numerator, denominator) are attributes as its methods are: `obj.name` exactly.
    if (value.is_integral() || value.is_float()) return get_attribute(rt, value, name.str());
    // Attributes only: unlike `obj.name`, never fall back to obj[name].
    bool exists = value.is_object() ? value.object_obj().getattr(name.str()).has_value()
                                    : has_method(value, name.str());
    if (!exists) {
        return rt.make_undefined("'" + object_type_repr(type_name(value)) + "' has no attribute '" +
                                 std::string(name.str()) + "'");
    }
    return get_attribute(rt, value, name.str());
}

Value f_length(Runtime&, const Value& value, const Args& args) {
    ArgReader("len", args, {});
    auto n = length(value);
    if (!n) {
        raise(ErrorKind::Type,
              "object of type '" + std::string(type_name(value)) + "' has no len()");
    }
    return Value::integer(int64_t(*n));
}

Value f_default(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_default", args, {"default_value", "boolean"});
    bool boolean = r.get(1) && truthy(*r.get(1));
    if (!value.is_undefined() && !(boolean && !truthy(value))) return value;
    // The '' fallback is only built when it is used: `x|default('', true)` is on hot paths.
    const Value* fallback = r.get(0);
    return fallback ? *fallback : Value::string("");
}

Value f_escape(Runtime&, const Value& value, const Args& args) {
    ArgReader("escape", args, {});
    return escape_value(value);
}

Value f_forceescape(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_forceescape", args, {});
    std::string out;
    if (value.is_string())
        append_html_escaped(value.str(), out);
    else
        append_html_escaped(to_str(value), out);
    return Value::string(std::move(out), true);
}

Value f_safe(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_mark_safe", args, {});
    if (value.is_safe()) return value;
    return Value::string(to_str(value), true);
}

Value f_string(Runtime&, const Value& value, const Args& args) {
    ArgReader("soft_str", args, {});
    return soft_str(value);
}

// f"{x:.1f}" as Python prints it (never "-nan").
std::string fixed1(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
    char buf[400];
    std::snprintf(buf, sizeof buf, "%.1f", x);
    return buf;
}

Value f_filesizeformat(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_filesizeformat", args, {"binary"});
    bool binary = r.get(0) && truthy(*r.get(0));
    double bytes = py_float(value);
    double base = binary ? 1024 : 1000;
    static constexpr const char* kBinary[] = {"KiB", "MiB", "GiB", "TiB",
                                              "PiB", "EiB", "ZiB", "YiB"};
    static constexpr const char* kDecimal[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    if (bytes == 1) return Value::string("1 Byte");
    if (bytes < base) return Value::string(std::to_string(float_to_int(bytes)) + " Bytes");
    // base ** (i + 2) is an exact Python int, compared exactly with the float (long double
    // holds 1000**9 and 1024**9 exactly) but rounded to a double for the division.
    long double unit = base;
    for (int i = 0; i < 8; ++i) {
        unit *= base;
        if (static_cast<long double>(bytes) < unit || i == 7) {
            return Value::string(fixed1(base * bytes / double(unit)) + " " +
                                 (binary ? kBinary[i] : kDecimal[i]));
        }
    }
    return Value::string("");  // unreachable: the loop returns at i == 7
}

Value f_first(Runtime& rt, const Value& value, const Args& args) {
    ArgReader("do_first", args, {});
    if (value.is_sequence()) {
        const auto& items = value.list_obj().items;
        if (!items.empty()) return items.front();
    } else if (value.is_dict()) {
        const auto& items = value.dict_obj().items();
        if (!items.empty()) return items.front().first;
    } else {
        std::vector<Value> items = iterate(value);
        if (!items.empty()) return items.front();
    }
    return rt.make_undefined("No first item, sequence was empty.");
}

Value f_last(Runtime& rt, const Value& value, const Args& args) {
    ArgReader("do_last", args, {});
    // next(iter(reversed(seq))): sequences, strings, dicts (keys) and undefined (empty).
    std::vector<Value> items;
    switch (value.kind()) {
    case Kind::List:
    case Kind::Tuple:
    case Kind::Dict:
    case Kind::String:
    case Kind::Undefined: items = iterate(value); break;
    case Kind::Object:
        if (value.object_obj().is_iterable() && value.object_obj().length()) {
            items = iterate(value);
            break;
        }
        [[fallthrough]];
    default:
        raise(ErrorKind::Type, "'" + std::string(type_name(value)) + "' object is not reversible");
    }
    if (items.empty()) return rt.make_undefined("No last item, sequence was empty.");
    // reversed(Markup) yields Markup: the character is not escaped again when printed.
    if (value.is_safe()) return Value::string(std::string(items.back().str()), true);
    return items.back();
}

Value f_float(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_float", args, {"default"});
    try {
        return Value::floating(py_float(value));
    } catch (const TemplateError& e) {
        if (e.kind() != ErrorKind::Type && e.kind() != ErrorKind::Value) throw;
        return r.get_or(0, Value::floating(0.0));
    }
}

Value f_int(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_int", args, {"default", "base"});
    Value fallback = r.get_or(0, Value::integer(0));
    Value base = r.get_or(1, Value::integer(10));
    auto is_conversion_error = [](const TemplateError& e) {
        return e.kind() == ErrorKind::Type || e.kind() == ErrorKind::Value;
    };
    // "this quirk is necessary so that "42.23"|int gives 42": int(float(value)).
    auto via_float = [&]() -> Value {
        try {
            return Value::integer(float_to_int(py_float(value)));
        } catch (const TemplateError& e) {
            if (!is_conversion_error(e)) throw;
            return fallback;
        }
    };
    try {
        switch (value.kind()) {
        case Kind::String: {
            int64_t b = index_arg(base);
            if (auto i = py_int_from_string(value.str(), b)) return Value::integer(*i);
            return via_float();
        }
        case Kind::Int:
        case Kind::Bool: return Value::integer(value.as_int());
        case Kind::Float: return Value::integer(float_to_int(value.as_float()));
        case Kind::Undefined: raise_undefined(value);
        default:
            raise(ErrorKind::Type, "int() argument must be a string, a bytes-like object or a "
                                   "real number, not '" +
                                       std::string(type_name(value)) + "'");
        }
    } catch (const TemplateError& e) {
        if (!is_conversion_error(e)) throw;
        return via_float();
    }
}

Value f_format(Runtime&, const Value& value, const Args& args) {
    if (!args.positional.empty() && !args.named.empty()) {
        raise_filter_argument("can't handle positional and keyword arguments at the same time");
    }
    Value fmt = soft_str(value);
    Value fmt_args;
    if (!args.named.empty()) {
        fmt_args = Value::dict();
        for (const auto& [k, v] : args.named)
            fmt_args.dict_obj().set(Value::string(k), v);
    } else {
        fmt_args = Value::tuple(args.positional);
    }
    // Markup % args escapes the arguments (markupsafe's _MarkupEscapeHelper).
    return Value::string(percent_format(fmt.str(), fmt_args, fmt.is_safe()), fmt.is_safe());
}

Value f_items(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_items", args, {});
    if (value.is_undefined()) return Value::list();
    if (!value.is_dict()) raise(ErrorKind::Type, "Can only get item pairs from a mapping.");
    std::vector<Value> out;
    out.reserve(value.dict_obj().items().size());
    for (const auto& [k, v] : value.dict_obj().items())
        out.push_back(Value::tuple({k, v}));
    return Value::list(std::move(out));
}

Value f_list(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_list", args, {});
    return Value::list(iterate(value));
}

[[noreturn]] void no_round(const Value& value) {
    raise(ErrorKind::Type,
          "type " + std::string(type_name(value)) + " doesn't define __round__ method");
}

Value f_round(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_round", args, {"precision", "method"});
    Value precision = r.get_or(0, Value::integer(0));
    Value method = r.get_or(1, Value::string("common"));
    std::string_view m = method.is_string() ? method.str() : std::string_view();
    if (m != "common" && m != "ceil" && m != "floor") {
        raise_filter_argument("method must be common, ceil or floor");
    }
    if (m == "common") {
        // Python's round(value, precision): ints stay ints, floats stay floats, and
        // round(x, None) gives an int.
        if (value.is_float()) {
            double x = value.as_float();
            if (precision.is_none()) {
                double r0 = std::nearbyint(x);  // half-even in the default rounding mode
                return Value::integer(float_to_int(r0));
            }
            return Value::floating(round_float(x, index_arg(precision)));
        }
        if (value.is_integral()) {
            if (precision.is_none()) return Value::integer(value.as_int());
            return Value::integer(round_int(value.as_int(), index_arg(precision)));
        }
        no_round(value);
    }
    // math.ceil/floor(value * 10**precision) / 10**precision, always a float.
    if (value.is_undefined()) raise_undefined(value);
    if (!value.is_number()) {
        if (value.is_string() || value.is_sequence()) {
            raise(ErrorKind::Type, "must be real number, not " + std::string(type_name(value)));
        }
        raise(ErrorKind::Type, "unsupported operand type(s) for *: '" +
                                   std::string(type_name(value)) + "' and 'int'");
    }
    double scale = precision.is_integral() ? std::pow(10.0, double(precision.as_int()))
                                           : std::pow(10.0, py_float(precision));
    double scaled;
    if (value.is_integral() && precision.is_integral() && precision.as_int() >= 0) {
        // floor(i * 10**p) / 10**p is i exactly (Python's ints are exact, whatever p): the
        // quotient is i correctly rounded to a float. (Through a double product it was off
        // by 2 ulp past 2**53, and overflowed int64 where Python does not.)
        return Value::floating(double(value.as_int()));
    } else {
        scaled = value.as_float() * scale;
    }
    double whole = m == "ceil" ? std::ceil(scaled) : std::floor(scaled);
    if (std::isnan(whole)) raise(ErrorKind::Value, "cannot convert float NaN to integer");
    if (std::isinf(whole)) raise(ErrorKind::Overflow, "cannot convert float infinity to integer");
    if (whole == 0) whole = 0.0;  // math.ceil gives an int, which has no -0
    return Value::floating(whole / scale);
}

struct FilterEntry {
    std::string_view name;
    FilterFn fn;
};

// Sorted by name for binary search; keep it sorted when adding entries.
constexpr FilterEntry kFilters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"batch", f_batch},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"filesizeformat", f_filesizeformat},
    {"first", f_first},
    {"float", f_float},
    {"forceescape", f_forceescape},
    {"format", f_format},
    {"groupby", f_groupby},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"pprint", f_pprint},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"slice", f_slice},
    {"sort", f_sort},
    {"string", f_string},
    {"striptags", f_striptags},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"truncate", f_truncate},
    {"unique", f_unique},
    {"upper", f_upper},
    {"urlencode", f_urlencode},
    {"urlize", f_urlize},
    {"wordcount", f_wordcount},
    {"wordwrap", f_wordwrap},
    {"xmlattr", f_xmlattr},
};

constexpr bool filters_sorted() {
    for (size_t i = 1; i < std::size(kFilters); ++i)
        if (!(kFilters[i - 1].name < kFilters[i].name)) return false;
    return true;
}
static_assert(filters_sorted(), "kFilters must be sorted by name");

}  // namespace

FilterFn find_filter(std::string_view name) {
    auto it = std::lower_bound(std::begin(kFilters), std::end(kFilters), name,
                               [](const FilterEntry& e, std::string_view n) { return e.name < n; });
    if (it != std::end(kFilters) && it->name == name) return it->fn;
    return nullptr;
}

}  // namespace ferry::tmpl
