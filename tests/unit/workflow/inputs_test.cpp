// Typed inputs: their specs in workflow files, resolve_inputs and convert_cli_input.
#include "template/environment.h"
#include "workflow_test_util.h"

using namespace ferry::workflow;
using namespace ferry::workflow::test;
using ferry::tmpl::Value;

namespace {

std::string inputs_problem(const std::string& inputs_body) {
    return only_problem("inputs:\n" + inputs_body + kOneStep);
}

Workflow workflow_with_inputs(const std::string& inputs_body) {
    LoadResult r = load("inputs:\n" + inputs_body + kOneStep);
    INFO(Catch::Detail::stringify(problems(r)));
    REQUIRE(r.ok());
    return *r.workflow;
}

Value json(const char* text) {
    return ferry::tmpl::value_from_json(text);
}

// resolve_inputs' error message, one problem per line.
std::string resolve_error(const Workflow& wf, const char* given) {
    auto r = resolve_inputs(wf, json(given));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ferry::ErrorKind::Validation);
    return r.error().message;
}

InputSpec spec(const std::string& name, const std::string& type) {
    InputSpec s;
    s.name = name;
    s.type = type;
    return s;
}

}  // namespace

TEST_CASE("input specs are read in long and short form", "[workflow][inputs]") {
    Workflow wf = workflow_with_inputs(R"(  title:
    {type: string, required: true, max_length: 160, description: Short text}
  severity: {type: string, enum: [critical, high, medium, low], default: medium}
  systems:  {type: array, items: {type: string, min_length: 1}, default: [], max_length: 10}
  count: integer
  ratio: {type: number, min: 0, max: 1.5}
  device: {type: string, pattern: "^[a-z0-9-]+$", min_length: 2}
  extra:
  blob: {type: any, default: null}
)");
    REQUIRE(wf.inputs.size() == 8);
    const InputSpec& title = wf.inputs[0];
    CHECK(title.name == "title");
    CHECK(title.type == "string");
    CHECK(title.required);
    CHECK(title.max_length == 160);
    CHECK(title.description == "Short text");
    CHECK(title.mark.line == 2);
    CHECK(title.mark.column == 3);
    CHECK(wf.inputs[1].enum_values.size() == 4);
    CHECK(wf.inputs[1].default_value->str() == "medium");
    REQUIRE(wf.inputs[2].items);
    CHECK(wf.inputs[2].items->type == "string");
    CHECK(wf.inputs[2].items->min_length == 1);
    CHECK(wf.inputs[2].default_value->is_list());
    CHECK(wf.inputs[3].type == "integer");
    CHECK_FALSE(wf.inputs[3].required);
    CHECK(wf.inputs[4].min == 0.0);
    CHECK(wf.inputs[4].max == 1.5);
    CHECK(wf.inputs[5].pattern == "^[a-z0-9-]+$");
    CHECK(wf.inputs[6].type == "string");
    CHECK(wf.inputs[7].default_value->is_none());
}

TEST_CASE("input spec problems", "[workflow][inputs]") {
    CHECK(inputs_problem("  sev: {type: strng}\n") ==
          "wf.yaml:2:15: unknown type 'strng' for input 'sev' (did you mean 'string'?); types: "
          "string, integer, number, boolean, array, object, any");
    CHECK(inputs_problem("  n: int\n") ==
          "wf.yaml:2:6: unknown type 'int' for input 'n' (did you mean 'integer'?); types: "
          "string, integer, number, boolean, array, object, any");
    CHECK(inputs_problem("  n: text\n") ==
          "wf.yaml:2:6: unknown type 'text' for input 'n'; types: string, integer, number, "
          "boolean, array, object, any");
    CHECK(inputs_problem("  n: [integer]\n") ==
          "wf.yaml:2:6: input 'n' must be a type name or a mapping such as {type: string}, "
          "got a list");
    CHECK(inputs_problem("  t: {type: string, requird: true}\n") ==
          "wf.yaml:2:21: unknown key 'requird' in input 't' (did you mean 'required'?)");
    CHECK(inputs_problem("  t: {type: string, required: yes}\n") ==
          "wf.yaml:2:31: 'required' must be true or false, got 'yes'");
    CHECK(inputs_problem("  bad name: string\n") ==
          "wf.yaml:2:3: invalid input name 'bad name': use letters, digits, '_' and '-', "
          "starting with a letter or '_'");
    CHECK(only_problem("inputs: [a]\n" + std::string(kOneStep)) ==
          "wf.yaml:1:9: 'inputs' must be a mapping of input names to specs, got a list");
    CHECK(inputs_problem("  t: {type: string, description: [x]}\n") ==
          "wf.yaml:2:34: 'description' must be text, got a list");
}

