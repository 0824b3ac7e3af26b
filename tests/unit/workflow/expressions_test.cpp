// Expressions in workflow files: syntax errors placed in the file, when/for_each
// normalisation, the references that make the step graph, and cycles.
#include "workflow_test_util.h"

#include <chrono>

using namespace ferry::workflow;
using namespace ferry::workflow::test;

namespace {

// Step "a" (log), then step "b" (log) with the given body lines.
std::string two_steps(const std::string& b_lines) {
    return "steps:\n  - id: a\n    task: log\n  - id: b\n    task: log\n" + b_lines;
}

std::vector<std::string> refs(const std::string& text) {
    auto r = referenced_steps(text, Mark{"f.yaml", 1, 1});
    INFO(text << ": " << (r ? "" : r.error().describe()));
    REQUIRE(r.ok());
    return r.value();
}

}  // namespace

TEST_CASE("syntax errors are placed inside the scalar", "[workflow][expressions]") {
    // Plain scalar: the error is at the `}}` after the dangling `+`.
    CHECK(only_problem(two_steps("    with:\n      message: x {{ 1 + }}\n")) ==
          "wf.yaml:7:25: invalid expression: unexpected 'end of print statement'");
    // Double quotes: the quote and the escapes before the error count.
    CHECK(only_problem(two_steps("    with:\n      message: \"\\\"q\\\" \\u00e9 {{ 1 + }}\"\n")) ==
          "wf.yaml:7:37: invalid expression: unexpected 'end of print statement'");
    // Single quotes: '' is one quote in the value, two characters in the file.
    CHECK(only_problem(two_steps("    with:\n      message: 'it''s {{ 1 + }}'\n")) ==
          "wf.yaml:7:30: invalid expression: unexpected 'end of print statement'");
    // A literal block: the template's own line, below the header.
    CHECK(only_problem(two_steps("    with:\n      message: |\n        line one\n"
                                 "        {{ a | }}\n")) ==
          "wf.yaml:9:16: invalid expression: expected token 'name', got 'end of print "
          "statement'");
    // A folded block and a multi-line plain scalar: line folding is followed.
    CHECK(only_problem(two_steps("    with:\n      message: >\n        folded text\n"
                                 "        and {{ 1 + }}\n")) ==
          "wf.yaml:9:20: invalid expression: unexpected 'end of print statement'");
    CHECK(
        only_problem(two_steps("    with:\n      message: plain\n        continued {{ 1 + }}\n")) ==
        "wf.yaml:8:26: invalid expression: unexpected 'end of print statement'");
    // Deep inside with: lists and flow mappings.
    CHECK(only_problem(two_steps("    with: {message: {x: [ok, \"{{ ) }}\"]}}\n")) ==
          "wf.yaml:6:34: invalid expression: unexpected ')'");
    // Statements are templates too.
    CHECK(only_problem(two_steps("    with:\n      message: \"{% if %}x{% endif %}\"\n")) ==
          "wf.yaml:7:23: invalid expression: Expected an expression, got 'end of statement "
          "block'");
    // Unknown filters are syntax errors, as in Jinja2's compiler.
    CHECK(only_problem(two_steps("    with:\n      message: \"{{ x | no_such_filter }}\"\n")) ==
          "wf.yaml:7:24: invalid expression: No filter named 'no_such_filter'.");
}

