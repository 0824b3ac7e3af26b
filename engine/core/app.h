// Everything one ferry process needs, built in dependency order and torn down in reverse:
// the loop, the Lua VM and its scheduler, the HTTP client, the store, the project with its
// task catalogue and templates, and the engine. Commands (run, resume, serve...) open one.
#pragma once

#include "core/catalog.h"
#include "core/executor.h"
#include "core/expressions.h"
#include "core/notifier.h"
#include "core/project.h"
#include "runtime/http_client.h"
#include "runtime/integration/registry.h"
#include "runtime/loop.h"
#include "runtime/lua_vm.h"
#include "runtime/scheduler.h"
#include "store/store.h"
#include "workflow/loader.h"
#include "workflow/project_config.h"

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace ferry::engine {

struct AppOptions {
    std::string project_dir = ".";
    std::string data_dir;      // empty: PROJECT/.ferry
    bool durable = true;       // fsync every group commit
    bool open_store = true;    // validate does not need one
    bool create_store = true;  // false: no store yet is an error (store::StoreOptions)
    // A command that only reads history: a store it cannot open for writing (read-only
    // media, another user's copy) is opened read-only instead.
    bool read_only_fallback = false;
    // A ferry.yaml with problems stops open() (Validation, every problem listed) unless
    // this is set: `ferry validate` reports them itself.
    bool tolerate_config_problems = false;
    LuaVmLimits vm_limits;
    EngineOptions engine;
    // Where print() and ferry.log() outside a step go while task files load (LuaVM's
    // untasked_output; null: stderr as text).
    std::function<void(std::string_view level, std::string_view text)> untasked_output;
};

class App {
  public:
    // Problems loading tasks, and files ferry.yaml names that cannot be used now (TLS
    // files), are appended to problems (they do not stop the app).
    static Result<std::unique_ptr<App>> open(const AppOptions& options,
                                             std::vector<workflow::Diagnostic>& problems);
    ~App();

    // A workflow by name or path, loaded and validated; parsed again only when its file
    // changed (its stat stamp; an edited file is picked up by the next start).
    // Problems come back as one Validation error listing every FILE:LINE:COL line.
    Result<std::shared_ptr<const workflow::Workflow>>
    load_workflow(const std::string& name_or_path);
    // Syntax errors in the Lua of `lua` steps (their script is compiled only when the step
    // runs, after the steps before it have done their work).
    std::vector<workflow::Diagnostic> inline_script_problems(const workflow::Workflow& wf);
    // A file a workflow's check read besides its own: a sub-workflow it names, or a hook
    // file (project-relative), with its stamp then (nullopt: it was not there).
    struct Dependency {
        std::string workflow;
        std::string file;
        std::optional<uint64_t> stamp;
    };
    // What only the project can tell (core/project_problems.cpp): sub-workflows that do not
    // exist or are given inputs they do not take, hook files that do not exist. The files
    // it looked at are appended to read (when given).
    std::vector<workflow::Diagnostic> project_problems(const workflow::Workflow& wf,
                                                       std::vector<Dependency>* read = nullptr);
    // Every problem of a loaded workflow file, as `ferry validate` lists them: the file's
    // own, then (when it parsed well enough to build a workflow) its scripts' and what
    // only the project can tell. `ferry run` lists the same: one at a time took a run per
    // mistake.
    std::vector<workflow::Diagnostic> workflow_problems(const workflow::LoadResult& loaded,
                                                        std::vector<Dependency>* read = nullptr);
    // The store and the engine, when open() was asked not to open them: a command opens
    // them once its arguments are known good, so a refused command leaves no data folder.
    Status open_store();
    // A dependency's stamp now.
    std::optional<uint64_t> stamp_of(const Dependency& d) const;
    // Resolves every secret reference of ferry.yaml (integrations' credentials and webhook
    // secrets, hooks' secrets) to teach the Redactor their values and what requests derive
    // from them. At load, and again while `ferry serve` runs: a `${file:}` rotated since is
    // redacted before a request uses it (an input or an answer carrying it was kept in clear
    // until then). Values learnt before stay known.
    void learn_secrets();
    // A hook file as the hook runner would take it for `hook`; empty when fine.
    std::string hook_file_problem(const std::string& rel, const char* hook);

    Loop loop;
    LuaVM vm;
    Scheduler scheduler;
    HttpClient http;
    Project project;
    TaskCatalog catalog;
    std::shared_ptr<const tmpl::Loader> templates;
    tmpl::Environment template_env;  // ferry.template (lenient, like `ferry render`)
    Expressions expressions;         // workflow expressions (strict)
    workflow::ProjectConfig config;  // ferry.yaml (empty when the project has none)
    IntegrationRegistry integrations;
    // Dead letters being sent again (replay_dead_letter): a second replay of one while the
    // first is in flight is refused, not sent twice.
    std::set<std::string> replaying_dead_letters;
    // Opened for reading only (AppOptions::read_only_fallback took it).
    bool store_read_only = false;
    std::unique_ptr<store::Store> store;
    std::unique_ptr<Engine> engine;
    std::unique_ptr<EventNotifier> notifier;  // ferry.yaml `events:`

  private:
    App(const AppOptions& options, Project project);
    AppOptions store_options_;  // what open_store() opens with
    Status load_config(bool tolerate_problems, std::vector<workflow::Diagnostic>& problems);
    // By the name asked for: where it was found and what it was then. A start checks the
    // file's stamp instead of reading and parsing it again (4 % of a webhook's CPU).
    // The check also depends on the sub-workflows and hook files it read: a change to one
    // (a child's inputs, a hook deleted) checks the workflow again.
    struct LocatedWorkflow {
        Project::WorkflowLocation at;
        std::shared_ptr<const workflow::Workflow> wf;
        std::vector<Dependency> read;
    };
    std::map<std::string, LocatedWorkflow, std::less<>> located_;
};

// The project's templates/ first, then the bundled ones.
std::shared_ptr<const tmpl::Loader> make_template_loader(const Project& project);

// Raises TemplateError(Value) at the first byte of a template's source that is not UTF-8,
// as Jinja2's loaders do (a UnicodeDecodeError): rendered, it would reach records and
// answers as U+FFFD, silently. `name` is the template's name as loaded.
void check_template_utf8(std::string_view source, const std::string& name);

// A FileSystemLoader whose sources are checked by check_template_utf8.
std::shared_ptr<const tmpl::Loader> make_file_template_loader(std::vector<std::string> folders,
                                                              std::string display_prefix = {});

}  // namespace ferry::engine
