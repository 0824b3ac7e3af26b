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
    // One problem a diagnostic, each with its place (they came as one, over two lines).
    REQUIRE(broken.size() == 2);
    for (const std::string& line : broken) {
        CHECK_THAT(line, Catch::StartsWith("ferry.yaml:6:5: schedule 'broken': inputs for "
                                           "workflow 'deploy': input '"));
        CHECK(line.find('\n') == std::string::npos);
    }
    CHECK_THAT(broken[0] + broken[1], Catch::Contains("device"));
}
