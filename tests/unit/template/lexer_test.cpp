// Tests of the template lexer (engine/template/lexer.h): token boundaries, values, lines and
// columns, whitespace control, raw blocks, comments, newline normalisation, brace balancing,
// string escapes, number literals and lexical errors.
//
// Expected token streams and error messages/lines were checked against Jinja2 3.1.2's own
// lexer (`jinja2.Environment().lex(source)`); Jinja2 has no columns, so columns are Ferry's
// (1-based, the first character of the token).
//
// Test cases tagged [!mayfail] encode Jinja2's behaviour where Ferry currently differs
// (engine bugs reported to the lead); they run and report, but do not fail the suite.
#include "template/error.h"
#include "template/lexer.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace ferry::tmpl;

namespace {

const std::string kFile = "test.j2";

const char* type_name(TokenType t) {
    switch (t) {
    case TokenType::Data: return "Data";
    case TokenType::VariableBegin: return "VarBegin";
    case TokenType::VariableEnd: return "VarEnd";
    case TokenType::BlockBegin: return "BlockBegin";
    case TokenType::BlockEnd: return "BlockEnd";
    case TokenType::Name: return "Name";
    case TokenType::String: return "String";
    case TokenType::Integer: return "Int";
    case TokenType::Float: return "Float";
    case TokenType::Operator: return "Op";
    case TokenType::Eof: return "Eof";
    case TokenType::LexError: return "LexError";
    }
    return "?";
}

// One token as TYPE or TYPE(value); begin/end markers and Eof print without their text.
std::string show(const Token& t) {
    std::string s = type_name(t.type);
    switch (t.type) {
    case TokenType::VariableBegin:
    case TokenType::VariableEnd:
    case TokenType::BlockBegin:
    case TokenType::BlockEnd:
    case TokenType::Eof: return s;
    default: return s + "(" + t.value + ")";
    }
}

// The whole stream as space-separated show() items.
std::string stream(std::string_view source) {
    std::string out;
    for (const Token& t : tokenize(source, kFile)) {
        if (!out.empty()) out += ' ';
        out += show(t);
    }
    return out;
}

// Lines of every token, space-separated ("1 1 2 ...").
std::string lines(std::string_view source) {
    std::string out;
    for (const Token& t : tokenize(source, kFile)) {
        if (!out.empty()) out += ' ';
        out += std::to_string(t.line);
    }
    return out;
}

// The error tokenize ends the tokens with, as the parser raises it; fails the test when
// there is none.
TemplateError lex_error(std::string_view source) {
    std::vector<Token> tokens = tokenize(source, kFile);
    if (tokens.back().type != TokenType::LexError) FAIL("no error for: " << source);
    const Token& t = tokens.back();
    return TemplateError(ErrorKind::Syntax, t.value, Location{kFile, t.line, t.column});
}

// The single token inside `{{ ... }}`.
Token only_token(const std::string& expr) {
    auto tokens = tokenize("{{ " + expr + " }}", kFile);
    REQUIRE(tokens.size() == 4);  // VarBegin, the token, VarEnd, Eof
    return tokens[1];
}

}  // namespace

TEST_CASE("lexer: text and print tags", "[lexer]") {
    auto t = tokenize("Hello {{ name }}!", kFile);
    REQUIRE(t.size() == 6);
    CHECK(t[0].type == TokenType::Data);
    CHECK(t[0].value == "Hello ");
    CHECK(t[0].line == 1);
    CHECK(t[0].column == 1);
    CHECK(t[1].type == TokenType::VariableBegin);
    CHECK(t[1].column == 7);
    CHECK(t[2].type == TokenType::Name);
    CHECK(t[2].value == "name");
    CHECK(t[2].column == 10);
    CHECK(t[3].type == TokenType::VariableEnd);
    CHECK(t[3].column == 15);
    CHECK(t[4].type == TokenType::Data);
    CHECK(t[4].value == "!");
    CHECK(t[4].column == 17);
    CHECK(t[5].type == TokenType::Eof);

    CHECK(stream("") == "Eof");
    CHECK(stream("plain text") == "Data(plain text) Eof");
    CHECK(stream("{{ x }}{{ y }}") == "VarBegin Name(x) VarEnd VarBegin Name(y) VarEnd Eof");
    // A lone brace or a `}}` outside a tag is text.
    CHECK(stream("a { b } c }}") == "Data(a { b } c }}) Eof");
    CHECK(stream("{{ a }} }}") == "VarBegin Name(a) VarEnd Data( }}) Eof");
    CHECK(stream("{{ a }}}") == "VarBegin Name(a) VarEnd Data(}) Eof");
    CHECK(stream("{") == "Data({) Eof");
    // Names: letters, digits, underscores, and non-ASCII letters.
    CHECK(stream("{{ _a1 }}") == "VarBegin Name(_a1) VarEnd Eof");
    CHECK(stream("{{ \xc3\xa4 }}") == "VarBegin Name(\xc3\xa4) VarEnd Eof");
    // Whitespace inside tags (tabs and newlines too) separates tokens and is dropped.
    CHECK(stream("{{ x\t}}") == "VarBegin Name(x) VarEnd Eof");
    CHECK(stream("{{\nx\n}}") == "VarBegin Name(x) VarEnd Eof");
}

