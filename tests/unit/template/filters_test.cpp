// Builtin filters: expected values come from Jinja2 3.1.2 (Debian's python3-jinja2) run on
// the same input, e.g. /usr/bin/python3 -c 'import jinja2; print(repr(jinja2.Environment()
// .from_string("{{ 2.675|round(2) }}").render()))'.
#include "template/builtins.h"
#include "template/test_runtime.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

namespace ferry::tmpl {
namespace {

using testing::A;
using testing::F;
using testing::I;
using testing::L;
using testing::S;
using testing::TestRuntime;

Value T(std::vector<Value> items) {
    return Value::tuple(std::move(items));
}
Value D(std::vector<std::pair<std::string, Value>> items) {
    Value d = Value::dict();
    for (auto& [k, v] : items)
        d.dict_obj().set(Value::string(k), std::move(v));
    return d;
}
Value N() {
    return Value::none();
}
Value B(bool b) {
    return Value::boolean(b);
}
Value Safe(std::string s) {
    return Value::string(std::move(s), true);
}
Value Undef() {
    return Value::undefined("'missing' is undefined");
}
Value Strict() {
    return Value::undefined("'missing' is undefined", true);
}

Value apply(const std::string& name, const Value& v, const Args& args = {}, bool strict = false) {
    TestRuntime rt(strict);
    return rt.call_filter(name, v, args);
}
// str() of the result, as {{ ... }} prints it.
std::string run(const std::string& name, const Value& v, const Args& args = {}) {
    return to_str(apply(name, v, args));
}
// "Kind: message" of the error the call raises, or "no error".
std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const TemplateError& e) {
        return std::string(to_string(e.kind())) + ": " + e.message();
    }
    return "no error";
}
std::string fails(const std::string& name, const Value& v, const Args& args = {},
                  bool strict = false) {
    return error_of([&] { apply(name, v, args, strict); });
}

TEST_CASE("every Jinja2 filter except random is registered", "[filters]") {
    for (const char* name :
         {"abs",        "attr",    "batch",       "capitalize", "center",    "count",
          "d",          "default", "dictsort",    "e",          "escape",    "filesizeformat",
          "first",      "float",   "forceescape", "format",     "groupby",   "indent",
          "int",        "items",   "join",        "last",       "length",    "list",
          "lower",      "map",     "max",         "min",        "pprint",    "reject",
          "rejectattr", "replace", "reverse",     "round",      "safe",      "select",
          "selectattr", "slice",   "sort",        "string",     "striptags", "sum",
          "title",      "tojson",  "trim",        "truncate",   "unique",    "upper",
          "urlencode",  "urlize",  "wordcount",   "wordwrap",   "xmlattr"}) {
        INFO(name);
        CHECK(find_filter(name) != nullptr);
    }
    CHECK(find_filter("random") == nullptr);
    CHECK(find_filter("nosuch") == nullptr);
    CHECK(find_filter("") == nullptr);
}

TEST_CASE("round: Python's round and the ceil/floor methods", "[filters]") {
    CHECK(run("round", F(3.14159)) == "3.0");
    CHECK(run("round", F(3.14159), A({I(2)})) == "3.14");
    CHECK(run("round", F(2.5)) == "2.0");  // half-even
    CHECK(run("round", F(3.5)) == "4.0");
    CHECK(run("round", F(-2.5)) == "-2.0");
    CHECK(run("round", F(2.675), A({I(2)})) == "2.67");  // 2.675 is 2.67499999...
    CHECK(run("round", F(0.125), A({I(2)})) == "0.12");
    CHECK(run("round", F(-0.4)) == "-0.0");
    // To a whole number without printf: still half-even on the exact binary value.
    CHECK(run("round", F(0.5)) == "0.0");
    CHECK(run("round", F(-1.5)) == "-2.0");
    CHECK(run("round", F(0.49999999999999994)) == "0.0");  // not 0.5 + 0.5 rounded up
    CHECK(run("round", F(4503599627370495.5)) == "4503599627370496.0");
    CHECK(run("round", F(1e300)) == "1e+300");
    CHECK(run("round", F(-0.0)) == "-0.0");
    CHECK(run("round", I(42)) == "42");  // ints stay ints
    CHECK(run("round", I(45), A({I(-1)})) == "40");
    CHECK(run("round", I(55), A({I(-1)})) == "60");
    CHECK(run("round", F(1234.5), A({I(-2)})) == "1200.0");
    CHECK(run("round", F(1e300), A({I(2)})) == "1e+300");
    CHECK(run("round", F(2.5), A({N()})) == "2");
    CHECK(run("round", F(2.1), A({I(0), S("ceil")})) == "3.0");
    CHECK(run("round", F(2.123), A({I(2), S("ceil")})) == "2.13");
    CHECK(run("round", I(42), A({}, {{"method", S("ceil")}})) == "42.0");
    CHECK(run("round", F(-2.1), A({I(0), S("floor")})) == "-3.0");
    CHECK(run("round", F(2.987), A({I(1), S("floor")})) == "2.9");
    // An int floors and ceils to itself, correctly rounded to a float (not through i * 100
    // as a double, nor overflowing where Python's ints do not): as Jinja2 3.1.2 renders.
    CHECK(run("round", I(9007199254740993), A({I(2), S("floor")})) == "9007199254740992.0");
    CHECK(run("round", I(INT64_MAX), A({I(2), S("ceil")})) == "9.223372036854776e+18");
    CHECK(run("round", I(-7), A({I(3), S("ceil")})) == "-7.0");
    CHECK(run("round", I(15), A({I(-1), S("floor")})) == "10.0");
    CHECK(fails("round", F(2.5), A({}, {{"method", S("x")}})) ==
          "TemplateRuntimeError: method must be common, ceil or floor");
    CHECK(fails("round", S("x")) == "TypeError: type str doesn't define __round__ method");
    CHECK(fails("round", F(2.5), A({F(0.5)})) ==
          "TypeError: 'float' object cannot be interpreted as an integer");
    CHECK(fails("round", F(1.7976931348623157e308), A({I(-308)})) ==
          "OverflowError: rounded value too large to represent");
}

