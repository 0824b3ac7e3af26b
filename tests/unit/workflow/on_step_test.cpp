// on_step entries: expansion into generated steps and the checks on the entries.
#include "workflow_test_util.h"

using namespace ferry::workflow;
using namespace ferry::workflow::test;

namespace {

const char* kSteps = R"(steps:
  - id: ticket
    task: log
    with: {message: open}
  - id: analyze
    task: log
    with: {message: look}
  - id: fix
    task: log
    needs: analyze
    with: {message: fix}
)";

std::vector<std::string> ids(const Workflow& wf) {
    std::vector<std::string> out;
    for (const Step& s : wf.steps)
        out.push_back(s.id);
    return out;
}

}  // namespace

TEST_CASE("an on_step entry follows every step it does not read", "[workflow][on_step]") {
    LoadResult r = load(std::string(kSteps) + R"(on_step:
  - task: log
    with: {message: "{{ steps.ticket.output }} {{ event.step }}"}
)");
    REQUIRE(r.ok());
    const Workflow& wf = *r.workflow;
    CHECK(ids(wf) ==
          std::vector<std::string>{"ticket", "analyze", "fix", "analyze.on_step", "fix.on_step"});
    const Step* s = wf.find_step("fix.on_step");
    REQUIRE(s);
    CHECK(s->event_step == "fix");
    CHECK(s->task == "log");
    CHECK(s->on_error == "continue");  // a failed note never fails the execution
    CHECK(s->depends_on == std::vector<std::string>{"fix", "ticket"});
}

TEST_CASE("on_step lists its steps, entries are numbered in generated ids", "[workflow][on_step]") {
    LoadResult r = load(std::string(kSteps) + R"(on_step:
  - steps: [fix]
    task: log
    with: {message: one}
  - steps: analyze
    task: log
    on_error: fail
    with: {message: two}
)");
    REQUIRE(r.ok());
    const Workflow& wf = *r.workflow;
    CHECK(ids(wf) ==
          std::vector<std::string>{"ticket", "analyze", "fix", "fix.on_step", "analyze.on_step2"});
    CHECK(wf.find_step("analyze.on_step2")->on_error == "fail");
    CHECK(wf.find_step("fix.on_step")->depends_on == std::vector<std::string>{"fix"});
}

TEST_CASE("on_step problems name the entry and the place", "[workflow][on_step]") {
    CHECK(only_problem(std::string(kSteps) + "on_step: {task: log}\n") ==
          "wf.yaml:12:10: 'on_step' must be a list of entries such as {task: ticket.update, "
          "with: {...}}, got a mapping");
    CHECK(only_problem(std::string(kSteps) + "on_step:\n  - steps: [fx]\n    task: log\n") ==
          "wf.yaml:13:13: on_step entry #1 follows unknown step 'fx' (did you mean 'fix'?)");
    CHECK(only_problem(std::string(kSteps) +
                       "on_step:\n  - task: log\n    for_each: \"{{ [1] }}\"\n") ==
          "wf.yaml:14:5: unknown key 'for_each' in on_step entry #1");
    CHECK(only_problem(std::string(kSteps) + "on_step:\n  - with: {message: x}\n") ==
          "wf.yaml:13:5: on_step entry #1 is missing 'task'");
    // One message per entry, not one per generated step.
    CHECK(only_problem(std::string(kSteps) +
                       "on_step:\n  - task: log\n    with: {message: \"{{ steps.nope }}\"}\n") ==
          "wf.yaml:14:25: on_step entry #1 refers to unknown step 'nope'");
    CHECK(only_problem(std::string(kSteps) + "on_step:\n  - 3\n") ==
          "wf.yaml:13:5: each on_step entry must be a mapping with 'task' and 'with', got an "
          "integer (3)");
    // An empty list followed nothing, quietly; a typo after `event.` failed every note at
    // run time (notes go on after errors), unseen.
    CHECK(only_problem(std::string(kSteps) + "on_step:\n  - steps: []\n    task: log\n") ==
          "wf.yaml:13:12: 'steps' lists no step: name at least one, or leave 'steps' out to "
          "follow every step");
    CHECK(only_problem(std::string(kSteps) +
                       "on_step:\n  - task: log\n    with: {message: \"{{ event.stepp }}\"}\n") ==
          "wf.yaml:14:25: on_step entry #1: event has no field 'stepp' (did you mean 'step'?); "
          "it has step, status, output, error, reason");
    CHECK(problems(load(std::string(kSteps) +
                        "on_step:\n  - task: log\n    with: {message: \"{{ event.step }} "
                        "{{ event.output.x }} {{ event.error.kind }} {{ event.reason }}\"}\n"))
              .empty());
}