TEST_CASE("lexer: statement tags", "[lexer]") {
    CHECK(stream("{% if x %}y{% endif %}") ==
          "BlockBegin Name(if) Name(x) BlockEnd Data(y) BlockBegin Name(endif) BlockEnd Eof");
    CHECK(stream("{% for a, b in c %}") ==
          "BlockBegin Name(for) Name(a) Op(,) Name(b) Name(in) Name(c) BlockEnd Eof");
    // `{%+` (lstrip_blocks off: no effect) is accepted.
    CHECK(stream("  {%+ if x %}") == "Data(  ) BlockBegin Name(if) Name(x) BlockEnd Eof");
    // An unterminated tag is left to the parser, which reports the missing end.
    CHECK(stream("{{ x") == "VarBegin Name(x) Eof");
    CHECK(stream("{% if x") == "BlockBegin Name(if) Name(x) Eof");
}

TEST_CASE("lexer: operators", "[lexer]") {
    CHECK(stream("{{ a == b != c >= d <= e < f > g // h ** i ~ j % k }}") ==
          "VarBegin Name(a) Op(==) Name(b) Op(!=) Name(c) Op(>=) Name(d) Op(<=) Name(e) Op(<) "
          "Name(f) Op(>) Name(g) Op(//) Name(h) Op(**) Name(i) Op(~) Name(j) Op(%) Name(k) "
          "VarEnd Eof");
    CHECK(stream("{{ a.b[1] | f(2) }}") ==
          "VarBegin Name(a) Op(.) Name(b) Op([) Int(1) Op(]) Op(|) Name(f) Op(() Int(2) Op()) "
          "VarEnd Eof");
    CHECK(stream("{{ a;b }}") == "VarBegin Name(a) Op(;) Name(b) VarEnd Eof");
    CHECK(stream("{{ -x + +y * z / w }}") ==
          "VarBegin Op(-) Name(x) Op(+) Op(+) Name(y) Op(*) Name(z) Op(/) Name(w) VarEnd Eof");
    // `x --}}`: a minus, then the stripping end marker.
    CHECK(stream("{{ x --}}") == "VarBegin Name(x) Op(-) VarEnd Eof");
    CHECK(stream("{{ -}}") == "VarBegin VarEnd Eof");
}

TEST_CASE("lexer: line and column numbers", "[lexer]") {
    CHECK(lines("line1\n{{ x }}\n{% if y %}") == "1 2 2 2 2 3 3 3 3 3");
    // An expression spread over lines: each token keeps its own line.
    auto t = tokenize("{{ a\n+\n  b }}", kFile);
    REQUIRE(t.size() == 6);
    CHECK(t[1].line == 1);
    CHECK(t[2].line == 2);
    CHECK(t[2].column == 1);
    CHECK(t[3].line == 3);
    CHECK(t[3].column == 3);
    CHECK(t[4].line == 3);
    // Comments and raw blocks count their newlines.
    CHECK(lines("{#\nmulti\n#}{{ x }}") == "3 3 3 3");
    CHECK(lines("x\n{%- raw %}\ny\n{% endraw %}\n{{ z }}") == "1 2 4 5 5 5 5");
    // Newlines stripped by `-}}` still count.
    auto s = tokenize("{{ x -}}\n\n y", kFile);
    REQUIRE(s.size() == 5);
    CHECK(s[3].value == "y");
    CHECK(s[3].line == 3);
    CHECK(s[3].column == 2);
    // Columns restart after every newline.
    auto u = tokenize("ab\n  {{ x }}", kFile);
    REQUIRE(u.size() == 5);
    CHECK(u[1].line == 2);
    CHECK(u[1].column == 3);
    CHECK(u[2].column == 6);
}