TEST_CASE("when and for_each take expressions with or without braces", "[workflow][expressions]") {
    LoadResult r = load(R"(inputs:
  n: {type: integer, default: 1}
  systems: {type: array, default: []}
steps:
  - id: a
    task: log
    when: inputs.n > 2
    for_each: inputs.systems
  - id: b
    task: log
    when: "{{ steps.a.status == 'succeeded' }}"
    for_each: [x, 2, {k: v}]
  - id: c
    task: log
    when: false
)");
    INFO(Catch::Detail::stringify(problems(r)));
    REQUIRE(r.ok());
    const Workflow& wf = *r.workflow;
    CHECK(wf.steps[0].when == "{{ inputs.n > 2 }}");
    CHECK(wf.steps[0].for_each == "{{ inputs.systems }}");
    CHECK(wf.steps[1].when == "{{ steps.a.status == 'succeeded' }}");
    CHECK(wf.steps[1].for_each == "{{ ['x', 2, {'k': 'v'}] }}");
    CHECK(wf.steps[1].depends_on == std::vector<std::string>{"a"});
    CHECK(wf.steps[2].when == "{{ false }}");
    CHECK(wf.steps[2].for_each.empty());

    // Errors in a bare expression are placed as if the braces were not there.
    CHECK(only_problem(two_steps("    when: inputs.x >\n")) ==
          "wf.yaml:6:21: invalid expression: unexpected 'end of print statement'");
    CHECK(only_problem(two_steps("    when: (1 + ]\n")) ==
          "wf.yaml:6:16: invalid expression: unexpected ']', expected ')'");
    CHECK(only_problem(two_steps("    when: \"  \"\n")) == "wf.yaml:6:11: 'when' is empty");
    CHECK(only_problem(two_steps("    when: 3\n")) ==
          "wf.yaml:6:11: 'when' must be an expression, such as \"{{ inputs.x }}\", got an "
          "integer (3)");
    CHECK(only_problem(two_steps("    when: {a: 1}\n")) ==
          "wf.yaml:6:11: 'when' must be an expression, such as \"{{ inputs.x }}\", got a "
          "mapping");
    CHECK(only_problem(two_steps("    for_each: true\n")) ==
          "wf.yaml:6:15: 'for_each' must be an expression, such as \"{{ inputs.x }}\", got a "
          "boolean (true)");
    CHECK(only_problem(two_steps("    for_each: [a, \"{{ steps.a }}\"]\n")) ==
          "wf.yaml:6:15: 'for_each' as a list cannot hold expressions; write one expression "
          "instead, such as \"{{ [inputs.a, inputs.b] }}\"");
}

TEST_CASE("item and index are read only in a for_each step's with", "[workflow][expressions]") {
    const std::string why = "' is only defined in the with: of a for_each step (its when: and "
                            "for_each: are evaluated once, for the whole step)";
    CHECK(only_problem(two_steps("    with: {message: \"{{ item }}\"}\n")) ==
          "wf.yaml:6:25: step 'b': 'item" + why);
    CHECK(only_problem(two_steps("    for_each: [1, 2]\n    when: \"{{ index > 0 }}\"\n")) ==
          "wf.yaml:7:15: step 'b': 'index" + why);
    CHECK(only_problem(std::string(kOneStep) + "outputs: {o: \"{{ item }}\"}\n") ==
          "wf.yaml:4:18: 'outputs': 'item" + why);
    // Where they are defined, and where the template binds the name itself.
    CHECK(problems(load(two_steps("    for_each: [1, 2]\n"
                                  "    with: {message: \"{{ item }} {{ index }}\"}\n")))
              .empty());
    CHECK(problems(load(two_steps("    with: {message: \"{% for item in [1] %}{{ item }}"
                                  "{% endfor %}\"}\n")))
              .empty());
    CHECK(problems(load(two_steps("    with: {message: \"{% set index = 2 %}{{ index }}\"}\n")))
              .empty());
}