TEST_CASE("int and float convert like Python, with defaults", "[filters]") {
    CHECK(run("int", S("42")) == "42");
    CHECK(run("int", S("3.9")) == "3");  // via float
    CHECK(run("int", S(" 1.5e3 ")) == "1500");
    CHECK(run("int", S("abc")) == "0");
    CHECK(run("int", S("abc"), A({I(-1)})) == "-1");
    CHECK(run("int", S("x"), A({S("d")})) == "d");
    CHECK(run("int", S("0x1A"), A({}, {{"base", I(16)}})) == "26");
    CHECK(run("int", S("0x1A")) == "0");
    CHECK(run("int", S("0b101"), A({I(0), I(2)})) == "5");
    CHECK(run("int", S("1_000")) == "1000");
    CHECK(run("int", S("1__0")) == "0");
    CHECK(run("int", S("\xd9\xa1\xd9\xa2")) == "12");  // Arabic-Indic digits
    CHECK(run("int", F(-3.9)) == "-3");
    CHECK(run("int", N()) == "0");
    CHECK(run("int", B(true)) == "1");
    CHECK(run("int", S("nan")) == "0");
    CHECK(fails("int", S("inf")) == "OverflowError: cannot convert float infinity to integer");
    CHECK(fails("int", Undef()) == "UndefinedError: 'missing' is undefined");
    CHECK(run("float", S("3.14")) == "3.14");
    CHECK(run("float", S("abc")) == "0.0");
    CHECK(run("float", S("x"), A({F(1.5)})) == "1.5");
    CHECK(run("float", I(3)) == "3.0");
    CHECK(run("float", S(" infinity ")) == "inf");
    CHECK(run("float", S("1_0.5")) == "10.5");
    CHECK(run("float", S("1e500")) == "inf");
    CHECK(run("float", S("1e-500")) == "0.0");
    CHECK(run("float", S("0x10")) == "0.0");
    CHECK(fails("float", Undef()) == "UndefinedError: 'missing' is undefined");
}

TEST_CASE("abs, filesizeformat", "[filters]") {
    CHECK(run("abs", I(-3)) == "3");
    CHECK(run("abs", F(-0.5)) == "0.5");
    CHECK(run("abs", B(true)) == "1");
    CHECK(fails("abs", S("x")) == "TypeError: bad operand type for abs(): 'str'");
    CHECK(run("filesizeformat", I(0)) == "0 Bytes");
    CHECK(run("filesizeformat", I(1)) == "1 Byte");
    CHECK(run("filesizeformat", I(1000)) == "1.0 kB");
    CHECK(run("filesizeformat", I(1000), A({B(true)})) == "1000 Bytes");
    CHECK(run("filesizeformat", I(1250)) == "1.2 kB");  // %.1f rounds half-even
    CHECK(run("filesizeformat", I(1550)) == "1.6 kB");
    CHECK(run("filesizeformat", I(5368709120)) == "5.4 GB");
    CHECK(run("filesizeformat", F(1e15), A({B(true)})) == "909.5 TiB");
    CHECK(run("filesizeformat", F(1e24)) == "1000.0 ZB");  // 1e24 < 1000**8 exactly
    CHECK(run("filesizeformat", F(1e30)) == "1000000.0 YB");
    CHECK(run("filesizeformat", S("2000")) == "2.0 kB");
    CHECK(fails("filesizeformat", S("x")) == "ValueError: could not convert string to float: 'x'");
}

TEST_CASE("default and d replace only undefined unless boolean", "[filters]") {
    CHECK(run("default", Undef(), A({S("fallback")})) == "fallback");
    CHECK(run("d", Undef(), A({S("x")})) == "x");
    CHECK(run("default", Strict(), A({S("x")})) == "x");
    CHECK(run("default", S(""), A({S("x")})) == "");
    CHECK(run("default", S(""), A({S("x"), B(true)})) == "x");
    CHECK(run("default", I(0), A({I(5)})) == "0");
    CHECK(run("default", N(), A({S("x")}, {{"boolean", B(true)}})) == "x");
    CHECK(run("default", Undef()) == "");
}

TEST_CASE("case filters", "[filters]") {
    CHECK(run("upper", S("hello")) == "HELLO");
    CHECK(run("upper", I(42)) == "42");
    CHECK(run("lower", N()) == "none");
    CHECK(run("upper", L({I(1), S("a")})) == "[1, 'A']");
    CHECK(apply("upper", Safe("<b>")).is_safe());
    CHECK(run("capitalize", S("hELLO wORLD")) == "Hello world");
    CHECK(run("capitalize", S("\xc3\x9f"
                              "a")) == "Ssa");  // ß title-cases to Ss
    CHECK(run("capitalize", S("\xc7\x86"
                              "a")) == "\xc7\x85"
                                       "a");  // ǆ -> ǅ
    CHECK(run("title", S("o'neil mc-donald (ops)team")) == "O'neil Mc-Donald (Ops)team");
    CHECK(run("title", S("hello from the o'brien vpn-gateway team")) ==
          "Hello From The O'brien Vpn-Gateway Team");
    CHECK(run("title", S("\xc3\x9f x")) == "SS X");
    CHECK(run("title", S("a_b c1d [x]y {z}w <q>r")) == "A_b C1d [X]y {Z}w <Q>r");
    CHECK_FALSE(apply("title", Safe("x")).is_safe());  // "".join() makes a str
    CHECK(run("upper", Undef()) == "");
    CHECK(fails("upper", Strict()) == "UndefinedError: 'missing' is undefined");
}