TEST_CASE("lexer: whitespace control", "[lexer]") {
    CHECK(stream("a  {%- if x -%}  b  {%- endif %}\n c") ==
          "Data(a) BlockBegin Name(if) Name(x) BlockEnd Data(b) BlockBegin Name(endif) BlockEnd "
          "Data(\n c) Eof");
    CHECK(stream("a \n {{- x -}} \n b") == "Data(a) VarBegin Name(x) VarEnd Data(b) Eof");
    CHECK(stream("a {{ x }} b") == "Data(a ) VarBegin Name(x) VarEnd Data( b) Eof");
    // Text that is only whitespace disappears entirely.
    CHECK(stream("  {%- if x %}") == "BlockBegin Name(if) Name(x) BlockEnd Eof");
    CHECK(stream("{% if x -%}\n\t \n") == "BlockBegin Name(if) Name(x) BlockEnd Eof");
    // `{{-` strips only the text before it, `-}}` only the text after it.
    CHECK(stream("a  {{- x }}  b") == "Data(a) VarBegin Name(x) VarEnd Data(  b) Eof");
    CHECK(stream("a  {{ x -}}  b") == "Data(a  ) VarBegin Name(x) VarEnd Data(b) Eof");
    // Comments: {#- strips before, -#} after.
    CHECK(stream("x {#- c -#} y") == "Data(x) Data(y) Eof");
    CHECK(stream("x {# c -#} y") == "Data(x ) Data(y) Eof");
    CHECK(stream("x {#- c #} y") == "Data(x) Data( y) Eof");
}

TEST_CASE("lexer: comments", "[lexer]") {
    CHECK(stream("a {# c #} b") == "Data(a ) Data( b) Eof");
    CHECK(stream("{# {{ x }} {% if %} #}ok") == "Data(ok) Eof");
    CHECK(stream("{##}") == "Eof");
    // A comment ends at the first #}.
    CHECK(stream("{# a #} b #}") == "Data( b #}) Eof");
    // The modifier after `{#` is not the one before `#}`.
    CHECK(stream("a {#-#} b") == "Data(a) Data( b) Eof");
    CHECK(stream("a {#+-#} b") == "Data(a ) Data(b) Eof");
    CHECK(stream("a {#--#} b") == "Data(a) Data(b) Eof");
}

TEST_CASE("lexer: raw blocks", "[lexer]") {
    CHECK(stream("a {% raw %} {{ x }} {% endraw %} b") == "Data(a ) Data( {{ x }} ) Data( b) Eof");
    CHECK(stream("a {%- raw -%} {{ x }} {%- endraw -%} b") == "Data(a) Data({{ x }}) Data(b) Eof");
    CHECK(stream("{% raw %}{% endraw %}") == "Eof");
    CHECK(stream("{% raw %}{% if %}{#{{{% endraw %}") == "Data({% if %}{#{{) Eof");
    // Spacing inside the raw tags is free.
    CHECK(stream("{%raw%}x{%endraw%}") == "Data(x) Eof");
    CHECK(stream("{%  raw  %}x{%  endraw  %}") == "Data(x) Eof");
    // `rawx` is not `raw`.
    CHECK(stream("{% rawx %}") == "BlockBegin Name(rawx) BlockEnd Eof");

    auto e = lex_error("{% raw %}\n\nabc");
    CHECK(e.kind() == ErrorKind::Syntax);
    CHECK(e.message() == "Missing end of raw directive");
    CHECK(e.where().line == 1);
    CHECK(e.where().file == kFile);
}

