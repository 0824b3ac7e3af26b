// The structure of workflow files: top-level keys, steps and their fields, hooks.
#include "workflow_test_util.h"

using namespace ferry::workflow;
using namespace ferry::workflow::test;

namespace {

// A workflow with one step "a" (task log) whose body lines follow `    task: log`.
std::string step_with(const std::string& lines) {
    return "steps:\n  - id: a\n    task: log\n" + lines;
}

}  // namespace

TEST_CASE("top-level keys", "[workflow][loader]") {
    CHECK(problems(load("stpes:\n  - id: a\n    task: log\n")) ==
          std::vector<std::string>{
              "wf.yaml:1:1: unknown key 'stpes' in workflow (did you mean 'steps'?)",
              "wf.yaml:1:1: workflow has no 'steps'"});
    CHECK(only_problem("name: x\nbogus: 1\n" + std::string(kOneStep)) ==
          "wf.yaml:2:1: unknown key 'bogus' in workflow");
    CHECK(only_problem("name: x\n") == "wf.yaml:1:1: workflow has no 'steps'");
    CHECK(only_problem("steps: []\n") == "wf.yaml:1:8: workflow has no steps ('steps' is empty)");
    CHECK(only_problem("steps: {a: 1}\n") ==
          "wf.yaml:1:8: 'steps' must be a list of steps, got a mapping");
    CHECK(only_problem("description: [a]\n" + std::string(kOneStep)) ==
          "wf.yaml:1:14: 'description' must be text, got a list");
    CHECK(only_problem("vars: [1]\n" + std::string(kOneStep)) ==
          "wf.yaml:1:7: 'vars' must be a mapping of names to values, got a list");
    CHECK(only_problem("outputs: text\n" + std::string(kOneStep)) ==
          "wf.yaml:1:10: 'outputs' must be a mapping of names to values, got 'text'");
    CHECK(only_problem("vars:\n  bad name: 1\n" + std::string(kOneStep)) ==
          "wf.yaml:2:3: invalid var name 'bad name': use letters, digits, '_' and '-', "
          "starting with a letter or '_'");
    CHECK(only_problem(std::string(kOneStep) + "outputs:\n  9lives: x\n") ==
          "wf.yaml:5:3: invalid output name '9lives': use letters, digits, '_' and '-', "
          "starting with a letter or '_'");
}

TEST_CASE("a document that starts with a token no node can start with is a syntax error",
          "[workflow][loader]") {
    // yaml-cpp 0.7's LoadAll looped for ever on these, a null document more each time
    // (found by tests/fuzz).
    CHECK(only_problem(",") == "wf.yaml:1:1: no YAML node can start here");
    CHECK(only_problem("# comment\n,   a\nsteps: []\n") ==
          "wf.yaml:2:1: no YAML node can start here");
    CHECK(only_problem("name: a\n---\n,\n") == "wf.yaml:3:1: no YAML node can start here");
    // Empty documents are not that: each starts further on.
    CHECK(only_problem("---\n---\nsteps: []\n") ==
          "wf.yaml:3:1: a workflow file holds one YAML document; this is a second");
}

TEST_CASE("YAML errors name the alias and say what an unknown token needs", "[workflow][loader]") {
    CHECK(only_problem("vars: {a: *defaults}\n" + std::string(kOneStep)) ==
          "wf.yaml:1:11: the referenced anchor is not defined: *defaults");
    CHECK(only_problem("vars: {message: ready?}\n" + std::string(kOneStep)) ==
          "wf.yaml:1:22: unknown token (inside { } or [ ], text holding ?, :, # or , needs "
          "quotes: \"ready?\")");
    CHECK(only_problem("vars:\n  a: `b`\n" + std::string(kOneStep)) ==
          "wf.yaml:2:6: unknown token (` starts no YAML value: quote the text)");
}

TEST_CASE("a workflow file that is not UTF-8 is refused at the bad byte", "[workflow][loader]") {
    // Its values would reach records, answers and stdout, which must be JSON (UTF-8).
    CHECK(only_problem("steps:\n  - {id: a, task: log, with: {message: \"\xc3\x28\"}}\n") ==
          "wf.yaml:2:41: the file is not valid UTF-8 (byte 0xC3); save it as UTF-8");
    // A byte order mark is not an error, and neither is UTF-8 text.
    CHECK(problems(
              load("\xEF\xBB\xBFsteps:\n  - {id: a, task: log, with: {message: \"\xc3\xa9\"}}\n"))
              .empty());
}