TEST_CASE("constraints must fit the input's type", "[workflow][inputs]") {
    CHECK(inputs_problem("  n: {type: integer, pattern: x}\n") ==
          "wf.yaml:2:31: 'pattern' applies to string inputs, and input 'n' is an integer");
    CHECK(inputs_problem("  s: {type: string, min: 1}\n") ==
          "wf.yaml:2:26: 'min' applies to integer and number inputs, and input 's' is a "
          "string");
    CHECK(inputs_problem("  b: {type: boolean, max_length: 1}\n") ==
          "wf.yaml:2:34: 'max_length' applies to string and array inputs, and input 'b' is a "
          "boolean");
    CHECK(inputs_problem("  o: {type: object, items: string}\n") ==
          "wf.yaml:2:28: 'items' applies to array inputs, and input 'o' is an object");
    CHECK(inputs_problem("  n: {type: integer, min: 5, max: 1}\n") ==
          "wf.yaml:2:35: 'max' 1 is less than 'min' 5 for input 'n'");
    CHECK(inputs_problem("  s: {type: string, min_length: 3, max_length: 2}\n") ==
          "wf.yaml:2:48: 'max_length' 2 is less than 'min_length' 3 for input 's'");
    CHECK(inputs_problem("  s: {type: string, min_length: -1}\n") ==
          "wf.yaml:2:33: 'min_length' must be an integer >= 0, got an integer (-1)");
    CHECK(inputs_problem("  n: {type: number, min: low}\n") ==
          "wf.yaml:2:26: 'min' must be a number, got 'low'");
    CHECK(inputs_problem("  a: {type: array, items: {type: string, required: true}}\n") ==
          "wf.yaml:2:42: unknown key 'required' in items of input 'a'");
    CHECK(inputs_problem("  a: {type: array, items: {type: strin}}\n") ==
          "wf.yaml:2:34: unknown type 'strin' for items of input 'a' (did you mean 'string'?); "
          "types: string, integer, number, boolean, array, object, any");
    // "any" takes every constraint; each applies where the value's kind fits.
    workflow_with_inputs("  x: {type: any, min: 1, pattern: a, max_length: 3, items: string}\n");
}

TEST_CASE("patterns must compile", "[workflow][inputs]") {
    std::string p = inputs_problem("  d: {type: string, pattern: \"[a-\"}\n");
    CHECK(p.rfind("wf.yaml:2:30: invalid pattern for input 'd': ", 0) == 0);
    // Back-references would need the backtracking matcher, which long inputs crash.
    p = inputs_problem("  d: {type: string, pattern: \"(a)\\\\1\"}\n");
    CHECK(p == "wf.yaml:2:30: invalid pattern for input 'd': back-references (\\1) are not "
               "supported: values are matched without backtracking");
    CHECK(inputs_problem("  d: {type: string, pattern: [a]}\n") ==
          "wf.yaml:2:30: 'pattern' must be a regular expression string, got a list");
    // libstdc++ compiles a frame per term: 40,000 characters overflowed the stack.
    CHECK(inputs_problem("  d: {type: string, pattern: \"" + std::string(40000, 'a') + "\"}\n") ==
          "wf.yaml:2:30: invalid pattern for input 'd': longer than 1000 characters (patterns "
          "that long are compiled too deep to be safe)");
    workflow_with_inputs("  d: {type: string, pattern: \"" + std::string(499, '(') + "a" +
                         std::string(499, ')') + "\"}\n");
    CHECK(inputs_problem("  d: {type: string, pattern: \"a{200000}\"}\n") ==
          "wf.yaml:2:30: invalid pattern for input 'd': too complex (its repetitions expand past "
          "what can be compiled)");
}