TEST_CASE("lexer: brace balancing inside tags", "[lexer]") {
    CHECK(stream("{{ {'a': {'b': 1}} }}") ==
          "VarBegin Op({) String(a) Op(:) Op({) String(b) Op(:) Int(1) Op(}) Op(}) VarEnd Eof");
    // `}}}` right after a dict: the first brace closes the dict.
    CHECK(stream("{{ {'a':1}}}") == "VarBegin Op({) String(a) Op(:) Int(1) Op(}) VarEnd Eof");
    CHECK(stream("{% set x = {'a': 1} %}") ==
          "BlockBegin Name(set) Name(x) Op(=) Op({) String(a) Op(:) Int(1) Op(}) BlockEnd Eof");
    CHECK(stream("{{ f(a, [b]) }}") ==
          "VarBegin Name(f) Op(() Name(a) Op(,) Op([) Name(b) Op(]) Op()) VarEnd Eof");

    auto e = lex_error("{{ a } }}");
    CHECK(e.kind() == ErrorKind::Syntax);
    CHECK(e.message() == "unexpected '}'");
    CHECK(e.where().line == 1);

    e = lex_error("{{ (a] }}");
    CHECK(e.message() == "unexpected ']', expected ')'");
    CHECK(e.where().line == 1);

    e = lex_error("\n\n{{ a ] }}");
    CHECK(e.message() == "unexpected ']'");
    CHECK(e.where().line == 3);

    e = lex_error("{{ [1, 2 }}");
    CHECK(e.message() == "unexpected '}', expected ']'");
}

TEST_CASE("lexer: string literals and escapes", "[lexer]") {
    CHECK(only_token("'abc'").type == TokenType::String);
    CHECK(only_token("'abc'").value == "abc");
    CHECK(only_token("\"it's\"").value == "it's");
    CHECK(only_token("'say \"hi\"'").value == "say \"hi\"");
    CHECK(only_token("'a\\nb\\'c\\u00e9\\x41'").value == "a\nb'c\xc3\xa9"
                                                         "A");
    CHECK(only_token("'\\t\\r\\\\'").value == "\t\r\\");
    CHECK(only_token("'\\U0001F600'").value == "\xf0\x9f\x98\x80");
    CHECK(only_token("'\\101'").value == "A");  // octal
    // Unknown escapes stay as they are (Python's unicode-escape).
    CHECK(only_token("'\\z'").value == "\\z");
    // A backslash-newline is a line continuation: both disappear.
    auto t = tokenize("{{ 'a\\\nb' }}", kFile);
    REQUIRE(t.size() == 4);
    CHECK(t[1].value == "ab");
    CHECK(t[2].line == 2);
    // Non-ASCII text passes through untouched.
    CHECK(only_token("'h\xc3\xa9llo \xf0\x9f\x98\x80'").value == "h\xc3\xa9llo \xf0\x9f\x98\x80");
    // Adjacent literals are separate tokens (the parser concatenates them).
    CHECK(stream("{{ 'a' \"b\" }}") == "VarBegin String(a) String(b) VarEnd Eof");
    // Braces inside a string do not count for balancing.
    CHECK(stream("{{ '}}' }}") == "VarBegin String(}}) VarEnd Eof");
}

