// What only the project can tell of a workflow, checked by `ferry validate` and before
// `ferry run` or the server starts it: the sub-workflows its steps run exist and take the
// inputs written for them, and its hook files exist.
#include "core/app.h"
#include "core/catalog.h"
#include "runtime/duration.h"
#include "workflow/suggest.h"

namespace ferry::engine {

namespace {

using workflow::detail::holds_template;

// What the child's input checks say of the inputs a step gives it, leaving out what only
// the run can tell (a value computed by an expression).
std::vector<std::string> literal_input_problems(const workflow::Workflow& child,
                                                const tmpl::Value* given) {
    if (given && holds_template(*given) && !given->is_dict()) return {};  // "{{ ... }}" whole
    tmpl::Value literal = tmpl::Value::dict();
    std::vector<std::string> computed;
    if (given && given->is_dict()) {
        for (const auto& [k, v] : given->dict_obj().items()) {
            std::string key = tmpl::to_str(k);
            if (holds_template(v))
                computed.push_back(key);
            else
                literal.dict_obj().set(k, v);
        }
    }
    return workflow::input_problems(child, literal, computed);
}

// Where a step's `with:` is written (its problems' place), else the step.
workflow::Mark with_mark(const workflow::Step& step) {
    auto at = step.field_marks.find("with");
    return at != step.field_marks.end() ? at->second : step.mark;
}

}  // namespace

std::optional<uint64_t> App::stamp_of(const Dependency& d) const {
    if (d.workflow.empty()) return project.stamp(d.file);
    std::optional<Project::WorkflowLocation> at = project.locate_workflow(d.workflow);
    return at ? std::optional<uint64_t>(at->stamp) : std::nullopt;
}

std::vector<workflow::Diagnostic> App::project_problems(const workflow::Workflow& wf,
                                                        std::vector<Dependency>* read) {
    std::vector<workflow::Diagnostic> out;
    // Stamped before reading: a file that changes in between is checked again next time.
    auto reading = [&](Dependency d) {
        if (!read) return;
        d.stamp = stamp_of(d);
        read->push_back(std::move(d));
    };
    for (const workflow::Step& step : wf.steps) {
        if (step.task != "workflow" || !step.with.is_dict()) continue;
        const tmpl::Value* name = step.with.dict_obj().find("name");
        if (!name || !name->is_string() || name->str().find("{{") != std::string_view::npos)
            continue;
        const std::string child_name(name->str());
        const workflow::Mark m = with_mark(step);
        // What is wrong with the name, at the name.
        auto named = step.field_marks.find("with.name");
        const workflow::Mark& name_mark = named != step.field_marks.end() ? named->second : m;
        if (Project::is_workflow_path(child_name)) {
            out.push_back({name_mark, "step '" + step.id +
                                          "': " + Project::sub_workflow_path_message(child_name)});
            continue;
        }
        reading({child_name, {}, {}});
        auto found = project.find_workflow(child_name);
        if (!found) {
            out.push_back(
                {name_mark, "step '" + step.id + "' runs workflow '" + child_name +
                                "', which is not in the project's workflows/" +
                                workflow::did_you_mean(child_name, project.workflow_names())});
            continue;
        }
        // The inputs it gives the child, as far as they are written out: names the child
        // does not take, literal values that do not fit, required ones not given. The child
        // is parsed, not checked in turn (a cycle of sub-workflows would never end); its
        // own problems are its file's.
        const auto& [path, text] = found.value();
        workflow::LoadResult child = workflow::load_workflow_text(text, path, &catalog);
        if (!child.ok() || !child.workflow) {
            // Its own problems are its file's; here, that this step cannot run (ferry run
            // started the parent and failed the step, exit 1, instead of refusing it).
            out.push_back(
                {name_mark, "step '" + step.id + "' runs workflow '" + child_name +
                                "', whose file has problems (" +
                                (child.problems.empty() ? std::string("it does not load")
                                                        : child.problems.front().describe()) +
                                ")"});
            continue;
        }
        const tmpl::Value* given = step.with.dict_obj().find("inputs");
        for (const std::string& problem : literal_input_problems(*child.workflow, given)) {
            // At the input's key when the step gives it; one not given, at `with:`.
            const workflow::Mark* at =
                workflow::named_input_mark(problem, step.field_marks, "with.inputs.");
            out.push_back({at ? *at : m, "step '" + step.id + "' runs workflow '" + child_name +
                                             "': " + problem});
        }
    }
    // A template.render step's literal template: a missing or escaping name failed every run.
    for (const workflow::Step& step : wf.steps) {
        if (step.task != "template.render" || !step.with.is_dict()) continue;
        const TaskDef* task = catalog.find(step.task, step.provider);
        if (!task || !is_builtin_template_render(*task)) continue;  // a project's own
        const tmpl::Value* name = step.with.dict_obj().find("template");
        if (!name || !name->is_string() || workflow::detail::is_template(name->str())) continue;
        const std::string file(name->str());
        const workflow::Mark m = with_mark(step);
        if (!file.empty() && file[0] != '/' && file.find("..") == std::string::npos)
            reading({{}, "templates/" + file, {}});
        try {
            if (!templates->load(file))
                out.push_back({m, "step '" + step.id + "': template '" + file +
                                      "' is not in templates/ (nor among the bundled ones)"});
        } catch (const tmpl::TemplateError& e) {  // a name that leaves templates/
            out.push_back({m, "step '" + step.id + "': " + e.message()});
        }
    }
    // A built-in sleep as long as its step's timeout can only time out (`duration: 7m` under
    // the 5m default failed every run, and validated clean). Not one whose failure is
    // handled (on_error: a test of timeouts does it), nor a project's own sleep task.
    for (const workflow::Step& step : wf.steps) {
        if (step.task != "sleep" || !step.with.is_dict() || step.on_error != "fail") continue;
        const TaskDef* task = catalog.find(step.task, step.provider);
        if (!task || !is_builtin_sleep(*task)) continue;
        const tmpl::Value* d = step.with.dict_obj().find("duration");
        if (!d || !d->is_string() || workflow::detail::is_template(d->str())) continue;
        Result<uint64_t> sleep_ms = parse_duration_ms(d->str());  // else the input check says
        const uint64_t limit = step.timeout_ms ? step.timeout_ms : workflow::kDefaultStepTimeoutMs;
        if (!sleep_ms || sleep_ms.value() < limit) continue;
        const workflow::Mark m = with_mark(step);
        out.push_back({m, "step '" + step.id + "' sleeps " + format_duration_ms(sleep_ms.value()) +
                              ", which its timeout (" + format_duration_ms(limit) +
                              (step.timeout_ms ? "" : ", the default") +
                              ") ends first: every run would fail the step; set the step's "
                              "timeout above the sleep"});
    }
    // http.request without an integration has nothing to join a path to: it failed at
    // run time, with a message naming the task's own file.
    for (const workflow::Step& step : wf.steps) {
        if (step.task != "http.request" || !step.integration.empty()) continue;
        const bool given = step.with.is_dict();
        if (!given && !step.with.is_none()) continue;  // `with: "{{ ... }}"`: the run tells
        if (given && step.with.dict_obj().find("url")) continue;
        const TaskDef* task = catalog.find(step.task, step.provider);
        if (!task || !is_builtin_http_request(*task)) continue;
        out.push_back({with_mark(step),
                       "step '" + step.id + "': http.request needs 'url'" +
                           (given && step.with.dict_obj().find("path")
                                ? " ('path' is relative to an integration's base_url, and the "
                                  "step has no integration:)"
                                : "")});
    }
    const workflow::Hooks& h = wf.hooks;
    struct HookRef {
        const std::string* file;
        const workflow::Mark* mark;
        const char* name;
    };
    for (const HookRef& hook : {HookRef{&h.before_step, &h.before_step_mark, "before_step"},
                                HookRef{&h.after_step, &h.after_step_mark, "after_step"},
                                HookRef{&h.on_failure, &h.on_failure_mark, "on_failure"}}) {
        if (hook.file->empty()) continue;
        std::string rel = hook.file->rfind("tasks/", 0) == 0 ? *hook.file : "tasks/" + *hook.file;
        reading({{}, rel, {}});
        if (!project.read(rel)) {
            out.push_back(
                {*hook.mark, "hook file '" + *hook.file + "' not found (hooks live under tasks/)"});
            continue;
        }
        if (std::string why = hook_file_problem(rel, hook.name); !why.empty())
            out.push_back({*hook.mark, "hook file '" + *hook.file + "' " + why});
    }
    return out;
}

std::string App::hook_file_problem(const std::string& rel, const char* hook) {
    // What the hook runner would find at run time: one returning 42 failed every step, and a
    // table without the named hook was silently no hook at all.
    Result<int> ref = load_lua_file(vm, project, rel);
    if (!ref) return "does not load: " + ref.error().message;
    lua_State* L = vm.state();
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref.value());
    std::string why;
    if (lua_istable(L, -1)) {
        lua_pushstring(L, hook);
        lua_rawget(L, -2);
        if (!lua_isfunction(L, -1))
            why = std::string("returns a table without ") +
                  (std::string_view(hook).find_first_of("aeiou") == 0 ? "an " : "a ") + hook +
                  " function (got " + luaL_typename(L, -1) + ")";
        lua_pop(L, 1);
    } else if (!lua_isfunction(L, -1)) {
        why = std::string("must return a function(ctx, event) or a table of them, got ") +
              luaL_typename(L, -1);
    }
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, ref.value());
    return why;
}

}  // namespace ferry::engine