TEST_CASE("center, trim, replace", "[filters]") {
    CHECK(run("center", S("INCIDENT"), A({I(20)})) == "      INCIDENT      ");
    CHECK(run("center", S("ab"), A({I(5)})) == "  ab ");
    CHECK(run("center", S("abc"), A({I(6)})) == " abc  ");
    CHECK(run("center", S("x"), A({I(4)})) == " x  ");
    CHECK(run("center", S("abcd"), A({I(2)})) == "abcd");
    CHECK(run("center", S("\xc3\xa9"), A({I(3)})) == " \xc3\xa9 ");
    CHECK(run("center", S("x"), A({I(INT64_MIN)})) == "x");  // no overflow into a huge width
    CHECK(fails("center", S("x"), A({S("5")})) ==
          "TypeError: 'str' object cannot be interpreted as an integer");
    CHECK(run("trim", S("  padded \n")) == "padded");
    CHECK(run("trim", S("--==title==--"), A({S("-=")})) == "title");
    CHECK(run("trim", S("\xc2\xa0x\xe2\x80\x83")) == "x");  // Unicode whitespace
    // Ends that are printable ASCII take a shortcut; control characters are whitespace to
    // Python (\x1c-\x1f), DEL is not.
    CHECK(run("trim", S("a b")) == "a b");
    CHECK(run("trim", S("x")) == "x");
    CHECK(run("trim", S("")) == "");
    CHECK(run("trim", S("\x1fx\x1c")) == "x");
    CHECK(run("trim", S("x\x7f")) == "x\x7f");
    CHECK(run("trim", S("x\xe2\x80\x83")) == "x");
    CHECK(run("replace", S("aaa"), A({S("a"), S("b")})) == "bbb");
    CHECK(run("replace", S("abc"), A({S("x"), S("y")})) == "abc");  // nothing to replace
    CHECK(run("replace", S("abc"), A({S("x")}, {{"new", S("y")}})) == "abc");
    CHECK(run("replace", S("aaa"), A({S("a"), S("b"), I(2)})) == "bba");
    CHECK(run("replace", S("ab"), A({S(""), S("-")})) == "-a-b-");
    CHECK(run("replace", S("ab"), A({S(""), S("-"), I(2)})) == "-a-b");
    CHECK(run("replace", I(123), A({I(2), I(5)})) == "153");
    CHECK_FALSE(apply("replace", Safe("a b"), A({S(" "), S("<")})).is_safe());
}

TEST_CASE("truncate", "[filters]") {
    Value text = S("Hello world, this is long");
    CHECK(run("truncate", text, A({I(10)})) == "Hello...");
    CHECK(run("truncate", text, A({I(22)})) == "Hello world, this is long");  // leeway 5
    CHECK(run("truncate", text, A({I(9), B(true)})) == "Hello ...");
    CHECK(run("truncate", text, A({I(12), B(false), S("\xe2\x80\xa6"), I(0)})) ==
          "Hello\xe2\x80\xa6");
    CHECK(run("truncate", text, A({I(15)}, {{"end", S(" [more]")}})) == "Hello [more]");
    CHECK(run("truncate", text, A({I(16)}, {{"leeway", I(0)}})) == "Hello world,...");
    CHECK(run("truncate", S("short"), A({I(3), B(true), S(""), I(0)})) == "sho");
    // At the leeway's bound, counted in characters (the short-string path counts bytes).
    CHECK(run("truncate", S("abcdefgh"), A({I(3)})) == "abcdefgh");
    CHECK(run("truncate", S("abcdefghi"), A({I(3)})) == "...");
    CHECK(run("truncate", S("abc"), A({I(INT64_MAX)})) == "abc");  // no overflow adding the leeway
    CHECK(run("truncate", S("\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"),
              A({I(3)})) == "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4");
    CHECK(run("truncate",
              S("\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"),
              A({I(3)})) == "...");
    CHECK(run("truncate", S("helloworldfoobarbaz"), A({I(8)}, {{"leeway", I(0)}})) == "hello...");
    CHECK(run("truncate", Undef()) == "");
    CHECK(fails("truncate", S("x"), A({I(2)})) ==
          "TemplateRuntimeError: expected length >= 3, got 2");
    Value safe = apply("truncate", Safe("<b>abc def ghi"), A({I(10), B(false), S("&"), I(0)}));
    CHECK(safe.is_safe());
    CHECK(safe.str() == "<b>abc&amp;");  // Markup + str escapes the str
}

TEST_CASE("wordwrap follows textwrap", "[filters]") {
    Value text = S("The quick brown fox jumps over the lazy dog near the river bank");
    CHECK(run("wordwrap", text, A({I(20)})) ==
          "The quick brown fox\njumps over the lazy\ndog near the river\nbank");
    CHECK(run("wordwrap", text, A({I(20)}, {{"wrapstring", S("<br>")}})) ==
          "The quick brown fox<br>jumps over the lazy<br>dog near the river<br>bank");
    Value hyph = S("a-very-long-hyphenated-word here");
    CHECK(run("wordwrap", hyph, A({I(10)})) == "a-very-\nlong-hyphe\nnated-word\nhere");
    CHECK(run("wordwrap", hyph, A({I(10)}, {{"break_on_hyphens", B(false)}})) ==
          "a-very-lon\ng-hyphenat\ned-word\nhere");
    CHECK(run("wordwrap", S("supercalifragilistic is"), A({I(10), B(false)})) ==
          "supercalifragilistic\nis");
    CHECK(run("wordwrap", S("Hello there -- you goof-ball, use the -b option!"), A({I(12)})) ==
          "Hello there\n-- you goof-\nball, use\nthe -b\noption!");
    CHECK(run("wordwrap", S("x\n\ny z\r\nw"), A({I(3)})) == "x\n\ny z\nw");
    CHECK(run("wordwrap",
              S("non\xc2\xa0"
                "breaking space"),
              A({I(8)})) == "non\xc2\xa0"
                            "brea\nking\nspace");
    CHECK(fails("wordwrap", S("abc"), A({I(0)})) == "ValueError: invalid width 0 (must be > 0)");
    // A long word is cut without copying its rest at every cut (that was quadratic: this
    // 300,000-character word ran for minutes, the render's deadline unchecked meanwhile).
    std::string word(300000, 'x');
    std::string wrapped = run("wordwrap", S(word), A({I(1)}));
    CHECK(wrapped.size() == 2 * word.size() - 1);
    CHECK(wrapped.substr(0, 6) == "x\nx\nx\n");
    CHECK(fails("wordwrap", Undef()) == "UndefinedError: 'missing' is undefined");
}