TEST_CASE("referenced_steps walks the whole expression", "[workflow][expressions]") {
    using V = std::vector<std::string>;
    CHECK(refs("{{ steps.a.output }}") == V{"a"});
    CHECK(refs("{{ steps['my-step'].output }}") == V{"my-step"});
    CHECK(refs("{{ steps.get('g') }}") == V{"g"});
    CHECK(refs("{{ steps.items() | list }}").empty());
    CHECK(refs("plain text about steps.a").empty());
    CHECK(refs("{{ x | default(steps.f.output) }}") == V{"f"});
    CHECK(refs("{{ x is sameas(steps.t.output) }}") == V{"t"});
    CHECK(refs("{{ range(steps.c.output.n) }}") == V{"c"});
    CHECK(refs("{{ 1 < steps.l.output <= steps.r.output }}") == V{"l", "r"});
    CHECK(refs("{{ steps.y.output if steps.cond.output else steps.n.output }}") ==
          V{"y", "cond", "n"});
    CHECK(refs("{{ [steps.i.output, {'k': steps.v.output, steps.k.output: 1}] }}") ==
          V{"i", "v", "k"});
    CHECK(refs("{{ not steps.n.ok and -steps.m.x or steps.o.x ~ 'a' }}") == V{"n", "m", "o"});
    CHECK(refs("{{ steps.s.output[1:steps.e.output] }}") == V{"s", "e"});
    CHECK(refs("{{ steps[steps.dyn.output] }}") == V{"dyn"});
    CHECK(refs("{% if steps.a.ok %}{{ steps.b.x }}{% else %}{{ steps.c.x }}{% endif %}") ==
          V{"a", "b", "c"});
    CHECK(refs("{% for i in steps.list.output if i != steps.skip.output %}{{ i }}"
               "{% endfor %}") == V{"list", "skip"});
    CHECK(refs("{% set x = steps.s.output %}{{ x }}") == V{"s"});
    CHECK(refs("{% macro m(d=steps.d.x) %}{{ steps.in_macro.x }}{% endmacro %}") ==
          V{"d", "in_macro"});
    // First-seen order, once each.
    CHECK(refs("{{ steps.b.x }} {{ steps.a.x }} {{ steps.b.y }}") == V{"b", "a"});
}

TEST_CASE("referenced_steps reports syntax errors with their position", "[workflow][expressions]") {
    auto r = referenced_steps("{{ steps.a. }}", Mark{"f.yaml", 4, 10});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ferry::ErrorKind::Validation);
    CHECK(r.error().describe() == "f.yaml:4:22: invalid expression: expected name or number");
    r = referenced_steps("line\n{{ ) }}", Mark{"f.yaml", 4, 10});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().describe() == "f.yaml:5:4: invalid expression: unexpected ')'");
}

TEST_CASE("depends_on: needs, then the steps expressions refer to", "[workflow][expressions]") {
    LoadResult r = load(R"(steps:
  - id: a
    task: log
  - id: b
    task: log
  - id: c
    task: log
  - id: d
    task: log
    needs: [c, a]
    with:
      message: "{{ steps.b.output }} {{ steps.a.output }}"
    when: steps['c'].status == 'succeeded'
    for_each: "{{ steps.b.output['items'] }}"
  - id: e
    task: log
    needs: d
)");
    INFO(Catch::Detail::stringify(problems(r)));
    REQUIRE(r.ok());
    CHECK(r.workflow->steps[3].needs == std::vector<std::string>{"c", "a"});
    CHECK(r.workflow->steps[3].depends_on == std::vector<std::string>{"c", "a", "b"});
    CHECK(r.workflow->steps[4].depends_on == std::vector<std::string>{"d"});
    CHECK(r.workflow->steps[0].depends_on.empty());
    // The engine reads them as indices into the step list, in the same order.
    CHECK(r.workflow->steps[3].depends_on_steps == std::vector<size_t>{2, 0, 1});
    CHECK(r.workflow->steps[4].depends_on_steps == std::vector<size_t>{3});
    CHECK(r.workflow->steps[0].depends_on_steps.empty());
    // And the other way, so that a settled step wakes only the steps that wait on it.
    CHECK(r.workflow->steps[0].dependents == std::vector<size_t>{3});
    CHECK(r.workflow->steps[1].dependents == std::vector<size_t>{3});
    CHECK(r.workflow->steps[2].dependents == std::vector<size_t>{3});
    CHECK(r.workflow->steps[3].dependents == std::vector<size_t>{4});
    CHECK(r.workflow->steps[4].dependents.empty());
    // Steps are found by id through the positions the validation filled.
    CHECK(r.workflow->step_positions.size() == 5);
    CHECK(r.workflow->find_step("d") == &r.workflow->steps[3]);
    CHECK(r.workflow->find_step("zz") == nullptr);
    CHECK(find_cycle(*r.workflow).empty());
}