TEST_CASE("lexer: number literals", "[lexer]") {
    Token t = only_token("42");
    CHECK(t.type == TokenType::Integer);
    CHECK(t.int_value == 42);
    CHECK(t.value == "42");

    t = only_token("1_000");
    CHECK(t.type == TokenType::Integer);
    CHECK(t.int_value == 1000);
    CHECK(only_token("1_000_000").int_value == 1000000);

    t = only_token("0x1F");
    CHECK(t.type == TokenType::Integer);
    CHECK(t.int_value == 31);
    CHECK(only_token("0X1f").int_value == 31);
    CHECK(only_token("0o17").int_value == 15);
    CHECK(only_token("0O7").int_value == 7);
    CHECK(only_token("0b101").int_value == 5);
    CHECK(only_token("0B1").int_value == 1);
    CHECK(only_token("00").int_value == 0);
    CHECK(only_token("9223372036854775807").int_value == INT64_MAX);

    t = only_token("1e3");
    CHECK(t.type == TokenType::Float);
    CHECK(t.float_value == 1000.0);
    t = only_token("1.5");
    CHECK(t.type == TokenType::Float);
    CHECK(t.float_value == 1.5);
    CHECK(only_token("1.5e+3").float_value == 1500.0);
    CHECK(only_token("2E3").float_value == 2000.0);
    CHECK(only_token("2.5e-3").float_value == 0.0025);
    CHECK(only_token("0.0").type == TokenType::Float);
    CHECK(only_token("1e1_0").float_value == 1e10);
    CHECK(only_token("1_0.5e-1_0").float_value == 10.5e-10);

    // What is not a number literal splits into several tokens, as in Jinja2.
    CHECK(stream("{{ 1.e5 }}") == "VarBegin Int(1) Op(.) Name(e5) VarEnd Eof");
    CHECK(stream("{{ 1e }}") == "VarBegin Int(1) Name(e) VarEnd Eof");
    CHECK(stream("{{ 1_ }}") == "VarBegin Int(1) Name(_) VarEnd Eof");
    CHECK(stream("{{ 1__0 }}") == "VarBegin Int(1) Name(__0) VarEnd Eof");
    CHECK(stream("{{ 0x }}") == "VarBegin Int(0) Name(x) VarEnd Eof");
    CHECK(stream("{{ .5 }}") == "VarBegin Op(.) Int(5) VarEnd Eof");
    CHECK(stream("{{ 5. }}") == "VarBegin Int(5) Op(.) VarEnd Eof");
    CHECK(stream("{{ 1.5.2 }}") == "VarBegin Float(1.5) Op(.) Int(2) VarEnd Eof");
    CHECK(stream("{{ 0b102 }}") == "VarBegin Int(0b10) Int(2) VarEnd Eof");
}

TEST_CASE("lexer: errors carry their line", "[lexer]") {
    // Jinja2 reports the offset of the opening quote in the (normalised) source.
    auto e = lex_error("a\n{{ \"abc }}");
    CHECK(e.kind() == ErrorKind::Syntax);
    CHECK(e.message() == "unexpected char '\"' at 5");
    CHECK(e.where().line == 2);
    CHECK(e.where().file == kFile);

    e = lex_error("{{\n'unterminated }}\n");
    CHECK(e.message() == "unexpected char \"'\" at 3");
    CHECK(e.where().line == 2);

    e = lex_error("a\n\n{# abc");
    CHECK(e.message() == "Missing end of comment tag");
    CHECK(e.where().line == 3);

    e = lex_error("{{ @ }}");
    CHECK(e.message() == "unexpected char '@' at 3");
    CHECK(e.where().line == 1);

    e = lex_error("x\n{{ 1 }}{# \n #}\n{{ ? }}");
    CHECK(e.message() == "unexpected char '?' at 20");
    CHECK(e.where().line == 4);
    CHECK(e.where().column == 4);

    // The `FILE:LINE:COL: message` form.
    CHECK(e.describe().find("test.j2:4:") == 0);
}

TEST_CASE("lexer: describe tokens as Jinja2's error messages do", "[lexer]") {
    auto t = tokenize("{{ x + 'a' 1 1.5 }}{% if %}", kFile);
    REQUIRE(t.size() == 11);
    CHECK(describe(t[0]) == "begin of print statement");
    CHECK(describe(t[1]) == "x");  // names describe as themselves
    CHECK(describe(t[2]) == "+");  // and so do operators
    CHECK(describe(t[3]) == "string");
    CHECK(describe(t[4]) == "integer");
    CHECK(describe(t[5]) == "float");
    CHECK(describe(t[6]) == "end of print statement");
    CHECK(describe(t[7]) == "begin of statement block");
    CHECK(describe(t[9]) == "end of statement block");
    CHECK(describe(t[10]) == "end of template");
    CHECK(describe(TokenType::Data) == "template data / text");
    CHECK(describe(TokenType::Name) == "name");
}

TEST_CASE("lexer: normalize_newlines", "[lexer]") {
    CHECK(normalize_newlines("") == "");
    CHECK(normalize_newlines("abc") == "abc");
    CHECK(normalize_newlines("a\r\nb\rc\n") == "a\nb\nc");
    // Only one trailing newline goes (keep_trailing_newline=False).
    CHECK(normalize_newlines("a\n\n") == "a\n");
    CHECK(normalize_newlines("a\r\n") == "a");
    CHECK(normalize_newlines("a\r\n\r\n") == "a\n");
    CHECK(normalize_newlines("\n") == "");
    CHECK(normalize_newlines("\r") == "");
    CHECK(normalize_newlines("\n\n") == "\n");
    // \r\n is one break; \n\r is two.
    CHECK(normalize_newlines("a\n\rb") == "a\n\nb");
    // Leading newlines stay.
    CHECK(normalize_newlines("\na") == "\na");
    // Tokenising the normalised text: a CRLF template counts lines like an LF one.
    CHECK(lines(normalize_newlines("a\r\n{{ x }}\r\n")) == "1 2 2 2 2");
}