TEST_CASE("indent, wordcount", "[filters]") {
    Value text = S("line one\nline two\n\nline four\n");
    CHECK(run("indent", text) == "line one\n    line two\n\n    line four\n");
    CHECK(run("indent", text, A({I(2), B(true)})) == "  line one\n  line two\n\n  line four\n");
    CHECK(run("indent", text, A({I(2), B(true), B(true)})) ==
          "  line one\n  line two\n  \n  line four\n  ");
    CHECK(run("indent", text, A({S("> ")})) == "line one\n> line two\n\n> line four\n");
    CHECK(run("indent",
              S("a\r\nb\x0b"
                "c"),
              A({I(1)})) == "a\n b\n c");
    CHECK(run("indent", S(""), A({I(2), B(true)})) == "  ");
    CHECK(fails("indent", I(42)) ==
          "TypeError: unsupported operand type(s) for +=: 'int' and 'str'");
    CHECK(fails("indent", S("a"), A({F(1.5)})) ==
          "TypeError: can't multiply sequence by non-int of type 'float'");
    CHECK(run("wordcount", S("it's a test-case, v2.0_beta")) == "7");
    CHECK(run("wordcount", S("\xe9\x9a\x9c\xe5\xae\xb3 \xe7\x99\xba\xe7\x94\x9f")) == "2");
    CHECK(run("wordcount", S("x\xc2\xb2y \xc2\xbd")) == "2");  // ² and ½ are \w
    CHECK(run("wordcount", Undef()) == "0");
}

TEST_CASE("escape, forceescape, safe, string", "[filters]") {
    Value e = apply("e", S("<a href='x'>\"&"));
    CHECK(e.is_safe());
    CHECK(e.str() == "&lt;a href=&#39;x&#39;&gt;&#34;&amp;");
    CHECK(apply("escape", Safe("<b>")).str() == "<b>");
    CHECK(run("e", N()) == "None");
    CHECK(run("e", L({I(1), S("<")})) == "[1, &#39;&lt;&#39;]");
    CHECK(run("forceescape", Safe("&amp;")) == "&amp;amp;");
    CHECK(apply("safe", I(42)).is_safe());
    CHECK(run("safe", Undef()) == "");
    CHECK(apply("string", Safe("x")).is_safe());
    CHECK(run("string", F(1.0)) == "1.0");
    CHECK(run("string", L({I(1), S("a")})) == "[1, 'a']");
}

TEST_CASE("striptags unescapes entities", "[filters]") {
    CHECK(run("striptags", S("<p>Hello&nbsp;<b>World</b> &amp; co</p>")) ==
          "Hello\xc2\xa0World & co");
    CHECK(run("striptags", S("a <br/>\n\t b <!-- c --> d")) == "a b d");
    CHECK(run("striptags", S("a < b > c")) == "a c");
    CHECK(run("striptags", S("<a")) == "<a");
    CHECK(run("striptags", S("&#65;&#x42;&copy &ampx &notit; &#0; &#128; &#1114112;")) ==
          "AB\xc2\xa9 &x \xc2\xacit; \xef\xbf\xbd \xe2\x82\xac \xef\xbf\xbd");
    CHECK(run("striptags", S("&#x;&#;&;&nosuch;")) == "&#x;&#;&;&nosuch;");
    CHECK_FALSE(apply("striptags", Safe("<b>x</b>")).is_safe());
}

TEST_CASE("urlize", "[filters]") {
    CHECK(run("urlize", S("see http://example.com/a?b=1&c=2, or (www.foo.org).")) ==
          "see <a href=\"http://example.com/a?b=1&amp;c=2\" rel=\"noopener\">"
          "http://example.com/a?b=1&amp;c=2</a>, or (<a href=\"https://www.foo.org\" "
          "rel=\"noopener\">www.foo.org</a>).");
    CHECK(run("urlize", S("mail me@x.com or mailto:a@b.co")) ==
          "mail <a href=\"mailto:me@x.com\">me@x.com</a> or <a href=\"mailto:a@b.co\">a@b.co</a>");
    CHECK(run("urlize", S("foo.com x@y http://a.b")) ==
          "<a href=\"https://foo.com\" rel=\"noopener\">foo.com</a> x@y http://a.b");
    // Only the last '@' can split an address (the domain takes none, the name any); a
    // word of 100,000 of them was tried at each (8 s). As Jinja2 3.1.2 answers:
    CHECK(run("urlize", S("a@b@c.com")) == "<a href=\"mailto:a@b@c.com\">a@b@c.com</a>");
    CHECK(run("urlize", S("a@b.c@d.com")) == "<a href=\"mailto:a@b.c@d.com\">a@b.c@d.com</a>");
    CHECK(run("urlize", S(std::string(100000, '@'))) == std::string(100000, '@'));
    CHECK(run("urlize", S("x@1.2 @y.com a@-b.com")) ==
          "<a href=\"mailto:x@1.2\">x@1.2</a> @y.com a@-b.com");
    CHECK(run("urlize", S("(http://x.com/a_(b))")) ==
          "(<a href=\"http://x.com/a_(b)\" rel=\"noopener\">http://x.com/a_(b)</a>)");
    CHECK(run("urlize", S("<b>http://x.com</b>")) == "&lt;b&gt;http://x.com&lt;/b&gt;");
    CHECK(run("urlize", S("https://1.2.3.4:80/x http://[::1]/")) ==
          "<a href=\"https://1.2.3.4:80/x\" rel=\"noopener\">https://1.2.3.4:80/x</a> "
          "<a href=\"http://[::1]/\" rel=\"noopener\">http://[::1]/</a>");
    CHECK(run("urlize", S("https://example.com/very/long"), A({I(10)})) ==
          "<a href=\"https://example.com/very/long\" rel=\"noopener\">https://ex...</a>");
    CHECK(
        run("urlize", S("http://x.com"), A({}, {{"nofollow", B(true)}, {"target", S("_blank")}})) ==
        "<a href=\"http://x.com\" rel=\"nofollow noopener\" target=\"_blank\">http://x.com</a>");
    CHECK(run("urlize", S("ftp://x.com x"), A({}, {{"extra_schemes", L({S("ftp://")})}})) ==
          "<a href=\"ftp://x.com\" rel=\"noopener\">ftp://x.com</a> x");
    CHECK(fails("urlize", S("x"), A({}, {{"extra_schemes", L({S("bad")})}})) ==
          "TemplateRuntimeError: 'bad' is not a valid URI scheme prefix.");
}