TEST_CASE("references to unknown or own steps", "[workflow][expressions]") {
    CHECK(only_problem(two_steps("    needs: aa\n")) ==
          "wf.yaml:6:12: step 'b' refers to unknown step 'aa' (did you mean 'a'?)");
    CHECK(only_problem(two_steps("    needs: [a, b]\n")) ==
          "wf.yaml:6:16: step 'b' refers to itself");
    CHECK(only_problem(two_steps("    with: {message: \"{{ steps.b.output }}\"}\n")) ==
          "wf.yaml:6:25: step 'b' refers to itself");
    CHECK(only_problem(two_steps("    when: steps.zeta.status\n")) ==
          "wf.yaml:6:11: step 'b' refers to unknown step 'zeta'");
    // steps.my-step is steps.my minus step: say how to write it.
    CHECK(only_problem("steps:\n  - id: my-step\n    task: log\n  - id: b\n    task: log\n"
                       "    with: {message: \"{{ steps.my-step.output }}\"}\n") ==
          "wf.yaml:6:25: step 'b' refers to unknown step 'my' (ids with '-' need brackets: "
          "steps['my-step'])");
}

TEST_CASE("for_each over an input typed as no list", "[workflow][expressions]") {
    const std::string head = "inputs:\n  n: {type: integer, default: 3}\n  l: {type: array}\n"
                             "  a: {type: any}\nsteps:\n  - id: s\n    task: log\n";
    CHECK(only_problem(head + "    for_each: \"{{ inputs.n }}\"\n") ==
          "wf.yaml:8:15: step 's': for_each must give a list, and input 'n' is an integer");
    for (const char* fine : {"{{ inputs.l }}", "{{ inputs.a }}", "{{ inputs.n * [1] }}"}) {
        INFO(fine);
        CHECK(load(head + "    for_each: \"" + fine + "\"\n").ok());
    }
}

TEST_CASE("a field of a step's record or of execution that neither has",
          "[workflow][expressions]") {
    // Their shapes are fixed: a misspelt field failed every run ("'dict object' has no
    // attribute 'outptu'") and passed validate.
    CHECK(only_problem(two_steps("    with: {message: \"{{ steps.a.outptu.x }}\"}\n")) ==
          "wf.yaml:6:25: step 'b': steps.a has no field 'outptu' (did you mean 'output'?); it "
          "has output, status, error, reason");
    CHECK(only_problem(two_steps("    when: \"steps['a'].stauts == 'failed'\"\n")) ==
          "wf.yaml:6:12: step 'b': steps.a has no field 'stauts' (did you mean 'status'?); it "
          "has output, status, error, reason");
    CHECK(only_problem(two_steps("    with: {message: \"{{ execution.workflw }}\"}\n")) ==
          "wf.yaml:6:25: step 'b': execution has no field 'workflw' (did you mean "
          "'workflow'?); it has id, workflow, dry_run, trigger");
    // The fields, the record's dict methods, and items and keys read further down are fine.
    for (const char* fine :
         {"{{ steps.a.output.x }} {{ steps.a.status }} {{ steps.a.error }} {{ steps.a.reason }}",
          "{{ steps['a'].output }} {{ steps.a.get('output') }} {{ steps.a.items() | list }}",
          "{{ execution.id }} {{ execution.workflow }} {{ execution.dry_run }} "
          "{{ execution.trigger }} {{ execution.get('id') }}",
          "{% set execution = {'x': 1} %}{{ execution.x }}"}) {
        INFO(fine);
        CHECK(load(two_steps("    with: {message: \"" + std::string(fine) + "\"}\n")).ok());
    }
}