TEST_CASE("a control character in a workflow file is refused where it is", "[workflow][loader]") {
    // yaml-cpp read a NUL in a plain scalar as an escape: "a<NUL>x41b" became "aAb".
    CHECK(only_problem(std::string("vars:\n  v: a\0x41b\n", 18) + std::string(kOneStep)) ==
          "wf.yaml:2:7: the file holds a control character (byte 0x00), which YAML does not "
          "allow; write it as an escape in a double-quoted string (\\x00)");
    CHECK(only_problem("vars:\n  v: \"a\x1b[31m\"\n" + std::string(kOneStep)) ==
          "wf.yaml:2:8: the file holds a control character (byte 0x1B), which YAML does not "
          "allow; write it as an escape in a double-quoted string (\\x1B)");
    // Escapes are text, and TAB, CR and LF are allowed.
    CHECK(problems(load("vars:\r\n  v: \"a\\x00b\\x1b\tc\"\r\n" + std::string(kOneStep))).empty());
}

TEST_CASE("the workflow name defaults to the file's stem and must be an identifier",
          "[workflow][loader]") {
    LoadResult r = load_workflow_text(kOneStep, "workflows/incident-to-itsm.yaml", nullptr);
    REQUIRE(r.ok());
    CHECK(r.workflow->name == "incident-to-itsm");
    CHECK(r.workflow->file == "workflows/incident-to-itsm.yaml");

    r = load("name: explicit_name\n" + std::string(kOneStep));
    REQUIRE(r.ok());
    CHECK(r.workflow->name == "explicit_name");

    CHECK(only_problem("name: 2fa reset\n" + std::string(kOneStep)) ==
          "wf.yaml:1:7: invalid workflow name '2fa reset': use letters, digits, '_' and '-', "
          "starting with a letter or '_'");
    CHECK(only_problem("name:\n" + std::string(kOneStep)) ==
          "wf.yaml:1:6: 'name' must be non-empty text");
}

TEST_CASE("in a workflows/ folder the name: must be the file's name", "[workflow][loader]") {
    // The API listed `name:` and answered 404 for it: a project's workflows are found by
    // their file's name. A file run by its path from elsewhere may name itself.
    const std::string text = "name: nightly-report\n" + std::string(kOneStep);
    CHECK(problems(load(text, "proj/workflows/nightly.yaml")) ==
          std::vector<std::string>{
              "proj/workflows/nightly.yaml:1:7: workflow name 'nightly-report' is not its "
              "file's name 'nightly': workflows are found by file name (ferry run, the API, "
              "sub-workflows); rename the file to nightly-report.yaml or drop 'name:'"});
    CHECK(load(text, "proj/workflows/nightly-report.yaml").ok());
    CHECK(load(text, "elsewhere/nightly.yaml").ok());
}