TEST_CASE("enum values must match the type", "[workflow][inputs]") {
    CHECK(inputs_problem("  sev: {type: string, enum: [a, 2]}\n") ==
          "wf.yaml:2:33: enum value of input 'sev': expected a string, got 2");
    CHECK(inputs_problem("  n: {type: integer, enum: [1, 2.5]}\n") ==
          "wf.yaml:2:32: enum value of input 'n': expected an integer, got 2.5");
    CHECK(inputs_problem("  n: {type: integer, enum: []}\n") ==
          "wf.yaml:2:28: 'enum' must be a non-empty list of values, got an empty list");
    CHECK(inputs_problem("  n: {type: integer, enum: 3}\n") ==
          "wf.yaml:2:28: 'enum' must be a non-empty list of values, got an integer (3)");
}

TEST_CASE("defaults must match their input", "[workflow][inputs]") {
    CHECK(inputs_problem("  n: {type: integer, default: \"3\"}\n") ==
          "wf.yaml:2:31: default of input 'n': expected an integer, got '3' (a string; without "
          "the quotes it would be an integer)");
    // Text no unquoting would make a number gets no hint.
    CHECK(inputs_problem("  n: {type: number, default: \"3x\"}\n") ==
          "wf.yaml:2:30: default of input 'n': expected a number, got '3x'");
    CHECK(inputs_problem("  b: {type: boolean, default: \"true\"}\n") ==
          "wf.yaml:2:31: default of input 'b': expected a boolean, got 'true' (a string; without "
          "the quotes it would be a boolean)");
    CHECK(inputs_problem("  n: {type: integer, default: 2.5}\n") ==
          "wf.yaml:2:31: default of input 'n': expected an integer, got 2.5");
    CHECK(inputs_problem("  sev: {type: string, enum: [high, low], default: medium}\n") ==
          "wf.yaml:2:51: default of input 'sev': must be one of 'high', 'low'; got 'medium'");
    CHECK(inputs_problem("  d: {type: string, pattern: \"^[a-z]+$\", default: Abc}\n") ==
          "wf.yaml:2:51: default of input 'd': 'Abc' does not match the pattern ^[a-z]+$");
    CHECK(inputs_problem("  n: {type: number, min: 1, default: 0.5}\n") ==
          "wf.yaml:2:38: default of input 'n': 0.5 is less than the minimum 1");
    CHECK(inputs_problem("  t: {type: string, max_length: 3, default: abcd}\n") ==
          "wf.yaml:2:45: default of input 't': is 4 characters long; the maximum is 3");
    CHECK(inputs_problem("  s: {type: array, items: integer, default: [1, x]}\n") ==
          "wf.yaml:2:45: default of input 's[1]': expected an integer, got 'x'");
    CHECK(inputs_problem("  s: {type: array, default: {}}\n") ==
          "wf.yaml:2:29: default of input 's': expected an array, got an object");
    CHECK(inputs_problem("  s:\n    type: boolean\n    default: 1\n") ==
          "wf.yaml:4:14: default of input 's': expected a boolean, got 1");
}

TEST_CASE("a whole float default or enum value of an integer input is the integer",
          "[workflow][inputs]") {
    // As a given 4.0 is (JSON Schema's integer); the default was refused, the value taken.
    Workflow wf = workflow_with_inputs("  n: {type: integer, default: 4.0, enum: [4.0, 5]}\n"
                                       "  l: {type: array, items: integer, default: [1.0, 2]}\n");
    const InputSpec& n = wf.inputs[0];
    REQUIRE(n.default_value);
    CHECK(n.default_value->is_int());
    CHECK(n.default_value->as_int() == 4);
    CHECK(n.enum_values.at(0).is_int());
    const InputSpec& l = wf.inputs[1];
    REQUIRE(l.default_value);
    CHECK(l.default_value->list_obj().items.at(0).is_int());
}

TEST_CASE("input_problems counts inputs given later as given, and checks their names",
          "[workflow][inputs]") {
    Workflow wf = workflow_with_inputs(R"(  n:   {type: integer, required: true}
  tag: {type: string, default: x}
)");
    CHECK(input_problems(wf, json("{}")) ==
          std::vector<std::string>{"input 'n': required, but not given"});
    CHECK(input_problems(wf, json("{}"), {"n"}).empty());
    CHECK(input_problems(wf, json(R"({"n": "abc"})"), {"tga"}) ==
          std::vector<std::string>{"input 'tga': no such input (did you mean 'tag'?)",
                                   "input 'n': expected an integer, got 'abc'"});
    CHECK(input_problems(wf, json("[1]")) ==
          std::vector<std::string>{"inputs must be an object, got a list"});
}