TEST_CASE("names an expression reads that the workflow does not have", "[workflow][expressions]") {
    auto step_with = [](const std::string& message) {
        return "steps:\n  - id: a\n    task: log\n    with: {message: \"" + message + "\"}\n";
    };
    CHECK(only_problem(step_with("{{ input.title }}")) ==
          "wf.yaml:4:25: step 'a': 'input' is undefined (did you mean 'inputs'?); expressions "
          "see inputs, vars, steps, execution (and item, index in a for_each step's with:)");
    CHECK(only_problem(step_with("{{ env.HOME }}")) ==
          "wf.yaml:4:25: step 'a': 'env' is not available in expressions; secrets and settings "
          "come through integrations in ferry.yaml");
    CHECK(only_problem(step_with("{{ event.step }}")).find("'event' is undefined") !=
          std::string::npos);
    CHECK(only_problem("steps:\n  - {id: a, task: log, with: {message: hi}}\n"
                       "outputs: {x: \"{{ output.y }}\"}\n")
              .find("'outputs': 'output' is undefined; expressions see") != std::string::npos);
    // What every template sees, and names a template binds itself, are not problems.
    for (const char* fine : {"{{ execution.id }} {{ range(2) | list }} {{ true }} {{ None }}",
                             "{% set n = 2 %}{{ n }}", "{% for x in [1] %}{{ x }}{% endfor %}",
                             "{{ dict(a=1) }} {{ namespace(k=1).k }} {{ lipsum(1) }}"}) {
        LoadResult r = load(step_with(fine));
        CHECK(r.problems.empty());
    }
}

TEST_CASE("references to unknown inputs and vars", "[workflow][expressions]") {
    std::string head = "inputs:\n  title: string\nvars:\n  prio: {high: 1}\n";
    CHECK(only_problem(head + "steps:\n  - id: a\n    task: log\n"
                              "    with: {message: \"{{ inputs.titel }} {{ vars.prio }}\"}\n") ==
          "wf.yaml:8:25: step 'a' refers to unknown input 'titel' (did you mean 'title'?)");
    CHECK(only_problem(head + "steps:\n  - id: a\n    task: log\n"
                              "    with: {message: \"{{ vars.pro }}\"}\n") ==
          "wf.yaml:8:25: step 'a' refers to unknown var 'pro' (did you mean 'prio'?)");
    // Methods of the dicts are not names.
    LoadResult r =
        load(head + "steps:\n  - id: a\n    task: log\n"
                    "    with: {message: \"{{ inputs.items() }} {{ vars.get('prio') }}\"}\n");
    CHECK(r.ok());
}

TEST_CASE("outputs and vars references", "[workflow][expressions]") {
    CHECK(only_problem(std::string(kOneStep) + "outputs:\n  x: \"{{ steps.b.output }}\"\n") ==
          "wf.yaml:5:10: 'outputs' refers to unknown step 'b'");
    CHECK(only_problem(std::string(kOneStep) + "outputs:\n  x: \"{{ steps.a.output + }}\"\n") ==
          "wf.yaml:5:27: invalid expression: unexpected 'end of print statement'");
    LoadResult r = load(std::string(kOneStep) + "outputs:\n  n: \"{{ steps.a.output.n }}\"\n");
    REQUIRE(r.ok());
    CHECK(r.workflow->outputs.dict_obj().find("n")->str() == "{{ steps.a.output.n }}");

    CHECK(only_problem("vars:\n  v: \"{{ steps.a.output }}\"\n" + std::string(kOneStep)) ==
          "wf.yaml:2:10: 'vars' are constants and cannot refer to steps (found steps.a); use "
          "inputs, or compute it in a step");
    CHECK(only_problem("vars:\n  v: \"{{ inputs.nope }}\"\n" + std::string(kOneStep)) ==
          "wf.yaml:2:10: var 'v' refers to unknown input 'nope'");
    r = load("inputs:\n  sev: string\nvars:\n  v: \"{{ inputs.sev | upper }}\"\n" +
             std::string(kOneStep));
    CHECK(r.ok());
}

