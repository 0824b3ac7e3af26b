// The task catalogue: every task file (tasks/**/*.lua, built-in and the project's) compiled
// once into the VM. A task file returns {name, provider?, description, input, output?, run}.
// One task name may have several providers (one file each); `default = true` or being the
// only one makes a provider the default.
#pragma once

#include "core/project.h"
#include "runtime/lua_vm.h"
#include "template/value.h"
#include "workflow/loader.h"

#include <map>
#include <string>
#include <vector>

namespace ferry::engine {

struct TaskDef {
    std::string name;
    std::string provider;  // empty for single-implementation tasks
    std::string description;
    std::string file;    // "tasks/ticket/servicenow.lua" (project-relative)
    std::string origin;  // where it was read from (path or "(built-in) ...")
    tmpl::Value input;   // the declared input schema: {field: {type, required, ...}}
    tmpl::Value output;  // the declared output description, if any
    // Input paths the engine passes through without evaluating `{{ }}` in them, because
    // the task interprets them itself: "script", "mappings.*.template" ('*' = any key/index).
    std::vector<std::vector<std::string>> raw_paths;
    std::vector<std::string> integration_types;  // `integrations = {...}`: a step must name one
    bool is_default = false;
    bool native = false;  // implemented by the engine itself (workflow)
    // `pure = true`: no I/O (the scheduler raises on ferry.http and ferry.sleep) and no effect
    // outside its result, so a first step may run before its "running" record is durable.
    bool pure = false;
    // `keeps_input = true`: run never modifies its input (nor a table it takes from it), so
    // the parts of a step's `with:` that hold no expressions can be handed to every
    // invocation as the same Lua tables, built once (Engine::push_task_input).
    bool keeps_input = false;
    int run_ref = LUA_NOREF;  // registry reference to run(ctx, input)
};

// The built-in template.render (not a project file replacing it): the engine renders it
// itself (native_tasks.cpp), and validate checks the template a step names.
inline bool is_builtin_template_render(const TaskDef& t) {
    return t.origin == "(built-in) tasks/template/render.lua";
}

// The built-in http.request: validate checks that a step without an integration gives it
// a url.
inline bool is_builtin_http_request(const TaskDef& t) {
    return t.origin == "(built-in) tasks/http/request.lua";
}

// The built-in sleep: the engine waits on a timer, bounded by the step's timeout.
inline bool is_builtin_sleep(const TaskDef& t) {
    return t.origin == "(built-in) tasks/core/sleep.lua";
}

class TaskCatalog final : public workflow::TaskLookup {
  public:
    // Loads every task file. Problems (syntax errors, a file that returns no task, duplicate
    // name/provider pairs) are collected as diagnostics; tasks that loaded stay usable.
    void load(LuaVM& vm, const Project& project, std::vector<workflow::Diagnostic>& problems);

    // The provider to run (the given one, or the default when empty); nullptr when unknown.
    const TaskDef* find(const std::string& name, const std::string& provider) const;
    std::vector<const TaskDef*> all() const;

    bool has_task(const std::string& task) const override;
    std::vector<std::string> providers(const std::string& task) const override;
    std::vector<std::string> input_names(const std::string& task,
                                         const std::string& provider) const override;
    tmpl::Value input_spec(const std::string& task, const std::string& provider,
                           const std::string& input) const override;
    std::vector<std::string> required_inputs(const std::string& task,
                                             const std::string& provider) const override;
    std::vector<std::string> task_names() const override;
    std::vector<std::vector<std::string>> raw_paths(const std::string& task,
                                                    const std::string& provider) const override {
        const TaskDef* t = find(task, provider);
        return t ? t->raw_paths : std::vector<std::vector<std::string>>{};
    }
    bool has_default_provider(const std::string& task) const override {
        return find(task, "") != nullptr;
    }
    std::string default_provider(const std::string& task) const override {
        const TaskDef* t = find(task, "");
        return t ? t->provider : std::string();
    }
    // ferry.yaml's integrations (name -> type), so workflows naming them are checked;
    // nullopt when the file could not be read whole (nothing to check them against).
    void set_integrations(std::optional<std::map<std::string, std::string>> integrations) {
        integrations_ = std::move(integrations);
    }
    std::optional<std::map<std::string, std::string>> integrations() const override {
        return integrations_;
    }
    std::vector<std::string> integration_types(const std::string& task,
                                               const std::string& provider) const override {
        const TaskDef* t = find(task, provider);
        return t ? t->integration_types : std::vector<std::string>{};
    }

  private:
    std::map<std::string, std::vector<TaskDef>> tasks_;  // by name
    // None until set: no ferry.yaml defines none.
    std::optional<std::map<std::string, std::string>> integrations_ =
        std::map<std::string, std::string>{};
};

// Loads a Lua file of the project (hooks) and returns a reference to what it returns.
Result<int> load_lua_file(LuaVM& vm, const Project& project, const std::string& rel);

}  // namespace ferry::engine