TEST_CASE("lexer: '+' modifiers on print tags and block ends", "[lexer]") {
    // Jinja2 accepts `{{+` and `+%}` (they only matter for lstrip_blocks/trim_blocks).
    CHECK(stream("{{+ x }}") == "VarBegin Name(x) VarEnd Eof");
    CHECK(stream("{% if x +%}") == "BlockBegin Name(if) Name(x) BlockEnd Eof");
    // endraw takes `+%}` too; on a print tag `+}}` is the operator `+` before the end.
    CHECK(stream("{% raw %}x{% endraw +%} b") == "Data(x) Data( b) Eof");
    CHECK(stream("{{ x +}}") == "VarBegin Name(x) Op(+) VarEnd Eof");
}

TEST_CASE("lexer: whitespace control strips Unicode whitespace", "[lexer]") {
    // Jinja2 uses str.rstrip() before `{{-` and \s* after `-}}`: both are Unicode-aware.
    CHECK(stream("a\xc2\xa0{{- 1 }}") == "Data(a) VarBegin Int(1) VarEnd Eof");
    CHECK(stream("{{ 1 -}}\xc2\xa0"
                 "b") == "VarBegin Int(1) VarEnd Data(b) Eof");
    CHECK(stream("a\x1f{{- 1 }}") == "Data(a) VarBegin Int(1) VarEnd Eof");
    // Whitespace between tokens is Unicode \s+ too: NBSP is not part of a name.
    CHECK(stream("{{\xc2\xa0x }}") == "VarBegin Name(x) VarEnd Eof");
    CHECK(stream("{{\x1cx\xe3\x80\x80}}") == "VarBegin Name(x) VarEnd Eof");
    // Raw tags and comments strip and space the same way.
    CHECK(stream("{%\xe2\x80\x83raw\xe2\x80\x83%}x{%endraw\xc2\xa0%}") == "Data(x) Eof");
    CHECK(stream("{%- raw -%}\xc2\xa0x\xc2\xa0{%- endraw -%}\xc2\xa0"
                 "b") == "Data(x) Data(b) Eof");
    CHECK(stream("a\xc2\xa0{#- c -#}\xc2\xa0"
                 "b") == "Data(a) Data(b) Eof");
}

TEST_CASE("lexer: only CRLF CR and LF are line breaks (Jinja2 3.x)", "[lexer]") {
    // Jinja2 3.0+ splits on newline_re = (\r\n|\r|\n) only; \v, \f, \x1c-\x1e, U+0085,
    // U+2028 and U+2029 are ordinary characters and survive into the output.
    CHECK(normalize_newlines("a\vb\fc") == "a\vb\fc");
    CHECK(normalize_newlines("a\x1c"
                             "b") == "a\x1c"
                                     "b");
    CHECK(normalize_newlines("a\xc2\x85"
                             "b") == "a\xc2\x85"
                                     "b");
    CHECK(normalize_newlines("a\xe2\x80\xa8"
                             "b\xe2\x80\xa9") == "a\xe2\x80\xa8"
                                                 "b\xe2\x80\xa9");
    CHECK(normalize_newlines("a\vb\n") == "a\vb");
    CHECK(normalize_newlines("a\n\v") == "a\n\v");
}

TEST_CASE("lexer: a number literal right after a dot is an integer", "[lexer]") {
    // Jinja2's float rule has a (?<!\.) look-behind, so `rows.0.1` is rows[0][1].
    CHECK(stream("{{ x.1.2 }}") == "VarBegin Name(x) Op(.) Int(1) Op(.) Int(2) VarEnd Eof");
    CHECK(stream("{{ x.1e5 }}") == "VarBegin Name(x) Op(.) Int(1) Name(e5) VarEnd Eof");
    CHECK(stream("{{ 1.2.3.4 }}") == "VarBegin Float(1.2) Op(.) Int(3) Op(.) Int(4) VarEnd Eof");
}