TEST_CASE("steps need an id and a task", "[workflow][loader]") {
    CHECK(only_problem("steps:\n  - task: log\n") == "wf.yaml:2:5: step #1 is missing 'id'");
    CHECK(only_problem("steps:\n  - id: a\n    task: log\n  - id: b\n") ==
          "wf.yaml:4:5: step 'b' is missing 'task'");
    CHECK(only_problem("steps:\n  - just text\n") ==
          "wf.yaml:2:5: each step must be a mapping with 'id' and 'task', got 'just text'");
    CHECK(only_problem("steps:\n  - id: has space\n    task: log\n") ==
          "wf.yaml:2:9: invalid step id 'has space': use letters, digits, '_' and '-', "
          "starting with a letter or '_'");
    CHECK(only_problem("steps:\n  - id: 1st\n    task: log\n") ==
          "wf.yaml:2:9: invalid step id '1st': use letters, digits, '_' and '-', "
          "starting with a letter or '_'");
    CHECK(only_problem("steps:\n  - id: a\n    task: log\n  - id: a\n    task: log\n") ==
          "wf.yaml:4:9: duplicate step id 'a' (first at line 2)");
    // on_error's keywords win over a step of that name: it could never be a handler.
    CHECK(only_problem("steps:\n  - id: continue\n    task: log\n") ==
          "wf.yaml:2:9: step id 'continue' is reserved: on_error's 'continue' is a keyword, so "
          "no step could name this one as its handler; call it something else");
    CHECK(only_problem("steps:\n  - {id: fail, task: log}\n") ==
          "wf.yaml:2:10: step id 'fail' is reserved: on_error's 'fail' is a keyword, so no "
          "step could name this one as its handler; call it something else");
    CHECK(only_problem(step_with("    task2: x\n")) ==
          "wf.yaml:4:5: unknown key 'task2' in step 'a' (did you mean 'task'?)");
    CHECK(only_problem("steps:\n  - id: a\n    task: [log]\n") ==
          "wf.yaml:3:11: 'task' must be text, got a list");
    CHECK(only_problem("steps:\n  - id: a\n    task: log\n    provider:\n") ==
          "wf.yaml:4:14: 'provider' must be non-empty text");
}

TEST_CASE("another engine's words are pointed to Ferry's", "[workflow][loader]") {
    CHECK(only_problem(step_with("    depends_on: [b]\n")) ==
          "wf.yaml:4:5: unknown key 'depends_on' in step 'a' (did you mean 'needs'?)");
    // Not 'id', one letter away: the condition is meant.
    CHECK(only_problem(step_with("    if: x\n")) ==
          "wf.yaml:4:5: unknown key 'if' in step 'a' (did you mean 'when'?)");
    CHECK(only_problem("on_failure: {task: log}\nsteps:\n  - {id: a, task: log}\n") ==
          "wf.yaml:1:1: unknown key 'on_failure' in workflow (it goes under 'hooks:')");
    CHECK(only_problem("steps:\n  - {id: a, task: log, on_error: contine}\n") ==
          "wf.yaml:2:34: 'on_error' must be fail, continue or a step id; there is no step "
          "'contine' (did you mean 'continue'?)");
}

TEST_CASE("unknown step keys get a suggestion", "[workflow][loader]") {
    CHECK(only_problem(step_with("    neds: b\n")) ==
          "wf.yaml:4:5: unknown key 'neds' in step 'a' (did you mean 'needs'?)");
    CHECK(only_problem(step_with("    for-each: x\n")) ==
          "wf.yaml:4:5: unknown key 'for-each' in step 'a' (did you mean 'for_each'?)");
    CHECK(only_problem(step_with("    retires: 3\n")) ==
          "wf.yaml:4:5: unknown key 'retires' in step 'a' (did you mean 'retry'?)");
    CHECK(only_problem(step_with("    dryrun: true\n")) ==
          "wf.yaml:4:5: unknown key 'dryrun' in step 'a' (did you mean 'dry_run'?)");
    CHECK(only_problem(step_with("    zzz: 1\n")) == "wf.yaml:4:5: unknown key 'zzz' in step 'a'");
    // The id is known even when it comes after the unknown key.
    CHECK(only_problem("steps:\n  - tsk: log\n    id: late\n    task: log\n") ==
          "wf.yaml:2:5: unknown key 'tsk' in step 'late' (did you mean 'task'?)");
}