TEST_CASE("named_input_problem takes a problem line apart", "[workflow][inputs]") {
    // Forms put each beside its field and schedules at the input's key.
    auto named = named_input_problem("input 'systems[1]': does not match ^[a-z]+$");
    REQUIRE(named);
    CHECK(named->input == "systems");
    CHECK(named->text == "does not match ^[a-z]+$");
    named = named_input_problem("input 'cfg.region.name': required, but not given");
    REQUIRE(named);
    CHECK(named->input == "cfg");
    CHECK(named->text == "required, but not given");
    CHECK_FALSE(named_input_problem("inputs must be an object, got a list"));
    CHECK_FALSE(named_input_problem("input 'unclosed"));
}

TEST_CASE("an unknown input name of a megabyte is quoted short, with no suggestion",
          "[workflow][inputs]") {
    // The "did you mean" measured it against every input (seconds a megabyte, a hook's 422
    // holding the loop), and the message repeated it whole.
    Workflow wf = workflow_with_inputs("  tag: {type: string, default: x}\n");
    const std::string name(1 << 20, 't');
    auto problems = input_problems(wf, json(("{\"" + name + "\": 1}").c_str()));
    REQUIRE(problems.size() == 1);
    CHECK(problems[0] == "input '" + std::string(117, 't') + "... (1048576 bytes)': no such input");
    CHECK(input_problems(wf, json(R"({"tga": 1})")) ==
          std::vector<std::string>{"input 'tga': no such input (did you mean 'tag'?)"});
}

TEST_CASE("resolve_inputs applies defaults and checks every input", "[workflow][inputs]") {
    Workflow wf = workflow_with_inputs(R"(  title:    {type: string, required: true, max_length: 10}
  severity: {type: string, enum: [critical, high, medium, low], default: medium}
  systems:  {type: array, items: {type: string, pattern: "^[a-z]+$"}, default: [web], max_length: 3}
  count:    {type: integer, min: 1, max: 5}
  ratio:    number
  flag:     boolean
  meta:     object
  anything: any
)");
    auto r = resolve_inputs(wf, json(R"({"title": "Disk full", "count": 2, "ratio": 1,
                                         "flag": false, "meta": {"a": [1]}, "anything": null})"));
    INFO((r ? "" : r.error().message));
    REQUIRE(r.ok());
    const auto& out = r.value().dict_obj();
    REQUIRE(out.items().size() == 7);  // given or defaulted; absent optional inputs stay absent
    CHECK(out.items()[0].first.str() == "title");
    CHECK(out.find("title")->str() == "Disk full");
    CHECK(out.find("severity")->str() == "medium");
    CHECK(out.find("systems")->list_obj().items.at(0).str() == "web");
    CHECK(out.find("count")->as_int() == 2);
    CHECK(out.find("ratio")->is_int());
    CHECK(out.find("flag")->is_bool());
    CHECK(out.find("anything") == nullptr);

    // Defaults are copied: changing one run's inputs leaves the workflow's default alone.
    r.value().dict_obj().find("systems")->list_obj().items.push_back(Value::string("db"));
    CHECK(wf.inputs[2].default_value->list_obj().items.size() == 1);

    // Null and an empty object behave as "not given".
    CHECK(resolve_inputs(wf, Value::none()).error().message ==
          "input 'title': required, but not given");
}

