// Fuzz target: the YAML files a user writes. The input is read as a workflow file (loader,
// validator, expression references, dependency cycles) and as ferry.yaml (integrations,
// forms, hooks, schedules, server settings); every problem must come back as a Diagnostic
// with a place, whatever the bytes.
#include "workflow/loader.h"
#include "workflow/project_config.h"

#include <cstdint>
#include <string>

using namespace ferry::workflow;

namespace {

// A catalogue shaped like the built-in one: a task with providers, typed inputs, raw paths
// and integrations, so the checks that depend on them run.
class Tasks final : public TaskLookup {
  public:
    bool has_task(const std::string& t) const override {
        return t == "log" || t == "ticket.create" || t == "transform.map" || t == "http.request";
    }
    std::vector<std::string> providers(const std::string& t) const override {
        if (t == "ticket.create") return {"jira", "servicenow"};
        return {};
    }
    std::vector<std::string> input_names(const std::string& t, const std::string&) const override {
        if (t == "log") return {"message", "level"};
        if (t == "transform.map") return {"mappings", "data"};
        if (t == "http.request") return {};
        return {"fields", "table", "summary"};
    }
    ferry::tmpl::Value input_spec(const std::string&, const std::string&,
                                  const std::string& input) const override {
        const char* type = input == "level" || input == "message" ? "string"
                           : input == "fields"                    ? "object"
                           : input == "mappings"                  ? "array"
                                                                  : nullptr;
        if (!type) return {};
        ferry::tmpl::Value spec = ferry::tmpl::Value::dict();
        spec.dict_obj().set(ferry::tmpl::Value::string("type"), ferry::tmpl::Value::string(type));
        return spec;
    }
    std::vector<std::vector<std::string>> raw_paths(const std::string& t,
                                                    const std::string&) const override {
        if (t == "transform.map") return {{"mappings", "*", "template"}};
        return {};
    }
    std::vector<std::string> task_names() const override {
        return {"http.request", "log", "ticket.create", "transform.map"};
    }
    bool has_default_provider(const std::string& t) const override { return t != "ticket.create"; }
    std::optional<std::map<std::string, std::string>> integrations() const override {
        return std::map<std::string, std::string>{{"snow", "servicenow"}, {"jira", "jira"}};
    }
    std::vector<std::string> integration_types(const std::string& t,
                                               const std::string& p) const override {
        if (t == "ticket.create") return {p.empty() ? "servicenow" : p};
        return {};
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const Tasks tasks;
    std::string text(reinterpret_cast<const char*>(data), size);

    LoadResult wf = load_workflow_text(text, "fuzz.yaml", &tasks);
    for (const Diagnostic& d : wf.problems)
        (void)d.describe();

    ConfigLoadResult config = load_project_config_text(text, "ferry.yaml");
    for (const Diagnostic& d : config.problems)
        (void)d.describe();
    if (wf.workflow) {
        for (const FormSpec& form : config.config.form_specs)
            for (const Diagnostic& d : check_form_inputs(form, *wf.workflow))
                (void)d.describe();
        for (const ScheduleEntry& s : config.config.schedule_entries)
            for (const Diagnostic& d : check_schedule_inputs(s, *wf.workflow))
                (void)d.describe();
    }
    return 0;
}
