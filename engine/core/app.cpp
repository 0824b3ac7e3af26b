#include "core/app.h"

#include "core/embedded.h"
#include "core/lua_template.h"
#include "core/values.h"
#include "runtime/integration/client.h"
#include "runtime/integration/secrets.h"
#include "runtime/json_repeats.h"
#include "runtime/lua_api/modules.h"
#include "runtime/lua_api/task_api.h"
#include "runtime/utf8.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <malloc.h>
#include <mutex>
#include <unistd.h>

namespace ferry::engine {

namespace {

class EmbeddedLoader final : public tmpl::Loader {
  public:
    explicit EmbeddedLoader(std::string prefix) : prefix_(std::move(prefix)) {}
    std::optional<std::string> load(const std::string& name) const override {
        if (name.find("..") != std::string::npos) return std::nullopt;
        if (auto data = embedded_file(prefix_ + name)) return std::string(*data);
        return std::nullopt;
    }
    std::string display_name(const std::string& name) const override {
        return "(built-in) " + prefix_ + name;
    }

  private:
    std::string prefix_;
};

class Utf8CheckedLoader final : public tmpl::Loader {
  public:
    explicit Utf8CheckedLoader(std::shared_ptr<const tmpl::Loader> inner)
        : inner_(std::move(inner)) {}
    std::optional<std::string> load(const std::string& name) const override {
        std::optional<std::string> source = inner_->load(name);
        if (source) check_template_utf8(*source, name);
        return source;
    }
    std::string display_name(const std::string& name) const override {
        return inner_->display_name(name);
    }
    std::optional<uint64_t> version(const std::string& name) const override {
        return inner_->version(name);
    }