TEST_CASE("resolve_inputs reports every problem, one per line", "[workflow][inputs]") {
    Workflow wf = workflow_with_inputs(R"(  title:
    {type: string, required: true, min_length: 2, max_length: 5}
  severity: {type: string, enum: [high, low]}
  systems:  {type: array, items: {type: string, pattern: "^[a-z]+$"}, min_length: 1, max_length: 2}
  count:    {type: integer, min: 1, max: 5}
  ratio:    {type: number, max: 0.5}
  flag:     boolean
  meta:     object
  nested:   {type: array, items: {type: array, items: integer}}
)");
    CHECK(resolve_error(wf, R"({"titel": "x"})") ==
          "input 'titel': no such input (did you mean 'title'?)\n"
          "input 'title': required, but not given");
    CHECK(resolve_error(wf, R"({"title": "héllo!", "severity": "mid", "count": 7,
                                "ratio": 0.75, "flag": "yes", "meta": [],
                                "systems": ["ok", "Bad", 3, "abc1"]})") ==
          "input 'title': is 6 characters long; the maximum is 5\n"
          "input 'severity': must be one of 'high', 'low'; got 'mid'\n"
          "input 'systems': has 4 items; the maximum is 2\n"
          "input 'systems[1]': 'Bad' does not match the pattern ^[a-z]+$\n"
          "input 'systems[2]': expected a string, got 3\n"
          "input 'systems[3]': 'abc1' does not match the pattern ^[a-z]+$\n"
          "input 'count': 7 is greater than the maximum 5\n"
          "input 'ratio': 0.75 is greater than the maximum 0.5\n"
          "input 'flag': expected a boolean, got 'yes'\n"
          "input 'meta': expected an object, got a list");
    CHECK(resolve_error(wf, R"({"title": "x", "count": 0, "systems": []})") ==
          "input 'title': is 1 character long; the minimum is 2\n"
          "input 'systems': has 0 items; the minimum is 1\n"
          "input 'count': 0 is less than the minimum 1");
    CHECK(resolve_error(wf, R"({"title": "héllo", "count": 2.5})") ==
          "input 'count': expected an integer, got 2.5");
    CHECK(resolve_error(wf, R"({"title": "abc", "count": true})") ==
          "input 'count': expected an integer, got true");
    CHECK(resolve_error(wf, R"({"title": "abc", "ratio": false})") ==
          "input 'ratio': expected a number, got false");
    CHECK(resolve_error(wf, R"({"title": "abc", "nested": [[1], [2, "x"]]})") ==
          "input 'nested[1][1]': expected an integer, got 'x'");
    CHECK(resolve_error(wf, R"({"title": 5})") == "input 'title': expected a string, got 5");
    CHECK(resolve_error(wf, R"([1])") == "inputs must be an object, got a list");

    Workflow none = workflow_with_inputs("");
    CHECK(resolve_error(none, R"({"x": 1})") ==
          "input 'x': no such input (the workflow takes no inputs)");
    CHECK(resolve_inputs(none, json("{}")).ok());
}

TEST_CASE("patterns are searched, as JSON Schema does", "[workflow][inputs]") {
    Workflow wf = workflow_with_inputs("  code: {type: string, pattern: \"[0-9]{3}\"}\n"
                                       "  exact: {type: string, pattern: \"^(x|y)$\"}\n");
    CHECK(resolve_inputs(wf, json(R"({"code": "abc123def", "exact": "y"})")).ok());
    CHECK(resolve_error(wf, R"({"code": "12a", "exact": "xy"})") ==
          "input 'code': '12a' does not match the pattern [0-9]{3}\n"
          "input 'exact': 'xy' does not match the pattern ^(x|y)$");
    // Top-level alternatives stay whole, and ^ and $ keep meaning the ends of the text.
    Workflow alt = workflow_with_inputs("  a: {type: string, pattern: \"^a|b$\"}\n");
    CHECK(resolve_inputs(alt, json(R"({"a": "ax"})")).ok());
    CHECK(resolve_inputs(alt, json(R"({"a": "xb"})")).ok());
    CHECK_FALSE(resolve_inputs(alt, json(R"({"a": "xax"})")).ok());
    // Multi-line text: the pattern may match on any line, ^ and $ still the text's ends.
    CHECK(resolve_inputs(wf, json(R"({"code": "a\nb\n777"})")).ok());

    // Compiled once and kept: the same pattern answers each value on its own merits.
    for (int i = 0; i < 3; ++i) {
        CHECK(resolve_inputs(wf, json(R"({"code": "x999"})")).ok());
        CHECK_FALSE(resolve_inputs(wf, json(R"({"code": "x99"})")).ok());
    }
    // A pattern that compiles only inside the search wrapper ("a)|(b" becomes
    // "...(?:a)|(b)...") is refused, every time (a spec made in code, not loaded: loading
    // refuses it first).
    Workflow odd = workflow_with_inputs("  o: {type: string, pattern: \"a\"}\n");
    odd.inputs[0].pattern = "a)|(b";
    for (int i = 0; i < 2; ++i)
        CHECK(resolve_error(odd, R"({"o": "a"})") ==
              "input 'o': cannot be checked: invalid pattern a)|(b");
}