TEST_CASE("lexer: integer literal edge cases", "[lexer]") {
    // A decimal literal cannot start with 0 (Python rule): `01` is two integers.
    CHECK(stream("{{ 01 }}") == "VarBegin Int(0) Int(1) VarEnd Eof");
    CHECK(stream("{{ 0_1 }}") == "VarBegin Int(0) Name(_1) VarEnd Eof");
    // An underscore may follow the base prefix.
    CHECK(only_token("0x_1").int_value == 1);
    CHECK(only_token("0o_7_7").int_value == 63);
    CHECK(only_token("0X1F").int_value == 31);
    CHECK(only_token("1_000_000").int_value == 1000000);
    CHECK(only_token("0_0").int_value == 0);
    // Each literal ends where Jinja2's regex stops; the rest is the next token.
    CHECK(stream("{{ 1__0 }}") == "VarBegin Int(1) Name(__0) VarEnd Eof");
    CHECK(stream("{{ 0x }}") == "VarBegin Int(0) Name(x) VarEnd Eof");
    CHECK(stream("{{ 0b102 }}") == "VarBegin Int(0b10) Int(2) VarEnd Eof");
    CHECK(stream("{{ 1. }}") == "VarBegin Int(1) Op(.) VarEnd Eof");
    // Floats may start with 0 and use underscores.
    CHECK(only_token("01.5").float_value == 1.5);
    CHECK(only_token("1_000.5").float_value == 1000.5);
    CHECK(only_token("1e1_0").float_value == 1e10);
    CHECK(only_token("1E+2").float_value == 100.0);
    CHECK(stream("{{ 1.5_ }}") == "VarBegin Float(1.5) Name(_) VarEnd Eof");
    CHECK(stream("{{ 0.5e }}") == "VarBegin Float(0.5) Name(e) VarEnd Eof");
}

TEST_CASE("lexer: malformed string escapes", "[lexer]") {
    // Python's unicode-escape codec rejects a truncated \x escape; Jinja2 reports its message.
    auto e = lex_error("{{ '\\x4' }}");
    CHECK(e.kind() == ErrorKind::Syntax);
    CHECK(e.message() == "truncated \\xXX escape");
    for (auto [source, message] : {
             std::pair{"{{ 'a\\x' }}", "truncated \\xXX escape"},
             std::pair{"{{ '\\x4g' }}", "truncated \\xXX escape"},
             std::pair{"{{ '\\u12' }}", "truncated \\uXXXX escape"},
             std::pair{"{{ '\\U1234' }}", "truncated \\UXXXXXXXX escape"},
             std::pair{"{{ '\\U0011ffff' }}", "illegal Unicode character"},
             std::pair{"{{ '\\uD800' }}",
                       "surrogates not allowed: UTF-8 cannot encode a \\u escape in D800-DFFF"},
             std::pair{"{{ '\\udfff' }}",
                       "surrogates not allowed: UTF-8 cannot encode a \\u escape in D800-DFFF"},
             std::pair{"{{ '\\U0000D83D' }}",
                       "surrogates not allowed: UTF-8 cannot encode a \\u escape in D800-DFFF"},
             std::pair{"{{ '\\N' }}", "malformed \\N character escape"},
             std::pair{"{{ '\\N{}' }}", "malformed \\N character escape"},
             std::pair{"{{ '\\N{BULLET' }}", "malformed \\N character escape"},
         }) {
        INFO(source);
        auto err = lex_error(source);
        CHECK(err.kind() == ErrorKind::Syntax);
        CHECK(err.message() == message);
        CHECK(err.where().line == 1);
    }
    // Complete escapes decode.
    CHECK(only_token("'\\x41\\u00e9\\U0001F600'").value == "A\xc3\xa9\xf0\x9f\x98\x80");
}

// ---- Known differences from Jinja2 (reported engine bugs) ---------------------------------

TEST_CASE("lexer: string escapes by Unicode character name", "[lexer][!mayfail]") {
    // Python's unicode-escape codec knows Unicode character names; Ferry has no name table.
    CHECK(only_token("'\\N{BULLET}'").value == "\xe2\x80\xa2");
}
