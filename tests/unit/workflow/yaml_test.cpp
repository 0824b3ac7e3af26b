// YAML and JSON as the loader reads them: the core schema, positions, syntax errors.
#include "workflow_test_util.h"

#include <chrono>
#include <cmath>

using namespace ferry::workflow;
using namespace ferry::workflow::test;
using ferry::tmpl::Kind;
using ferry::tmpl::Value;

namespace {

// The value of vars.v after loading `vars: {v: <yaml>}`.
Value var(const std::string& yaml) {
    LoadResult r = load("vars:\n  v: " + yaml + "\n" + kOneStep);
    INFO(yaml << " -> " << Catch::Detail::stringify(problems(r)));
    REQUIRE(r.ok());
    const Value* v = r.workflow->vars.dict_obj().find("v");
    REQUIRE(v != nullptr);
    return *v;
}

}  // namespace

TEST_CASE("plain scalars resolve by the YAML 1.2 core schema", "[workflow][yaml]") {
    for (const char* null_text : {"null", "Null", "NULL", "~", ""}) {
        INFO(null_text);
        CHECK(var(null_text).is_none());
    }
    for (const char* t : {"true", "True", "TRUE"})
        CHECK(var(t).kind() == Kind::Bool);
    CHECK(var("true").as_bool());
    CHECK_FALSE(var("False").as_bool());
    CHECK_FALSE(var("FALSE").as_bool());

    CHECK(var("42").kind() == Kind::Int);
    CHECK(var("42").as_int() == 42);
    CHECK(var("-7").as_int() == -7);
    CHECK(var("+3").as_int() == 3);
    CHECK(var("007").as_int() == 7);
    CHECK(var("0o17").as_int() == 15);
    CHECK(var("0x1F").as_int() == 31);
    CHECK(var("0xff").as_int() == 255);
    CHECK(var("9223372036854775807").as_int() == INT64_MAX);
    CHECK(var("-9223372036854775808").as_int() == INT64_MIN);

    CHECK(var("1.5").kind() == Kind::Float);
    CHECK(var("1.5").as_float() == 1.5);
    CHECK(var("-2.5e3").as_float() == -2500.0);
    CHECK(var("1e3").kind() == Kind::Float);
    CHECK(var(".5").as_float() == 0.5);
    CHECK(var("5.").as_float() == 5.0);
    CHECK(var("1e-400").as_float() == 0.0);
    // Floats YAML has and JSON has not are refused where they are written.
    CHECK(only_problem("vars:\n  v: .inf\n" + std::string(kOneStep)) ==
          "wf.yaml:2:6: '.inf' has no JSON form (JSON has no infinity or NaN); write a number "
          "or a string");
    CHECK(only_problem("vars:\n  v: [-.Inf]\n" + std::string(kOneStep)).find("'-.Inf' has no") !=
          std::string::npos);
    CHECK(only_problem("vars:\n  v: .NaN\n" + std::string(kOneStep)).find("'.NaN' has no") !=
          std::string::npos);

    // YAML 1.1 booleans and other look-alikes are strings in 1.2.
    for (const char* s : {"yes", "no", "on", "off", "y", "0x", "0o8", "1_000", "1e", "+.5x",
                          ".nan.", "nan", "inf", "0b101", "12:30", "1.2.3"}) {
        INFO(s);
        Value v = var(s);
        REQUIRE(v.is_string());
        CHECK(v.str() == s);
    }
}

TEST_CASE("quoted scalars are always strings", "[workflow][yaml]") {
    CHECK(var("\"42\"").str() == "42");
    CHECK(var("'true'").str() == "true");
    CHECK(var("\"null\"").str() == "null");
    CHECK(var("''").str() == "");
    CHECK(var("|\n    42").str() == "42\n");  // block scalars too
    CHECK(var("!!str 42").str() == "42");
    CHECK(var("!!int \"42\"").as_int() == 42);
    CHECK(var("!!float 1").kind() == Kind::Float);
    CHECK(var("!!bool \"true\"").as_bool());
}

