// Checks against the task catalogue: tasks, providers and task inputs.
#include "workflow_test_util.h"

using namespace ferry::workflow;
using namespace ferry::workflow::test;

namespace {

std::string step(const std::string& lines) {
    return "steps:\n  - id: a\n" + lines;
}

// A catalogue that cannot list its tasks: no suggestions, the rest still works.
class BareTasks final : public TaskLookup {
  public:
    bool has_task(const std::string& task) const override { return task == "log"; }
    std::vector<std::string> providers(const std::string&) const override { return {}; }
    std::vector<std::string> input_names(const std::string&, const std::string&) const override {
        return {"message"};
    }
};

// Vendor tasks with ferry.yaml's integrations: the built-in ticket.create, whose providers
// declare their types, and a project task whose jira provider did not load.
class VendorTasks final : public TaskLookup {
  public:
    bool has_task(const std::string& task) const override {
        return task == "ticket.create" || task == "acme.note" || task == "acme.generic";
    }
    std::vector<std::string> providers(const std::string& task) const override {
        if (task == "acme.note") return {"servicenow"};
        if (task == "acme.generic") return {"rest", "servicenow"};  // rest: the default
        return {"jira", "servicenow"};
    }
    std::vector<std::string> input_names(const std::string& task,
                                         const std::string& provider) const override {
        if (task == "ticket.create" && provider == "jira") return {"summary", "labels"};
        return {"table", "fields"};  // the default provider's (servicenow)
    }
    std::string default_provider(const std::string& task) const override {
        return task == "acme.generic" ? "rest" : "servicenow";
    }
    std::optional<std::map<std::string, std::string>> integrations() const override {
        return std::map<std::string, std::string>{
            {"jira", "jira"}, {"sn", "servicenow"}, {"api", "http"}};
    }
    std::vector<std::string> integration_types(const std::string& task,
                                               const std::string& provider) const override {
        if (task == "ticket.create") return {provider.empty() ? "servicenow" : provider};
        return {};
    }
};

}  // namespace

TEST_CASE("a task whose providers are vendors' has none for another vendor's integration",
          "[workflow][tasks]") {
    VendorTasks tasks;
    auto check = [&](const std::string& lines) {
        return problems(load_workflow_text(step(lines), "wf.yaml", &tasks));
    };
    // Without a jira provider the servicenow one ran, against Jira, with Jira's credentials.
    CHECK(check("    task: acme.note\n    integration: jira\n") ==
          std::vector<std::string>{
              "wf.yaml:4:18: task 'acme.note' has no provider for jira integrations ('jira'); "
              "providers: servicenow (add the jira provider, or name one with `provider:`)"});
    CHECK(check("    task: acme.note\n    integration: sn\n").empty());
    // Named on purpose, or a generic integration: as asked.
    CHECK(check("    task: acme.note\n    integration: jira\n    provider: servicenow\n").empty());
    CHECK(check("    task: acme.note\n    integration: api\n").empty());
    // A generic default runs for any other integration, a vendor's too.
    CHECK(check("    task: acme.generic\n    integration: jira\n").empty());
    // Built-in tasks declare their types: their own message, as before.
    CHECK(check("    task: ticket.create\n    integration: api\n") ==
          std::vector<std::string>{
              "wf.yaml:4:18: task 'ticket.create' works with servicenow integrations; 'api' is of "
              "type http (add `provider:` to pick another implementation)"});
}

TEST_CASE("a misspelt integration does not make the intended provider's inputs unknown",
          "[workflow][tasks]") {
    VendorTasks tasks;
    LoadResult r = load_workflow_text(step("    task: ticket.create\n    integration: jria\n"
                                           "    with: {summary: s, labels: [a]}\n"),
                                      "wf.yaml", &tasks);
    CHECK(problems(r) ==
          std::vector<std::string>{"wf.yaml:4:18: unknown integration 'jria' (did you mean "
                                   "'jira'?); ferry.yaml defines: api, jira, sn"});
}

TEST_CASE("unknown tasks", "[workflow][tasks]") {
    CHECK(only_problem(step("    task: ticket.crate\n")) ==
          "wf.yaml:3:11: unknown task 'ticket.crate' (did you mean 'ticket.create'?)");
    CHECK(only_problem(step("    task: frobnicate\n")) ==
          "wf.yaml:3:11: unknown task 'frobnicate'");
    BareTasks bare;
    LoadResult r = load_workflow_text(step("    task: lgo\n"), "wf.yaml", &bare);
    CHECK(problems(r) == std::vector<std::string>{"wf.yaml:3:11: unknown task 'lgo'"});
    // Without a catalogue, task names are not checked.
    CHECK(load_workflow_text(step("    task: anything.goes\n"), "wf.yaml", nullptr).ok());
}

TEST_CASE("providers", "[workflow][tasks]") {
    CHECK(load(step("    task: ticket.create\n    provider: jira\n")).ok());
    CHECK(load(step("    task: ticket.create\n")).ok());  // the integration decides
    CHECK(only_problem(step("    task: ticket.create\n    provider: servicenw\n")) ==
          "wf.yaml:4:15: unknown provider 'servicenw' for task 'ticket.create' (did you mean "
          "'servicenow'?); providers: jira, servicenow");
    CHECK(only_problem(step("    task: ticket.create\n    provider: remedy\n")) ==
          "wf.yaml:4:15: unknown provider 'remedy' for task 'ticket.create'; providers: jira, "
          "servicenow");
    CHECK(only_problem(step("    task: log\n    provider: syslog\n")) ==
          "wf.yaml:4:15: task 'log' has a single implementation; it takes no 'provider' (got "
          "'syslog')");
}

