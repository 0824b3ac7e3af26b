// Jinja2 3.1's builtin tests (jinja2/tests.py), for `x is name(args)` and select/reject.
#include "template/filters_util.h"

#include <algorithm>

namespace ferry::tmpl {

using namespace filter_impl;

namespace {

// The test's single argument: tests are called as test(value, *args, **kwargs).
const Value& arg(const Args& args, std::string_view test, std::string_view param) {
    ArgReader r(test, args, {param});
    return r.required(0);
}

void no_args(const Args& args, std::string_view test) {
    ArgReader(test, args, {});
}

bool t_odd(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_odd");
    return equals(py_mod(v, Value::integer(2)), Value::integer(1));
}

bool t_even(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_even");
    return equals(py_mod(v, Value::integer(2)), Value::integer(0));
}

bool t_divisibleby(Runtime&, const Value& v, const Args& args) {
    const Value& num = arg(args, "test_divisibleby", "num");
    return equals(py_mod(v, num), Value::integer(0));
}

bool t_defined(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_defined");
    return !v.is_undefined();
}

bool t_undefined(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_undefined");
    return v.is_undefined();
}

// `value in env.filters`: only a string can name one; the lookup hashes the value, which
// StrictUndefined refuses.
bool t_filter(Runtime& rt, const Value& v, const Args& args) {
    no_args(args, "test_filter");
    if (v.is_strict_undefined()) raise_undefined(v);
    return v.is_string() && rt.has_filter(v.str());
}

bool t_test(Runtime& rt, const Value& v, const Args& args) {
    no_args(args, "test_test");
    if (v.is_strict_undefined()) raise_undefined(v);
    return v.is_string() && rt.has_test(v.str());
}

bool t_none(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_none");
    return v.is_none();
}

bool t_boolean(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_boolean");
    return v.is_bool();
}

bool t_false(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_false");
    return v.is_bool() && !v.as_bool();
}

bool t_true(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_true");
    return v.is_bool() && v.as_bool();
}

bool t_integer(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_integer");
    return v.is_int();
}

bool t_float(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_float");
    return v.is_float();
}

bool t_lower(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_lower");
    return str_islower(to_str(v));
}

bool t_upper(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_upper");
    return str_isupper(to_str(v));
}

bool t_string(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_string");
    return v.is_string();
}

bool t_mapping(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_mapping");
    return v.is_dict() || (v.is_object() && v.object_obj().is_mapping());
}

bool t_number(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_number");
    return v.is_number();
}

// len(value) and value.__getitem__ both exist; a failing len() (StrictUndefined) is False.
bool t_sequence(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_sequence");
    switch (v.kind()) {
    case Kind::String:
    case Kind::List:
    case Kind::Tuple:
    case Kind::Dict: return true;
    case Kind::Undefined: return !v.is_strict_undefined();
    case Kind::Object: return v.object_obj().is_sequence_like();
    default: return false;
    }
}

bool t_iterable(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_iterable");
    switch (v.kind()) {
    case Kind::String:
    case Kind::List:
    case Kind::Tuple:
    case Kind::Dict: return true;
    case Kind::Undefined:
        if (v.is_strict_undefined()) raise_undefined(v);  // StrictUndefined.__iter__ raises
        return true;
    case Kind::Object: return v.object_obj().is_iterable();
    default: return false;
    }
}

// callable(): Undefined defines __call__ (which raises), so it counts.
bool t_callable(Runtime&, const Value& v, const Args& args) {
    ArgReader("callable", args, {});
    if (v.is_undefined()) return true;
    return v.is_object() && v.object_obj().is_callable();
}

// `value is other`. Immutable values have no identity in Ferry; this follows CPython where
// it is predictable: None/True/False are singletons, small ints (-5..256) are cached,
// equal strings written in a template are the same constant, and a float literal is a
// fresh object each time.
bool t_sameas(Runtime&, const Value& v, const Args& args) {
    const Value& other = arg(args, "test_sameas", "other");
    if (v.kind() != other.kind()) return false;
    switch (v.kind()) {
    case Kind::None: return true;
    case Kind::Bool: return v.as_bool() == other.as_bool();
    case Kind::Int: return v.as_int() == other.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
    case Kind::Float:
    case Kind::Undefined: return false;  // each use makes a new object
    case Kind::String: return v.identity() == other.identity() || v.str() == other.str();
    default: return v.identity() == other.identity();
    }
}

bool t_escaped(Runtime&, const Value& v, const Args& args) {
    no_args(args, "test_escaped");
    return v.is_safe();
}

bool t_in(Runtime&, const Value& v, const Args& args) {
    const Value& seq = arg(args, "test_in", "seq");
    return contains(seq, v);
}

bool t_eq(Runtime&, const Value& v, const Args& args) {
    return equals(v, arg(args, "eq", "b"));
}
bool t_ne(Runtime&, const Value& v, const Args& args) {
    return !equals(v, arg(args, "ne", "b"));
}
bool t_lt(Runtime&, const Value& v, const Args& args) {
    return py_compare(v, arg(args, "lt", "b"), CmpOp::Lt);
}
bool t_le(Runtime&, const Value& v, const Args& args) {
    return py_compare(v, arg(args, "le", "b"), CmpOp::Le);
}
bool t_gt(Runtime&, const Value& v, const Args& args) {
    return py_compare(v, arg(args, "gt", "b"), CmpOp::Gt);
}
bool t_ge(Runtime&, const Value& v, const Args& args) {
    return py_compare(v, arg(args, "ge", "b"), CmpOp::Ge);
}

struct TestEntry {
    std::string_view name;
    TestFn fn;
};

// Sorted by name (byte order, so the operator aliases come first).
constexpr TestEntry kTests[] = {
    {"!=", t_ne},
    {"<", t_lt},
    {"<=", t_le},
    {"==", t_eq},
    {">", t_gt},
    {">=", t_ge},
    {"boolean", t_boolean},
    {"callable", t_callable},
    {"defined", t_defined},
    {"divisibleby", t_divisibleby},
    {"eq", t_eq},
    {"equalto", t_eq},
    {"escaped", t_escaped},
    {"even", t_even},
    {"false", t_false},
    {"filter", t_filter},
    {"float", t_float},
    {"ge", t_ge},
    {"greaterthan", t_gt},
    {"gt", t_gt},
    {"in", t_in},
    {"integer", t_integer},
    {"iterable", t_iterable},
    {"le", t_le},
    {"lessthan", t_lt},
    {"lower", t_lower},
    {"lt", t_lt},
    {"mapping", t_mapping},
    {"ne", t_ne},
    {"none", t_none},
    {"number", t_number},
    {"odd", t_odd},
    {"sameas", t_sameas},
    {"sequence", t_sequence},
    {"string", t_string},
    {"test", t_test},
    {"true", t_true},
    {"undefined", t_undefined},
    {"upper", t_upper},
};

constexpr bool tests_sorted() {
    for (size_t i = 1; i < std::size(kTests); ++i)
        if (!(kTests[i - 1].name < kTests[i].name)) return false;
    return true;
}
static_assert(tests_sorted(), "kTests must be sorted by name");

}  // namespace

TestFn find_test(std::string_view name) {
    auto it = std::lower_bound(std::begin(kTests), std::end(kTests), name,
                               [](const TestEntry& e, std::string_view n) { return e.name < n; });
    if (it != std::end(kTests) && it->name == name) return it->fn;
    return nullptr;
}

}  // namespace ferry::tmpl
