// Builtin tests (`x is name`): expected values checked against Jinja2 3.1.2.
#include "template/builtins.h"
#include "template/test_runtime.h"

#include <catch2/catch.hpp>

#include <cmath>

namespace ferry::tmpl {
namespace {

using testing::A;
using testing::F;
using testing::I;
using testing::L;
using testing::S;
using testing::TestRuntime;

Value N() {
    return Value::none();
}
Value B(bool b) {
    return Value::boolean(b);
}
Value Undef() {
    return Value::undefined("'missing' is undefined");
}
Value Strict() {
    return Value::undefined("'missing' is undefined", true);
}

bool is(const std::string& test, const Value& v, const Args& args = {}, bool strict = false) {
    TestRuntime rt(strict);
    return rt.call_test(test, v, args);
}
std::string fails(const std::string& test, const Value& v, const Args& args = {},
                  bool strict = false) {
    try {
        is(test, v, args, strict);
    } catch (const TemplateError& e) {
        return std::string(to_string(e.kind())) + ": " + e.message();
    }
    return "no error";
}

TEST_CASE("every Jinja2 test is registered", "[tests]") {
    for (const char* name :
         {"boolean", "callable", "defined",  "divisibleby", "eq",       "equalto", "escaped",
          "even",    "false",    "filter",   "float",       "ge",       "gt",      "greaterthan",
          "in",      "integer",  "iterable", "le",          "lessthan", "lower",   "lt",
          "mapping", "ne",       "none",     "number",      "odd",      "sameas",  "sequence",
          "string",  "test",     "true",     "undefined",   "upper",    "==",      "!=",
          ">",       ">=",       "<",        "<="}) {
        INFO(name);
        CHECK(find_test(name) != nullptr);
    }
    CHECK(find_test("nosuch") == nullptr);
}

TEST_CASE("odd, even, divisibleby use Python's %", "[tests]") {
    CHECK(is("odd", I(7)));
    CHECK_FALSE(is("odd", I(12)));
    CHECK(is("odd", I(-3)));
    CHECK(is("even", I(0)));
    CHECK(is("odd", F(3.0)));
    CHECK_FALSE(is("odd", F(3.5)));
    CHECK(is("odd", B(true)));
    CHECK(is("divisibleby", I(9), A({I(3)})));
    CHECK_FALSE(is("divisibleby", I(9), A({I(4)})));
    CHECK(is("divisibleby", F(3.0), A({F(1.5)})));
    CHECK(fails("divisibleby", I(3), A({I(0)})) == "ZeroDivisionError: integer modulo by zero");
    CHECK(fails("even", N()) ==
          "TypeError: unsupported operand type(s) for %: 'NoneType' and 'int'");
    CHECK(fails("odd", Undef()) == "UndefinedError: 'missing' is undefined");
}

TEST_CASE("type tests", "[tests]") {
    CHECK(is("number", I(3)));
    CHECK(is("number", B(true)));
    CHECK_FALSE(is("number", S("3")));
    CHECK(is("integer", I(3)));
    CHECK_FALSE(is("integer", B(true)));
    CHECK_FALSE(is("integer", F(3.0)));
    CHECK(is("float", F(1.0)));
    CHECK(is("boolean", B(false)));
    CHECK_FALSE(is("boolean", I(0)));
    CHECK(is("true", B(true)));
    CHECK_FALSE(is("true", I(1)));
    CHECK(is("false", B(false)));
    CHECK_FALSE(is("false", N()));
    CHECK(is("none", N()));
    CHECK(is("string", S("x")));
    CHECK(is("string", Value::string("x", true)));
    CHECK(is("mapping", Value::dict()));
    CHECK_FALSE(is("mapping", L({})));
    CHECK(is("sequence", S("x")));
    CHECK(is("sequence", Value::dict()));
    CHECK(is("sequence", Undef()));
    CHECK_FALSE(is("sequence", Strict(), {}, true));  // len() fails: not a sequence
    CHECK_FALSE(is("sequence", I(1)));
    CHECK(is("iterable", L({})));
    CHECK(is("iterable", Undef()));
    CHECK_FALSE(is("iterable", I(5)));
    CHECK(fails("iterable", Strict(), {}, true) == "UndefinedError: 'missing' is undefined");
    CHECK(is("escaped", Value::string("x", true)));
    CHECK_FALSE(is("escaped", S("x")));
    CHECK(is("callable", Undef()));
    CHECK_FALSE(is("callable", S("x")));
    CHECK(is("callable", find_global("range")));
}

TEST_CASE("defined and undefined never raise", "[tests]") {
    CHECK_FALSE(is("defined", Undef()));
    CHECK(is("undefined", Undef()));
    CHECK_FALSE(is("defined", Strict(), {}, true));
    CHECK(is("undefined", Strict(), {}, true));
    CHECK(is("defined", N()));
}

TEST_CASE("lower and upper follow str.islower/isupper", "[tests]") {
    CHECK(is("lower", S("abc")));
    CHECK_FALSE(is("lower", S("Abc")));
    CHECK(is("upper", S("AB1")));
    CHECK_FALSE(is("upper", S("")));
    CHECK_FALSE(is("lower", S("1")));
    CHECK(is("lower", S("\xc3\x9f")));        // ß
    CHECK_FALSE(is("upper", S("\xc7\x85")));  // ǅ is titlecase: neither
    CHECK_FALSE(is("lower", S("\xc7\x85")));
    CHECK_FALSE(is("lower", N()));      // 'None'
    CHECK_FALSE(is("lower", Undef()));  // ''
}

TEST_CASE("comparison tests", "[tests]") {
    CHECK(is("eq", I(3), A({I(3)})));
    CHECK(is("==", I(1), A({F(1.0)})));
    CHECK(is("equalto", S("a"), A({S("a")})));
    CHECK(is("ne", I(3), A({I(4)})));
    CHECK(is("!=", Undef(), A({I(1)})));
    CHECK(is("lt", I(3), A({I(4)})));
    CHECK(is("lessthan", I(3), A({I(4)})));
    CHECK(is("<", L({I(1)}), A({L({I(2)})})));
    CHECK(is("le", I(3), A({I(3)})));
    CHECK(is("gt", I(5), A({I(4)})));
    CHECK(is("greaterthan", I(5), A({I(4)})));
    CHECK(is(">=", I(3), A({I(3)})));
    Value nan = F(std::nan(""));
    CHECK_FALSE(is("ge", nan, A({I(1)})));
    CHECK_FALSE(is("le", nan, A({nan})));
    CHECK(fails("gt", I(3), A({S("a")})) ==
          "TypeError: '>' not supported between instances of 'int' and 'str'");
    CHECK(fails("ge", S("a"), A({N()})) ==
          "TypeError: '>=' not supported between instances of 'str' and 'NoneType'");
    CHECK(fails("lt", Undef(), A({I(1)})) == "UndefinedError: 'missing' is undefined");
    CHECK(fails("eq", Strict(), A({I(1)}), true) == "UndefinedError: 'missing' is undefined");
}

TEST_CASE("in, sameas, filter, test", "[tests]") {
    CHECK(is("in", S("P1"), A({L({S("P1"), S("P2")})})));
    CHECK(is("in", S("x"), A({S("xyz")})));
    CHECK(is("in", I(1), A({L({F(1.0)})})));
    CHECK(is("in", S("a"), A({Value::dict()})) == false);
    CHECK_FALSE(is("in", I(1), A({Undef()})));
    CHECK(fails("in", I(1), A({S("abc")})) ==
          "TypeError: 'in <string>' requires string as left operand, not int");
    CHECK(fails("in", I(1), A({I(5)})) == "TypeError: argument of type 'int' is not iterable");
    CHECK(is("sameas", N(), A({N()})));
    CHECK(is("sameas", B(true), A({B(true)})));
    CHECK_FALSE(is("sameas", I(1), A({B(true)})));
    CHECK(is("sameas", I(1), A({I(1)})));
    CHECK_FALSE(is("sameas", I(1000), A({I(1000)})));  // beyond CPython's small-int cache
    CHECK_FALSE(is("sameas", L({}), A({L({})})));
    Value list = L({});
    CHECK(is("sameas", list, A({list})));
    CHECK(is("filter", S("upper")));
    CHECK_FALSE(is("filter", S("random")));
    CHECK_FALSE(is("filter", I(3)));
    CHECK(is("test", S("odd")));
    CHECK_FALSE(is("test", S("nosuch")));
    CHECK(fails("filter", Strict(), {}, true) == "UndefinedError: 'missing' is undefined");
}

}  // namespace
}  // namespace ferry::tmpl