TEST_CASE("pattern checks survive long strings in linear time", "[workflow][inputs]") {
    // The backtracking matcher overflows the stack here, and a plain search restarts at
    // every position (quadratic: tens of seconds at this size).
    Workflow wf = workflow_with_inputs("  d: {type: string, pattern: \"^(a|b)*$\"}\n"
                                       "  e: {type: string, pattern: \"a+c\"}\n");
    std::string big(16'000, 'a');  // values up to 16,384 characters are matched
    CHECK(resolve_inputs(wf, json(("{\"d\": \"" + big + "\"}").c_str())).ok());
    CHECK_FALSE(resolve_inputs(wf, json(("{\"d\": \"" + big + "c\"}").c_str())).ok());
    CHECK_FALSE(resolve_inputs(wf, json(("{\"e\": \"" + big + "\"}").c_str())).ok());
    CHECK(resolve_inputs(wf, json(("{\"e\": \"" + big + "c\"}").c_str())).ok());
}

TEST_CASE("convert_cli_input converts text to the declared type", "[workflow][inputs]") {
    auto ok = [](const InputSpec& s, const std::string& text) {
        auto r = convert_cli_input(s, text);
        INFO(text << ": " << (r ? "" : r.error().message));
        REQUIRE(r.ok());
        return r.value();
    };
    auto err = [](const InputSpec& s, const std::string& text) {
        auto r = convert_cli_input(s, text);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().kind == ferry::ErrorKind::Validation);
        return r.error().message;
    };
    InputSpec integer = spec("retries", "integer");
    CHECK(ok(integer, "42").as_int() == 42);
    CHECK(ok(integer, "-7").as_int() == -7);
    CHECK(ok(integer, "+3").as_int() == 3);
    CHECK(ok(integer, " 5 ").as_int() == 5);
    CHECK(err(integer, "abc") == "input 'retries': expected an integer, got 'abc'");
    CHECK(err(integer, "1.5") == "input 'retries': expected an integer, got '1.5'");
    CHECK(err(integer, "") == "input 'retries': expected an integer, got ''");
    // A whole number past 64 bits is one: the message says what is wrong with it.
    CHECK(err(integer, "99999999999999999999") ==
          "input 'retries': 99999999999999999999 does not fit in a 64-bit integer "
          "(-9223372036854775808 to 9223372036854775807)");
    CHECK(err(integer, " -9223372036854775809") ==
          "input 'retries': -9223372036854775809 does not fit in a 64-bit integer "
          "(-9223372036854775808 to 9223372036854775807)");
    CHECK(ok(integer, "-9223372036854775808").as_int() == INT64_MIN);

    // Bytes that are not UTF-8 are refused whatever the type, and not quoted back.
    for (const char* type : {"string", "any", "integer"}) {
        INFO(type);
        CHECK(err(spec("s", type), "a\xff"
                                   "b") == "input 's': a byte that is not UTF-8 at offset 1");
    }
    CHECK(err(spec("s", "string"), "\xc3\x28") ==
          "input 's': a byte that is not UTF-8 at offset 0");
    CHECK(ok(spec("s", "string"), "caf\xc3\xa9").str() == "caf\xc3\xa9");

    InputSpec number = spec("ratio", "number");
    CHECK(ok(number, "3").is_int());
    CHECK(ok(number, "2.5").as_float() == 2.5);
    CHECK(ok(number, "1e3").as_float() == 1000.0);
    CHECK(ok(number, "-0.5").as_float() == -0.5);
    CHECK(err(number, "abc") == "input 'ratio': expected a number, got 'abc'");
    CHECK(err(number, "inf") == "input 'ratio': expected a number, got 'inf'");
    CHECK(err(number, "nan") == "input 'ratio': expected a number, got 'nan'");

    InputSpec boolean = spec("force", "boolean");
    for (const char* t : {"true", "yes", "1", "TRUE", "Yes"})
        CHECK(ok(boolean, t).as_bool());
    for (const char* f : {"false", "no", "0", "False", "NO"})
        CHECK_FALSE(ok(boolean, f).as_bool());
    CHECK(err(boolean, "maybe") ==
          "input 'force': expected a boolean (true/false, yes/no, 1/0), got 'maybe'");

    InputSpec array = spec("systems", "array");
    Value list = ok(array, R"(["web", 2])");
    REQUIRE(list.is_list());
    CHECK(list.list_obj().items[1].as_int() == 2);
    CHECK(err(array, R"({"a": 1})") == "input 'systems': expected a JSON array, got '{\"a\": 1}'");
    CHECK(err(array, "web,db").rfind("input 'systems': expected a JSON array, got 'web,db' (", 0) ==
          0);

    InputSpec object = spec("meta", "object");
    CHECK(ok(object, R"({"a": {"b": [1]}})").dict_obj().find("a")->is_dict());
    CHECK(err(object, "[1]") == "input 'meta': expected a JSON object, got '[1]'");

    InputSpec text = spec("title", "string");
    CHECK(ok(text, "  Disk full ").str() == "  Disk full ");
    CHECK(ok(text, "42").str() == "42");

    InputSpec any = spec("x", "any");
    CHECK(ok(any, R"({"a": 1})").is_dict());
    CHECK(ok(any, "42").is_int());
    CHECK(ok(any, "true").is_bool());
    CHECK(ok(any, "hello world").str() == "hello world");

    // A key twice in one object, at any depth, is a mistake, not the last one winning.
    CHECK(err(object, R"({"a": 1, "b": {"c": 1, "c": 2}})") ==
          "input 'meta': expected a JSON object, got '{\"a\": 1, \"b\": {\"c\": 1, \"c\": 2}}' "
          "(the key 'c' appears twice in one object (at bytes 15 and 23))");
    CHECK(err(array, R"([{"k": 1, "k": 1}])").find("the key 'k' appears twice") !=
          std::string::npos);
    CHECK(err(any, R"({"x": 1, "x": 2})").find("the key 'x' appears twice") != std::string::npos);

    // NaN and Infinity are no JSON: refused in an array or object, plain text for `any`.
    CHECK(err(object, R"({"v": Infinity})") ==
          "input 'meta': expected a JSON object, got '{\"v\": Infinity}' (invalid JSON at byte 6: "
          "Invalid value.)");
    CHECK(err(array, "[NaN]").find("expected a JSON array") != std::string::npos);
    CHECK(ok(any, "NaN").str() == "NaN");
    CHECK(ok(any, "-Infinity").str() == "-Infinity");
    // JSON that parses but makes no value is refused for `any` too (it was kept as text),
    // and a long value is shown by its start.
    const std::string deep = std::string(600, '[') + std::string(600, ']');
    CHECK(err(any, deep) == "input 'x': expected JSON Ferry can take, got '" +
                                std::string(80, '[') +
                                "...' (1200 bytes) (JSON nesting deeper than 512 levels)");
    CHECK(err(any, "[9223372036854775808]").find("does not fit in 64 bits") != std::string::npos);
}

