// Checks that need the whole workflow: what steps and expressions refer to, the dependency
// graph and its cycles, and the tasks, providers and task inputs steps name.
#include "workflow/loader_internal.h"
#include "workflow/task_input.h"

#include "runtime/duration.h"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <unordered_set>

namespace ferry::workflow::detail {
namespace {

// Why a step id is unknown, with the likeliest fix. `steps.my-step` parses as
// `steps.my - step`, so a known id starting with "my-" means the brackets were forgotten.
std::string unknown_step_hint(const std::string& name, const std::vector<std::string>& ids) {
    for (const std::string& id : ids)
        if (id.starts_with(name + "-")) return " (ids with '-' need brackets: steps['" + id + "'])";
    return did_you_mean(name, ids);
}

// A misspelt on_error is as likely a misspelt word (contine) as a misspelt step id.
std::string on_error_hint(const std::string& name, const std::vector<std::string>& ids) {
    if (std::string hint = unknown_step_hint(name, ids); !hint.empty()) return hint;
    return did_you_mean(name, {"fail", "continue"});
}

struct Names {
    std::vector<std::string> steps, inputs, vars;
    std::unordered_set<std::string_view> step_set;  // the same steps, to look up (views of ids)
    bool event = false;  // the step being checked reports on another (on_step): it sees `event`
};

// A field of a value whose shape is fixed (a step's record, `execution`): any other name
// fails at every run. Returns whether the field is one of them.
bool check_field(Context& ctx, const Mark& mark, const std::string& who, const std::string& what,
                 const std::string& field, const std::vector<std::string>& fields) {
    if (field.empty() || contains(fields, field)) return true;
    ctx.error(mark, who + ": " + what + " has no field '" + field + "'" +
                        did_you_mean(field, fields) + "; it has " + join(fields));
    return false;
}

// A bare name an expression reads that is none of the workflow's roots.
void check_root(Context& ctx, const Ref& ref, const std::string& who, const Names& names) {
    if (ref.root == "execution") {
        static const std::vector<std::string> kFields = {"id", "workflow", "dry_run", "trigger"};
        check_field(ctx, ref.mark, who, "execution", ref.name, kFields);
        return;
    }
    if (ref.root == "event" && names.event) {
        // The followed step's view (core/units.cpp step_scope): a typo made every note
        // fail at run time, quietly, as notes continue on errors by default.
        static const std::vector<std::string> kFields = {"step", "status", "output", "error",
                                                         "reason"};
        if (!ref.name.empty()) check_field(ctx, ref.mark, who, "event", ref.name, kFields);
        return;
    }
    // `steps.my-step` reads as steps.my minus `step`: the unknown step 'my' is the problem
    // to report (with its hint about brackets), not the name after the '-'.
    for (const std::string& id : names.steps) {
        for (size_t dash = id.find('-'); dash != std::string::npos; dash = id.find('-', dash + 1))
            if (id.compare(dash + 1, ref.root.size(), ref.root) == 0) return;
    }
    if (ref.root == "env") {
        ctx.error(ref.mark, who + ": 'env' is not available in expressions; secrets and settings "
                                  "come through integrations in ferry.yaml");
        return;
    }
    std::vector<std::string> roots = {"inputs", "vars", "steps", "execution"};
    if (names.event) roots.push_back("event");
    ctx.error(ref.mark, who + ": '" + ref.root + "' is undefined" + did_you_mean(ref.root, roots) +
                            "; expressions see " + join(roots) +
                            " (and item, index in a for_each step's with:)");
}

// Checks one reference; returns true when it names a known step (a dependency).
// `who` is the subject of the message: "step 'x'", "output 'y'", "var 'z'".
bool check_ref(Context& ctx, const Ref& ref, const std::string& who, const std::string& self,
               const Names& names) {
    if (ref.root == "steps-whole") {
        // In outputs every step has ended: the whole is what it will stay.
        if (self.empty()) return false;
        ctx.error(ref.mark,
                  who + ": 'steps' read as a whole (listed, iterated, 'in', items(), "
                        "get(a computed name)) holds the steps finished when this one runs, "
                        "which changes from run to run: read each step by name (steps.ID, "
                        "steps['ID']) or as steps[name] with needs: [...]; outputs, where every "
                        "step has ended, may read it whole");
        return false;
    }
    if (ref.root == "dict-method") {
        // name: the receiver as written; field: the method.
        ctx.error(ref.mark, who + ": " + ref.name + "." + ref.field + " is the dict method " +
                                ref.field +
                                "(), as in Jinja2 (the attribute wins over the key); write " +
                                ref.name + "['" + ref.field + "'] for an entry named so");
        return false;
    }
    if (ref.root == "item" || ref.root == "index") {
        ctx.error(ref.mark, who + ": '" + ref.root +
                                "' is only defined in the with: of a for_each step (its when: "
                                "and for_each: are evaluated once, for the whole step)");
        return false;
    }
    if (ref.root != "steps" && ref.root != "inputs" && ref.root != "vars") {
        check_root(ctx, ref, who, names);
        return false;
    }
    if (ref.method) {
        std::string kind = ref.root == "steps" ? "step" : ref.root == "inputs" ? "input" : "var";
        const std::vector<std::string>& known = ref.root == "steps"    ? names.steps
                                                : ref.root == "inputs" ? names.inputs
                                                                       : names.vars;
        // The advice only where it helps: with no such name, ['items'] is an unknown one.
        ctx.error(ref.mark, who + ": " + ref.root + "." + ref.name + " is the dict method " +
                                ref.name + "()" +
                                (contains(known, ref.name)
                                     ? ", not the " + kind + " '" + ref.name + "'; write " +
                                           ref.root + "['" + ref.name + "']"
                                     : "; there is no " + kind + " '" + ref.name + "'"));
        return false;
    }
    if (ref.root == "steps") {
        if (!self.empty() && ref.name == self) {
            ctx.error(ref.mark, who + " refers to itself");
            return false;
        }
        if (!names.step_set.count(ref.name)) {
            ctx.error(ref.mark, who + " refers to unknown step '" + ref.name + "'" +
                                    unknown_step_hint(ref.name, names.steps));
            return false;
        }
        static const std::vector<std::string> kFields = {"output", "status", "error", "reason"};
        check_field(ctx, ref.mark, who, "steps." + ref.name, ref.field, kFields);
        return true;
    }
    const std::vector<std::string>& known = ref.root == "inputs" ? names.inputs : names.vars;
    if (!contains(known, ref.name)) {
        std::string kind = ref.root == "inputs" ? "input" : "var";
        ctx.error(ref.mark, who + " refers to unknown " + kind + " '" + ref.name + "'" +
                                did_you_mean(ref.name, known));
    }
    return false;
}

// A var reading another: vars are evaluated one by one in the order they are written, each
// seeing those above it (core/executor.cpp). False once a reference to itself or to one
// written below it is reported.
bool check_var_order(Context& ctx, const Ref& ref, const std::vector<std::string>& var_names,
                     size_t owner) {
    const std::string& self = var_names[owner];
    auto named = std::find(var_names.begin(), var_names.end(), ref.name);
    if (ref.name == self) {
        ctx.error(ref.mark, "var '" + self + "' refers to itself");
        return false;
    }
    if (named != var_names.end() && size_t(named - var_names.begin()) > owner) {
        ctx.error(ref.mark, "var '" + self + "' refers to var '" + ref.name +
                                "', written below it: vars are evaluated in the order they are "
                                "written, each seeing those above it; move '" +
                                ref.name + "' above '" + self + "'");
        return false;
    }
    return true;
}

// Where the value a problem's input path names ("mappings[1].transform", at the head of
// the problem: "input 'PATH' ...") is written inside `with:`, as far down as the YAML
// holds it; `fallback` (the input's key) for a problem of a whole input, or when the path
// is not found at all (a merge key).
Mark mark_of_input_path(Context& ctx, const YAML::Node& with, const std::string& problem,
                        const Mark& fallback) {
    const std::string_view head = "input '";
    if (!with || !with.IsMap() || problem.rfind(head, 0) != 0) return fallback;
    const size_t end = problem.find('\'', head.size());
    if (end == std::string::npos) return fallback;
    const std::string_view path = std::string_view(problem).substr(head.size(), end - head.size());
    // A problem of the input itself stays at its key, as every step problem is at its key.
    if (path.find_first_of(".[") == std::string_view::npos) return fallback;
    // Read through const nodes: a non-const operator[] adds the key it looks for.
    YAML::Node node;
    node.reset(with);
    bool moved = false;
    size_t i = 0;
    while (i < path.size()) {
        const YAML::Node& here = node;
        YAML::Node next;
        if (path[i] == '[') {
            const size_t close = path.find(']', i);
            if (close == std::string_view::npos || !here.IsSequence()) break;
            size_t index = 0;
            for (size_t d = i + 1; d < close && index <= here.size(); ++d)
                index = index * 10 + size_t(path[d] - '0');
            if (index >= here.size()) break;
            next.reset(here[index]);
            i = close + 1;
        } else {
            if (path[i] == '.') ++i;
            const size_t stop = std::min(path.find_first_of(".[", i), path.size());
            const std::string name(path.substr(i, stop - i));
            if (!here.IsMap() || !here[name]) break;
            next.reset(here[name]);
            i = stop;
        }
        node.reset(next);
        moved = true;
    }
    return moved ? ctx.mark(node) : fallback;
}

// A value written in `with:` (not an expression, whose value is known only when it runs)
// against what the task declares for that input (type, choices, format, an object's keys):
// caught by validate, not by every run, and placed where the wrong part is written.
void check_written_value(Context& ctx, const Step& step, const StepExtras& ex,
                         const TaskLookup& tasks, const std::string& key, const Mark& mark) {
    const tmpl::Value* v = step.with.is_dict() ? step.with.dict_obj().find(key) : nullptr;
    if (!v || v->is_none()) return;
    std::vector<std::string> problems;
    check_task_input(tasks.input_spec(step.task, step.provider, key), *v, key,
                     /*written_only=*/true, problems);
    for (const std::string& problem : problems)
        ctx.error(mark_of_input_path(ctx, ex.with, problem, mark),
                  "task '" + step.task + "' " + problem);
}

// A step's `integration:` must name one of ferry.yaml. Without `provider:`, the provider
// that works with the integration's type is chosen: `task: ticket.create` with a Jira
// integration is the jira provider (one named like the type first, else the only one that
// declares the type). False when it reported a problem that leaves the provider unknown.
bool check_integration(Context& ctx, Step& step, const TaskLookup& tasks,
                       const std::function<Mark(const char*)>& mark_of) {
    if (step.integration.empty()) return true;
    auto known = tasks.integrations();
    if (!known) return true;
    auto it = known->find(step.integration);
    if (it == known->end()) {
        std::vector<std::string> names;
        for (const auto& [name, type] : *known)
            names.push_back(name);
        ctx.error(mark_of("integration"),
                  "unknown integration '" + step.integration + "'" +
                      did_you_mean(step.integration, names) +
                      (names.empty() ? "; ferry.yaml defines none"
                                     : "; ferry.yaml defines: " + join(names)));
        return false;
    }
    if (!step.provider.empty() || !tasks.has_task(step.task)) return true;
    const std::string& type = it->second;
    std::vector<std::string> providers = tasks.providers(step.task);
    if (contains(providers, type)) {
        step.provider = type;
        return true;
    }
    std::vector<std::string> fitting;
    bool declared = false;  // some provider says which types it takes
    for (const std::string& p : providers) {
        std::vector<std::string> types = tasks.integration_types(step.task, p);
        declared = declared || !types.empty();
        if (contains(types, type)) fitting.push_back(p);
    }
    if (fitting.size() == 1) step.provider = fitting[0];
    if (!fitting.empty() || declared) return true;  // check_integration_type has the rest
    // The default provider is another vendor's, and none is this vendor's (its file
    // missing, or failing to load): the default would send its vendor's requests to this
    // system, with this system's credentials, and could even succeed. A generic default,
    // or a generic (http, webhook) integration, runs the default, as before.
    static const std::vector<std::string> kVendorTypes = {"servicenow", "jira", "splunk_hec"};
    std::string fallback = tasks.default_provider(step.task);
    if (!contains(kVendorTypes, fallback) || !contains(kVendorTypes, type)) return true;
    ctx.error(mark_of("integration"), "task '" + step.task + "' has no provider for " + type +
                                          " integrations ('" + step.integration +
                                          "'); providers: " + join(providers) + " (add the " +
                                          type + " provider, or name one with `provider:`)");
    return false;
}

// A task that talks to a vendor declares the integration types it works with; its step
// must name an integration of one of them (checked here, not when the step runs).
void check_integration_type(Context& ctx, const Step& step, const TaskLookup& tasks,
                            const std::function<Mark(const char*)>& mark_of) {
    std::vector<std::string> types = tasks.integration_types(step.task, step.provider);
    if (types.empty()) return;
    std::string who = "task '" + step.task + "'" +
                      (step.provider.empty() ? "" : " (provider " + step.provider + ")");
    if (step.integration.empty()) {
        ctx.error(mark_of("task"), who + " needs `integration:` naming a " + join(types) +
                                       " integration from ferry.yaml");
        return;
    }
    auto known = tasks.integrations();
    if (!known) return;
    auto it = known->find(step.integration);
    if (it != known->end() && !contains(types, it->second)) {
        ctx.error(
            mark_of("integration"),
            who + " works with " + join(types) + " integrations; '" + step.integration +
                "' is of type " + it->second +
                (step.provider.empty() ? " (add `provider:` to pick another implementation)" : ""));
    }
}

void check_task(Context& ctx, Step& step, const StepExtras& ex, const TaskLookup& tasks) {
    if (step.task.empty()) return;
    auto mark_of = [&](const char* field) {
        auto it = step.field_marks.find(field);
        return it != step.field_marks.end() ? it->second : step.mark;
    };
    bool provider_known = check_integration(ctx, step, tasks, mark_of);
    if (!tasks.has_task(step.task)) {
        ctx.error(mark_of("task"),
                  "unknown task '" + step.task + "'" + did_you_mean(step.task, tasks.task_names()));
        return;
    }
    std::vector<std::string> providers = tasks.providers(step.task);
    if (!step.provider.empty()) {
        if (providers.empty()) {
            ctx.error(mark_of("provider"), "task '" + step.task +
                                               "' has a single implementation; it takes no "
                                               "'provider' (got '" +
                                               step.provider + "')");
            return;
        }
        if (!contains(providers, step.provider)) {
            ctx.error(mark_of("provider"), "unknown provider '" + step.provider + "' for task '" +
                                               step.task + "'" +
                                               did_you_mean(step.provider, providers) +
                                               "; providers: " + join(providers));
            return;
        }
    }
    if (step.provider.empty() && !providers.empty() && !tasks.has_default_provider(step.task)) {
        ctx.error(mark_of("task"), "task '" + step.task +
                                       "' has several providers and no "
                                       "default: add 'provider:' (one of " +
                                       join(providers) + ")");
        return;
    }
    // Checked against the default provider, another provider's inputs were reported as
    // unknown (a misspelt Jira integration: 'has no input summary').
    if (!provider_known && step.provider.empty() && !providers.empty()) return;
    check_integration_type(ctx, step, tasks, mark_of);
    std::vector<std::string> inputs = tasks.input_names(step.task, step.provider);
    if (inputs.empty()) return;
    bool unknown_keys = false;
    for (const auto& [key, mark] : ex.with_keys) {
        if (contains(inputs, key)) {
            check_written_value(ctx, step, ex, tasks, key, mark);
            continue;
        }
        unknown_keys = true;
        std::string hint = did_you_mean(key, inputs);
        ctx.error(mark, "task '" + step.task + "'" +
                            (step.provider.empty() ? "" : " (" + step.provider + ")") +
                            " has no input '" + key + "'" +
                            (hint.empty() ? "; inputs: " + join(inputs) : hint));
    }
    // Required inputs a `with:` does not give (or writes as null) fail every run. Not when
    // `with:` is absent, empty or not a mapping, or has an unknown key: a misspelt key was
    // most likely the input (`wiht:`, `mesage:`), and that is reported already.
    if (unknown_keys || ex.with_keys.empty() || !step.with.is_dict()) return;
    for (const std::string& name : tasks.required_inputs(step.task, step.provider)) {
        const tmpl::Value* v = step.with.dict_obj().find(name);
        if (v && !v->is_none()) continue;
        Mark at = mark_of("with");
        for (const auto& [key, mark] : ex.with_keys)
            if (key == name) at = mark;
        ctx.error(at, "task '" + step.task + "' input '" + name + "' is required" +
                          (v ? ", and it is null" : ""));
    }
}

// Tarjan's strongly connected components over depends_on edges (known ids only).
class Components {
  public:
    explicit Components(const std::vector<std::vector<size_t>>& adj)
        : adj_(adj), index_(adj.size(), -1), low_(adj.size(), 0), on_stack_(adj.size(), false) {
        for (size_t v = 0; v < adj.size(); ++v)
            if (index_[v] < 0) visit(v);
    }
    std::vector<std::vector<size_t>> groups;

