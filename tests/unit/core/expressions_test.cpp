// engine/core/expressions: a workflow's vars, evaluated one by one.
#include "core/expressions.h"
#include "core/values.h"

#include <catch2/catch.hpp>

using namespace ferry::engine;

namespace {

// The context make_run builds, frozen as it is before vars are evaluated.
struct VarsRun {
    Expressions expressions{nullptr};
    Value vars = Value::dict();
    Value context = dict_of({{"inputs", dict_of({{"host", str("h.test")}})},
                             {"vars", vars},
                             {"execution", dict_of({{"workflow", str("w")}})}});
    VarsRun() { ferry::tmpl::freeze(context); }

    ferry::Status evaluate(const char* defs_json) {
        return expressions.evaluate_vars(ferry::tmpl::value_from_json(defs_json), context, vars);
    }
};

}  // namespace

TEST_CASE("vars: each sees the inputs and the vars above it", "[expressions]") {
    VarsRun run;
    REQUIRE(run.evaluate(R"({"base": "https://{{ inputs.host }}",
                             "api": "{{ vars.base }}/api",
                             "list": ["{{ vars.api }}", {"n": "{{ vars | length }}"}]})"));
    CHECK(to_json_text(run.vars) == R"({"base":"https://h.test","api":"https://h.test/api",)"
                                    R"("list":["https://h.test/api",{"n":2}]})");
}

TEST_CASE("vars: read whole, they are those above, not the dict being filled", "[expressions]") {
    // Kept as the live dict, `b` held itself and the vars written below it; its JSON nested
    // past every limit.
    VarsRun run;
    REQUIRE(run.evaluate(R"({"a": 1, "b": "{{ vars }}", "n": ["{{ vars }}", {"x": "{{ vars.b }}"}],
                             "c": 3})"));
    CHECK(to_json_text(run.vars) ==
          R"({"a":1,"b":{"a":1},"n":[{"a":1,"b":{"a":1}},{"x":{"a":1}}],"c":3})");
    const Value* b = dict_get(run.vars, "b");
    REQUIRE(b);
    CHECK(&b->dict_obj() != &run.vars.dict_obj());
}

TEST_CASE("vars: no expression changes the vars above it or the context", "[expressions]") {
    for (const char* change : {"{{ vars.update({'a': 'EVIL'}) }}", "{{ vars.pop('a') }}",
                               "{{ vars.setdefault('z', 1) }}", "{{ vars.l.append(2) }}",
                               "{{ execution.update({'workflow': 'EVIL'}) }}"}) {
        CAPTURE(change);
        VarsRun run;
        std::string defs = R"({"a": "A", "l": [1], "b": ")" + std::string(change) + R"("})";
        ferry::Status s = run.evaluate(defs.c_str());
        REQUIRE_FALSE(s);
        CHECK_THAT(s.error().message,
                   Catch::Contains("vars.b: access to attribute") &&
                       Catch::Contains("workflow data (inputs, vars, steps, execution) is "
                                       "read-only"));
        CHECK(to_json_text(run.vars) == R"({"a":"A","l":[1]})");
        CHECK(to_json_text(run.context).find("EVIL") == std::string::npos);
    }
}

TEST_CASE("vars: an expression that fails names its var", "[expressions]") {
    VarsRun run;
    ferry::Status s = run.evaluate(R"({"a": {"deep": ["{{ inputs.nope.x }}"]}})");
    REQUIRE_FALSE(s);
    CHECK_THAT(s.error().message, Catch::StartsWith("vars.a.deep[0]: "));
}