TEST_CASE("a whole float is an integer, as JSON Schema counts it", "[workflow][inputs]") {
    Workflow wf = workflow_with_inputs(R"(  n: {type: integer, max: 10}
  ns: {type: array, items: {type: integer}}
  r: {type: number}
)");
    auto r = resolve_inputs(wf, json(R"({"n": 4.0, "ns": [1.0, 2, -3.0], "r": 2.0})"));
    REQUIRE(r.ok());
    const auto& got = r.value().dict_obj();
    CHECK((got.find("n")->is_int() && got.find("n")->as_int() == 4));
    const auto& ns = got.find("ns")->list_obj().items;
    REQUIRE(ns.size() == 3);
    CHECK((ns[0].is_int() && ns[0].as_int() == 1 && ns[2].is_int() && ns[2].as_int() == -3));
    CHECK(got.find("r")->is_float());  // a number stays as given
    CHECK(resolve_error(wf, R"({"n": 4.5})") == "input 'n': expected an integer, got 4.5");
    CHECK(resolve_error(wf, R"({"n": 1e20})").rfind("input 'n': expected an integer", 0) == 0);
    CHECK(resolve_error(wf, R"({"n": 12.0})") == "input 'n': 12 is greater than the maximum 10");
    // Past 2^53 a float no longer tells which integer was meant: refused, not rounded.
    CHECK(resolve_error(wf, R"({"n": -9223372036854775809})")
              .rfind("input 'n': expected an integer", 0) == 0);
    CHECK(resolve_error(wf, R"({"n": 9007199254740994.0})")
              .rfind("input 'n': expected an integer", 0) == 0);
    // 2^53 itself too: 9007199254740993.0 reads as it (and was taken so), and the refusal
    // says why a whole number is no integer here.
    CHECK(resolve_error(wf, R"({"n": 9007199254740993.0})") ==
          "input 'n': expected an integer, got 9007199254740992.0 (an integer from 2^53 = "
          "9007199254740992 on must be written in digits, without a fraction or an exponent, "
          "and fit in 64 bits)");
    CHECK(convert_cli_input(spec("n", "integer"), "9007199254740993.0").error().message ==
          "input 'n': expected an integer, got '9007199254740993.0' (an integer from 2^53 = "
          "9007199254740992 on must be written in digits, without a fraction or an exponent, "
          "and fit in 64 bits)");
    // Digits past 64 bits reach the API's JSON reader as a double, as 1e19 does: the hint
    // covers them.
    CHECK(resolve_error(wf, R"({"n": 1e19})").find("and fit in 64 bits)") != std::string::npos);
    CHECK(convert_cli_input(spec("n", "integer"), "9007199254740991.0").value().as_int() ==
          9007199254740991);
    CHECK(convert_cli_input(spec("n", "integer"), "9007199254740993").value().as_int() ==
          9007199254740993);
    CHECK(resolve_error(wf, R"({"ns": [1.5]})").find("input 'ns[0]': expected an integer") !=
          std::string::npos);
    // So on the command line.
    CHECK(convert_cli_input(spec("n", "integer"), "4.0").value().as_int() == 4);
    CHECK(convert_cli_input(spec("n", "integer"), "4e0").value().as_int() == 4);
    CHECK_FALSE(convert_cli_input(spec("n", "integer"), "4.5"));
}

