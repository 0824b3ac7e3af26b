// ferry.yaml against the workflows it names: forms whose fields the workflow does not take,
// schedules whose inputs do not resolve (project_checks.cpp).
#include "workflow/project_config.h"
#include "workflow_test_util.h"

#include <catch2/catch.hpp>

using namespace ferry;
using namespace ferry::workflow;

namespace {

const char* kWorkflow = R"(name: deploy
inputs:
  device: {type: string, required: true}
  hosts: {type: number, min: 1}
  urgent: {type: boolean, default: false}
  teams: {type: array}
  ticket: {type: string, required: true, default: "none"}
steps:
  - id: say
    task: log
    with: {message: "{{ inputs.device }}"}
)";

ProjectConfig config_of(const std::string& text) {
    ConfigLoadResult r = load_project_config_text(text, "ferry.yaml");
    INFO((r.ok() ? std::string() : r.problems.front().describe()));
    REQUIRE(r.ok());
    return r.config;
}

std::vector<std::string> described(const std::vector<Diagnostic>& found) {
    std::vector<std::string> out;
    for (const Diagnostic& d : found)
        out.push_back(d.describe());
    return out;
}

}  // namespace

TEST_CASE("form checks: fields that are the workflow's inputs, of types it takes", "[config]") {
    LoadResult wf = test::load(kWorkflow);
    REQUIRE(wf.ok());
    ProjectConfig c = config_of(R"(forms:
  ok:
    workflow: deploy
    fields:
      - {name: device, type: string, required: true}
      - {name: hosts, type: integer}
      - {name: urgent, type: boolean}
      - {name: teams, type: multi-choice, choices: [net, sec]}
)");
    CHECK(check_form_inputs(c.form_specs.at(0), *wf.workflow).empty());
}

TEST_CASE("form checks: every mistake at the field's place", "[config]") {
    LoadResult wf = test::load(kWorkflow);
    REQUIRE(wf.ok());
    ProjectConfig c = config_of(R"(forms:
  bad:
    workflow: deploy
    fields:
      - {name: devise, type: string}
      - {name: hosts, type: string}
      - {name: urgent, type: multi-choice, choices: [yes]}
)");
    CHECK(described(check_form_inputs(c.form_specs.at(0), *wf.workflow)) ==
          std::vector<std::string>{
              "ferry.yaml:5:9: form 'bad' field 'devise': workflow 'deploy' has no input "
              "'devise' (its inputs: device, hosts, urgent, teams, ticket)",
              "ferry.yaml:6:9: form 'bad' field 'hosts' (string) gives a string, but workflow "
              "'deploy' input 'hosts' is number",
              "ferry.yaml:7:9: form 'bad' field 'urgent' (multi-choice) gives an array, but "
              "workflow 'deploy' input 'urgent' is boolean",
              // ticket is required too, but has a default: nothing to give.
              "ferry.yaml:3:5: form 'bad': workflow 'deploy' requires input 'device', and no "
              "field of the form gives it",
          });
}

TEST_CASE("schedule checks: the inputs resolve against the workflow", "[config]") {
    LoadResult wf = test::load(kWorkflow);
    REQUIRE(wf.ok());
    ProjectConfig c = config_of(R"(schedules:
  - name: nightly
    workflow: deploy
    every: 1h
    inputs: {device: sw01, hosts: 2}
  - name: broken
    workflow: deploy
    every: 1h
    inputs: {hosts: 0}
)");
    REQUIRE(c.schedule_entries.size() == 2);
    CHECK(check_schedule_inputs(c.schedule_entries[0], *wf.workflow).empty());
    std::vector<std::string> broken =
        described(check_schedule_inputs(c.schedule_entries[1], *wf.workflow));
    // One problem a diagnostic (they came as one, over two lines), each at the input it
    // names when the schedule gives it, else at the schedule.
    CHECK(broken == std::vector<std::string>{
                        "ferry.yaml:6:5: schedule 'broken': inputs for workflow 'deploy': "
                        "input 'device': required, but not given",
                        "ferry.yaml:9:14: schedule 'broken': inputs for workflow 'deploy': "
                        "input 'hosts': 0 is less than the minimum 1",
                    });
}

TEST_CASE("schedule checks: a key holding a dot or a bracket is placed at itself", "[config]") {
    // The quoted name was cut at its first '.' or '[' (a path into a value): an unknown
    // `hosts.x` was placed at input `hosts`, `x[0]` at the schedule.
    LoadResult wf = test::load(kWorkflow);
    REQUIRE(wf.ok());
    ProjectConfig c = config_of(R"(schedules:
  - name: odd
    workflow: deploy
    every: 1h
    inputs:
      device: sw01
      hosts: 2
      hosts.x: 1
      x[0]: 1
)");
    REQUIRE(c.schedule_entries.size() == 1);
    std::vector<std::string> problems =
        described(check_schedule_inputs(c.schedule_entries[0], *wf.workflow));
    REQUIRE(problems.size() == 2);
    CHECK_THAT(problems[0], Catch::StartsWith("ferry.yaml:8:7: schedule 'odd': inputs for "
                                              "workflow 'deploy': input 'hosts.x': no such input"));
    CHECK_THAT(problems[1], Catch::StartsWith("ferry.yaml:9:7: schedule 'odd': inputs for "
                                              "workflow 'deploy': input 'x[0]': no such input"));
}
