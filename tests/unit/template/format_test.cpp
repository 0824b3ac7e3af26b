// Python's string formatting: `fmt % args` (percent_format), str.format (brace_format) and
// format(value, spec) (format_spec). The expected outcomes were produced by Python 3.11.2
// (Debian 12's python3) with markupsafe 2.1.2; see the generator note above each table.
#include "template/builtins.h"
#include "test_runtime.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

using namespace ferry::tmpl;
using namespace ferry::tmpl::testing;

namespace {

Value N() {
    return Value::none();
}
Value B(bool b) {
    return Value::boolean(b);
}
Value T(std::vector<Value> v) {
    return Value::tuple(std::move(v));
}
Value M(std::string s) {
    return Value::string(std::move(s), true);
}
Value D(std::vector<std::pair<Value, Value>> items) {
    Value d = Value::dict();
    for (auto& [k, v] : items)
        d.dict_obj().set(k, v);
    return d;
}

struct PercentCase {
    std::string fmt;
    Value args;
    std::string expected;  // "= result" or "ErrorName: message"
};

struct SpecCase {
    Value value;
    std::string spec;
    std::string expected;
};

struct BraceCase {
    std::string fmt;
    Args args;
    std::string expected;
};

std::string outcome(const std::function<std::string()>& f) {
    try {
        return "= " + f();
    } catch (const TemplateError& e) {
        return std::string(to_string(e.kind())) + ": " + e.message();
    }
}

// Expected outcomes from Python 3.11.2 and markupsafe 2.1.2 (Debian 12).
const std::vector<PercentCase> kPercent = {
    {"%5.2f|%-4d|%r", T({F(3.14159), I(7), S("x")}), "=  3.14|7   |'x'"},
    {"%s", S("x"), "= x"},
    {"%s", T({I(1)}), "= 1"},
    {"%s and %s", T({S("a"), S("b")}), "= a and b"},
    {"%d%%", I(5), "= 5%"},
    {"%(name)s is %(age)d", D({{S("name"), S("Ann")}, {S("age"), I(30)}}), "= Ann is 30"},
    {"%05d", I(-3), "= -0003"},
    {"%-05d|", I(-3), "= -3   |"},
    {"%+05d", I(3), "= +0003"},
    {"% 05d", I(3), "=  0003"},
    {"% d", I(-3), "= -3"},
    {"%+.3d", I(5), "= +005"},
    {"%.5d", I(-42), "= -00042"},
    {"%-+5d|", I(3), "= +3   |"},
    {"%#o", I(8), "= 0o10"},
    {"%o", I(-8), "= -10"},
    {"%#x", I(-255), "= -0xff"},
    {"%#08x", I(255), "= 0x0000ff"},
    {"%#8x", I(255), "=     0xff"},
    {"%#-8x|", I(255), "= 0xff    |"},
    {"%#.5x", I(255), "= 0x000ff"},
    {"%#10.5X", I(255), "=    0X000FF"},
    {"%#010.5X", I(255), "= 0X000000FF"},
    {"%X", I(3054), "= BEE"},
    {"%d", F(3.7), "= 3"},
    {"%i", F(-2.9), "= -2"},
    {"%d", B(true), "= 1"},
    {"%x", B(true), "= 1"},
    {"%d", F(1e+30), "= 1000000000000000019884624838656"},
    {"%d", F(-0.0), "= 0"},
    {"%u", I(12), "= 12"},
    {"%f", F(1.0), "= 1.000000"},
    {"%.2e", F(1234.5), "= 1.23e+03"},
    {"%#.0f", I(3), "= 3."},
    {"%#g", F(1.0), "= 1.00000"},
    {"%g", F(1e-05), "= 1e-05"},
    {"%g", I(123456789), "= 1.23457e+08"},
    {"%G", F(1e-20), "= 1E-20"},
    {"%E", F(INFINITY), "= INF"},
    {"%F", F(NAN), "= NAN"},
    {"%f", F(NAN), "= nan"},
    {"%05f", F(INFINITY), "= 00inf"},
    {"%+05f", F(-INFINITY), "= -0inf"},
    {"%e", F(0.0), "= 0.000000e+00"},
    {"%g", F(-0.0), "= -0"},
    {"%.0e", I(12345), "= 1e+04"},
    {"%#.0e", I(12345), "= 1.e+04"},
    {"%10.4f|", F(3.14159), "=     3.1416|"},
    {"%-10.2e|", F(31415.9), "= 3.14e+04  |"},
    {"%.20f", F(0.1), "= 0.10000000000000000555"},
    {"%.0f", F(0.5), "= 0"},
    {"%.0f", F(2.5), "= 2"},
    {"%.1f", F(0.25), "= 0.2"},
    {"%.2f", F(1.005), "= 1.00"},
    {"%+.1f", F(0.0), "= +0.0"},
    {"% .3g", F(1234567.0), "=  1.23e+06"},
    {"%.*f", T({I(2), F(3.14159)}), "= 3.14"},
    {"%.*f", T({I(-2), F(3.14159)}), "= 3"},
    {"%*d|", T({I(5), I(3)}), "=     3|"},
    {"%*d|", T({I(-5), I(3)}), "= 3    |"},
    {"%-*d|", T({I(5), I(3)}), "= 3    |"},
    {"%.*f", T({B(true), F(2.5)}), "= 2.5"},
    {"%s", F(1.0), "= 1.0"},
    {"%s", F(1e+16), "= 1e+16"},
    {"%r", F(1e-05), "= 1e-05"},
    {"%s", N(), "= None"},
    {"%s", B(true), "= True"},
    {"%s", L({I(1), S("a")}), "= [1, 'a']"},
    {"%s", D({{S("a"), I(1)}}), "= {'a': 1}"},
    {"%s", T({T({})}), "= ()"},
    {"%r", S("é"), "= 'é'"},
    {"%a", S("é"), "= '\\xe9'"},
    {"%a", L({S("ü"), I(1)}), "= ['\\xfc', 1]"},
    {"%.3s", S("abcdef"), "= abc"},
    {"%.1r", S("ab"), "= '"},
    {"%5s|", S("ab"), "=    ab|"},
    {"%-5s|", S("ab"), "= ab   |"},
    {"%05s", S("a"), "=     a"},
    {"%+s", S("a"), "= a"},
    {"%.2s", S("€uro"), "= €u"},
    {"%5s|", S("€"), "=     €|"},
    {"%c", I(65), "= A"},
    {"%c", S("x"), "= x"},
    {"%c", S("€"), "= €"},
    {"%5c", S("x"), "=     x"},
    {"%-5c|", S("x"), "= x    |"},
    {"%.0c", S("x"), "= x"},
    {"%c", B(true), "= \001"},
    {"%ld %hd %Lf", T({I(1), I(2), F(3.0)}), "= 1 2 3.000000"},
    {"%(a)s %(a)r", D({{S("a"), S("x")}}), "= x 'x'"},
    {"%(a(b))s", D({{S("a(b)"), I(1)}}), "= 1"},
    {"%s %(a)s", D({{S("a"), I(1)}}), "= {'a': 1} 1"},
    {"hello", D({{S("a"), I(1)}}), "= hello"},
    {"hello", L({I(1)}), "= hello"},
    {"hello", T({}), "= hello"},
    {"%s", L({I(1), I(2)}), "= [1, 2]"},
    {"%(x)s", D({{S("x"), N()}}), "= None"},
    {"%d", S("x"), "TypeError: %d format: a real number is required, not str"},
    {"%d", N(), "TypeError: %d format: a real number is required, not NoneType"},
    {"%x", F(3.5), "TypeError: %x format: an integer is required, not float"},
    {"%f", S("x"), "TypeError: must be real number, not str"},
    {"%f", N(), "TypeError: must be real number, not NoneType"},
    {"%d", F(INFINITY), "OverflowError: cannot convert float infinity to integer"},
    {"%d", F(NAN), "ValueError: cannot convert float NaN to integer"},
    {"%c", S("ab"), "TypeError: %c requires int or char"},
    {"%c", F(1.5), "TypeError: %c requires int or char"},
    {"%c", I(-1), "OverflowError: %c arg not in range(0x110000)"},
    {"%c", I(1114112), "OverflowError: %c arg not in range(0x110000)"},
    {"%s %s", T({I(1)}), "TypeError: not enough arguments for format string"},
    {"%s", T({}), "TypeError: not enough arguments for format string"},
    {"%s %s", T({I(1), I(2), I(3)}),
     "TypeError: not all arguments converted during string formatting"},
    {"%s", T({I(1), I(2)}), "TypeError: not all arguments converted during string formatting"},
    {"hello", I(5), "TypeError: not all arguments converted during string formatting"},
    {"%s %s", L({I(1)}), "TypeError: not enough arguments for format string"},
    {"%(a)s", L({I(1)}), "TypeError: list indices must be integers or slices, not str"},
    {"%(a)s %s", D({{S("a"), I(1)}}), "TypeError: not enough arguments for format string"},
    {"%(a)s", I(5), "TypeError: format requires a mapping"},
    {"%(a)s", D({{S("b"), I(1)}}), "KeyError: 'a'"},
    {"%(a", D({{S("a"), I(1)}}), "ValueError: incomplete format key"},
    {"%", T({}), "ValueError: incomplete format"},
    {"%5", T({I(1)}), "ValueError: incomplete format"},
    {"%.", T({I(1)}), "ValueError: incomplete format"},
    {"%*d", T({}), "TypeError: not enough arguments for format string"},
    {"%*", T({I(5)}), "ValueError: incomplete format"},
    {"%*d", T({S("x"), I(3)}), "TypeError: * wants int"},
    {"%y", T({I(1)}), "ValueError: unsupported format character 'y' (0x79) at index 1"},
    {"%y", T({}), "TypeError: not enough arguments for format string"},
    {"%5%", T({}), "TypeError: not enough arguments for format string"},
    {"%(a)%", D({{S("a"), I(1)}}),
     "ValueError: unsupported format character '%' (0x25) at index 4"},
    {"%é", T({I(1)}), "ValueError: unsupported format character '?' (0xe9) at index 1"},
    {"ab%\001", T({I(1)}), "ValueError: unsupported format character '?' (0x1) at index 3"},
};
// Expected outcomes from Python 3.11.2 and markupsafe 2.1.2 (Debian 12).
const std::vector<PercentCase> kPercentMarkup = {
    {"<em>%s</em>", T({S("foo & bar")}), "= <em>foo &amp; bar</em>"},
    {"%s|%s", T({S("<a>"), M("<b>")}), "= &lt;a&gt;|<b>"},
    {"%r", S("<x>"), "= &#39;&lt;x&gt;&#39;"},
    {"%(k)s", D({{S("k"), S("<v>")}}), "= &lt;v&gt;"},
    {"%d items", I(3), "= 3 items"},
    {"%s", I(5), "= 5"},
    {"%.1f&", F(2.25), "= 2.2&"},
    {"%5s|", S("<"), "=  &lt;|"},
    {"%d", S("42"), "= 42"},
    {"%f", S("2.5"), "= 2.500000"},
    {"%x", I(255), "TypeError: %x format: an integer is required, not _MarkupEscapeHelper"},
    {"%c", S("x"), "TypeError: %c requires int or char"},
    {"%*d", T({I(3), I(1)}), "TypeError: * wants int"},
    {"%d", S("abc"), "ValueError: invalid literal for int() with base 10: 'abc'"},
    {"%s", L({M("<i>"), S("<u>")}), "= [Markup(&#39;&lt;i&gt;&#39;), &#39;&lt;u&gt;&#39;]"},
};
// Expected outcomes from Python 3.11.2 and markupsafe 2.1.2 (Debian 12).
const std::vector<SpecCase> kSpec = {
    {F(1.0), "", "= 1.0"},
    {F(1e+20), "", "= 1e+20"},
    {F(0.1), ".3", "= 0.1"},
    {F(123.0), ".3", "= 1.23e+02"},
    {F(123.0), ".3g", "= 123"},
    {F(100.0), ".2", "= 1e+02"},
    {F(1.0), "#", "= 1.0"},
    {F(1e+20), "#", "= 1.e+20"},
    {F(1e+16), "", "= 1e+16"},
    {F(-0.0), "z", "= 0.0"},
    {F(-0.0001), "z.2f", "= 0.00"},
    {F(-0.0001), "z.2e", "= -1.00e-04"},
    {I(1234), "010,", "= 00,001,234"},
    {I(1234), "0=10,", "= 00,001,234"},
    {I(1), "04,", "= 0,001"},
    {I(1234), "09,", "= 0,001,234"},
    {I(1234), "08,", "= 0,001,234"},
    {F(INFINITY), "010", "= 0000000inf"},
    {F(NAN), "=+10", "= +      nan"},
    {F(-INFINITY), "010,", "= -000000inf"},
    {S("ab"), "05", "= ab000"},
    {S("ab"), "<05", "= ab000"},
    {I(5), "<05", "= 50000"},
    {I(5), "^05", "= 00500"},
    {B(true), "", "= True"},
    {B(true), ">5", "=     1"},
    {B(true), "c", "= \001"},
    {N(), "", "= None"},
    {I(65), ">5c", "=     A"},
    {I(65), "05c", "= 0000A"},
    {I(255), "#x", "= 0xff"},
    {I(-255), "#x", "= -0xff"},
    {I(-255), "#010x", "= -0x00000ff"},
    {I(255), "#X", "= 0XFF"},
    {I(1099511627776), "_b", "= 1_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000"},
    {I(255), "_x", "= ff"},
    {I(1234567), "n", "= 1234567"},
    {F(1234.5), "n", "= 1234.5"},
    {I(5), "%", "= 500.000000%"},
    {F(0.5), ".1%", "= 50.0%"},
    {F(1234567.891), ",.2f", "= 1,234,567.89"},
    {F(1234567.891), "_", "= 1_234_567.891"},
    {F(1e+22), ",", "= 1e+22"},
    {F(12345.6789), ",e", "= 1.234568e+04"},
    {F(3.14159), "٣.٢f", "= 3.14"},
    {I(12), "x<+#8_b", "= +0b1100x"},
    {I(-12), "=^8", "= ==-12==="},
    {F(1.5), "#.0f", "= 2."},
    {F(2.5), ".0f", "= 2"},
    {F(0.125), ".2f", "= 0.12"},
    {F(1e-07), "", "= 1e-07"},
    {F(1e-07), ".3", "= 1e-07"},
    {F(123456789.0), ".10", "= 123456789.0"},
    {F(1e+16), ".17", "= 1e+16"},
    {F(12.0), "#.3", "= 12.0"},
    {F(1.0), "#.3g", "= 1.00"},
    {F(0.0001), ".3", "= 0.0001"},
    {F(0.000123), "#.3", "= 0.000123"},
    {I(5), ".2e", "= 5.00e+00"},
    {I(9223372036854775807), ".2f", "= 9223372036854775808.00"},
    {I(3), "G", "= 3"},
    {F(INFINITY), "F", "= INF"},
    {F(NAN), "%", "= nan%"},
    {F(NAN), "", "= nan"},
    {F(-0.0), "", "= -0.0"},
    {F(0.0), " ", "=  0.0"},
    {F(1234.5), "08,.1f", "= 01,234.5"},
    {F(-1234.5), "09,.1f", "= -01,234.5"},
    {S("x"), "^4", "=  x  "},
    {S("x"), "^5", "=   x  "},
    {I(1), "^4", "=  1  "},
    {S("abc"), ".2", "= ab"},
    {S("abc"), "5.2", "= ab   "},
    {S("é"), "*^5", "= **é**"},
    {I(1), "ü>5", "= üüüü1"},
    {I(100000), "_o", "= 30_3240"},
    {F(12.5), "=+10.2f", "= +    12.50"},
    {F(12.5), "+010.2f", "= +000012.50"},
    {I(12), "+010", "= +000000012"},
    {B(true), "05", "= 00001"},
    {I(1), "F", "= 1.000000"},
    {I(0), "#b", "= 0b0"},
    {F(-0.5), "z.0f", "= 0"},
    {F(5e-324), "", "= 5e-324"},
    {F(5e-324), ".3e", "= 4.941e-324"},
    {F(1e+300), ".0f",
     "= "
     "100000000000000005250476025520442024870446858110815915491585411551180245798890819578637137508"
     "044786404370444383288387817694252323536043057564479218478670698284838720092657580373783023379"
     "478809005936895323497079994508111903896764088007465274278014249457925878882005684283811566947"
     "2196386865459400540160"},
    {F(0.1), ".30f", "= 0.100000000000000005551115123126"},
    {F(9.995), ".2f", "= 9.99"},
    {I(9223372036854775807), ",", "= 9,223,372,036,854,775,807"},
    {I(INT64_MIN), "_x", "= -8000_0000_0000_0000"},
    {S("€uro"), ">6", "=   €uro"},
    {L({I(1), I(2)}), "", "= [1, 2]"},
    {D({{S("a"), I(1)}}), "", "= {'a': 1}"},
    {B(true), "s", "ValueError: Unknown format code 's' for object of type 'bool'"},
    {N(), ">5", "TypeError: unsupported format string passed to NoneType.__format__"},
    {L({I(1)}), "x", "TypeError: unsupported format string passed to list.__format__"},
    {S("abc"), ",", "ValueError: Cannot specify ',' with 's'."},
    {S("abc"), "+", "ValueError: Sign not allowed in string format specifier"},
    {S("abc"), " ", "ValueError: Space not allowed in string format specifier"},
    {S("abc"), "#", "ValueError: Alternate form (#) not allowed in string format specifier"},
    {S("abc"), "=5", "ValueError: '=' alignment not allowed in string format specifier"},
    {S("abc"), "z",
     "ValueError: Negative zero coercion (z) not allowed in string format specifier"},
    {S("abc"), "d", "ValueError: Unknown format code 'd' for object of type 'str'"},
    {I(1), ".2", "ValueError: Precision not allowed in integer format specifier"},
    {I(1), "z", "ValueError: Negative zero coercion (z) not allowed in integer format specifier"},
    {I(65), "+c", "ValueError: Sign not allowed with integer format specifier 'c'"},
    {I(65), "#c", "ValueError: Alternate form (#) not allowed with integer format specifier 'c'"},
    {I(-1), "c", "OverflowError: %c arg not in range(0x110000)"},
    {I(255), ",x", "ValueError: Cannot specify ',' with 'x'."},
    {I(1234567), ",n", "ValueError: Cannot specify ',' with 'n'."},
    {F(1.5), "d", "ValueError: Unknown format code 'd' for object of type 'float'"},
    {F(1.5), "x", "ValueError: Unknown format code 'x' for object of type 'float'"},
    {I(1), "é", "ValueError: Unknown format code '\\xe9' for object of type 'int'"},
    {I(1), "ab", "ValueError: Invalid format specifier 'ab' for object of type 'int'"},
    {I(1), "1ab", "ValueError: Invalid format specifier '1ab' for object of type 'int'"},
    {I(1), ",_", "ValueError: Cannot specify both ',' and '_'."},
    {I(1), "_,", "ValueError: Cannot specify both ',' and '_'."},
    {I(1), ",,", "ValueError: Cannot specify ',' with ','."},
    {I(1), ".", "ValueError: Format specifier missing precision"},
    {I(1), "99999999999999999999", "ValueError: Too many decimal digits in format string"},
    {F(1.0), ".99999999999999999999f", "ValueError: Too many decimal digits in format string"},
    {F(1.0), ".3000000000f", "ValueError: precision too big"},
    {M("<b>"), "d", "ValueError: Unknown format code 'd' for object of type 'Markup'"},
};
// Expected outcomes from Python 3.11.2 and markupsafe 2.1.2 (Debian 12).
const std::vector<BraceCase> kBrace = {
    {"{}{}", A({I(1), I(2)}, {}), "= 12"},
    {"{0}{0}", A({I(1)}, {}), "= 11"},
    {"{a}", A({}, {{"a", I(1)}}), "= 1"},
    {"}}", A({}, {}), "= }"},
    {"{{}}", A({}, {}), "= {}"},
    {"{{{}}}", A({I(1)}, {}), "= {1}"},
    {"{0!r:>5}", A({I(1)}, {}), "=     1"},
    {"{0:{1}}", A({I(1), I(5)}, {}), "=     1"},
    {"{:{}}", A({I(1), I(5)}, {}), "=     1"},
    {"{:{}{}}", A({I(1), S(">"), I(5)}, {}), "=     1"},
    {"{0[a]}", A({D({{S("a"), I(1)}})}, {}), "= 1"},
    {"{0[0]}", A({L({I(5)})}, {}), "= 5"},
    {"{0[0]}", A({D({{I(0), S("x")}})}, {}), "= x"},
    {"{0[1]}", A({S("abc")}, {}), "= b"},
    {"{0[0].real}", A({L({I(1)})}, {}), "= 1"},
    {"{.real}", A({I(3)}, {}), "= 3"},
    {"{[0]}", A({L({I(7)})}, {}), "= 7"},
    {"{0:}", A({I(1)}, {}), "= 1"},
    {"{!r}", A({S("x")}, {}), "= 'x'"},
    {"{!a}", A({S("é")}, {}), "= '\\xe9'"},
    {"{!s}", A({F(1.5)}, {}), "= 1.5"},
    {"{0:.2f}", A({I(2)}, {}), "= 2.00"},
    {"{00}", A({I(1)}, {}), "= 1"},
    {"{01}", A({I(1), I(2)}, {}), "= 2"},
    {"{٠}", A({I(1)}, {}), "= 1"},
    {"{0!r:{1}}", A({S("x"), I(5)}, {}), "= 'x'  "},
    {"x{}y", A({S("é")}, {}), "= xéy"},
    {"{0:%}", A({F(0.25)}, {}), "= 25.000000%"},
    {"{:,}", A({I(1234567)}, {}), "= 1,234,567"},
    {"{0[0][1]}", A({L({L({I(1), I(2)})})}, {}), "= 2"},
    {"{0[ 0]}", A({D({{S(" 0"), I(1)}})}, {}), "= 1"},
    {"{}", A({B(true)}, {}), "= True"},
    {"{:d}", A({B(true)}, {}), "= 1"},
    {"{}", A({N()}, {}), "= None"},
    {"{a!r} {b:>{w}}", A({}, {{"a", L({I(1)})}, {"b", S("x")}, {"w", I(3)}}), "= [1]   x"},
    {"{0}-{1}-{0}", A({S("a"), S("b")}, {}), "= a-b-a"},
    {"{:*^{}}", A({S("ab"), I(8)}, {}), "= ***ab***"},
    {"{0[a][b]}", A({D({{S("a"), D({{S("b"), S("deep")}})}})}, {}), "= deep"},
    {"{0[1.5]}", A({D({{S("1.5"), I(2)}})}, {}), "= 2"},
    {"{:é^5}", A({S("x")}, {}), "= ééxéé"},
    {"{:!<5}", A({S("x")}, {}), "= x!!!!"},
    {"{0:{{}}}", A({I(1)}, {}),
     "ValueError: Invalid format specifier '{}' for object of type 'int'"},
    {"{}{0}", A({I(1)}, {}),
     "ValueError: cannot switch from automatic field numbering to manual field specification"},
    {"{0}{}", A({I(1)}, {}),
     "ValueError: cannot switch from manual field specification to automatic field numbering"},
    {"{a}", A({}, {}), "KeyError: 'a'"},
    {"{}", A({}, {}), "IndexError: Replacement index 0 out of range for positional args tuple"},
    {"{1}", A({I(1)}, {}),
     "IndexError: Replacement index 1 out of range for positional args tuple"},
    {"{", A({}, {}), "ValueError: Single '{' encountered in format string"},
    {"}", A({}, {}), "ValueError: Single '}' encountered in format string"},
    {"a}b", A({}, {}), "ValueError: Single '}' encountered in format string"},
    {"{0", A({I(1)}, {}), "ValueError: expected '}' before end of string"},
    {"{0!", A({I(1)}, {}), "ValueError: end of string while looking for conversion specifier"},
    {"{0!r", A({I(1)}, {}), "ValueError: unmatched '{' in format spec"},
    {"{0!}", A({I(1)}, {}), "ValueError: unmatched '{' in format spec"},
    {"{0!x}", A({I(1)}, {}), "ValueError: Unknown conversion specifier x"},
    {"{0!rr}", A({I(1)}, {}), "ValueError: expected ':' after conversion specifier"},
    {"{0:{1:{2}}}", A({I(1), I(2), I(3)}, {}), "ValueError: Max string recursion exceeded"},
    {"{0[0]}", A({D({{S("0"), S("x")}})}, {}), "KeyError: 0"},
    {"{0[5]}", A({L({I(5)})}, {}), "IndexError: list index out of range"},
    {"{0[5]}", A({T({I(5)})}, {}), "IndexError: tuple index out of range"},
    {"{0[5]}", A({S("abc")}, {}), "IndexError: string index out of range"},
    {"{0[a]}", A({L({I(1)})}, {}), "TypeError: list indices must be integers or slices, not str"},
    {"{0.x}", A({D({{S("x"), I(1)}})}, {}),
     "TemplateRuntimeError: 'dict' object has no attribute 'x'"},
    {"{0.}", A({I(1)}, {}), "ValueError: Empty attribute in format string"},
    {"{0[]}", A({I(1)}, {}), "ValueError: Empty attribute in format string"},
    {"{0[0}", A({L({I(1)})}, {}), "ValueError: expected '}' before end of string"},
    {"{0[0]x}", A({L({I(1)})}, {}),
     "ValueError: Only '.' or '[' may follow ']' in format field specifier"},
    {"{0:x{1}x}", A({I(1), S("y")}, {}),
     "ValueError: Invalid format specifier 'xyx' for object of type 'int'"},
    {"{a{}", A({I(1)}, {}), "ValueError: unexpected '{' in field name"},
    {"{0:{", A({I(1)}, {}), "ValueError: unmatched '{' in format spec"},
    {"{0:}}", A({I(1)}, {}), "ValueError: Single '}' encountered in format string"},
    {"{0:>5}", A({N()}, {}), "TypeError: unsupported format string passed to NoneType.__format__"},
    {"{ 0}", A({I(1)}, {}), "KeyError: ' 0'"},
    {"{-1}", A({I(1)}, {}), "KeyError: '-1'"},
    {"{a.b.c}", A({}, {{"a", I(1)}}), "TemplateRuntimeError: 'int' object has no attribute 'b'"},
    {"{0[a]b}", A({D({{S("a"), I(1)}})}, {}),
     "ValueError: Only '.' or '[' may follow ']' in format field specifier"},
    {"{0:{}}", A({I(1), I(2)}, {}),
     "ValueError: cannot switch from manual field specification to automatic field numbering"},
    {"{:{0}}", A({I(1), I(2)}, {}),
     "ValueError: cannot switch from automatic field numbering to manual field specification"},
    {"}{", A({}, {}), "ValueError: Single '}' encountered in format string"},
    {"{0[-1]}", A({L({I(1)})}, {}), "TypeError: list indices must be integers or slices, not str"},
    {"{}}", A({I(1)}, {}), "ValueError: Single '}' encountered in format string"},
};

}  // namespace