TEST_CASE("a pattern is matched after max_length, and on values of bounded length",
          "[workflow][inputs]") {
    // A match costs the value's length times the pattern's states: a 1 MB value for a
    // field of 100 characters held the loop for seconds before its length refused it.
    Workflow wf =
        workflow_with_inputs(R"(  code: {type: string, pattern: "^[a-z]{20}$", max_length: 100}
  note: {type: string, pattern: "[a-z]{900}"}
)");
    auto started = std::chrono::steady_clock::now();
    std::string huge(1 << 20, 'a');
    CHECK(resolve_error(wf, ("{\"code\": \"" + huge + "\"}").c_str()) ==
          "input 'code': is 1048576 characters long; the maximum is 100");
    std::string long_note(20000, 'a');
    CHECK(resolve_error(wf, ("{\"note\": \"" + long_note + "\"}").c_str()) ==
          "input 'note': is 20000 characters long, too long to match against the pattern (at "
          "most 16384; give it a max_length)");
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
    // Within the bounds, matched as ever.
    CHECK(resolve_inputs(wf, json(R"({"code": "abcdefghijklmnopqrst"})")).ok());
    CHECK(resolve_error(wf, R"({"code": "Abcdefghijklmnopqrst"})") ==
          "input 'code': 'Abcdefghijklmnopqrst' does not match the pattern ^[a-z]{20}$");
}

TEST_CASE("one start's pattern checks share a budget of the matcher's steps",
          "[workflow][inputs]") {
    // Each item alone is decided in a fraction of the budget; a list of them is not a way
    // around it: the items past it are refused, not checked for seconds more.
    Workflow wf = workflow_with_inputs("  lines: {type: array, items: {type: string, pattern: "
                                       "\"^([a-z ]{1,50}\\\\n?){1,20}$\"}}\n");
    std::string items;
    for (int i = 0; i < 2'000; ++i)
        items += std::string(i ? "," : "") + "\"" + std::string(900, 'a') + "!\"";
    std::string error = resolve_error(wf, ("{\"lines\": [" + items + "]}").c_str());
    CHECK(error.rfind("input 'lines[0]': 'aaaa", 0) == 0);
    CHECK(error.find("does not match the pattern") != std::string::npos);
    CHECK(error.find("within the cost allowed (its repetitions or lookaheads try too many ways "
                     "through values this long: give the input a max_length or a simpler "
                     "pattern)\n") != std::string::npos);
    // Past the one it ran out on, the others say why they were not checked.
    CHECK(error.find("input 'lines[1999]': was not matched against the pattern ^([a-z "
                     "]{1,50}\\n?){1,20}$: the checks of the values before it spent the cost "
                     "allowed") != std::string::npos);
    CHECK(resolve_inputs(wf, json(R"({"lines": ["two words\nand more"]})")).ok());
}
