// check_task_input: a value against what a task declares for the input, as a step's start
// and `ferry validate` both check it.
#include "template/environment.h"
#include "workflow/task_input.h"

#include <catch2/catch.hpp>

using namespace ferry;
using ferry::workflow::check_task_input;

namespace {

tmpl::Value json(const char* text) {
    return tmpl::value_from_json(text);
}

std::vector<std::string> problems(const char* spec, const char* value, bool written_only = false) {
    std::vector<std::string> out;
    check_task_input(json(spec), json(value), "p", written_only, out);
    return out;
}

using Lines = std::vector<std::string>;

}  // namespace

TEST_CASE("a task input's type, format and choices", "[workflow][task_input]") {
    CHECK(problems(R"({"type": "integer"})", "3").empty());
    CHECK(problems(R"({"type": "integer"})", "\"3\"") ==
          Lines{"input 'p' must be an integer, got '3'"});
    CHECK(problems(R"({})", "[1]").empty());  // no type: anything
    CHECK(problems(R"({"type": "string", "format": "duration"})", "\"2s\"").empty());
    CHECK(problems(R"({"type": "string", "format": "duration"})", "\"soon\"") ==
          Lines{"input 'p': expected a duration like 300ms, 2s, 1m30s or 1h, got 'soon'"});
    CHECK(problems(R"({"enum": ["a", 2]})", "2").empty());
    CHECK(problems(R"({"enum": ["a", 2]})", "\"b\"") ==
          Lines{"input 'p' must be one of 'a', 2; got 'b'"});
}

TEST_CASE("an object input's declared keys", "[workflow][task_input]") {
    const char* spec = R"({"type": "object", "properties": {
        "next": {"type": "string", "enum": ["link", "token"]},
        "size": {"type": "integer", "required": true}}})";
    CHECK(problems(spec, R"({"next": "link", "size": 5})").empty());
    // Each unknown key, then each declared one that is wrong or missing, dotted.
    CHECK(problems(spec, R"({"nxt": "link", "extra": 1, "size": "5"})") ==
          Lines{"input 'p' has no key 'nxt' (did you mean 'next'?)",
                "input 'p' has no key 'extra' (keys: next, size)",
                "input 'p.size' must be an integer, got '5'"});
    CHECK(problems(spec, R"({"next": "tokn"})") ==
          Lines{"input 'p.next' must be one of 'link', 'token'; got 'tokn'",
                "input 'p.size' is required"});
    CHECK(problems(spec, R"({"size": null})") ==
          Lines{"input 'p.size' is required, and it is null"});
    // Listed by name, whatever order the task's table had; none declared, none taken.
    CHECK(problems(R"({"properties": {"b": {}, "a": {}}})", R"({"z": 1})") ==
          Lines{"input 'p' has no key 'z' (keys: a, b)"});
    CHECK(problems(R"({"properties": {}})", R"({"z": 1})") ==
          Lines{"input 'p' has no key 'z' (it takes none)"});
    // Not an object: the type says so, and the keys are not looked at.
    CHECK(problems(spec, "[]") == Lines{"input 'p' must be an object, got a list"});
}

TEST_CASE("written values skip what only a run knows", "[workflow][task_input]") {
    const char* spec = R"({"type": "object", "properties": {"size": {"type": "integer"}}})";
    CHECK(problems(spec, R"({"size": "{{ n }}"})", true).empty());
    CHECK(problems(spec, R"("{{ settings }}")", true).empty());
    // At run time a template's text is the value itself.
    CHECK(problems(spec, R"({"size": "{{ n }}"})", false) ==
          Lines{"input 'p.size' must be an integer, got '{{ n }}'"});
    // An unknown key is unknown whatever its value.
    CHECK(problems(spec, R"({"sise": "{{ n }}"})", true) ==
          Lines{"input 'p' has no key 'sise' (did you mean 'size'?)"});
}

TEST_CASE("an array input's items, as ferry validate reads what with: writes",
          "[workflow][task_input]") {
    const char* spec = R"({"type": "array", "items": {"type": "object", "properties": {
        "target": {"type": "string", "required": true},
        "transform": {"type": "string", "enum": ["lowercase", "uppercase"]}}}})";
    CHECK(problems(spec, R"([{"target": "a", "transform": "lowercase"}])", true).empty());
    CHECK(problems(spec, R"([{"target": "a"}, {"target": "b", "transfrom": "lowercase"},
                            {"target": "c", "transform": "lowercas"}])",
                   true) == Lines{"input 'p[1]' has no key 'transfrom' (did you mean 'transform'?)",
                                  "input 'p[2].transform' must be one of 'lowercase', "
                                  "'uppercase'; got 'lowercas'"});
    // An expression's item is known only when it runs.
    CHECK(
        problems(spec, R"([{"target": "a", "transform": "{{ t }}"}, "{{ more }}"])", true).empty());
    // At run time the task checks its own items: a list may be long, and every start paid.
    CHECK(problems(spec, R"([{"target": "a", "transfrom": "x"}])", false).empty());
}
