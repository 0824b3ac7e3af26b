// Global functions of the default environment: range, dict, lipsum, cycler, joiner,
// namespace. Expected values checked against Jinja2 3.1.2.
#include "template/builtins.h"
#include "template/test_runtime.h"

#include <catch2/catch.hpp>

namespace ferry::tmpl {
namespace {

using testing::A;
using testing::F;
using testing::I;
using testing::L;
using testing::S;
using testing::TestRuntime;

Value call(const std::string& name, const Args& args = {}) {
    TestRuntime rt;
    return rt.call(find_global(name), args);
}
Value method(const Value& obj, const std::string& name, const Args& args = {}) {
    TestRuntime rt;
    return rt.call(get_attribute(rt, obj, name), args);
}
Value attr(const Value& obj, const std::string& name) {
    TestRuntime rt;
    return get_attribute(rt, obj, name);
}
std::string fails(const std::string& name, const Args& args = {}) {
    try {
        call(name, args);
    } catch (const TemplateError& e) {
        return std::string(to_string(e.kind())) + ": " + e.message();
    }
    return "no error";
}

TEST_CASE("find_global knows the default namespace only", "[globals]") {
    for (const char* name : {"range", "dict", "lipsum", "cycler", "joiner", "namespace"}) {
        INFO(name);
        Value g = find_global(name);
        REQUIRE(g.is_object());
        CHECK(g.object_obj().is_callable());
    }
    CHECK(find_global("len").is_undefined());
    CHECK(find_global("").is_undefined());
    CHECK(to_str(find_global("range")) == "<class 'range'>");
    CHECK(to_str(find_global("namespace")) == "<class 'jinja2.utils.Namespace'>");
}

TEST_CASE("range behaves like Python's range object", "[globals]") {
    CHECK(to_str(call("range", A({I(3)}))) == "range(0, 3)");
    CHECK(to_str(call("range", A({I(1), I(10), I(3)}))) == "range(1, 10, 3)");
    CHECK(to_str(Value::list(iterate(call("range", A({I(1), I(10), I(3)}))))) == "[1, 4, 7]");
    CHECK(to_str(Value::list(iterate(call("range", A({I(5), I(0), I(-2)}))))) == "[5, 3, 1]");
    CHECK(iterate(call("range", A({I(-3)}))).empty());
    Value r = call("range", A({I(2), I(20), I(3)}));
    CHECK(length(r) == std::optional<size_t>(6));
    CHECK(truthy(r));
    CHECK_FALSE(truthy(call("range", A({I(0)}))));
    TestRuntime rt;
    CHECK(to_str(get_item(rt, r, I(1))) == "5");
    CHECK(to_str(get_item(rt, r, I(-1))) == "17");
    CHECK(get_item(rt, r, I(6)).is_undefined());
    CHECK(contains(r, I(8)));
    CHECK(contains(r, F(8.0)));
    CHECK_FALSE(contains(r, I(9)));
    CHECK_FALSE(contains(r, S("8")));
    // 2^63 items, one past what int64_t counts: found and indexed right; no length.
    Value vast = call("range", A({I(-1), I(INT64_MAX)}));
    CHECK(contains(vast, I(3)));
    CHECK(to_str(get_item(rt, vast, I(5))) == "4");
    CHECK(truthy(vast));
    CHECK_THROWS_WITH(length(vast), Catch::Contains("too large to convert to C ssize_t"));
    Value widest = call("range", A({I(INT64_MIN), I(INT64_MAX)}));
    CHECK(to_str(method(widest, "index", A({I(-2)}))) == "9223372036854775806");
    CHECK_THROWS_WITH(method(widest, "index", A({I(INT64_MAX - 1)})),
                      Catch::Contains("too large to convert to C ssize_t"));
    CHECK(to_str(attr(r, "start")) == "2");
    CHECK(to_str(attr(r, "stop")) == "20");
    CHECK(to_str(attr(r, "step")) == "3");
    CHECK(to_str(method(r, "index", A({I(11)}))) == "3");
    CHECK(to_str(method(r, "count", A({I(4)}))) == "0");
    // Slices are ranges, as in Python (range(2, 20, 3)[1:-1:2] is range(5, 17, 6)).
    CHECK(to_str(slice(r, 1, -1, 2)) == "range(5, 17, 6)");
    CHECK(to_str(Value::list(iterate(slice(r, 1, -1, 2)))) == "[5, 11]");
    CHECK(to_str(slice(call("range", A({I(10)})), std::nullopt, std::nullopt, -2)) ==
          "range(9, -1, -2)");
    CHECK(to_str(slice(call("range", A({I(5)})), 10, std::nullopt, std::nullopt)) == "range(5, 5)");
    CHECK(equals(call("range", A({I(0)})), call("range", A({I(2), I(2)}))));
    CHECK(equals(call("range", A({I(3)})), call("range", A({I(3)}))));
    CHECK(to_str(call("range", A({Value::boolean(true)}))) == "range(0, 1)");
    CHECK(fails("range", A({I(1), I(2), I(0)})) == "ValueError: range() arg 3 must not be zero");
    CHECK(fails("range", A({F(1.5)})) ==
          "TypeError: 'float' object cannot be interpreted as an integer");
    CHECK(fails("range") == "TypeError: range expected at least 1 argument, got 0");
    CHECK(fails("range", A({I(1), I(2), I(3), I(4)})) ==
          "TypeError: range expected at most 3 arguments, got 4");
    CHECK(fails("range", A({}, {{"x", I(3)}})) == "TypeError: range() takes no keyword arguments");
    // Materialising a huge range is refused instead of exhausting memory.
    Value huge = call("range", A({I(1'000'000'000'000)}));
    CHECK(length(huge) == std::optional<size_t>(1'000'000'000'000));
    CHECK_THROWS_AS(iterate(huge), TemplateError);
}

TEST_CASE("dict builds from mappings, pairs and keywords", "[globals]") {
    CHECK(to_str(call("dict", A({}, {{"a", I(1)}, {"b", I(2)}}))) == "{'a': 1, 'b': 2}");
    CHECK(to_str(call("dict")) == "{}");
    Value src = Value::dict();
    src.dict_obj().set(S("a"), I(1));
    Value copy = call("dict", A({src}, {{"b", I(2)}}));
    CHECK(to_str(copy) == "{'a': 1, 'b': 2}");
    CHECK(to_str(src) == "{'a': 1}");  // a copy, not the same dict
    CHECK(to_str(call("dict", A({L({Value::tuple({S("a"), I(1)}), S("bc")})}))) ==
          "{'a': 1, 'b': 'c'}");
    CHECK(fails("dict", A({I(1)})) == "TypeError: 'int' object is not iterable");
    CHECK(fails("dict", A({L({I(1)})})) ==
          "TypeError: cannot convert dictionary update sequence element #0 to a sequence");
    CHECK(fails("dict", A({L({L({I(1), I(2), I(3)})})})) ==
          "ValueError: dictionary update sequence element #0 has length 3; 2 is required");
    CHECK(fails("dict", A({src, src})) == "TypeError: dict expected at most 1 argument, got 2");
    // A large mapping with keywords (the keywords are found by a scan, not an index): an
    // existing key keeps its place and takes the keyword's value, a new one goes last, and
    // the copy is indexed like any dict.
    Value big = Value::dict();
    for (int i = 0; i < 100; ++i)
        big.dict_obj().set(S("k" + std::to_string(i)), I(i));
    Value updated = call("dict", A({big}, {{"k7", S("seven")}, {"new", I(-1)}}));
    REQUIRE(updated.dict_obj().size() == 101);
    CHECK(to_str(updated.dict_obj().items()[7].second) == "seven");
    CHECK(to_str(updated.dict_obj().items()[100].first) == "new");
    CHECK(to_str(*updated.dict_obj().find("k99")) == "99");
    CHECK(to_str(*big.dict_obj().find("k7")) == "7");
}

TEST_CASE("cycler", "[globals]") {
    Value c = call("cycler", A({S("a"), S("b")}));
    CHECK(to_str(method(c, "next")) == "a");
    CHECK(to_str(method(c, "next")) == "b");
    CHECK(to_str(method(c, "next")) == "a");
    CHECK(to_str(attr(c, "current")) == "b");
    CHECK(method(c, "reset").is_none());
    CHECK(to_str(attr(c, "current")) == "a");
    CHECK(to_str(attr(c, "items")) == "('a', 'b')");
    CHECK(to_str(attr(c, "pos")) == "0");
    CHECK(fails("cycler") == "TemplateRuntimeError: at least one item has to be provided");
    CHECK_THROWS_AS(iterate(c), TemplateError);  // 'Cycler' object is not iterable
}

TEST_CASE("joiner", "[globals]") {
    Value j = call("joiner");
    TestRuntime rt;
    CHECK(to_str(rt.call(j, {})) == "");
    CHECK(to_str(rt.call(j, {})) == ", ");
    CHECK(to_str(rt.call(j, {})) == ", ");
    Value pipe = call("joiner", A({S("|")}));
    rt.call(pipe, {});
    CHECK(to_str(rt.call(pipe, {})) == "|");
    Value kw = call("joiner", A({}, {{"sep", I(1)}}));
    rt.call(kw, {});
    CHECK(rt.call(kw, {}).is_int());  // the separator itself, not str() of it
}

TEST_CASE("namespace holds settable attributes", "[globals]") {
    Value ns = call("namespace", A({}, {{"count", I(0)}, {"name", S("x")}}));
    CHECK(to_str(ns) == "<Namespace {'count': 0, 'name': 'x'}>");
    CHECK(to_str(attr(ns, "count")) == "0");
    CHECK(attr(ns, "missing").is_undefined());
    CHECK(attr(ns, "items").is_undefined());  // no dict methods leak through
    REQUIRE(ns.object_obj().setattr("count", I(5)));
    CHECK(ns.object_obj().setattr("extra", S("y")));
    CHECK(to_str(ns) == "<Namespace {'count': 5, 'name': 'x', 'extra': 'y'}>");
    Value src = Value::dict();
    src.dict_obj().set(S("a"), I(1));
    CHECK(to_str(call("namespace", A({src}, {{"b", I(2)}}))) == "<Namespace {'a': 1, 'b': 2}>");
    CHECK(to_str(call("namespace")) == "<Namespace {}>");
    CHECK_FALSE(equals(call("namespace"), call("namespace")));
    CHECK(fails("namespace", A({I(1)})) == "TypeError: 'int' object is not iterable");
}

TEST_CASE("lipsum is deterministic lorem ipsum", "[globals]") {
    Value html = call("lipsum");
    REQUIRE(html.is_string());
    CHECK(html.is_safe());
    std::string text(html.str());
    CHECK(text.rfind("<p>", 0) == 0);
    CHECK(text.substr(text.size() - 5) == ".</p>");
    size_t paragraphs = 0;
    for (size_t p = text.find("<p>"); p != std::string::npos; p = text.find("<p>", p + 1))
        ++paragraphs;
    CHECK(paragraphs == 5);
    CHECK(to_str(call("lipsum")) == text);  // same text every time
    Value plain = call("lipsum", A({I(2), Value::boolean(false), I(3), I(5)}));
    CHECK_FALSE(plain.is_safe());
    std::string p(plain.str());
    CHECK(p.find("\n\n") != std::string::npos);
    CHECK(p.find("<p>") == std::string::npos);
    CHECK(to_str(call("lipsum", A({I(0)}))) == "");
    CHECK(fails("lipsum", A({I(1)}, {{"min", I(5)}, {"max", I(5)}})) ==
          "ValueError: empty range for randrange() (5, 5, 0)");
}

}  // namespace
}  // namespace ferry::tmpl