TEST_CASE("containers keep their order and structure", "[workflow][yaml]") {
    Value v = var("{z: 1, a: [1, two, {x: null}], m: {k: v}}");
    REQUIRE(v.is_dict());
    const auto& items = v.dict_obj().items();
    REQUIRE(items.size() == 3);
    CHECK(items[0].first.str() == "z");
    CHECK(items[1].first.str() == "a");
    CHECK(items[2].first.str() == "m");
    const Value& list = items[1].second;
    REQUIRE(list.is_list());
    CHECK(list.list_obj().items[0].as_int() == 1);
    CHECK(list.list_obj().items[1].str() == "two");
    CHECK(list.list_obj().items[2].dict_obj().find("x")->is_none());
    // Keys are strings whatever they look like.
    Value keys = var("{1: a, true: b, 1.5: c}");
    CHECK(keys.dict_obj().items()[0].first.str() == "1");
    CHECK(keys.dict_obj().items()[1].first.str() == "true");
    CHECK(keys.dict_obj().items()[2].first.str() == "1.5");
    CHECK(only_problem("vars:\n  v: {null: c}\n" + std::string(kOneStep)) ==
          "wf.yaml:2:7: a mapping key must be a string, got null");
}

TEST_CASE("anchors and aliases expand", "[workflow][yaml]") {
    LoadResult r = load("vars:\n  base: &b {x: 1}\n  copy: *b\n" + std::string(kOneStep));
    REQUIRE(r.ok());
    CHECK(r.workflow->vars.dict_obj().find("copy")->dict_obj().find("x")->as_int() == 1);
}

TEST_CASE("a tab that indents is named in the syntax error", "[workflow][yaml]") {
    CHECK(only_problem("steps:\n\t- {id: a, task: log, with: {message: hi}}\n") ==
          "wf.yaml:2:2: illegal block entry (line 2 is indented with a tab; YAML indents with "
          "spaces only)");
    // A tab inside a value is no indentation: no hint.
    CHECK(only_problem("steps:\n  - {id: a, task: log, with: {message: \"a\tb\"}\n").find("tab") ==
          std::string::npos);
}

TEST_CASE("merge keys: own keys win, then earlier sources", "[workflow][yaml]") {
    LoadResult r = load("vars:\n  a: &a {x: 1, y: 1}\n  b: &b {y: 2, z: 2}\n"
                        "  one: {<<: *a, x: 9}\n  two: {<<: [*b, *a]}\n"
                        "  quoted: {\"<<\": 5}\n" +
                        std::string(kOneStep));
    REQUIRE(r.ok());
    const auto& vars = r.workflow->vars.dict_obj();
    const auto& one = vars.find("one")->dict_obj();
    CHECK(one.find("x")->as_int() == 9);
    CHECK(one.find("y")->as_int() == 1);
    CHECK_FALSE(one.find("<<"));
    const auto& two = vars.find("two")->dict_obj();
    CHECK(two.find("x")->as_int() == 1);
    CHECK(two.find("y")->as_int() == 2);
    CHECK(two.find("z")->as_int() == 2);
    // A quoted "<<" is an ordinary key.
    CHECK(vars.find("quoted")->dict_obj().find("<<")->as_int() == 5);
    CHECK(only_problem("vars:\n  m: {<<: 5}\n" + std::string(kOneStep)) ==
          "wf.yaml:2:11: a merge key '<<' takes a mapping (*alias) or a list of them, got an "
          "integer (5)");
}

TEST_CASE("scalar problems are placed at the scalar", "[workflow][yaml]") {
    CHECK(only_problem("vars:\n  big: 9223372036854775808\n" + std::string(kOneStep)) ==
          "wf.yaml:2:8: integer 9223372036854775808 does not fit in 64 bits");
    CHECK(only_problem("vars:\n  small: [-9223372036854775809]\n" + std::string(kOneStep)) ==
          "wf.yaml:2:11: integer -9223372036854775809 does not fit in 64 bits");
    CHECK(only_problem("vars:\n  h: 0x1ffffffffffffffff\n" + std::string(kOneStep)) ==
          "wf.yaml:2:6: integer 0x1ffffffffffffffff does not fit in 64 bits");
    CHECK(only_problem("vars:\n  f: 1e999\n" + std::string(kOneStep)) ==
          "wf.yaml:2:6: number 1e999 is out of range");
    CHECK(only_problem("vars:\n  t: !custom x\n" + std::string(kOneStep)) ==
          "wf.yaml:2:6: unsupported tag '!custom'");
    CHECK(only_problem("vars:\n  t: !!int abc\n" + std::string(kOneStep)) ==
          "wf.yaml:2:6: 'abc' is not a valid int");
}

