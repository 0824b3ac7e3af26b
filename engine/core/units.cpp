// One invocation of a step up to its task's start: inputs resolved and checked against the
// task's schema, hooks, early starts. What happens to its outcome (retries, logs, results,
// settlement): unit_outcomes.cpp; the task, hooks and sub-workflows run in invocations.cpp.
#include "core/executor.h"

#include "core/run_state.h"
#include "runtime/timestamp.h"
#include "workflow/loader.h"
#include "workflow/task_input.h"

#include <algorithm>
#include <chrono>
#include <functional>

namespace ferry::engine {

namespace {

// Required inputs present (defaults filled in), and each given one as its entry declares it
// (workflow::check_task_input).
Status apply_schema(const TaskDef& task, const std::string& step, tmpl::Value& input) {
    if (!task.input.is_dict()) return ok_status();
    if (!input.is_dict()) {
        // A `with:` is always a mapping; a before_step hook may hand over anything.
        if (task.input.dict_obj().items().empty()) return ok_status();
        return make_error(ErrorKind::Validation, "step '" + step +
                                                     "': the task's input must be a mapping, "
                                                     "got " +
                                                     workflow::detail::describe_value(input));
    }
    std::vector<std::string> problems;
    for (const auto& [key, spec] : task.input.dict_obj().items()) {
        if (!key.is_string() || !spec.is_dict()) continue;
        std::string name(key.str());
        const tmpl::Value* v = input.dict_obj().find(name);
        if (!v || v->is_none()) {
            if (const tmpl::Value* d = dict_get(spec, "default")) {
                input.dict_obj().set(str(name), *d);
            } else if (const tmpl::Value* r = dict_get(spec, "required");
                       r && r->is_bool() && r->as_bool()) {  // "no" is a problem, not true
                // A null (a skipped step's output, say) counts as not given: say which it was.
                problems.push_back("input '" + name + "' is required" +
                                   (v ? ", and it is null" : ""));
            }
            continue;
        }
        workflow::check_task_input(spec, *v, name, /*written_only=*/false, problems);
    }
    if (problems.empty()) return ok_status();
    std::string all;
    for (const std::string& p : problems)
        all += (all.empty() ? "" : "; ") + p;
    return make_error(ErrorKind::Validation,
                      "step '" + step + "': task '" + task.name + "' " + all);
}

// Appends what a task (or, with `hook` set, a hook around it) logged to a unit's logs, which

}  // namespace

std::string Engine::unfinished_step_hint(const Run& run, const workflow::Step& def,
                                         const std::string& message) const {
    static const std::string kMissing = "'dict object' has no attribute '";
    size_t at = message.find(kMissing);
    if (at == std::string::npos) return "";
    size_t start = at + kMissing.size(), end = message.find('\'', start);
    if (end == std::string::npos) return "";
    std::string name = message.substr(start, end - start);
    if (name == def.id || dict_get(run.steps_view, name) || !run.wf->find_step(name)) return "";
    return " (step '" + name + "' has not finished when step '" + def.id +
           "' runs: a step read through a variable key, such as steps[name], is not seen as a "
           "dependency; add needs: [" +
           name + "])";
}

namespace {

// The string leaves of an expression tree (a step's `with`, the workflow's `outputs`), at
// most `budget` of them: a hint is not worth a walk of a huge literal per failed item.
void each_text(const tmpl::Value& v, size_t& budget,
               const std::function<void(const std::string&)>& f) {
    if (budget == 0) return;
    if (v.is_string()) {
        --budget;
        f(std::string(v.str()));
    } else if (v.is_dict()) {
        for (const auto& [key, item] : v.dict_obj().items())
            each_text(item, budget, f);
    } else if (v.is_list()) {
        for (const tmpl::Value& item : v.list_obj().items)
            each_text(item, budget, f);
    }
}

}  // namespace

std::string Engine::null_output_hint(const Run& run, const tmpl::Value& source,
                                     const std::string& message) const {
    // What Jinja2 says of a field of null, of iterating it, and what for_each says of it.
    if (message.find("'None' has no attribute '") == std::string::npos &&
        message.find("'NoneType' object") == std::string::npos &&
        message.find("must give a list, got null") == std::string::npos)
        return "";
    std::vector<std::string> named;
    size_t budget = 256;
    each_text(source, budget, [&](const std::string& text) {
        auto ids = workflow::referenced_steps(text, {});
        if (!ids) return;
        for (const std::string& id : ids.value())
            if (std::find(named.begin(), named.end(), id) == named.end()) named.push_back(id);
    });
    std::string hint, first;
    for (const std::string& id : named) {
        const tmpl::Value* view = dict_get(run.steps_view, id);
        const tmpl::Value* status = view ? dict_get(*view, "status") : nullptr;
        const tmpl::Value* output = view ? dict_get(*view, "output") : nullptr;
        if (!status || !status->is_string() || status->str() == "succeeded" || !output ||
            !output->is_none())
            continue;
        std::string why = dict_text(*view, "reason");
        if (!why.empty()) why = ": " + why;
        std::string verb = status->str() == "failed" ? "" : "was ";
        hint += std::string(hint.empty() ? "" : "; ") + "step '" + id + "' has no output: it " +
                verb + std::string(status->str()) + why;
        if (first.empty()) first = id;
    }
    if (hint.empty()) return "";
    return " (" + hint + "; `| default(...)` gives a value in that case, or test steps." + first +
           ".status first)";
}

tmpl::Value Engine::invocation_scope(const Run& run, const Unit& unit) const {
    tmpl::Value ctx = step_scope(run, run.wf->steps[unit.step_index]);
    if (unit.item_index < 0) return ctx;
    // item and index are visible to this invocation only.
    tmpl::Value scoped = tmpl::Value::dict();
    scoped.dict_obj().assign(ctx.dict_obj().items());
    scoped.dict_obj().set(str("item"), unit.item);
    scoped.dict_obj().set(str("index"), tmpl::Value::integer(unit.item_index));
    return scoped;
}

bool Engine::restore_hidden_headers(const Run& run, Unit& unit) {
    const tmpl::Value* recorded = dict_get(unit.input, "headers");
    if (!recorded || !credential_header_redacted(*recorded)) return true;
    const workflow::Step& def = run.wf->steps[unit.step_index];
    if (!def.with.is_dict()) return false;
    const TaskDef* task = catalog_.find(def.task, def.provider);
    Result<tmpl::Value> fresh =
        expressions_.evaluate_tree(def.with, invocation_scope(run, unit),
                                   "step '" + def.id + "' with", task ? &task->raw_paths : nullptr);
    const tmpl::Value* written = fresh ? dict_get(fresh.value(), "headers") : nullptr;
    if (!written || !written->is_dict()) return false;
    tmpl::Value headers = tmpl::Value::dict();
    for (const auto& [name, value] : recorded->dict_obj().items()) {
        if (!hidden_credential_header(name, value)) {
            headers.dict_obj().set(name, value);
            continue;
        }
        // The step's `with:` gives it (a hook that added it would have to run again).
        const tmpl::Value* again = written->dict_obj().find(name.str());
        if (!again) return false;
        headers.dict_obj().set(name, *again);
    }
    tmpl::Value input = tmpl::Value::dict();
    input.dict_obj().assign(unit.input.dict_obj().items());
    input.dict_obj().set(str("headers"), std::move(headers));
    unit.input = std::move(input);
    return true;
}

tmpl::Value Engine::step_scope(const Run& run, const workflow::Step& def) const {
    if (def.event_step.empty()) return run.context;
    // An on_step step reports on the step it follows: `event` is that step's view.
    tmpl::Value event = dict_of({{"step", str(def.event_step)}});
    if (const tmpl::Value* view = dict_get(run.steps_view, def.event_step); view && view->is_dict())
        for (const auto& [k, v] : view->dict_obj().items())
            event.dict_obj().set(k, v);
    tmpl::Value scoped = tmpl::Value::dict();
    scoped.dict_obj().assign(run.context.dict_obj().items());
    scoped.dict_obj().set(str("event"), std::move(event));
    return scoped;
}

void Engine::start_unit(Run& run, Unit& unit) {
    const workflow::Step& def = run.wf->steps[unit.step_index];
    if (unit.started_ms == 0) unit.started_ms = now_unix_ms();
    if (unit.attempt == 0 && !unit.input_ready && !run.resumed.empty()) {
        auto rec = run.resumed.find(unit.key);
        if (rec != run.resumed.end()) {
            const tmpl::Value& r = rec->second;
            std::string status = dict_get(r, "status") ? tmpl::to_str(*dict_get(r, "status")) : "";
            auto field = [&](const char* k) {
                const tmpl::Value* v = dict_get(r, k);
                return v ? *v : tmpl::Value::none();
            };
            auto time_ms = [&](const char* k) { return record_time_ms(r, k); };
            if (status == "succeeded" || status == "failed" || status == "skipped" ||
                status == "cancelled") {
                // A for_each item (or an approval a failure ended) that finished before the
                // crash: keep its result, and its records as they are (they hold its input,
                // times, logs and attempts).
                unit.status = status;
                // Its times too: its step's record begins with its first item.
                if (uint64_t started = time_ms("started_at")) unit.started_ms = started;
                if (uint64_t finished = time_ms("finished_at")) unit.finished_ms = finished;
                unit.output = field("output");
                unit.error = field("error");
                unit.attempt = int(field("attempt").is_int() ? field("attempt").as_int() : 0);
                if (const tmpl::Value* in = dict_get(r, "input"); in && !in->is_none()) {
                    unit.input = *in;
                    unit.input_ready = true;
                }
                settle_unit(run, unit, /*eager=*/false, /*already_durable=*/true);
                return;
            }
            // Interrupted: run again with the same input and idempotency key. A credential
            // header the record hides ("[REDACTED]" is not the value to send) is taken from
            // the step's `with:` again; one only a before_step hook gave means evaluating the
            // whole input again, hook included.
            unit.attempt = int(field("attempt").is_int() ? field("attempt").as_int() : 0);
            if (const tmpl::Value* in = dict_get(r, "input"); in && !in->is_none()) {
                unit.input = *in;
                unit.input_ready = restore_hidden_headers(run, unit);
            }
            // What the stopped process's attempts remembered (ctx.remember), for this one.
            if (const tmpl::Value* memo = dict_get(r, "memo"); memo && memo->is_dict())
                unit.memo = std::make_unique<std::string>(to_json_text(*memo));
            if (const tmpl::Value* child = dict_get(r, "child_execution");
                child && child->is_string())
                unit.child_execution = std::string(child->str());
            if (const tmpl::Value* t = dict_get(r, "child_timed_out"); t && t->is_bool())
                unit.child_timed_out = t->as_bool();
            if (const tmpl::Value* d = dict_get(r, "wait_deadline_ms"); d && d->is_int())
                unit.wait_deadline_ms = uint64_t(d->as_int());
            if (status == "waiting" && def.task == "approval" && unit.attempt > 0 &&
                unit.input_ready) {
                // A durable wait, not an interrupted attempt: waiting again at once, from its
                // record (same attempt, same deadline), so a decision sent right after the
                // restart finds the step waiting, and the history gains no attempt.
                if (uint64_t started = time_ms("started_at")) unit.started_ms = started;
                unit.attempt_started_ms = time_ms("waiting_since");
                park_approval(run, unit, false);
                return;
            }
            if (def.task == "workflow" && status == "running" && unit.attempt > 0 &&
                unit.input_ready && !unit.child_execution.empty() && !unit.child_timed_out) {
                // Taken up again with the child it started, which goes on where it stopped:
                // the same attempt, not an interrupted one (the child's own steps record
                // what was interrupted). A child waiting for a decision gained one at every
                // restart and every CLI decision.
                if (uint64_t started = time_ms("started_at")) unit.started_ms = started;
                unit.attempt_started_ms = time_ms("attempt_started_at");
                unit.status = "running";
                store_.after_commit([this, ref = run.ref, up = &unit] {
                    if (Run* r = find_run(ref)) invoke_unit(*r, *up);
                });
                loop_.wake();
                return;
            }
            unit.interrupted = unit.attempt > 0;
            if (unit.interrupted) unit.resumed_at_ms = uint64_t(now_unix_ms());
            if (const uint64_t retry_at = time_ms("retry_at");
                status == "retrying" && unit.attempt > 0 && unit.input_ready &&
                retry_at > now_unix_ms()) {
                // Waiting to retry when the process stopped: the wait goes on (a vendor's
                // Retry-After among the reasons for it), it does not restart at once. The
                // failed attempt's result stays the step's, should the wait end in a stop
                // (another step failing, a cancel) rather than in a retry.
                if (const tmpl::Value* e = dict_get(r, "error")) unit.error = *e;
                if (const tmpl::Value* l = dict_get(r, "logs"); l && l->is_list()) unit.logs = *l;
                if (const tmpl::Value* d = dict_get(r, "duration_ms"); d && d->is_number())
                    unit.duration_ms = d->as_float();
                if (uint64_t started = time_ms("started_at")) unit.started_ms = started;
                arm_retry(run, unit, retry_at);
                return;
            }
            // A step waiting to retry had its last attempt end (and recorded): only an
            // attempt that was running is interrupted.
            if (unit.attempt > 0 && status != "retrying") {
                unit.interrupted_attempt_started_ms = time_ms("attempt_started_at");
                const tmpl::Value* started = dict_get(r, "attempt_started_at");
                store_.put_attempt(
                    run.id, unit.key, uint32_t(unit.attempt),
                    to_json_text(dict_of(
                        {{"attempt", tmpl::Value::integer(unit.attempt)},
                         {"status", str("interrupted")},
                         {"started_at", started ? *started : tmpl::Value::none()},
                         {"input", field("input")},  // as recorded: credentials hidden
                         {"error", dict_of({{"kind", str("cancelled")},
                                            {"message",
                                             str("the process stopped during this attempt")}})}})));
            }
        }
    }
    if (!unit.input_ready) {
        tmpl::Value ctx = invocation_scope(run, unit);
        const TaskDef* task = catalog_.find(def.task, def.provider);
        StepState& step_state = run.steps[unit.step_index];
        if (step_state.expressions_ran_away) {
            unit.status = "failed";
            unit.error = error_value(make_error(
                ErrorKind::Limit,
                "step '" + def.id + "' with: not evaluated: an earlier item's took the whole " +
                    std::to_string(kMaxRenderMs / 1000) +
                    " s render limit (a runaway template?), and each item would block the "
                    "server as long"));
            settle_unit(run, unit);
            return;
        }
        const auto began = std::chrono::steady_clock::now();
        Result<tmpl::Value> input = expressions_.evaluate_tree(
            def.with.is_dict() ? def.with : tmpl::Value::dict(), ctx, "step '" + def.id + "' with",
            task ? &task->raw_paths : nullptr);
        // Templates run on the loop: a for_each of N runaway items blocked every request
        // for N times the render limit.
        if (unit.item_index >= 0 &&
            std::chrono::steady_clock::now() - began >= std::chrono::milliseconds(kMaxRenderMs))
            step_state.expressions_ran_away = true;
        if (!input) {
            Error e = input.error();
            e.message += unfinished_step_hint(run, def, e.message) +
                         null_output_hint(run, def.with, e.message);
            unit.status = "failed";
            unit.error = error_value(e);
            settle_unit(run, unit);
            return;
        }
        unit.input = input.value();
        if (unit.item_index >= 0) {
            JsonFitNotes fit;
            if (json_fit(unit.input, step_state.item_input_bytes_left, &fit) ==
                JsonFit::too_large) {
                unit.status = "failed";
                unit.error = error_value(make_error(
                    ErrorKind::Limit,
                    "step '" + def.id + "' with: the items' inputs together pass " +
                        std::to_string(kMaxForEachInputBytes >> 20) + " MiB as JSON at item " +
                        std::to_string(unit.item_index) +
                        " (each is recorded and held while the execution runs): give each item "
                        "what it needs of a large value, not all of it"));
                settle_unit(run, unit);
                return;
            }
            step_state.item_input_bytes_left -= fit.bytes;
        }
        if (task) {
            Status valid = apply_schema(*task, def.id, unit.input);
            if (!valid) {
                unit.status = "failed";
                unit.error = error_value(valid.error());
                settle_unit(run, unit);
                return;
            }
        }
        unit.input_ready = true;
        // template.render without vars renders over the expression context itself, with the
        // inputs also at the top level: a template written for `ferry render` (`{{ title }}`)
        // renders the same from a workflow whose inputs carry those names. The context's own
        // names (inputs, vars, steps, execution, item, index) win over an input's.
        if (def.task == "template.render" && unit.input.is_dict() &&
            !dict_get(unit.input, "vars")) {
            tmpl::Value vars = tmpl::Value::dict();
            if (const tmpl::Value* in = dict_get(ctx, "inputs"); in && in->is_dict())
                for (const auto& [key, value] : in->dict_obj().items())
                    vars.dict_obj().set(key, value);
            if (ctx.is_dict())
                for (const auto& [key, value] : ctx.dict_obj().items())
                    vars.dict_obj().set(key, value);
            unit.input.dict_obj().set(str("vars"), vars);
        }
        if (!run.wf->hooks.before_step.empty()) {
            tmpl::Value event = dict_of({{"step", str(def.id)},
                                         {"unit", str(unit.key)},
                                         {"task", str(def.task)},
                                         {"provider", str(def.provider)},
                                         {"input", unit.input},
                                         {"item", unit.item}});
            const RunRef ref = run.ref;
            size_t uidx = size_t(std::find_if(run.units.begin(), run.units.end(),
                                              [&](const auto& u) { return u.get() == &unit; }) -
                                 run.units.begin());
            run_hook(
                run, "before_step", event,
                [this, ref, uidx](Result<tmpl::Value> res) {
                    Run* r = find_run(ref);
                    if (!r) return;
                    Unit& u = *r->units[uidx];
                    if (!res) {
                        u.status = r->cancelled ? "cancelled" : "failed";
                        u.error = error_value(res.error());
                        settle_unit(*r, u);
                        return;
                    }
                    const tmpl::Value& ev = res.value();
                    if (const tmpl::Value* veto = dict_get(ev, "veto");
                        veto && tmpl::truthy(*veto)) {
                        const tmpl::Value* reason = dict_get(ev, "reason");
                        u.status = "skipped";
                        u.skip_reason = "vetoed by the before_step hook" +
                                        (reason && reason->is_string()
                                             ? std::string(": ") + std::string(reason->str())
                                             : std::string());
                        // A vetoed handler handled nothing: the failure stays (section 9).
                        if (const StepState& st = r->steps[u.step_index];
                            st.handler && st.triggered)
                            start_failing(*r, failed_into(*r, u.step_index), u.skip_reason);
                        settle_unit(*r, u);
                        return;
                    }
                    if (const tmpl::Value* in = dict_get(ev, "input")) {
                        // What the hook hands the task is held to the task's schema too.
                        u.input = *in;
                        const workflow::Step& sdef = r->wf->steps[u.step_index];
                        const TaskDef* task = catalog_.find(sdef.task, sdef.provider);
                        if (Status valid =
                                task ? apply_schema(*task, sdef.id, u.input) : ok_status();
                            !valid) {
                            u.status = "failed";
                            u.error = error_value(valid.error());
                            settle_unit(*r, u);
                            return;
                        }
                    }
                    if (const tmpl::Value* ann = dict_get(ev, "annotations")) u.annotations = *ann;
                    start_unit(*r, u);
                },
                &unit);
            return;
        }
    }
    ++unit.attempt;
    // (The first attempt's record keeps what came before it too: a before_step hook's.)
    unit.attempt_logs_from =
        unit.attempt > 1 && unit.logs.is_sequence() ? unit.logs.list_obj().items.size() : 0;
    unit.status = "running";
    unit.attempt_started_ms = now_unix_ms();
    // The step record says which attempt runs, with its input and idempotency key; the
    // attempt's own record is written when it ends (resume writes it as "interrupted" if
    // the process dies first), not duplicated at its start. A pure task started at once
    // needs none: its result is staged before the commit its start would have joined (and
    // would overwrite it there), and if the process dies first, resume runs it again as it
    // would an interrupted one, which for a task without effects is the same.
    const bool early = starts_early(run, unit);
    if (!early) persist_unit(run, unit, false);
    emit(run, "step.started", unit.key, "running", {}, 0, unit.attempt);
    const RunRef ref = run.ref;
    Unit* up = &unit;
    if (early) {
        early_starts_.emplace_back(ref, up);
        loop_.wake();
        return;
    }
    // The task starts only once its "running" record (and idempotency key) is durable.
    store_.after_commit([this, ref, up] {
        if (Run* r = find_run(ref)) invoke_unit(*r, *up);
    });
    loop_.wake();
}

bool Engine::starts_early(const Run& run, const Unit& unit) const {
    const workflow::Step& def = run.wf->steps[unit.step_index];
    const TaskDef* task = catalog_.find(def.task, def.provider);
    return task && task->pure;
}

void Engine::run_early_starts(size_t max_units) {
    // A pure step's dependents that are pure start from its settling, so a chain of them
    // runs here round by round; bounded, so that a long chain does not keep the commit (and
    // every other execution's callbacks) waiting: what is left runs next iteration.
    constexpr int kMaxRounds = 8;
    for (int round = 0; round < kMaxRounds && !early_starts_.empty() && max_units > 0; ++round) {
        std::vector<std::pair<RunRef, Unit*>> starts;
        if (early_starts_.size() <= max_units) {
            starts = std::move(early_starts_);
            early_starts_.clear();
        } else {  // the first ones now, the rest stay queued in order
            starts.assign(early_starts_.begin(), early_starts_.begin() + ptrdiff_t(max_units));
            early_starts_.erase(early_starts_.begin(),
                                early_starts_.begin() + ptrdiff_t(max_units));
        }
        max_units -= starts.size();
        for (auto& [ref, up] : starts)
            if (Run* run = find_run(ref)) invoke_unit(*run, *up);  // it handles a cancelled run
        // Their Lua runs now: what they stage joins the next commit handed out.
        scheduler_.run_ready();
    }
    if (!early_starts_.empty()) loop_.wake();
}

}  // namespace ferry::engine