TEST_CASE("values written in with: have the type the task declares", "[workflow][tasks]") {
    CHECK(only_problem(step("    task: log\n    with: {message: hi, level: 500}\n")) ==
          "wf.yaml:4:25: task 'log' input 'level' must be a string, got 500");
    CHECK(only_problem(step("    task: log\n    with: {message: hi, level: [a]}\n")) ==
          "wf.yaml:4:25: task 'log' input 'level' must be a string, got a list");
    // An expression's type is known only when it runs; null is "not given".
    CHECK(load(step("    task: log\n    with: {message: x, level: \"{{ 5 }}\"}\n")).ok());
    CHECK(load(step("    task: log\n    with: {message: x, level: null}\n")).ok());
    CHECK(only_problem(step("    task: log\n    with: {message: x, level: '500'}\n")) ==
          "wf.yaml:4:24: task 'log' input 'level' must be one of 'debug', 'info', 'warn', "
          "'error'; got '500'");
}

TEST_CASE("values written in with: have the format the task declares", "[workflow][tasks]") {
    CHECK(load(step("    task: sleep\n    with: {duration: 1m30s}\n")).ok());
    CHECK(only_problem(step("    task: sleep\n    with: {duration: -1s}\n")) ==
          "wf.yaml:4:12: task 'sleep' input 'duration': expected a duration like 300ms, 2s, "
          "1m30s or 1h, got '-1s'");
    CHECK(only_problem(step("    task: sleep\n    with: {duration: 5 minutes}\n")) ==
          "wf.yaml:4:12: task 'sleep' input 'duration': expected a duration like 300ms, 2s, "
          "1m30s or 1h, got '5 minutes'");
    CHECK(load(step("    task: sleep\n    with: {duration: \"{{ '-1s' }}\"}\n")).ok());
}

TEST_CASE("an object written in with: has the keys the task declares", "[workflow][tasks]") {
    const std::string fetch = "    task: http.request\n    with:\n      url: http://h/x\n";
    CHECK(load(step(fetch + "      paginate: {items: result, max_pages: 5}\n")).ok());
    CHECK(only_problem(step(fetch + "      paginate: {items: result, max_page: 5}\n")) ==
          "wf.yaml:6:7: task 'http.request' input 'paginate' has no key 'max_page' (did you "
          "mean 'max_pages'?)");
    CHECK(only_problem(step(fetch + "      paginate: {zzz: 1}\n")) ==
          "wf.yaml:6:7: task 'http.request' input 'paginate' has no key 'zzz' (keys: items, "
          "max_pages)");
    // A declared key's value is held to its own entry, and its problem placed at it (a
    // long list's bad item was at the input's key, to be counted); expressions wait for the
    // run.
    CHECK(only_problem(step(fetch + "      paginate: {max_pages: many}\n")) ==
          "wf.yaml:6:29: task 'http.request' input 'paginate.max_pages' must be an integer, got "
          "'many'");

    CHECK(load(step(fetch + "      paginate: {max_pages: \"{{ 5 }}\"}\n")).ok());
    CHECK(load(step(fetch + "      paginate: \"{{ {'zzz': 1} }}\"\n")).ok());
}

TEST_CASE("with: must give the inputs the task requires", "[workflow][tasks]") {
    CHECK(only_problem(step("    task: log\n    with: {level: info}\n")) ==
          "wf.yaml:4:11: task 'log' input 'message' is required");
    CHECK(only_problem(step("    task: log\n    with: {message: null}\n")) ==
          "wf.yaml:4:12: task 'log' input 'message' is required, and it is null");
    CHECK(load(step("    task: log\n    with: {message: \"{{ inputs.x }}\"}\n")).ok() == false);
    CHECK(load(step("    task: log\n    with: {message: \"{{ 'x' }}\"}\n")).ok());
    // A misspelt key is the likely culprit: it is the one problem reported. Without `with:`
    // the run reports it (the key may be misspelt too: `wiht:`).
    CHECK(only_problem(step("    task: log\n    with: {mesage: hi}\n")) ==
          "wf.yaml:4:12: task 'log' has no input 'mesage' (did you mean 'message'?)");
    CHECK(load(step("    task: fail\n")).ok());
}

TEST_CASE("with keys must be inputs the task declares", "[workflow][tasks]") {
    CHECK(only_problem(step("    task: log\n    with:\n      mesage: hi\n")) ==
          "wf.yaml:5:7: task 'log' has no input 'mesage' (did you mean 'message'?)");
    CHECK(only_problem(step("    task: log\n    with: {message: hi, colour: red}\n")) ==
          "wf.yaml:4:25: task 'log' has no input 'colour'; inputs: message, level");
    CHECK(only_problem(step("    task: ticket.create\n    provider: jira\n"
                            "    with: {table: incident, summary: x}\n")) ==
          "wf.yaml:5:12: task 'ticket.create' (jira) has no input 'table'; inputs: project, "
          "issue_type, summary, description, priority, labels, components, fields");
    // Without a provider any provider's inputs are accepted.
    CHECK(load(step("    task: ticket.create\n    with: {table: incident, summary: x}\n")).ok());
    // A task that declares no inputs accepts anything.
    CHECK(load(step("    task: transform\n    with: {data: {}, whatever: 1}\n")).ok());
    // An unknown task does not also complain about its inputs.
    CHECK(only_problem(step("    task: lgo\n    with: {zzz: 1}\n")) ==
          "wf.yaml:3:11: unknown task 'lgo' (did you mean 'log'?)");
}