TEST_CASE("duplicate keys are reported at the second occurrence", "[workflow][yaml]") {
    CHECK(only_problem("name: a\nname: b\n" + std::string(kOneStep)) ==
          "wf.yaml:2:1: duplicate key 'name' (first at line 1)");
    CHECK(only_problem("steps:\n  - id: a\n    task: log\n    id: b\n") ==
          "wf.yaml:4:5: duplicate key 'id' (first at line 2)");
    CHECK(only_problem("steps:\n  - id: a\n    task: log\n    with: {message: x, message: y}\n") ==
          "wf.yaml:4:24: duplicate key 'message' (first at line 4)");
    CHECK(only_problem("vars:\n  a:\n    b: 1\n    c: 2\n    b: 3\n" + std::string(kOneStep)) ==
          "wf.yaml:5:5: duplicate key 'b' (first at line 3)");
}

TEST_CASE("mapping keys must be scalars", "[workflow][yaml]") {
    CHECK(only_problem("vars:\n  ? [a, b]\n  : 1\n" + std::string(kOneStep)) ==
          "wf.yaml:2:5: a mapping key must be a string, got a list");
}

TEST_CASE("YAML syntax errors carry yaml-cpp's message and mark", "[workflow][yaml]") {
    LoadResult r = load("name: x\nsteps: [a, b\nc: 1\n");
    CHECK_FALSE(r.workflow.has_value());
    // yaml-cpp placed it at 3:2, past the cause: the bracket not closed.
    REQUIRE(problems(r) == std::vector<std::string>{"wf.yaml:2:8: end of sequence flow not found "
                                                    "(the '[' here is not closed)"});

    r = load("steps:\n\t- id: a\n");
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].mark.line == 2);
    CHECK_FALSE(r.workflow.has_value());

    r = load("a: b: c\n");
    REQUIRE(problems(r) == std::vector<std::string>{"wf.yaml:1:5: illegal map value"});
}

TEST_CASE("an unclosed flow collection is placed at its cause", "[workflow][yaml]") {
    // yaml-cpp says "end of map flow not found" at the end of the file for all three.
    CHECK(only_problem("steps:\n  - id: a\n    task: log\n    with: {message: \"open}\n"
                       "  - id: b\n    task: log\n") ==
          "wf.yaml:4:21: the quoted text that starts here is not closed: it runs to the end of "
          "the file");
    CHECK(only_problem("steps:\n  - id: a\n    task: transform\n    with:\n      mappings:\n"
                       "        - {source: tags[-1], target: last}\n") ==
          "wf.yaml:6:24: end of map flow not found (inside { } or [ ], '[' starts a nested list: "
          "quote a text that holds it, as \"tags[-1]\")");
    // Quotes inside words, comments and block scalars are text, not openers.
    CHECK(only_problem("steps:\n  - id: a # it's {\n    task: lua\n    with:\n"
                       "      script: |\n        return {1, \"it's\" }\n      input: {a: 1\n") ==
          "wf.yaml:7:14: end of map flow not found (the '{' here is not closed)");
    // A quote inside plain text and a bracket in a block-style plain value are text.
    CHECK(only_problem("steps:\n  - id: a\n    task: log\n    with:\n"
                       "      message: don 't see [docs] or {x\n      level: {a: 1\n") ==
          "wf.yaml:6:14: end of map flow not found (the '{' here is not closed)");
    // A wrapped plain value's next line is text, whatever it starts with; a tag before a
    // quote does not hide the quote.
    const std::string open_b = "  - {id: b, task: log, with: {message: hi}\n";
    for (const char* before :
         {"      message: a long text\n        'quoted part\n",
          "      message: a long text\n        [note\n", "      message: !!str \"x, 'y\"\n"}) {
        INFO(before);
        CHECK(only_problem("steps:\n  - id: a\n    task: log\n    with:\n" + std::string(before) +
                           open_b)
                  .find("(the '{' here is not closed)") != std::string::npos);
    }
    // A template or a Lua line in a block-style value before the cause is text; a mapping
    // right after `key:` in a flow opens one (no hint there).
    CHECK(only_problem("steps:\n  - id: a\n    task: log\n    with:\n"
                       "      message: Hello {{ items[0] }} and 'quick\n"
                       "  - {id: b, task: log, with: {message: hi, fields:{tags: [a]}}\n") ==
          "wf.yaml:6:5: end of map flow not found (the '{' here is not closed)");
}