TEST_CASE("percent_format matches Python's str % args", "[format]") {
    for (const auto& c : kPercent) {
        INFO(c.fmt << " % " << to_repr(c.args));
        CHECK(outcome([&] { return percent_format(c.fmt, c.args); }) == c.expected);
    }
}

TEST_CASE("percent_format escapes arguments as Markup.__mod__", "[format]") {
    for (const auto& c : kPercentMarkup) {
        INFO("Markup(" << c.fmt << ") % " << to_repr(c.args));
        CHECK(outcome([&] { return percent_format(c.fmt, c.args, true); }) == c.expected);
    }
}

TEST_CASE("percent_format of undefined values", "[format]") {
    // Jinja's Undefined is a mapping (it has __getitem__), prints as '' and fails as a number.
    CHECK(percent_format("a%sb", Value::undefined("'x' is undefined")) == "ab");
    CHECK(percent_format("plain", Value::undefined()) == "plain");
    CHECK(outcome([] { return percent_format("%d", Value::undefined("'x' is undefined")); }) ==
          "UndefinedError: 'x' is undefined");
    CHECK(outcome([] { return percent_format("%x", Value::undefined("'x' is undefined")); }) ==
          "TypeError: %x format: an integer is required, not Undefined");
    CHECK(outcome([] {
              return percent_format("%s", Value::undefined("'y' is undefined", true));
          }) == "UndefinedError: 'y' is undefined");
}