  private:
    void visit(size_t v) {
        index_[v] = low_[v] = counter_++;
        stack_.push_back(v);
        on_stack_[v] = true;
        for (size_t w : adj_[v]) {
            if (index_[w] < 0) {
                visit(w);
                low_[v] = std::min(low_[v], low_[w]);
            } else if (on_stack_[w]) {
                low_[v] = std::min(low_[v], index_[w]);
            }
        }
        if (low_[v] != index_[v]) return;
        std::vector<size_t> group;
        size_t w = 0;
        do {
            w = stack_.back();
            stack_.pop_back();
            on_stack_[w] = false;
            group.push_back(w);
        } while (w != v);
        groups.push_back(std::move(group));
    }

    const std::vector<std::vector<size_t>>& adj_;
    std::vector<int> index_, low_;
    std::vector<bool> on_stack_;
    std::vector<size_t> stack_;
    int counter_ = 0;
};

// The engine checks a step's dependencies by index, not by searching the steps for each id
// (that search made long workflows quadratic per step), and when a step settles it looks
// again only at the steps that depend on it.
void link_dependencies(Workflow& wf) {
    std::map<std::string, size_t, std::less<>>& by_id = wf.step_positions;
    by_id.clear();
    for (size_t i = 0; i < wf.steps.size(); ++i)
        by_id.emplace(wf.steps[i].id, i);  // the first definition wins
    for (Step& step : wf.steps) {
        step.depends_on_steps.clear();
        step.dependents.clear();
    }
    for (size_t i = 0; i < wf.steps.size(); ++i) {
        for (const std::string& dep : wf.steps[i].depends_on) {
            auto it = by_id.find(dep);
            if (it == by_id.end()) continue;
            wf.steps[i].depends_on_steps.push_back(it->second);
            std::vector<size_t>& back = wf.steps[it->second].dependents;
            if (back.empty() || back.back() != i) back.push_back(i);
        }
    }
}

// The steps a walk from `from` reaches along `next` (each step's depends_on_steps, or its
// dependents), not walking into a step `stop` refuses.
std::vector<bool> reached_from(const Workflow& wf, std::vector<size_t> from,
                               std::vector<size_t> Step::*next,
                               const std::function<bool(size_t)>& stop = nullptr) {
    std::vector<bool> seen(wf.steps.size(), false);
    while (!from.empty()) {
        const size_t i = from.back();
        from.pop_back();
        if (seen[i] || (stop && stop(i))) continue;
        seen[i] = true;
        const std::vector<size_t>& more = wf.steps[i].*next;
        from.insert(from.end(), more.begin(), more.end());
    }
    return seen;
}

void check_handlers_are_not_dependencies(Context& ctx, const Workflow& wf) {
    for (const Step& step : wf.steps) {
        auto handler_at = wf.step_positions.find(step.on_error);
        if (handler_at == wf.step_positions.end() || step.on_error == step.id) continue;
        const size_t handler = handler_at->second;
        const size_t self = size_t(&step - wf.steps.data());
        const Mark at =
            step.field_marks.count("on_error") ? step.field_marks.at("on_error") : step.mark;
        // A handler runs only after its step failed: a step that waits for its own handler
        // (directly or through others) can never run, and was skipped as "not needed" in an
        // execution that then succeeded.
        if (reached_from(wf, step.depends_on_steps, &Step::depends_on_steps)[handler]) {
            const bool directly = contains(step.depends_on, step.on_error);
            ctx.error(at, "step '" + step.id + "' depends on its own on_error step '" +
                              step.on_error + "' (" +
                              (directly ? "directly" : "through other steps") +
                              "), which runs only after it fails: it could never run");
        }
        // Nor can a handler that waits for a step after the failing one: the failure skips
        // that step, and the handler with it (the run then fails, handled by nobody). Its
        // on_step note posts even about a failure, and what waits for the note runs.
        const std::vector<bool> after =
            reached_from(wf, step.dependents, &Step::dependents,
                         [&](size_t i) { return wf.steps[i].event_step == step.id; });
        const std::vector<bool> awaited =
            reached_from(wf, wf.steps[handler].depends_on_steps, &Step::depends_on_steps,
                         [&](size_t i) { return i == self; });
        for (size_t i = 0; i < wf.steps.size(); ++i) {
            if (!awaited[i] || !after[i] || i == handler) continue;
            ctx.error(at, "step '" + step.id + "' has on_error step '" + step.on_error +
                              "', which waits for step '" + wf.steps[i].id +
                              "'; that step waits for '" + step.id +
                              "', so its failure skips both: the handler could never run");
            break;
        }
    }
}

}  // namespace

std::vector<std::vector<std::string>> find_cycles(const Workflow& wf) {
    std::map<std::string, size_t> by_id;  // first definition wins for duplicated ids
    for (size_t i = 0; i < wf.steps.size(); ++i)
        by_id.emplace(wf.steps[i].id, i);
    std::vector<std::vector<size_t>> adj(wf.steps.size());
    for (size_t i = 0; i < wf.steps.size(); ++i) {
        if (by_id[wf.steps[i].id] != i) continue;
        for (const std::string& dep : wf.steps[i].depends_on) {
            auto it = by_id.find(dep);
            if (it != by_id.end() && it->second != i) adj[i].push_back(it->second);
        }
    }
    std::vector<std::pair<size_t, std::vector<std::string>>> found;
    for (std::vector<size_t>& group : Components(adj).groups) {
        if (group.size() < 2) continue;
        // The shortest cycle through the group's first step: breadth-first inside the group.
        size_t start = *std::min_element(group.begin(), group.end());
        std::vector<bool> member(wf.steps.size(), false);
        for (size_t v : group)
            member[v] = true;
        std::vector<size_t> parent(wf.steps.size(), SIZE_MAX);
        std::queue<size_t> queue;
        queue.push(start);
        size_t last = SIZE_MAX;  // the step whose edge closes the cycle back to start
        while (!queue.empty() && last == SIZE_MAX) {
            size_t v = queue.front();
            queue.pop();
            for (size_t w : adj[v]) {
                if (!member[w]) continue;
                if (w == start) {
                    last = v;
                    break;
                }
                if (parent[w] == SIZE_MAX) {
                    parent[w] = v;
                    queue.push(w);
                }
            }
        }
        std::vector<std::string> cycle{wf.steps[start].id};
        std::vector<std::string> back;
        for (size_t v = last; v != start && v != SIZE_MAX; v = parent[v])
            back.push_back(wf.steps[v].id);
        cycle.insert(cycle.end(), back.rbegin(), back.rend());
        cycle.push_back(wf.steps[start].id);
        found.emplace_back(start, std::move(cycle));
    }
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::vector<std::string>> cycles;
    for (auto& [start, cycle] : found)
        cycles.push_back(std::move(cycle));
    return cycles;
}

void validate(Context& ctx, Parsed& p, const TaskLookup* tasks) {
    Workflow& wf = p.wf;
    Names names;
    for (size_t i = 0; i < wf.steps.size(); ++i)
        if (p.steps[i].has_id && names.step_set.insert(wf.steps[i].id).second)
            names.steps.push_back(wf.steps[i].id);
    for (const InputSpec& in : wf.inputs)
        names.inputs.push_back(in.name);
    names.vars = p.var_names;

    for (size_t i = 0; i < wf.steps.size(); ++i) {
        Step& step = wf.steps[i];
        const StepExtras& ex = p.steps[i];
        std::string who = ex.who.empty() ? "step '" + step.id + "'" : ex.who;
        std::vector<std::string> deps;
        auto depend = [&](const std::string& id) {
            if (!contains(deps, id)) deps.push_back(id);
        };
        names.event = !step.event_step.empty();
        for (const auto& [need, mark] : ex.needs)
            if (check_ref(ctx, Ref{"steps", need, mark, false, {}}, who, step.id, names))
                depend(need);
        for (const Ref& ref : ex.refs)
            if (check_ref(ctx, ref, who, step.id, names)) depend(ref.name);
        step.depends_on = std::move(deps);

        // `for_each: "{{ inputs.X }}"` over an input typed as something other than a list
        // fails at every run ("for_each must give a list, got 3"). The loader keeps for_each
        // as one `{{ ... }}`, trimmed.
        std::string inner;
        if (is_single_expression(step.for_each, &inner)) {
            std::string_view path = detail::trim_blanks(inner);
            for (const InputSpec& in : wf.inputs)
                if (path == "inputs." + in.name && in.type != "array" && in.type != "any") {
                    auto m = step.field_marks.count("for_each") ? step.field_marks.at("for_each")
                                                                : step.mark;
                    ctx.error(m, who + ": for_each must give a list, and input '" + in.name +
                                     "' is " + article_type(in.type));
                }
        }

        // An approval that times out into an escalation step fails with kind timeout and
        // runs that step, through the on_error machinery.
        bool escalation = false;  // on_error is the approval's on_timeout
        if (step.task == "approval" && step.with.is_dict()) {
            // Approvers are token names: another value could never match a caller, and the
            // step would wait for a decision no one may send.
            const tmpl::Value* approvers = step.with.dict_obj().find("approvers");
            if (approvers && approvers->is_list())
                for (const tmpl::Value& a : approvers->list_obj().items)
                    if (!a.is_string())
                        ctx.error(step.mark, who + ": approvers are token names (text), got " +
                                                 detail::describe_value(a));
            // Its wait is bounded by with.timeout alone (the step's default timeout would end
            // a wait for people after 5 minutes): a step-level one was silently ignored.
            if (step.field_marks.count("timeout"))
                ctx.error(step.field_marks.at("timeout"),
                          who + ": an approval waits as long as its with.timeout says, not "
                                "the step's timeout; write with: {timeout: ...}");
            // A literal timeout is a duration ("soon" validated clean and failed every run);
            // empty is "no limit", as an input's default "" gives it.
            if (const tmpl::Value* t = step.with.dict_obj().find("timeout");
                t && t->is_string() && !t->str().empty() && !is_template(t->str()))
                if (Result<uint64_t> ms = parse_duration_ms(t->str()); !ms)
                    ctx.error(step.field_marks.count("with") ? step.field_marks.at("with")
                                                             : step.mark,
                              who + ": with.timeout: " + ms.error().message);
            const tmpl::Value* on_timeout = step.with.dict_obj().find("on_timeout");
            // The escalation step is wired here, as the step's on_error handler (else it is
            // an ordinary step and runs at once): an expression cannot name it.
            if (on_timeout && on_timeout->is_string() && is_template(on_timeout->str()))
                ctx.error(step.mark, who + ": on_timeout must be written as 'reject' or a step "
                                           "id, not an expression: the escalation step is "
                                           "wired when the workflow is checked");
            else if (on_timeout && on_timeout->is_string() && on_timeout->str() != "reject") {
                if (step.on_error == "fail") {
                    step.on_error = std::string(on_timeout->str());
                    escalation = true;
                }
                else if (step.on_error != on_timeout->str())
                    ctx.error(step.mark,
                              who + ": on_timeout names step '" + std::string(on_timeout->str()) +
                                  "' but on_error names '" + step.on_error + "'; use one of them");
            }
        }

        if (step.on_error != "fail" && step.on_error != "continue") {
            // Said as written: an approval's on_timeout becomes its on_error.
            const char* field = escalation ? "with" : "on_error";
            Mark at = step.field_marks.count(field) ? step.field_marks.at(field) : step.mark;
            if (step.on_error == step.id)
                ctx.error(at, who + " cannot be its own " +
                                  (escalation ? "on_timeout" : "on_error") + " step");
            else if (!contains(names.steps, step.on_error) && escalation)
                ctx.error(at, who + ": on_timeout must be reject or a step id; there is no "
                                    "step '" +
                                  step.on_error + "'" + on_error_hint(step.on_error, names.steps));
            else if (!contains(names.steps, step.on_error))
                ctx.error(at, "'on_error' must be fail, continue or a step id; there is no "
                              "step '" +
                                  step.on_error + "'" + on_error_hint(step.on_error, names.steps));
        }
        if (tasks) check_task(ctx, step, ex, *tasks);
    }
    names.event = false;
    link_dependencies(wf);
    for (const Ref& ref : p.output_refs)
        check_ref(ctx, ref, "'outputs'", "", names);
    for (size_t i = 0; i < p.var_refs.size(); ++i) {
        const Ref& ref = p.var_refs[i];
        const size_t owner = p.var_ref_owners[i];  // filled with var_refs (named_data)
        if (ref.root == "vars" && !ref.method && !ref.name.empty() &&
            !check_var_order(ctx, ref, p.var_names, owner))
            continue;
        const std::string who = "var '" + p.var_names[owner] + "'";
        if (ref.root == "steps-whole")
            ctx.error(ref.mark, "'vars' are constants and cannot refer to steps; use inputs, "
                                "or compute it in a step");
        else if (ref.root == "steps")
            ctx.error(ref.mark, "'vars' are constants and cannot refer to steps (found steps." +
                                    ref.name + "); use inputs, or compute it in a step");
        else
            check_ref(ctx, ref, who, "", names);
    }
    for (const std::vector<std::string>& cycle : find_cycles(wf)) {
        std::string text;
        for (const std::string& id : cycle)
            text += (text.empty() ? "" : " -> ") + id;
        const Step* first = wf.find_step(cycle.front());
        ctx.error(first ? first->mark : Mark{ctx.file(), 1, 1}, "dependency cycle: " + text);
    }
    check_handlers_are_not_dependencies(ctx, wf);
}

}  // namespace ferry::workflow::detail