TEST_CASE("a var reads the vars written above it", "[workflow][expressions]") {
    // Evaluated one by one in file order (core/executor.cpp): a var below is not there yet,
    // which read as "'dict object' has no attribute" when the run started.
    LoadResult r = load("vars:\n  base: https://x\n  api: \"{{ vars.base }}/api\"\n"
                        "  urls: [\"{{ vars.api }}/a\", {b: \"{{ vars['api'] }}\"}]\n" +
                        std::string(kOneStep));
    CHECK(r.ok());
    CHECK(only_problem("vars:\n  api: \"{{ vars.base }}/api\"\n  base: https://x\n" +
                       std::string(kOneStep)) ==
          "wf.yaml:2:12: var 'api' refers to var 'base', written below it: vars are evaluated "
          "in the order they are written, each seeing those above it; move 'base' above 'api'");
    CHECK(only_problem("vars:\n  v: {deep: [\"{{ vars.v }}\"]}\n" + std::string(kOneStep)) ==
          "wf.yaml:2:18: var 'v' refers to itself");
    CHECK(only_problem("vars:\n  v: \"{{ vars.nope }}\"\n" + std::string(kOneStep)) ==
          "wf.yaml:2:10: var 'v' refers to unknown var 'nope'");
}

TEST_CASE("a step that waits for its own on_error step is refused", "[workflow][expressions]") {
    // The handler runs only after the step fails: the step never ran, and the execution
    // "succeeded" with both skipped.
    LoadResult r = load(R"(steps:
  - {id: create, task: log, needs: cleanup, on_error: cleanup, with: {message: x}}
  - {id: cleanup, task: log, with: {message: y}}
  - {id: late, task: log, needs: prep, on_error: handler, with: {message: x}}
  - {id: prep, task: log, with: {message: "{{ steps.handler.status }}"}}
  - {id: handler, task: log, with: {message: y}}
)");
    CHECK(problems(r) ==
          std::vector<std::string>{
              "wf.yaml:2:55: step 'create' depends on its own on_error step 'cleanup' "
              "(directly), which runs only after it fails: it could never run",
              "wf.yaml:4:50: step 'late' depends on its own on_error step 'handler' "
              "(through other steps), which runs only after it fails: it could never run"});
}

TEST_CASE("a handler that waits for a step after its failing step is refused",
          "[workflow][expressions]") {
    // b's failure skips b2, and h2 with it: the handler could never run for b.
    LoadResult r = load(R"(steps:
  - {id: b, task: fail, on_error: h2, with: {message: y}}
  - {id: b2, task: log, needs: b, with: {message: b2}}
  - {id: h2, task: log, with: {message: "{{ steps.b2.output }}"}}
  - {id: c, task: fail, on_error: h3, with: {message: y}}
  - {id: d, task: log, with: {message: d}}
  - {id: h3, task: log, needs: d, with: {message: "{{ steps.c.error }}"}}
)");
    CHECK(problems(r) ==
          std::vector<std::string>{"wf.yaml:2:35: step 'b' has on_error step 'h2', which waits for "
                                   "step 'b2'; that step waits for 'b', so its failure skips both: "
                                   "the handler could never run"});
}