TEST_CASE("urlencode and xmlattr", "[filters]") {
    CHECK(run("urlencode", S("a b&c/d?\xc3\xa9")) == "a%20b%26c/d%3F%C3%A9");
    CHECK(run("urlencode", D({{"q", S("status:open owner:me")}, {"page", I(2)}})) ==
          "q=status%3Aopen+owner%3Ame&page=2");
    CHECK(run("urlencode", L({T({S("project"), S("OPS")}), T({S("jql"), S("a=b&c")})})) ==
          "project=OPS&jql=a%3Db%26c");
    CHECK(run("urlencode", I(42)) == "42");
    CHECK(fails("urlencode", L({I(1)})) == "TypeError: cannot unpack non-iterable int object");
    Value attrs = D({{"href", S("https://x/?a=1&b=2")},
                     {"id", N()},
                     {"title", S("Say \"hi\" & <go>")},
                     {"skip", Undef()}});
    CHECK(run("xmlattr", attrs) ==
          " href=\"https://x/?a=1&amp;b=2\" title=\"Say &#34;hi&#34; &amp; &lt;go&gt;\"");
    CHECK(run("xmlattr", D({{"data-x", S("y")}}), A({B(false)})) == "data-x=\"y\"");
    CHECK(run("xmlattr", Value::dict()) == "");
    CHECK(fails("xmlattr", D({{"a b", I(1)}})) ==
          "ValueError: Invalid character in attribute name: 'a b'");
    CHECK(fails("xmlattr", Undef()) == "UndefinedError: 'missing' is undefined");
}

TEST_CASE("first, last, length, list, reverse", "[filters]") {
    CHECK(run("first", L({S("a"), S("b")})) == "a");
    CHECK(run("last", L({S("a"), S("b")})) == "b");
    CHECK(run("first", S("Outage")) == "O");
    CHECK(run("last", S("Outage")) == "e");
    CHECK(run("last", D({{"a", I(1)}, {"b", I(2)}})) == "b");
    Value empty = apply("first", L({}));
    CHECK(empty.is_undefined());
    CHECK(run("last", Undef()) == "");
    CHECK(fails("first", I(5)) == "TypeError: 'int' object is not iterable");
    CHECK(fails("last", I(5)) == "TypeError: 'int' object is not reversible");
    CHECK(run("length", S("h\xc3\xa9llo")) == "5");
    CHECK(run("count", D({{"a", I(1)}})) == "1");
    CHECK(run("length", Undef()) == "0");
    CHECK(fails("length", I(5)) == "TypeError: object of type 'int' has no len()");
    CHECK(run("list", S("abc")) == "['a', 'b', 'c']");
    CHECK(run("list", D({{"x", I(1)}, {"y", I(2)}})) == "['x', 'y']");
    CHECK(run("reverse", S("h\xc3\xa9llo")) == "oll\xc3\xa9h");
    CHECK(run("reverse", L({I(1), I(2), I(3)})) == "[3, 2, 1]");
    CHECK(fails("reverse", I(5)) == "TemplateRuntimeError: argument must be iterable");
}

// The filters Jinja2 passes its eval context (join, replace, urlize, xmlattr) inside
// {% autoescape true %}: expected text and Markup-ness from Jinja2 3.1.2 (Debian's, with
// markupsafe 2.1.2) with the same values bound as variables (constants would be folded at
// compile time there).
TEST_CASE("join, replace, urlize and xmlattr read the autoescape setting", "[filters]") {
    TestRuntime rt;
    rt.set_eval_autoescape(true);
    auto call = [&](const std::string& name, const Value& v, const Args& args) {
        return rt.call_filter(name, v, args);
    };
    Value joined = call("join", L({S("<a>"), Safe("<b>")}), A({S("&")}));
    CHECK(joined.str() == "&lt;a&gt;&amp;<b>");
    CHECK(joined.is_safe());
    Value plain = call("join", L({S("<a>"), S("b")}), A({S("&")}));
    CHECK(plain.str() == "<a>&b");  // no Markup in sight: plain text, escaped when printed
    CHECK_FALSE(plain.is_safe());
    CHECK(call("join", L({S("<a>"), S("b")}), A({Safe("<br>")})).str() == "&lt;a&gt;<br>b");
    CHECK(call("join", L({I(1), Safe("<")}), A({S(", ")})).str() == "1, <");
    Value people = L({D({{"n", S("<a>")}}), D({{"n", Safe("<b>")}})});
    CHECK(call("join", people, A({S("&")}, {{"attribute", S("n")}})).str() == "&lt;a&gt;&amp;<b>");

    // markupsafe 2.1 (Debian's) escapes both arguments of Markup.replace; 3.0 only `new`.
    CHECK(call("replace", S("<a>&"), A({S("&"), Safe("<b>")})).str() == "&lt;a&gt;<b>");
    CHECK(call("replace", S("<a>&"), A({Safe("&"), S("x")})).str() == "xlt;axgt;xamp;");
    Value replaced = call("replace", Safe("<a>&"), A({S("&"), S("<")}));
    CHECK(replaced.str() == "<a>&");
    CHECK(replaced.is_safe());
    CHECK(call("replace", Safe("<a>&"), A({S("z"), S("y")})).is_safe());
    Value text = call("replace", S("<a>&"), A({S("&"), S("<")}));
    CHECK(text.str() == "<a><");
    CHECK_FALSE(text.is_safe());
    CHECK(call("replace", Safe("a<a"), A({S("a"), S("&"), I(1)})).str() == "&amp;<a");

    Value linked = call("urlize", S("and <b> www.c.org"), A({}));
    CHECK(linked.str() ==
          "and &lt;b&gt; <a href=\"https://www.c.org\" rel=\"noopener\">www.c.org</a>");
    CHECK(linked.is_safe());
    Value attrs = call("xmlattr", D({{"a", S("<x>")}, {"b", S("q\"")}}), A({}));
    CHECK(attrs.str() == " a=\"&lt;x&gt;\" b=\"q&#34;\"");
    CHECK(attrs.is_safe());

    // Outside autoescape they are plain text, as before.
    CHECK_FALSE(apply("urlize", S("www.c.org")).is_safe());
    CHECK_FALSE(apply("xmlattr", D({{"a", S("x")}})).is_safe());
    CHECK_FALSE(apply("join", L({Safe("<b>")})).is_safe());
    CHECK_FALSE(apply("replace", Safe("<a>"), A({S("a"), S("b")})).is_safe());
}

