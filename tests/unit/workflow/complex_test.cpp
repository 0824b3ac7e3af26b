// Whole workflows: the contract's example, parallel branches, fan-out, retries, a
// sub-workflow; loading from files; the source hash.
#include "workflow_test_util.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace ferry::workflow;
using namespace ferry::workflow::test;

namespace {

// CONTRACT.md section 3, plus a sub-workflow and a join of parallel branches.
const char* kIncident = R"(name: incident-to-itsm
description: Open a ticket when an analysis completes
inputs:
  title:    {type: string, required: true, max_length: 160}
  severity: {type: string, enum: [critical, high, medium, low], default: medium}
  systems:  {type: array, items: {type: string}, default: []}
vars:
  priority: {critical: "1", high: "2", medium: "3", low: "4"}
steps:
  - id: body
    task: template.render
    with: {template: incident.md.j2}
  - id: enrich
    task: http.request
    integration: cmdb
    with: {method: GET, path: "/api/ci/{{ inputs.systems | first }}"}
    timeout: 10s
  - id: ticket
    task: ticket.create
    provider: servicenow
    integration: servicenow-prod
    when: "{{ inputs.severity in ['critical', 'high'] }}"
    with:
      table: incident
      fields:
        short_description: "{{ inputs.title }}"
        description: "{{ steps.body.output.text }}"
        priority: "{{ vars.priority[inputs.severity] }}"
        cmdb_ci: "{{ steps.enrich.output.json.sys_id }}"
    retry: {max_attempts: 3, backoff: exponential, initial_delay: 1s, max_delay: 30s}
    timeout: 30s
    on_error: fallback
  - id: fallback
    task: log
    with: {message: "ticket creation failed", level: error}
  - id: notify
    task: webhook.emit
    integration: siem-webhook
    for_each: "{{ inputs.systems }}"
    concurrency: 4
    with: {type: ticket.created, data: {system: "{{ item }}", index: "{{ index }}",
                                        ticket: "{{ steps.ticket.output.number }}"}}
  - id: follow_up
    task: workflow
    needs: notify
    with:
      name: post-incident-review
      inputs: {ticket: "{{ steps.ticket.output.number }}", when: "{{ execution.id }}"}
    dry_run: false
outputs:
  ticket: "{{ steps.ticket.output.number }}"
  review: "{{ steps.follow_up.output }}"
hooks:
  before_step: hooks/enrich.lua
  after_step: hooks/audit.lua
  on_failure: hooks/page.lua
)";

std::string temp_dir() {
    std::string dir = (std::filesystem::temp_directory_path() /
                       ("ferry-workflow-test-" + std::to_string(::getpid())))
                          .string();
    std::filesystem::create_directories(dir);
    return dir;
}

}  // namespace

TEST_CASE("the contract's example workflow loads", "[workflow][complex]") {
    LoadResult r = load(kIncident);
    INFO(Catch::Detail::stringify(problems(r)));
    REQUIRE(r.ok());
    const Workflow& wf = *r.workflow;
    CHECK(wf.name == "incident-to-itsm");
    CHECK(wf.description == "Open a ticket when an analysis completes");
    REQUIRE(wf.inputs.size() == 3);
    CHECK(wf.vars.dict_obj().find("priority")->dict_obj().find("high")->str() == "2");
    REQUIRE(wf.steps.size() == 6);

    // body and enrich have no dependencies: they run at once, in parallel.
    CHECK(wf.find_step("body")->depends_on.empty());
    CHECK(wf.find_step("enrich")->depends_on.empty());
    // ticket joins both branches.
    const Step& ticket = *wf.find_step("ticket");
    CHECK(ticket.depends_on == std::vector<std::string>{"body", "enrich"});
    CHECK(ticket.when == "{{ inputs.severity in ['critical', 'high'] }}");
    CHECK(ticket.retry->max_attempts == 3);
    CHECK(ticket.retry->max_delay_ms == 30'000);
    CHECK(ticket.timeout_ms == 30'000);
    CHECK(ticket.on_error == "fallback");
    CHECK(ticket.with.dict_obj().find("fields")->dict_obj().find("priority")->str() ==
          "{{ vars.priority[inputs.severity] }}");

    const Step& notify = *wf.find_step("notify");
    CHECK(notify.for_each == "{{ inputs.systems }}");
    CHECK(notify.concurrency == 4);
    CHECK(notify.depends_on == std::vector<std::string>{"ticket"});

    const Step& sub = *wf.find_step("follow_up");
    CHECK(sub.task == "workflow");
    CHECK(sub.with.dict_obj().find("name")->str() == "post-incident-review");
    CHECK(sub.depends_on == std::vector<std::string>{"notify", "ticket"});
    CHECK(sub.dry_run == std::optional<bool>(false));

    CHECK(wf.outputs.dict_obj().items().size() == 2);
    CHECK(wf.hooks.on_failure == "hooks/page.lua");
    CHECK(find_cycle(wf).empty());
}

TEST_CASE("the source is kept and hashed", "[workflow][complex]") {
    LoadResult r = load(kOneStep);
    REQUIRE(r.ok());
    CHECK(r.workflow->source == kOneStep);
    // printf 'steps:\n  - id: a\n    task: log\n' | sha256sum
    CHECK(r.workflow->hash == "6e919ed348fd2f2ace9fec6027d29bd1f2909b8d3181ec5992c43b8604916191");
}

TEST_CASE("workflow files are read from disk", "[workflow][complex]") {
    std::string dir = temp_dir();
    std::string path = dir + "/nightly-sync.yaml";
    {
        std::ofstream out(path, std::ios::binary);
        out << kOneStep;
    }
    LoadResult r = load_workflow_file(path, &fake_tasks());
    REQUIRE(r.ok());
    CHECK(r.workflow->name == "nightly-sync");
    CHECK(r.workflow->file == path);

    {
        std::ofstream out(dir + "/broken.yaml", std::ios::binary);
        out << "steps:\n  - id: a\n    task: lgo\n";
    }
    r = load_workflow_file(dir + "/broken.yaml", &fake_tasks());
    CHECK(problems(r) == std::vector<std::string>{
                             dir + "/broken.yaml:3:11: unknown task 'lgo' (did you mean 'log'?)"});

    r = load_workflow_file(dir + "/missing.yaml", &fake_tasks());
    CHECK_FALSE(r.workflow.has_value());
    CHECK(problems(r) ==
          std::vector<std::string>{dir + "/missing.yaml: cannot read workflow: No such file or "
                                         "directory"});

    r = load_workflow_file(dir, &fake_tasks());
    CHECK(problems(r) == std::vector<std::string>{dir + ": cannot read workflow: it is a "
                                                        "directory"});
    std::filesystem::remove_all(dir);
}