TEST_CASE("an aliased expression is a dependency of every step that uses it, parsed once",
          "[workflow][expressions]") {
    // The anchor is in one step's with, the alias in another's: each depends on `a`.
    LoadResult r = load(R"(steps:
  - id: a
    task: log
  - id: b
    task: log
    with: {message: &ref "{{ steps.a.output }}"}
  - id: c
    task: log
    with: {message: *ref}
)");
    INFO(Catch::Detail::stringify(problems(r)));
    REQUIRE(r.ok());
    CHECK(r.workflow->steps[1].depends_on == std::vector<std::string>{"a"});
    CHECK(r.workflow->steps[2].depends_on == std::vector<std::string>{"a"});
    // 6,000 vars aliasing an expression of 600 references: parsed once per alias and its
    // references kept for each, 30 s of `validate` and 700 MB for an 80 KB file.
    std::string expr = "{{ [";
    for (int i = 0; i < 600; ++i)
        expr += (i ? ", inputs.a[" : "inputs.a[") + std::to_string(i) + "]";
    std::string text =
        "inputs:\n  a: {type: array, default: [1]}\nvars:\n  v0: &e \"" + expr + "] }}\"\n";
    for (int i = 1; i < 6000; ++i)
        text += "  v" + std::to_string(i) + ": *e\n";
    auto started = std::chrono::steady_clock::now();
    r = load(text + "steps:\n  - id: s\n    task: log\n");
    INFO(Catch::Detail::stringify(problems(r)));
    CHECK(r.ok());
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
    // A mistake in it is reported once, where it is written.
    r = load("vars:\n  v0: &e \"{{ steps.a }}\"\n  v1: *e\n  v2: *e\nsteps:\n  - id: a\n"
             "    task: log\n");
    CHECK(problems(r).size() == 1);
}

TEST_CASE("dependency cycles", "[workflow][expressions]") {
    LoadResult r = load(R"(steps:
  - id: a
    task: log
    needs: c
  - id: b
    task: log
    needs: a
  - id: c
    task: log
    with: {message: "{{ steps.b.output }}"}
)");
    CHECK(problems(r) ==
          std::vector<std::string>{"wf.yaml:2:5: dependency cycle: a -> c -> b -> a"});
    REQUIRE(r.workflow.has_value());
    CHECK(find_cycle(*r.workflow) == std::vector<std::string>{"a", "c", "b", "a"});

    // Two separate cycles are both reported; the acyclic step in between is not.
    r = load(R"(steps:
  - id: x
    task: log
  - id: p
    task: log
    needs: [x, q]
  - id: q
    task: log
    needs: p
  - id: r
    task: log
    needs: s
  - id: s
    task: log
    needs: [r, x]
)");
    CHECK(problems(r) == std::vector<std::string>{"wf.yaml:4:5: dependency cycle: p -> q -> p",
                                                  "wf.yaml:10:5: dependency cycle: r -> s -> r"});
    CHECK(find_cycle(*r.workflow) == std::vector<std::string>{"p", "q", "p"});

    // The shortest way around a larger knot.
    Workflow wf;
    for (const char* id : {"a", "b", "c", "d"}) {
        Step s;
        s.id = id;
        wf.steps.push_back(std::move(s));
    }
    wf.steps[0].depends_on = {"b"};
    wf.steps[1].depends_on = {"c", "a"};
    wf.steps[2].depends_on = {"d"};
    wf.steps[3].depends_on = {"a"};
    CHECK(find_cycle(wf) == std::vector<std::string>{"a", "b", "a"});
    wf.steps[1].depends_on = {"c"};
    CHECK(find_cycle(wf) == std::vector<std::string>{"a", "b", "c", "d", "a"});
    wf.steps[3].depends_on = {"missing"};  // unknown ids are not edges
    CHECK(find_cycle(wf).empty());
}