TEST_CASE("join, sum, batch, slice", "[filters]") {
    CHECK(run("join", L({I(1), N(), S("x"), B(true)}), A({S(",")})) == "1,None,x,True");
    CHECK(run("join", L({S("a"), S("b")})) == "ab");
    Value people = L({D({{"name", S("Ana")}}), D({{"name", S("Tom")}})});
    CHECK(run("join", people, A({S(", ")}, {{"attribute", S("name")}})) == "Ana, Tom");
    CHECK(run("join", people, A({}, {{"attribute", S("name.0")}})) == "AT");
    CHECK(run("sum", L({F(0.1), F(0.2), F(0.3)})) == "0.6000000000000001");
    CHECK(run("sum", L({})) == "0");
    CHECK(run("sum", L({I(1), I(2)}), A({}, {{"start", I(10)}})) == "13");
    CHECK(run("sum", L({D({{"h", F(1.5)}}), D({{"h", I(2)}})}), A({S("h")})) == "3.5");
    CHECK(run("sum", L({L({I(1)}), L({I(2)})}), A({}, {{"start", L({})}})) == "[1, 2]");
    CHECK(fails("sum", L({S("a")})) ==
          "TypeError: unsupported operand type(s) for +: 'int' and 'str'");
    CHECK(fails("sum", L({S("a")}), A({}, {{"start", S("")}})) ==
          "TypeError: sum() can't sum strings [use ''.join(seq) instead]");
    Value hosts = L({S("a"), S("b"), S("c"), S("d"), S("e")});
    CHECK(run("batch", hosts, A({I(2)})) == "[['a', 'b'], ['c', 'd'], ['e']]");
    CHECK(run("batch", hosts, A({I(3), S("-")})) == "[['a', 'b', 'c'], ['d', 'e', '-']]");
    CHECK(run("batch", L({I(1), I(2), I(3)}), A({I(0)})) == "[[], [1, 2, 3]]");
    CHECK(run("slice", hosts, A({I(3)})) == "[['a', 'b'], ['c', 'd'], ['e']]");
    CHECK(run("slice", L({I(1), I(2), I(3), I(4)}), A({I(3), I(0)})) == "[[1, 2], [3, 0], [4, 0]]");
    CHECK(run("slice", L({I(1)}), A({I(-1)})) == "[]");
    CHECK(fails("slice", L({I(1)}), A({I(0)})) ==
          "ZeroDivisionError: integer division or modulo by zero");
}