TEST_CASE("format_spec matches Python's format(value, spec)", "[format]") {
    for (const auto& c : kSpec) {
        INFO("format(" << to_repr(c.value) << ", '" << c.spec << "')");
        CHECK(outcome([&] { return format_spec(c.value, c.spec); }) == c.expected);
    }
}

TEST_CASE("format_spec of undefined values", "[format]") {
    CHECK(format_spec(Value::undefined(), "") == "");
    CHECK(outcome([] { return format_spec(Value::undefined(), ">3"); }) ==
          "TypeError: unsupported format string passed to Undefined.__format__");
    CHECK(outcome([] { return format_spec(Value::undefined("'u' is undefined", true), ""); }) ==
          "UndefinedError: 'u' is undefined");
}

TEST_CASE("brace_format matches Python's str.format", "[format]") {
    TestRuntime rt;
    for (const auto& c : kBrace) {
        INFO("'" << c.fmt << "'.format(...)");
        CHECK(outcome([&] { return brace_format(rt, c.fmt, c.args); }) == c.expected);
    }
}

TEST_CASE("brace_format reaches attributes of engine objects and methods", "[format]") {
    TestRuntime rt;
    // A bound method prints as Python's does, less the address.
    CHECK(brace_format(rt, "{0.upper}", A({S("x")})) == "<built-in method upper of str object>");
    CHECK(brace_format(rt, "{0.imag}|{1.real}|{1.denominator}", A({F(2.5), I(7)})) == "0.0|7|1");
}