TEST_CASE("a quoted text the end of the file closes is refused at its quote", "[workflow][yaml]") {
    // yaml-cpp took every line after it as its text: step b was gone, with no error.
    for (const char* quote : {"'", "\""}) {
        INFO(quote);
        CHECK(only_problem("steps:\n  - id: a\n    task: log\n    with:\n      message: " +
                           std::string(quote) +
                           "x\n  - id: b\n    task: log\n    with: {message: y}\n") ==
              "wf.yaml:5:16: the quoted text that starts here is not closed: it runs to the end "
              "of the file");
    }
    // Behind an anchor or a tag, whose place yaml-cpp gives as the scalar's.
    for (const char* before : {"&m '", "!!str \"", "! \"", "&m !!str '"}) {
        INFO(before);
        const std::string line = "      message: " + std::string(before) + "x\n";
        const std::string problem = only_problem("steps:\n  - id: a\n    task: log\n    with:\n" +
                                                 line + "  - id: b\n    task: log\n");
        CHECK(problem == "wf.yaml:5:" + std::to_string(line.find_first_of("'\"") + 1) +
                             ": the quoted text that starts here is not closed: it runs to the "
                             "end of the file");
    }
    // Closed ones load: escapes, '' inside single quotes, quotes in keys and block scalars,
    // and a quote as a file's last byte.
    LoadResult r = load(std::string(kOneStep) +
                        "vars:\n  a: \"x \\\" y\"\n  t: &t !!str 'tagged'\n  u: *t\n"
                        "  d:\n    \"k\\\"q\": 'it''s'\n  b: |\n"
                        "    it's \"open\n"
                        "  c: >\n    \"\n  last: 'end'");
    INFO(Catch::Detail::stringify(problems(r)));
    REQUIRE(r.ok());
    CHECK(r.workflow->vars.dict_obj().find("a")->str() == "x \" y");
    CHECK(r.workflow->vars.dict_obj().find("d")->dict_obj().find("k\"q")->str() == "it's");
    CHECK(r.workflow->vars.dict_obj().find("b")->str() == "it's \"open\n");
}

TEST_CASE("a file must hold one mapping", "[workflow][yaml]") {
    CHECK(only_problem("") == "wf.yaml:1:1: empty workflow file");
    CHECK(only_problem("# just a comment\n") == "wf.yaml:1:1: empty workflow file");
    CHECK(only_problem("- a\n- b\n") ==
          "wf.yaml:1:1: a workflow must be a mapping with 'steps', got a list");
    CHECK(only_problem("hello\n") ==
          "wf.yaml:1:1: a workflow must be a mapping with 'steps', got 'hello'");
    CHECK(only_problem(std::string(kOneStep) + "---\nname: second\n") ==
          "wf.yaml:5:1: a workflow file holds one YAML document; this is a second");
}

TEST_CASE("runaway aliases and nesting are stopped", "[workflow][yaml]") {
    // A sequence that contains itself.
    LoadResult r = load("vars:\n  loop: &l [*l]\n" + std::string(kOneStep));
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].message.find("nested too deeply") != std::string::npos);

    // Past yaml-cpp's own depth guard, which said "bad file".
    r = load("vars:\n  deep: " + std::string(600, '[') + std::string(600, ']') + "\n" +
             std::string(kOneStep));
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].message ==
          "data nested too deeply for the YAML parser (more than about 500 levels)");

    // "Billion laughs": each level doubles the expanded size.
    std::string text = "vars:\n  l0: &l0 [a, a]\n";
    for (int i = 1; i <= 24; ++i)
        text += "  l" + std::to_string(i) + ": &l" + std::to_string(i) + " [*l" +
                std::to_string(i - 1) + ", *l" + std::to_string(i - 1) + "]\n";
    // The limit holds for the whole file, reported once at the value that crossed it.
    r = load(text + kOneStep);
    CHECK(problems(r) ==
          std::vector<std::string>{"wf.yaml:18:8: data too large (more than 500000 values once "
                                   "aliases are expanded)"});
}

namespace {

// vars: s (a scalar), then l1..l<levels>, each a list of 10 aliases of the one before:
// 10^levels copies of s once expanded, in a file of about the scalar's size.
std::string aliased_chain(const std::string& scalar, int levels) {
    std::string text = "vars:\n  s: &s \"" + scalar + "\"\n";
    std::string prev = "s";
    for (int i = 1; i <= levels; ++i) {
        std::string name = "l" + std::to_string(i);
        text += "  " + name + ": &" + name + " [";
        for (int k = 0; k < 10; ++k)
            text += (k ? ", *" : "*") + prev;
        text += "]\n";
        prev = name;
    }
    return text + kOneStep;
}

}  // namespace