TEST_CASE("step fields are read and typed", "[workflow][loader]") {
    LoadResult r = load(R"(steps:
  - id: a
    task: log
  - id: b
    task: ticket.create
    provider: jira
    integration: jira-cloud
    needs: a
    with: {summary: hi}
    concurrency: 3
    for_each: "{{ [1, 2] }}"
    retry: {max_attempts: 5, backoff: fixed, initial_delay: 500ms, max_delay: 1m}
    timeout: 1m30s
    on_error: continue
    dry_run: true
)");
    INFO(Catch::Detail::stringify(problems(r)));
    REQUIRE(r.ok());
    const Step& b = r.workflow->steps.at(1);
    CHECK(b.provider == "jira");
    CHECK(b.integration == "jira-cloud");
    CHECK(b.needs == std::vector<std::string>{"a"});
    CHECK(b.with.dict_obj().find("summary")->str() == "hi");
    CHECK(b.concurrency == 3);
    REQUIRE(b.retry.has_value());
    CHECK(b.retry->max_attempts == 5);
    CHECK(b.retry->backoff == "fixed");
    CHECK(b.retry->initial_delay_ms == 500);
    CHECK(b.retry->max_delay_ms == 60'000);
    CHECK(b.retry->mark.line == 12);
    CHECK(b.retry->mark.column == 12);
    CHECK(b.timeout_ms == 90'000);
    CHECK(b.on_error == "continue");
    CHECK(b.dry_run == std::optional<bool>(true));
    CHECK(b.mark.line == 4);
    CHECK(b.mark.column == 5);
    CHECK(b.field_marks.at("task").line == 5);
    CHECK(b.field_marks.at("task").column == 11);
    CHECK(b.field_marks.at("with").line == 9);
    CHECK(b.field_marks.at("with").column == 11);
    CHECK(b.field_marks.at("for_each").line == 11);
    CHECK(b.field_marks.size() == 12);

    const Step& a = r.workflow->steps.at(0);
    CHECK(a.with.is_dict());
    CHECK(a.with.dict_obj().items().empty());
    CHECK(a.on_error == "fail");
    CHECK_FALSE(a.retry.has_value());
    CHECK_FALSE(a.dry_run.has_value());
    CHECK(a.timeout_ms == 0);
}

TEST_CASE("step field type problems", "[workflow][loader]") {
    CHECK(only_problem(step_with("    with: [a]\n")) ==
          "wf.yaml:4:11: 'with' must be a mapping of task inputs, got a list");
    CHECK(only_problem(step_with("    with: text\n")) ==
          "wf.yaml:4:11: 'with' must be a mapping of task inputs, got 'text'");
    CHECK(only_problem(step_with("    needs: {a: 1}\n")) ==
          "wf.yaml:4:12: 'needs' must be a step id or a list of step ids, got a mapping");
    CHECK(only_problem("steps:\n  - id: a\n    task: log\n  - id: b\n    task: log\n"
                       "    needs: [a, [x]]\n") ==
          "wf.yaml:6:16: 'needs' must list step ids, got a list");
    CHECK(only_problem(step_with("    for_each: \"{{ [1] }}\"\n    concurrency: -1\n")) ==
          "wf.yaml:5:18: 'concurrency' must be an integer >= 0, got an integer (-1)");
    CHECK(only_problem(step_with("    for_each: \"{{ [1] }}\"\n    concurrency: two\n")) ==
          "wf.yaml:5:18: 'concurrency' must be an integer >= 0, got 'two'");
    CHECK(only_problem(step_with("    for_each: \"{{ [1] }}\"\n    concurrency: 3000000000\n")) ==
          "wf.yaml:5:18: 'concurrency' must be an integer from 0 to 2147483647, got an integer "
          "(3000000000)");
    CHECK(only_problem(step_with("    concurrency: 2\n")) ==
          "wf.yaml:4:18: 'concurrency' limits a 'for_each' fan-out, and step 'a' has no "
          "'for_each'");
    CHECK(only_problem(step_with("    timeout: 30\n")) ==
          "wf.yaml:4:14: 'timeout': expected a duration like 300ms, 2s, 1m30s or 1h, got '30' "
          "(a unit is required)");
    CHECK(only_problem(step_with("    timeout: 5 minutes\n")) ==
          "wf.yaml:4:14: 'timeout': expected a duration like 300ms, 2s, 1m30s or 1h, got "
          "'5 minutes'");
    CHECK(only_problem(step_with("    timeout: [1s]\n")) ==
          "wf.yaml:4:14: 'timeout' must be a duration like 300ms, 2s, 1m30s or 1h, got a list");
    CHECK(only_problem(step_with("    dry_run: yes\n")) ==
          "wf.yaml:4:14: 'dry_run' must be true or false, got 'yes'");
}

TEST_CASE("retry policies", "[workflow][loader]") {
    LoadResult r = load(step_with("    retry: 4\n"));
    REQUIRE(r.ok());
    CHECK(r.workflow->steps[0].retry->max_attempts == 4);
    CHECK(r.workflow->steps[0].retry->backoff == "exponential");
    CHECK(r.workflow->steps[0].retry->initial_delay_ms == 1000);
    CHECK(r.workflow->steps[0].retry->max_delay_ms == 30'000);

    CHECK(only_problem(step_with("    retry: {max_attempts: 0}\n")) ==
          "wf.yaml:4:27: 'max_attempts' must be an integer >= 1, got an integer (0)");
    CHECK(only_problem(step_with("    retry: 0\n")) ==
          "wf.yaml:4:12: 'retry' must be an integer >= 1, got an integer (0)");
    CHECK(only_problem(step_with("    retry: {backoff: linear}\n")) ==
          "wf.yaml:4:22: 'backoff' must be exponential or fixed, got 'linear'");
    CHECK(only_problem(step_with("    retry: {max_attempt: 2}\n")) ==
          "wf.yaml:4:13: unknown key 'max_attempt' in retry of step 'a' (did you mean "
          "'max_attempts'?)");
    CHECK(only_problem(step_with("    retry: {initial_delay: soon}\n")) ==
          "wf.yaml:4:28: 'initial_delay': expected a duration like 300ms, 2s, 1m30s or 1h, "
          "got 'soon'");
    CHECK(only_problem(step_with("    retry:\n      max_delay: 10\n")) ==
          "wf.yaml:5:18: 'max_delay': expected a duration like 300ms, 2s, 1m30s or 1h, got "
          "'10' (a unit is required)");
    CHECK(only_problem(step_with("    retry: {initial_delay: 1m, max_delay: 30s}\n")) ==
          "wf.yaml:4:28: 'initial_delay' (1m) is longer than 'max_delay' (30s)");
    CHECK(only_problem(step_with("    retry: [3]\n")) ==
          "wf.yaml:4:12: 'retry' must be a mapping such as {max_attempts: 3, backoff: "
          "exponential}, got a list");
}

TEST_CASE("a mapping key holding an expression is refused: keys are not evaluated",
          "[workflow][loader]") {
    // It went to the vendor as written: a field named "{{ inputs.field }}".
    CHECK(only_problem("inputs: {field: {type: string}}\nsteps:\n  - id: a\n    task: lua\n"
                       "    with: {script: x, input: {\"{{ inputs.field }}\": 1}}\n") ==
          "wf.yaml:5:31: the key '{{ inputs.field }}' holds an expression, but keys are not "
          "evaluated (it would go out as written): build the mapping in one expression, such "
          "as \"{{ {inputs.name: 'value'} }}\"");
    CHECK(
        only_problem("vars:\n  m:\n    \"{% if 1 %}k{% endif %}\": v\n" + std::string(kOneStep)) ==
        "wf.yaml:3:5: the key '{% if 1 %}k{% endif %}' holds an expression, but keys are not "
        "evaluated (it would go out as written): build the mapping in one expression, such "
        "as \"{{ {inputs.name: 'value'} }}\"");
    // Built in one expression, it is evaluated; braces in values are as before.
    CHECK(problems(load("inputs: {field: {type: string}}\nsteps:\n  - id: a\n    task: log\n"
                        "    with: {message: \"{{ {inputs.field: 1} }}\"}\n"))
              .empty());
}

TEST_CASE("retry: one delay written, the default of the other follows it", "[workflow][loader]") {
    // "Retry once after a minute" was refused over a max_delay (30s) no one wrote, and a
    // max_delay below 1s over an initial_delay no one wrote.
    LoadResult r =
        load(step_with("    retry: {max_attempts: 2, backoff: fixed, initial_delay: 1m}\n"));
    REQUIRE(r.ok());
    CHECK(r.workflow->steps[0].retry->initial_delay_ms == 60000);
    CHECK(r.workflow->steps[0].retry->max_delay_ms == 60000);
    r = load(step_with("    retry: {max_attempts: 2, max_delay: 500ms}\n"));
    REQUIRE(r.ok());
    CHECK(r.workflow->steps[0].retry->initial_delay_ms == 500);
    CHECK(r.workflow->steps[0].retry->max_delay_ms == 500);
    // Both written: as written (defaults untouched otherwise).
    r = load(step_with("    retry: {initial_delay: 2s}\n"));
    REQUIRE(r.ok());
    CHECK(r.workflow->steps[0].retry->max_delay_ms == 30000);
}

TEST_CASE("on_error: fail, continue or another step", "[workflow][loader]") {
    std::string two = "steps:\n  - id: a\n    task: log\n  - id: fallback\n    task: log\n";
    LoadResult r = load(two + "  - id: c\n    task: log\n    on_error: fallback\n");
    REQUIRE(r.ok());
    CHECK(r.workflow->steps[2].on_error == "fallback");
    CHECK(r.workflow->steps[2].depends_on.empty());  // a fallback is not a dependency

    CHECK(only_problem(two + "  - id: c\n    task: log\n    on_error: fallbak\n") ==
          "wf.yaml:8:15: 'on_error' must be fail, continue or a step id; there is no step "
          "'fallbak' (did you mean 'fallback'?)");
    CHECK(only_problem(two + "  - id: c\n    task: log\n    on_error: retry\n") ==
          "wf.yaml:8:15: 'on_error' must be fail, continue or a step id; there is no step "
          "'retry'");
    CHECK(only_problem(two + "  - id: c\n    task: log\n    on_error: c\n") ==
          "wf.yaml:8:15: step 'c' cannot be its own on_error step");
}

TEST_CASE("hooks name Lua files", "[workflow][loader]") {
    LoadResult r = load("hooks:\n  before_step: hooks/enrich.lua\n  after_step: hooks/audit.lua\n"
                        "  on_failure: hooks/page.lua\n" +
                        std::string(kOneStep));
    REQUIRE(r.ok());
    CHECK(r.workflow->hooks.before_step == "hooks/enrich.lua");
    CHECK(r.workflow->hooks.after_step == "hooks/audit.lua");
    CHECK(r.workflow->hooks.on_failure == "hooks/page.lua");
    CHECK(r.workflow->hooks.mark.line == 2);

    CHECK(only_problem("hooks:\n  before: x.lua\n" + std::string(kOneStep)) ==
          "wf.yaml:2:3: unknown key 'before' in hooks (did you mean 'before_step'?)");
    CHECK(only_problem("hooks:\n  on_failure: \"\"\n" + std::string(kOneStep)) ==
          "wf.yaml:2:15: 'hooks.on_failure' must be non-empty text");
    CHECK(only_problem("hooks:\n  on_failure: [a]\n" + std::string(kOneStep)) ==
          "wf.yaml:2:15: 'hooks.on_failure' must be text, got a list");
    CHECK(only_problem("hooks: page.lua\n" + std::string(kOneStep)) ==
          "wf.yaml:1:8: 'hooks' must be a mapping such as {before_step: hooks/x.lua}, got "
          "'page.lua'");
}

TEST_CASE("every problem is reported, in file order", "[workflow][loader]") {
    LoadResult r = load(R"(nam: x
steps:
  - id: a
    task: lg
    timeout: forever
  - id: a
    task: log
    needs: [zz]
)");
    CHECK(problems(r) == std::vector<std::string>{
                             "wf.yaml:1:1: unknown key 'nam' in workflow (did you mean 'name'?)",
                             "wf.yaml:4:11: unknown task 'lg' (did you mean 'log'?)",
                             "wf.yaml:5:14: 'timeout': expected a duration like 300ms, 2s, "
                             "1m30s or 1h, got 'forever'",
                             "wf.yaml:6:9: duplicate step id 'a' (first at line 3)",
                             "wf.yaml:8:13: step 'a' refers to unknown step 'zz'"});
    // The model is still built for tools that want it.
    REQUIRE(r.workflow.has_value());
    CHECK(r.workflow->steps.size() == 2);
    CHECK_FALSE(r.ok());
}

TEST_CASE("Diagnostic::describe", "[workflow][loader]") {
    CHECK(Diagnostic{Mark{"a.yaml", 3, 7}, "bad"}.describe() == "a.yaml:3:7: bad");
    CHECK(Diagnostic{Mark{"a.yaml", 0, 0}, "unreadable"}.describe() == "a.yaml: unreadable");
}