TEST_CASE("sort, dictsort, unique, min, max", "[filters]") {
    Value letters = L({S("b"), S("A"), S("c"), S("B")});
    CHECK(run("sort", letters) == "['A', 'b', 'B', 'c']");  // stable, case-insensitive
    CHECK(run("sort", letters, A({}, {{"case_sensitive", B(true)}})) == "['A', 'B', 'b', 'c']");
    CHECK(run("sort", letters, A({B(true)})) == "['c', 'b', 'B', 'A']");
    Value tickets = L({D({{"p", S("b")}, {"i", I(2)}}), D({{"p", S("a")}, {"i", I(1)}}),
                       D({{"p", S("b")}, {"i", I(1)}})});
    CHECK(run("sort", tickets, A({}, {{"attribute", S("p,i")}, {"reverse", B(true)}})) ==
          "[{'p': 'b', 'i': 2}, {'p': 'b', 'i': 1}, {'p': 'a', 'i': 1}]");
    // One key sorts as the key itself, stably, with or without reverse (up to 16 items by
    // insertion, beyond by std::stable_sort).
    CHECK(run("sort", tickets, A({}, {{"attribute", S("p")}})) ==
          "[{'p': 'a', 'i': 1}, {'p': 'b', 'i': 2}, {'p': 'b', 'i': 1}]");
    CHECK(run("sort", tickets, A({}, {{"attribute", S("p")}, {"reverse", B(true)}})) ==
          "[{'p': 'b', 'i': 2}, {'p': 'b', 'i': 1}, {'p': 'a', 'i': 1}]");
    for (int n : {8, 20}) {
        std::vector<Value> pairs;
        std::string by_key, reversed;
        for (int i = 0; i < n; ++i)
            pairs.push_back(L({I(i), I((i * 7) % 5)}));
        // Python: sorted(pairs, key=lambda p: p[1]) and the same with reverse=True.
        for (int k = 0; k < 5; ++k)
            for (int i = 0; i < n; ++i)
                if ((i * 7) % 5 == k)
                    by_key += (by_key.empty() ? "" : ", ") + std::string("[") + std::to_string(i) +
                              ", " + std::to_string(k) + "]";
        for (int k = 4; k >= 0; --k)
            for (int i = 0; i < n; ++i)
                if ((i * 7) % 5 == k)
                    reversed += (reversed.empty() ? "" : ", ") + std::string("[") +
                                std::to_string(i) + ", " + std::to_string(k) + "]";
        Value list = L(pairs);
        CHECK(run("sort", list, A({}, {{"attribute", S("1")}})) == "[" + by_key + "]");
        CHECK(run("sort", list, A({}, {{"attribute", S("1")}, {"reverse", B(true)}})) ==
              "[" + reversed + "]");
    }
    CHECK(fails("sort", L({I(1), S("a")})) ==
          "TypeError: '<' not supported between instances of 'str' and 'int'");
    CHECK(fails("sort", L({D({{"a", S("B")}}), Value::dict()}), A({}, {{"attribute", S("a")}})) ==
          "UndefinedError: 'dict object' has no attribute 'a'");
    Value counts = D({{"network", I(4)}, {"apps", I(1)}, {"Storage", I(4)}, {"Database", I(9)}});
    CHECK(run("dictsort", counts) ==
          "[('apps', 1), ('Database', 9), ('network', 4), ('Storage', 4)]");
    CHECK(run("dictsort", counts, A({B(true)})) ==
          "[('Database', 9), ('Storage', 4), ('apps', 1), ('network', 4)]");
    CHECK(run("dictsort", counts, A({}, {{"by", S("value")}})) ==
          "[('apps', 1), ('network', 4), ('Storage', 4), ('Database', 9)]");
    CHECK(fails("dictsort", counts, A({}, {{"by", S("x")}})) ==
          "TemplateRuntimeError: You can only sort by either \"key\" or \"value\"");
    CHECK(run("unique", L({S("a"), S("A"), S("b"), S("a")})) == "['a', 'b']");
    CHECK(run("unique", L({F(1.0), I(1), B(true)})) == "[1.0]");
    CHECK(fails("unique", L({L({I(1)})})) == "TypeError: unhashable type: 'list'");
    CHECK(run("max", L({S("b"), S("A"), S("c")})) == "c");
    CHECK(run("min", L({S("b"), S("A"), S("c")})) == "A");
    CHECK(run("max", L({S("a"), S("A")})) == "a");  // the first of equal keys
    CHECK(run("max", L({D({{"h", I(1)}}), D({{"h", I(3)}})}), A({}, {{"attribute", S("h")}})) ==
          "{'h': 3}");
    CHECK(apply("max", L({})).is_undefined());
    CHECK(fails("max", L({I(1), S("a")})) ==
          "TypeError: '>' not supported between instances of 'str' and 'int'");
}

TEST_CASE("groupby returns (grouper, list) tuples", "[filters]") {
    Value items = L({D({{"p", S("P2")}, {"id", I(1)}}), D({{"p", S("P1")}, {"id", I(2)}}),
                     D({{"p", S("p2")}, {"id", I(3)}})});
    Value groups = apply("groupby", items, A({S("p")}));
    CHECK(to_str(groups) == "[('P1', [{'p': 'P1', 'id': 2}]), "
                            "('P2', [{'p': 'P2', 'id': 1}, {'p': 'p2', 'id': 3}])]");
    TestRuntime rt;
    Value first = groups.list_obj().items[0];
    CHECK(to_str(get_attribute(rt, first, "grouper")) == "P1");
    CHECK(to_str(get_attribute(rt, first, "list")) == "[{'p': 'P1', 'id': 2}]");
    CHECK(iterate(first).size() == 2);  // unpacks as `for key, items in ...`
    CHECK(to_str(get_item(rt, first, I(0))) == "P1");
    CHECK(to_json(groups, std::nullopt) ==
          "[[\"P1\", [{\"id\": 2, \"p\": \"P1\"}]], [\"P2\", [{\"id\": 1, \"p\": \"P2\"}, "
          "{\"id\": 3, \"p\": \"p2\"}]]]");
    CHECK(run("groupby", items, A({S("p")}, {{"case_sensitive", B(true)}})) ==
          "[('P1', [{'p': 'P1', 'id': 2}]), ('P2', [{'p': 'P2', 'id': 1}]), "
          "('p2', [{'p': 'p2', 'id': 3}])]");
    Value partial = L({D({{"a", I(1)}}), D({{"b", I(2)}})});
    CHECK(run("groupby", partial, A({S("a")}, {{"default", I(1)}})) ==
          "[(1, [{'a': 1}, {'b': 2}])]");
    CHECK(fails("groupby", partial, A({S("a")})) ==
          "UndefinedError: 'dict object' has no attribute 'a'");
}

TEST_CASE("map, select, reject, selectattr, rejectattr", "[filters]") {
    Value tickets = L({D({{"id", S("A")}, {"vip", B(true)}, {"who", D({{"name", S("Dana")}})}}),
                       D({{"id", S("B")}, {"vip", B(false)}, {"who", N()}})});
    CHECK(run("map", tickets, A({}, {{"attribute", S("id")}})) == "['A', 'B']");
    CHECK(run("map", tickets, A({}, {{"attribute", S("who.name")}, {"default", S("nobody")}})) ==
          "['Dana', 'nobody']");
    CHECK(run("map", L({S("a"), S("b")}), A({S("upper")})) == "['A', 'B']");
    CHECK(run("map", L({S("a b")}), A({S("replace"), S(" "), S("-")})) == "['a-b']");
    CHECK(run("map", I(0), A({S("upper")})) == "[]");  // `if value:`
    CHECK(fails("map", L({I(1)})) == "TemplateRuntimeError: map requires a filter argument");
    CHECK(fails("map", L({I(1)}), A({}, {{"attribute", S("a")}, {"x", I(1)}})) ==
          "TemplateRuntimeError: Unexpected keyword argument 'x'");
    Value numbers = L({I(1), I(2), I(3), I(4), I(5), I(6), I(9)});
    CHECK(run("select", numbers, A({S("odd")})) == "[1, 3, 5, 9]");
    CHECK(run("reject", numbers, A({S("odd")})) == "[2, 4, 6]");
    CHECK(run("select", numbers, A({S("divisibleby"), I(3)})) == "[3, 6, 9]");
    CHECK(run("select", numbers, A({S("gt"), I(4)})) == "[5, 6, 9]");
    Value mixed = L({I(0), I(1), S(""), S("x"), N(), L({})});
    CHECK(run("select", mixed) == "[1, 'x']");
    CHECK(run("reject", mixed) == "[0, '', None, []]");
    CHECK(run("selectattr", tickets, A({S("vip")})) == to_str(L({tickets.list_obj().items[0]})));
    CHECK(run("rejectattr", tickets, A({S("who"), S("none")})) ==
          to_str(L({tickets.list_obj().items[0]})));
    CHECK(run("selectattr", tickets, A({S("id"), S("in"), L({S("B")})})) ==
          to_str(L({tickets.list_obj().items[1]})));
    CHECK(fails("selectattr", tickets) ==
          "TemplateRuntimeError: Missing parameter for attribute name");
    CHECK(fails("select", numbers, A({S("nosuch")})) ==
          "TemplateRuntimeError: No test named 'nosuch'.");
}