TEST_CASE("aliases of a long string are bounded by the bytes they expand to", "[workflow][yaml]") {
    // 10,000 copies of 1 MiB: few values, 10 GiB of text.
    LoadResult r = load(aliased_chain(std::string(1 << 20, 'x'), 4));
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].message ==
          "data too large (more than 64 MiB of text once aliases are expanded)");
    // What fits is expanded as written.
    r = load(aliased_chain(std::string(1000, 'x'), 3));
    REQUIRE(r.ok());
    const Value* l3 = r.workflow->vars.dict_obj().find("l3");
    REQUIRE(l3 != nullptr);
    CHECK(l3->list_obj().items[9].list_obj().items[9].list_obj().items[9].str().size() == 1000);
}

TEST_CASE("an expression reached through many aliases is checked once", "[workflow][yaml]") {
    // 1,000 aliases of 2,000 expressions: checked once per alias it was two million
    // expressions parsed (a 64 KiB file kept `ferry validate` busy for minutes).
    std::string exprs;
    for (int i = 0; i < 2000; ++i)
        exprs += "{{ 1 }}";
    auto started = std::chrono::steady_clock::now();
    LoadResult r = load(aliased_chain(exprs, 3));
    CHECK(r.ok());
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
    // Its mistakes are still found, once.
    r = load(aliased_chain("{{ 1 + }}", 3));
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].message.rfind("invalid expression: ", 0) == 0);
}

TEST_CASE("a UTF-8 byte order mark is ignored", "[workflow][yaml]") {
    LoadResult r = load("\xEF\xBB\xBFname: bom\n" + std::string(kOneStep));
    REQUIRE(r.ok());
    CHECK(r.workflow->name == "bom");
    r = load("\xEF\xBB\xBFnme: bom\n" + std::string(kOneStep));
    REQUIRE(problems(r) ==
            std::vector<std::string>{"wf.yaml:1:1: unknown key 'nme' in workflow (did you mean "
                                     "'name'?)"});
}

TEST_CASE("CRLF line endings keep positions", "[workflow][yaml]") {
    std::string text = "steps:\r\n  - id: a\r\n    task: log\r\n    with:\r\n"
                       "      message: \"{{ inputs.nope }}\"\r\n";
    CHECK(only_problem(text) == "wf.yaml:5:20: step 'a' refers to unknown input 'nope'");
}

TEST_CASE("JSON workflow files load through the same parser", "[workflow][json]") {
    const std::string json = R"({
	"description": "caf\u00e9 \/ tabs",
	"inputs": {"count": {"type": "integer", "default": 3, "min": 1}},
	"vars": {"ratio": 1.5e2, "flag": true, "nothing": null, "text": "42"},
	"steps": [
		{"id": "first", "task": "log", "with": {"message": "{{ inputs.count }}"}},
		{"id": "second", "task": "log", "needs": ["first"],
		 "with": {"message": "{{ steps.first.status }}"}}
	],
	"outputs": {"status": "{{ steps.second.status }}"}
}
)";
    LoadResult r = load(json, "flows/incident.json");
    INFO(Catch::Detail::stringify(problems(r)));
    REQUIRE(r.ok());
    const Workflow& wf = *r.workflow;
    CHECK(wf.name == "incident");
    CHECK(wf.description == "caf\xC3\xA9 / tabs");
    CHECK(wf.inputs.at(0).default_value->as_int() == 3);
    CHECK(wf.vars.dict_obj().find("ratio")->as_float() == 150.0);
    CHECK(wf.vars.dict_obj().find("flag")->as_bool());
    CHECK(wf.vars.dict_obj().find("nothing")->is_none());
    CHECK(wf.vars.dict_obj().find("text")->is_string());  // quoted in JSON: a string
    REQUIRE(wf.steps.size() == 2);
    CHECK(wf.steps[1].depends_on == std::vector<std::string>{"first"});
}

TEST_CASE("JSON files get positioned diagnostics", "[workflow][json]") {
    const std::string json = "{\n  \"steps\": [\n    {\"id\": \"a\", \"task\": \"lgo\"},\n"
                             "    {\"id\": \"b\", \"task\": \"log\", \"with\": "
                             "{\"message\": \"{{ steps.c }}\"}}\n  ]\n}\n";
    LoadResult r = load(json, "w.json");
    CHECK(problems(r) ==
          std::vector<std::string>{"w.json:3:25: unknown task 'lgo' (did you mean 'log'?)",
                                   "w.json:4:56: step 'b' refers to unknown step 'c'"});

    r = load("{\"steps\": [}\n", "w.json");
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].mark.line == 1);
    CHECK_FALSE(r.workflow.has_value());
}