  private:
    std::shared_ptr<const tmpl::Loader> inner_;
};

// The engine allocates and frees in waves (a step's JSON documents, Lua tables, records),
// and a RapidJSON document takes a 64 KiB chunk at its first allocation. With glibc's
// default 128 KiB trim threshold, freeing the top of the heap gives it back to the kernel
// and the next step faults the pages in again (brk + page faults: 8-18% of wall time in the
// throughput benchmark). Keeping up to 64 MiB of free heap top, and growing it 8 MiB at a
// time, ends that churn; a long-lived engine process reuses the memory anyway.
void tune_malloc_for_engine() {
    static std::once_flag once;
    std::call_once(once, [] {
        mallopt(M_TRIM_THRESHOLD, 64 << 20);
        mallopt(M_TOP_PAD, 8 << 20);
    });
}

}  // namespace

void check_template_utf8(std::string_view source, const std::string& name) {
    size_t bad = invalid_utf8_at(source);
    if (bad == std::string_view::npos) return;
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", unsigned(static_cast<unsigned char>(source[bad])));
    TextPosition at = position_at(source, bad);
    throw tmpl::TemplateError(tmpl::ErrorKind::Value,
                              std::string("the template is not valid UTF-8 (byte ") + byte +
                                  "); save it as UTF-8",
                              tmpl::Location{name, at.line, at.column});
}

std::shared_ptr<const tmpl::Loader> make_file_template_loader(std::vector<std::string> folders,
                                                              std::string display_prefix) {
    return std::make_shared<Utf8CheckedLoader>(
        std::make_shared<tmpl::FileSystemLoader>(std::move(folders), std::move(display_prefix)));
}

std::shared_ptr<const tmpl::Loader> make_template_loader(const Project& project) {
    std::vector<std::shared_ptr<const tmpl::Loader>> loaders;
    std::string dir = (std::filesystem::path(project.dir()) / "templates").string();
    loaders.push_back(make_file_template_loader({dir}));
    loaders.push_back(std::make_shared<EmbeddedLoader>("templates/"));
    return std::make_shared<tmpl::ChoiceLoader>(std::move(loaders));
}

App::App(const AppOptions& options, Project p)
    : vm(options.vm_limits), scheduler(loop, vm), http(loop), project(std::move(p)),
      templates(make_template_loader(project)),
      template_env(templates, tmpl::RenderOptions{.max_render_ms = kMaxRenderMs,
                                                  .max_source_bytes = kMaxTemplateSourceBytes}),
      expressions(templates), integrations(loop, http) {}

App::~App() {
    // The engine goes first: it owns executions whose tasks live in the scheduler.
    engine.reset();
}

Result<std::unique_ptr<App>> App::open(const AppOptions& options,
                                       std::vector<workflow::Diagnostic>& problems) {
    Result<Project> project = Project::open(options.project_dir, options.data_dir);
    if (!project) return project.error();
    std::unique_ptr<App> app(new App(options, std::move(project.value())));
    LuaVM& vm = app->vm;
    vm.add_module("ferry.json", lua_api::open_json);
    vm.add_module("ferry.crypto", lua_api::open_crypto);
    vm.add_module("ferry.time", lua_api::open_time);
    vm.add_module("ferry.http", lua_api::open_http);
    vm.add_module("ferry.sleep", lua_api::open_sleep);
    vm.add_module("ferry.lock", lua_api::open_lock);
    vm.add_module("ferry.log", lua_api::open_log);
    vm.add_module("ferry.step", lua_api::open_step);
    vm.add_module("ferry.template", open_template);
    lua_api::set_http_client(vm.state(), &app->http);
    install_template_module(vm.state(), &app->template_env);
    const Project* proj = &app->project;
    vm.set_source_resolver([proj](const std::string& name) -> std::optional<LuaSource> {
        // "ferry.ctx" -> stdlib/ferry/ctx.lua; anything else must be a stdlib module too.
        std::string rel = name;
        for (char& c : rel)
            if (c == '.') c = '/';
        rel = "stdlib/" + rel + ".lua";
        if (auto text = proj->read(rel)) return LuaSource{"@" + rel, *text};
        return std::nullopt;
    });
    vm.untasked_output = options.untasked_output;
    app->catalog.load(vm, app->project, problems);
    if (Status s = app->load_config(options.tolerate_config_problems, problems); !s)
        return s.error();
    app->store_options_ = options;
    if (options.open_store)
        if (Status s = app->open_store(); !s) return s.error();
    return app;
}

Status App::open_store() {
    if (store) return ok_status();
    const AppOptions& options = store_options_;
    tune_malloc_for_engine();
    store::StoreOptions so;
    so.durable = options.durable;
    so.create = options.create_store;
    if (config.store.map_size) so.map_size = *config.store.map_size;
    auto opened = store::Store::open(project.data_dir(), so);
    if (!opened && opened.error().kind == ErrorKind::Storage && options.read_only_fallback) {
        // An auditor's account, a backup on read-only media: reading needs no write. When
        // that fails too, the first error says more (why writing was refused).
        so.read_only = true;
        if (auto reading = store::Store::open(project.data_dir(), so)) {
            opened = std::move(reading);
            store_read_only = true;
        }
    }
    if (!opened) return opened.error();
    store = std::move(opened.value());
    engine = std::make_unique<Engine>(loop, vm, scheduler, *store, catalog, project, expressions,
                                      options.engine);
    engine->set_project_config(&config);
    engine->set_template_environment(&template_env);
    notifier = std::make_unique<EventNotifier>(config, integrations, *store);
    notifier->attach(*engine);
    App* raw = this;
    engine->set_workflow_resolver(
        [raw](const std::string& name) -> Result<std::shared_ptr<const workflow::Workflow>> {
            // The name may come from inputs: it must not read files outside workflows/.
            if (Project::is_workflow_path(name))
                return make_error(ErrorKind::NotFound, Project::sub_workflow_path_message(name));
            return raw->load_workflow(name);
        });
    return ok_status();
}

Status App::load_config(bool tolerate_problems, std::vector<workflow::Diagnostic>& problems) {
    std::string origin;
    auto text = project.read("ferry.yaml", &origin);
    if (!text || origin.rfind("(built-in)", 0) == 0) {
        // Absent is fine (no integrations); there but unreadable (a folder, a symlink loop,
        // no permission) is a broken project, not an empty one.
        namespace fs = std::filesystem;
        fs::path local = fs::path(project.dir()) / "ferry.yaml";
        std::error_code ec;
        if (fs::symlink_status(local, ec).type() == fs::file_type::not_found) return ok_status();
        std::string why = "not a regular file";
        int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            why = std::strerror(errno);
        else
            ::close(fd);
        if (tolerate_problems) return ok_status();
        return make_error(ErrorKind::Validation,
                          local.lexically_normal().string() + ": cannot read the file: " + why);
    }
    workflow::ConfigLoadResult loaded = workflow::load_project_config_text(*text, origin);
    if (!loaded.ok() && !tolerate_problems) {
        std::string msg;
        for (const auto& d : loaded.problems)
            msg += (msg.empty() ? "" : "\n") + d.describe();
        return make_error(ErrorKind::Validation, msg);
    }
    // Warned about, not refused: validate (which tolerates problems and reports every one
    // itself) fails on them.
    if (!tolerate_problems)
        for (workflow::Diagnostic& d : loaded.file_problems())
            problems.push_back(std::move(d));
    config = std::move(loaded.config);
    std::map<std::string, std::string> types;
    for (const workflow::IntegrationEntry& e : config.integrations) {
        IntegrationConfig c = e.config;
        c.public_json = to_json_text(e.settings);
        types[c.name] = c.type;
        integrations.add(std::move(c));
    }
    // Learnt now, not at the first request: until then a value carrying the secret (an
    // input, an answer of another system) was recorded in clear.
    learn_secrets();
    // Workflows' integration names are checked against the file only when it was read
    // whole: after a syntax error (ferry validate goes on) every name it holds was reported
    // unknown, "ferry.yaml defines none", burying the one real problem. (After other
    // problems the integrations are there, each as far as it could be read.)
    catalog.set_integrations(loaded.read_whole ? std::optional(std::move(types)) : std::nullopt);
    lua_api::set_integrations(vm.state(), &integrations);
    return ok_status();
}

void App::learn_secrets() {
    for (const workflow::IntegrationEntry& e : config.integrations)
        if (IntegrationClient* client = integrations.find(e.config.name))
            client->learn_secrets_for_redaction();
    for (const workflow::HookSpec& hook : config.hook_specs) {
        for (const std::string& ref : hook.secrets) {
            if (!is_secret_reference(ref)) continue;
            Result<std::string> value = resolve_secret(ref);  // taught to the Redactor
            if (value && hook.verify == "standard-webhooks") learn_webhook_key(value.value());
        }
    }
}

Result<std::shared_ptr<const workflow::Workflow>>
App::load_workflow(const std::string& name_or_path) {
    std::optional<Project::WorkflowLocation> at = project.locate_workflow(name_or_path);
    if (at) {
        auto known = located_.find(name_or_path);
        if (known != located_.end() && known->second.at == *at &&
            std::all_of(known->second.read.begin(), known->second.read.end(),
                        [this](const Dependency& d) { return stamp_of(d) == d.stamp; }))
            return known->second.wf;
    }
    auto found = project.find_workflow(name_or_path);
    if (!found) return found.error();
    const auto& [path, text] = found.value();
    workflow::LoadResult loaded = workflow::load_workflow_text(text, path, &catalog);
    std::vector<Dependency> read;
    std::vector<workflow::Diagnostic> problems = workflow_problems(loaded, &read);
    if (!problems.empty() || !loaded.workflow) {
        std::string msg;
        for (const auto& d : problems)
            msg += (msg.empty() ? "" : "\n") + d.describe();
        if (msg.empty()) msg = path + ": the workflow could not be loaded";
        return make_error(ErrorKind::Validation, msg);
    }
    auto wf = std::make_shared<const workflow::Workflow>(std::move(*loaded.workflow));
    if (at) located_[name_or_path] = LocatedWorkflow{*at, wf, std::move(read)};
    return wf;
}

std::vector<workflow::Diagnostic> App::workflow_problems(const workflow::LoadResult& loaded,
                                                       std::vector<Dependency>* read) {
    std::vector<workflow::Diagnostic> problems = loaded.problems;
    if (!loaded.workflow) return problems;
    for (auto& d : inline_script_problems(*loaded.workflow))
        problems.push_back(std::move(d));
    for (auto& d : project_problems(*loaded.workflow, read))
        problems.push_back(std::move(d));
    return problems;
}

std::vector<workflow::Diagnostic> App::inline_script_problems(const workflow::Workflow& wf) {
    std::vector<workflow::Diagnostic> out;
    for (const workflow::Step& step : wf.steps) {
        if (step.task != "lua" || !step.with.is_dict()) continue;
        const tmpl::Value* script = step.with.dict_obj().find("script");
        if (!script || !script->is_string()) continue;
        // The chunk name the task gives it (tasks/core/lua.lua).
        Status s = vm.check_syntax("=" + step.id + ".script", std::string(script->str()));
        if (s) continue;
        const Error& e = s.error();
        std::string line;
        if (e.location && e.location->line > 0) {
            line = " (line " + std::to_string(e.location->line);
            if (e.location->column > 0) line += ", column " + std::to_string(e.location->column);
            line += " of the script)";
        }
        auto mark = step.field_marks.count("with") ? step.field_marks.at("with") : step.mark;
        // A script is Lua taken as written: `{{ }}` in it is not evaluated, and the first
        // brace is then Lua's error.
        const std::string_view text = script->str();
        const bool braces =
            text.find("{{") != std::string_view::npos || text.find("{%") != std::string_view::npos;
        out.push_back({mark, "step '" + step.id + "' with.script: Lua syntax error" + line + ": " +
                                 e.message +
                                 (braces ? " (script is Lua taken as written: {{ }} is not "
                                           "evaluated in it; pass values through with.input)"
                                         : "")});
    }
    return out;
}

}  // namespace ferry::engine