TEST_CASE("attr, items, format", "[filters]") {
    TestRuntime rt;
    Value d = D({{"status", S("open")}});
    CHECK(apply("attr", d, A({S("status")})).is_undefined());  // no item fallback
    CHECK(apply("attr", S("abc"), A({S("upper")})).is_object());
    CHECK(fails("attr", Undef(), A({S("x")})) == "UndefinedError: 'missing' is undefined");
    // A number's data attributes are attributes (they read as undefined).
    CHECK(run("attr", I(7), A({S("real")})) == "7");
    CHECK(run("attr", F(2.5), A({S("imag")})) == "0.0");
    CHECK(run("attr", I(7), A({S("denominator")})) == "1");
    CHECK(apply("attr", I(7), A({S("nosuch")})).is_undefined());
    CHECK(run("items", D({{"a", I(1)}})) == "[('a', 1)]");
    CHECK(run("items", Undef()) == "[]");
    CHECK(fails("items", I(5)) == "TypeError: Can only get item pairs from a mapping.");
    CHECK(run("format", S("%s-%s"), A({I(1), I(2)})) == "1-2");
    CHECK(run("format", S("%(id)s is %(state)s"),
              A({}, {{"id", S("INC-1")}, {"state", S("open")}})) == "INC-1 is open");
    CHECK(fails("format", S("%s"), A({I(1)}, {{"x", I(2)}})) ==
          "TemplateRuntimeError: can't handle positional and keyword arguments at the same time");
}

TEST_CASE("tojson is htmlsafe json.dumps(sort_keys=True)", "[filters]") {
    Value payload = D({{"summary", S("Disk full \xf0\x9f\x9a\xa8 on caf\xc3\xa9-db")},
                       {"big", F(1e20)},
                       {"tags", L({S("db"), S("prod")})},
                       {"assignee", N()},
                       {"ratio", F(0.5)}});
    CHECK(run("tojson", payload) ==
          "{\"assignee\": null, \"big\": 1e+20, \"ratio\": 0.5, \"summary\": \"Disk full "
          "\\ud83d\\udea8 on caf\\u00e9-db\", \"tags\": [\"db\", \"prod\"]}");
    CHECK(run("tojson", S("<script>alert('x')</script> &")) ==
          "\"\\u003cscript\\u003ealert(\\u0027x\\u0027)\\u003c/script\\u003e \\u0026\"");
    CHECK(apply("tojson", I(1)).is_safe());
    Value data = D({{"b", L({I(1), I(2)})}, {"a", D({{"x", N()}, {"y", B(true)}})}});
    CHECK(run("tojson", data, A({I(2)})) == "{\n  \"a\": {\n    \"x\": null,\n    \"y\": true\n  "
                                            "},\n  \"b\": [\n    1,\n    2\n  ]\n}");
    CHECK(run("tojson", L({I(1), L({I(2)})}), A({S("\t")})) == "[\n\t1,\n\t[\n\t\t2\n\t]\n]");
    CHECK(run("tojson", L({L({}), Value::dict()}), A({I(0)})) == "[\n[],\n{}\n]");
    CHECK(run("tojson", L({F(HUGE_VAL), F(-HUGE_VAL), F(1e-7), F(-0.0)})) ==
          "[Infinity, -Infinity, 1e-07, -0.0]");
    CHECK(to_json(T({S("\x01\x7f\"\\")}), 1) == "[\n \"\\u0001\\u007f\\\"\\\\\"\n]");
    CHECK(fails("tojson", Undef()) ==
          "TypeError: Object of type Undefined is not JSON serializable");
    CHECK(fails("tojson", Value::dict()) == "no error");
    Value mixed = Value::dict();
    mixed.dict_obj().set(I(1), I(2));
    mixed.dict_obj().set(S("a"), I(1));
    CHECK(fails("tojson", mixed).rfind("TypeError: '<' not supported", 0) == 0);
}

TEST_CASE("pprint is pprint.pformat", "[filters]") {
    CHECK(run("pprint", D({{"b", I(1)}, {"a", L({I(1), S("x"), N()})}})) ==
          "{'a': [1, 'x', None], 'b': 1}");
    CHECK(run("pprint", Undef()) == "Undefined");
    CHECK(run("pprint", T({I(1)})) == "(1,)");
    std::string thirty(30, 'b');
    Value wide = D({{"y", L({S(thirty), S(thirty), S(thirty)})}, {"x", D({{"q", I(1)}})}});
    CHECK(run("pprint", wide) == "{'x': {'q': 1},\n 'y': ['" + thirty + "',\n       '" + thirty +
                                     "',\n       '" + thirty + "']}");
    std::string words;
    for (int i = 0; i < 20; ++i)
        words += "word ";
    CHECK(run("pprint", L({S(words)})) ==
          "['word word word word word word word word word word word word word word word '\n"
          " 'word word word word word ']");
    CHECK(run("pprint", S(words)) ==
          "('word word word word word word word word word word word word word word word '\n"
          " 'word word word word word ')");
}

}  // namespace
}  // namespace ferry::tmpl
