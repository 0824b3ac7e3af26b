// Helpers for the workflow loader tests: a fake task catalogue and diagnostics as text.
#pragma once

#include "workflow/loader.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace ferry::workflow::test {

// A task catalogue shaped like the built-in one (CONTRACT.md 4b), without the Lua runtime.
class FakeTasks final : public TaskLookup {
  public:
    FakeTasks() {
        add("log", "", {"message", "level"});
        add("sleep", "", {"duration"});
        add("fail", "", {"message"});
        add("transform", "", {});  // accepts anything
        add("template.render", "", {"template", "vars"});
        add("http.request", "",
            {"method", "url", "path", "headers", "query", "json", "body", "timeout", "paginate"});
        add("workflow", "", {"name", "inputs"});
        add("lua", "", {"script", "input"});
        raw_["lua"] = {{"script"}};
        raw_["transform"] = {{"mappings", "*", "template"}};
        add("webhook.emit", "", {"type", "data"});
        add("ticket.create", "servicenow", {"table", "fields"});
        add("ticket.create", "jira",
            {"project", "issue_type", "summary", "description", "priority", "labels", "components",
             "fields"});
    }

    bool has_task(const std::string& task) const override { return tasks_.count(task) > 0; }
    std::vector<std::string> providers(const std::string& task) const override {
        std::vector<std::string> out;
        auto it = tasks_.find(task);
        if (it == tasks_.end()) return out;
        for (const auto& [provider, inputs] : it->second)
            if (!provider.empty()) out.push_back(provider);
        return out;
    }
    std::vector<std::string> input_names(const std::string& task,
                                         const std::string& provider) const override {
        auto it = tasks_.find(task);
        if (it == tasks_.end()) return {};
        auto p = it->second.find(provider);
        if (p != it->second.end()) return p->second;
        // No provider named: any provider's inputs are acceptable.
        std::vector<std::string> all;
        for (const auto& [name, inputs] : it->second)
            for (const std::string& in : inputs)
                if (std::find(all.begin(), all.end(), in) == all.end()) all.push_back(in);
        return all;
    }
    tmpl::Value input_spec(const std::string& task, const std::string&,
                           const std::string& input) const override {
        auto spec = [](std::initializer_list<std::pair<const char*, tmpl::Value>> fields) {
            tmpl::Value d = tmpl::Value::dict();
            for (const auto& [k, v] : fields)
                d.dict_obj().set(tmpl::Value::string(k), v);
            return d;
        };
        if (task == "log" && input == "level") {
            tmpl::Value levels = tmpl::Value::list();
            for (const char* l : {"debug", "info", "warn", "error"})
                levels.list_obj().items.push_back(tmpl::Value::string(l));
            return spec({{"type", tmpl::Value::string("string")}, {"enum", levels}});
        }
        if (task == "sleep" && input == "duration")
            return spec({{"type", tmpl::Value::string("string")},
                         {"format", tmpl::Value::string("duration")}});
        if (task == "http.request" && input == "paginate")  // an object with declared keys
            return spec(
                {{"type", tmpl::Value::string("object")},
                 {"properties",
                  spec({{"items", spec({{"type", tmpl::Value::string("string")}})},
                        {"max_pages", spec({{"type", tmpl::Value::string("integer")}})}})}});
        return {};
    }
    std::vector<std::string> required_inputs(const std::string& task,
                                             const std::string&) const override {
        if (task == "log" || task == "fail") return {"message"};
        return {};
    }
    std::vector<std::string> task_names() const override {
        std::vector<std::string> out;
        for (const auto& [name, providers] : tasks_)
            out.push_back(name);
        return out;
    }

    std::vector<std::vector<std::string>> raw_paths(const std::string& task,
                                                    const std::string&) const override {
        auto it = raw_.find(task);
        return it == raw_.end() ? std::vector<std::vector<std::string>>{} : it->second;
    }

  private:
    std::map<std::string, std::vector<std::vector<std::string>>> raw_;
    void add(const std::string& task, const std::string& provider,
             std::vector<std::string> inputs) {
        tasks_[task][provider] = std::move(inputs);
    }
    std::map<std::string, std::map<std::string, std::vector<std::string>>> tasks_;
};

inline const FakeTasks& fake_tasks() {
    static const FakeTasks tasks;
    return tasks;
}

// Loads text as "wf.yaml" against the fake catalogue.
inline LoadResult load(const std::string& text, const std::string& file = "wf.yaml") {
    return load_workflow_text(text, file, &fake_tasks());
}

inline std::vector<std::string> problems(const LoadResult& r) {
    std::vector<std::string> out;
    for (const Diagnostic& d : r.problems)
        out.push_back(d.describe());
    return out;
}

// The single problem a snippet has, as "FILE:LINE:COL: message".
inline std::string only_problem(const std::string& text) {
    LoadResult r = load(text);
    INFO("problems: " << Catch::Detail::stringify(problems(r)));
    REQUIRE(r.problems.size() == 1);
    return r.problems[0].describe();
}

// A minimal valid step list to append after other top-level keys.
inline const char* kOneStep = "steps:\n  - id: a\n    task: log\n";

}  // namespace ferry::workflow::test