TEST_CASE("inputs a task takes as written are neither checked nor dependencies",
          "[workflow][expressions]") {
    // lua's script and transform's mappings.*.template are raw (FakeTasks, like the real ones).
    LoadResult r = load(R"(steps:
  - id: a
    task: log
  - id: b
    task: lua
    with:
      input: "{{ steps.a.output }}"
      script: |
        -- {{ not jinja: steps.a is only a Lua comment here
        return {}
  - id: c
    task: transform
    with:
      data: {}
      mappings:
        - {target: x, template: "{{ steps.b.output }}"}
)");
    INFO("problems: " << Catch::Detail::stringify(problems(r)));
    REQUIRE(r.ok());
    CHECK(r.workflow->find_step("b")->depends_on == std::vector<std::string>{"a"});
    CHECK(r.workflow->find_step("c")->depends_on.empty());
    const ferry::tmpl::Value* script = r.workflow->find_step("b")->with.dict_obj().find("script");
    REQUIRE(script);
    CHECK(script->str().find("{{ not jinja") != std::string_view::npos);

    // The same text in an input that is not raw is an expression, and wrong.
    CHECK(only_problem(R"(steps:
  - id: b
    task: log
    with: {message: "{{ not jinja"}
)")
              .find("invalid expression") != std::string::npos);
}

TEST_CASE("a dict method read where an entry was meant", "[workflow][expressions]") {
    // As in Jinja2 the attribute wins: output.update is the method, whatever the output holds.
    CHECK(only_problem(two_steps("    with: {message: \"{{ steps.a.output.update }}\"}\n")) ==
          "wf.yaml:6:25: step 'b': steps.a.output.update is the dict method update(), as in "
          "Jinja2 (the attribute wins over the key); write steps.a.output['update'] for an "
          "entry named so");
    CHECK(only_problem(two_steps("    with: {message: \"{{ steps['a'].output['x'].items | list "
                                 "}}\"}\n")) ==
          "wf.yaml:6:25: step 'b': steps['a'].output['x'].items is the dict method items(), as "
          "in Jinja2 (the attribute wins over the key); write steps['a'].output['x']['items'] "
          "for an entry named so");
    CHECK(only_problem(
              two_steps("    with: {message: \"{{ steps.a.output.records[0].keys }}\"}\n")) ==
          "wf.yaml:6:25: step 'b': steps.a.output.records[0].keys is the dict method keys(), as "
          "in Jinja2 (the attribute wins over the key); write steps.a.output.records[0]['keys'] "
          "for an entry named so");
    CHECK(only_problem(
              two_steps("    with: {message: \"{{ steps.a.output.records[-1].update }}\"}\n")) ==
          "wf.yaml:6:25: step 'b': steps.a.output.records[-1].update is the dict method update(), "
          "as in Jinja2 (the attribute wins over the key); write "
          "steps.a.output.records[-1]['update'] for an entry named so");
    // Called, or read by key: what was meant.
    for (const char* fine :
         {"{{ steps.a.output.items() | list }}", "{{ steps.a.output['update'] }}",
          "{{ steps.a.output.get('x') }}", "{{ steps.a.output.updated }}"}) {
        INFO(fine);
        CHECK(problems(load(two_steps(std::string("    with: {message: \"") + fine + "\"}\n")))
                  .empty());
    }
}

TEST_CASE("is_single_expression reads string literals as the lexer does",
          "[workflow][expressions]") {
    std::string inner;
    CHECK(is_single_expression("{{ inputs.msg == 'x}}y' }}", &inner));
    CHECK(inner == " inputs.msg == 'x}}y' ");
    CHECK(is_single_expression("{{ \"a{{b\" ~ 'c\\'}}' }}"));
    CHECK(is_single_expression("{{- x -}}", &inner));
    CHECK(inner == " x ");
    CHECK_FALSE(is_single_expression("{{ a }} and {{ b }}"));
    CHECK_FALSE(is_single_expression("{{ a }}{% if b %}{% endif %}{{ c }}"));
    CHECK_FALSE(is_single_expression("{{ 'open }}"));
    CHECK_FALSE(is_single_expression("text {{ a }}"));
    // Brackets balance as the lexer balances them: nested dict literals end in `}}`.
    CHECK(is_single_expression("{{ {'env': {'name': inputs.env}} }}", &inner));
    CHECK(inner == " {'env': {'name': inputs.env}} ");
    CHECK(is_single_expression("{{ x in {'a': [1, (2, {'b': 3})]} }}"));
    CHECK_FALSE(is_single_expression("{{ {'a': 1} }} and {{ {'b': 2} }}"));
}
