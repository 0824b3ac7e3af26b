// One invocation of a step from start to settlement: inputs, retries, logs, results. The
// task, hooks and sub-workflows run in invocations.cpp.
#include "core/executor.h"

#include "core/run_state.h"
#include "runtime/duration.h"
#include "runtime/ids.h"
#include "runtime/integration/secrets.h"
#include "runtime/timestamp.h"
#include "workflow/loader.h"

#include <algorithm>
#include <chrono>
#include <random>

namespace ferry::engine {

namespace {

// A dead letter's request with its credential headers shown as [REDACTED] whatever their
// value, as everywhere (the integration adds its own again on replay).
tmpl::Value credential_headers_redacted(const tmpl::Value& request) {
    const tmpl::Value* headers = request.is_dict() ? request.dict_obj().find("headers") : nullptr;
    if (!headers || !headers->is_dict()) return request;
    tmpl::Value scrubbed = tmpl::Value::dict();
    for (const auto& [name, value] : headers->dict_obj().items())
        scrubbed.dict_obj().set(name, name.is_string() && is_credential_header(name.str())
                                          ? tmpl::Value::string(std::string(kRedacted))
                                          : value);
    tmpl::Value copy = tmpl::Value::dict();
    copy.dict_obj().assign(request.dict_obj().items());
    copy.dict_obj().set(tmpl::Value::string("headers"), scrubbed);
    return copy;
}

tmpl::Value error_value(const Error& e, const std::string& traceback = {}) {
    tmpl::Value v =
        dict_of({{"kind", str(std::string(to_string(e.kind)))}, {"message", str(e.message)}});
    if (e.location && !e.location->file.empty()) {
        v.dict_obj().set(str("file"), str(e.location->file));
        v.dict_obj().set(str("line"), tmpl::Value::integer(e.location->line));
    }
    if (!traceback.empty()) v.dict_obj().set(str("traceback"), str(traceback));
    return v;
}

// Exponential backoff with full jitter on the upper half, capped.
uint64_t backoff_ms(const workflow::RetryPolicy& p, int attempt) {
    uint64_t delay = p.initial_delay_ms;
    if (p.backoff == "exponential") {
        for (int i = 1; i < attempt && delay < p.max_delay_ms; ++i)
            delay *= 2;
    }
    delay = std::min(delay, p.max_delay_ms);
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    uint64_t half = delay / 2;
    return half + (half ? rng() % (half + 1) : 0);
}

// The wait before a failed attempt's retry: the policy's backoff, or longer when the last
// answer the task got said when to come back (Retry-After: a 503 to a create, say), at
// most an hour of it (a vendor's "come back next week" is not a wait for a step retry).
uint64_t retry_delay_ms(const workflow::RetryPolicy& p, int attempt, const TaskOutcome& failed) {
    constexpr uint64_t kMaxPeerWaitMs = 3'600'000;
    uint64_t delay = backoff_ms(p, attempt);
    const uint64_t now = now_unix_ms();
    if (failed.retry_not_before_ms > now)
        delay = std::max(delay, std::min(failed.retry_not_before_ms - now, kMaxPeerWaitMs));
    return delay;
}

// A task's declared input schema applied to a step's resolved input: defaults filled in,
// required inputs present, types and enums as declared ("any" or no type accepts anything).
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
    std::string problems;
    for (const auto& [key, spec] : task.input.dict_obj().items()) {
        if (!key.is_string() || !spec.is_dict()) continue;
        std::string name(key.str());
        const tmpl::Value* v = input.dict_obj().find(name);
        auto note = [&](const std::string& what) {
            problems += (problems.empty() ? "" : "; ") + ("input '" + name + "' " + what);
        };
        if (!v || v->is_none()) {
            if (const tmpl::Value* d = dict_get(spec, "default")) {
                input.dict_obj().set(str(name), *d);
            } else if (const tmpl::Value* r = dict_get(spec, "required"); r && tmpl::truthy(*r)) {
                // A null (a skipped step's output, say) counts as not given: say which it was.
                note(v ? "is required, and it is null" : "is required");
            }
            continue;
        }
        const tmpl::Value* type = dict_get(spec, "type");
        std::string t = type && type->is_string() ? std::string(type->str()) : "any";
        if (!workflow::detail::type_matches(t, *v)) {
            note("must be " + workflow::detail::article_type(t) + ", got " +
                 workflow::detail::describe_value(*v));
            continue;
        }
        if (const tmpl::Value* format = dict_get(spec, "format");
            format && format->is_string() && format->str() == "duration" && v->is_string()) {
            if (Result<uint64_t> ms = parse_duration_ms(v->str()); !ms) {
                problems += (problems.empty() ? "" : "; ") +
                            ("input '" + name + "': " + ms.error().message);
                continue;
            }
        }
        if (const tmpl::Value* choices = dict_get(spec, "enum");
            choices && choices->is_sequence()) {
            bool found = false;
            for (const tmpl::Value& c : choices->list_obj().items)
                found = found || tmpl::equals(c, *v);
            if (!found) {
                note("must be one of " +
                     workflow::detail::describe_values(choices->list_obj().items) + "; got " +
                     workflow::detail::describe_value(*v));
            }
        }
    }
    if (problems.empty()) return ok_status();
    return make_error(ErrorKind::Validation,
                      "step '" + step + "': task '" + task.name + "' " + problems);
}

// Appends what a task (or, with `hook` set, a hook around it) logged to a unit's logs, which
// stay undefined until the first entry.
void append_logs(tmpl::Value& to, const std::vector<TaskLogEntry>& logs, const std::string& hook) {
    for (const TaskLogEntry& l : logs) {
        tmpl::Value entry = dict_of(
            {{"level", str(l.level)}, {"message", str(l.message)}, {"at", str(rfc3339(l.at_ms))}});
        if (!hook.empty()) entry.dict_obj().set(str("hook"), str(hook));
        if (!l.fields.empty()) entry.dict_obj().set(str("fields"), tmpl::value_from_json(l.fields));
        if (!to.is_sequence()) to = tmpl::Value::list();
        to.list_obj().items.push_back(entry);
    }
}

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

void Engine::keep_hook_logs(const std::string& run_id, const std::string& kind, Unit* unit,
                            const std::vector<TaskLogEntry>& logs) {
    if (logs.empty()) return;
    if (!unit || !find_run(run_id)) {
        for (const TaskLogEntry& l : logs)
            notice(l.level, run_id + " " + kind + " hook [" + l.level + "]: " + redact(l.message),
                   run_id);
        return;
    }
    append_logs(unit->logs, logs, kind);
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
            if (status == "succeeded" || status == "failed" || status == "skipped") {
                // A for_each item that finished before the crash: keep its result, and its
                // records as they are (they hold its input, times, logs and attempts).
                unit.status = status;
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
            // Interrupted: run again with the same input and idempotency key.
            unit.attempt = int(field("attempt").is_int() ? field("attempt").as_int() : 0);
            if (const tmpl::Value* in = dict_get(r, "input"); in && !in->is_none()) {
                unit.input = *in;
                unit.input_ready = true;
            }
            if (const tmpl::Value* child = dict_get(r, "child_execution");
                child && child->is_string())
                unit.child_execution = std::string(child->str());
            if (const tmpl::Value* t = dict_get(r, "child_timed_out"); t && t->is_bool())
                unit.child_timed_out = t->as_bool();
            if (const tmpl::Value* d = dict_get(r, "wait_deadline_ms"); d && d->is_int())
                unit.wait_deadline_ms = uint64_t(d->as_int());
            // A time the record keeps, as unix ms (0: none).
            auto time_ms = [&](const char* k) -> uint64_t {
                const tmpl::Value* v = dict_get(r, k);
                if (!v || !v->is_string()) return 0;
                Result<int64_t> ms = parse_rfc3339_ms(v->str());
                return ms && ms.value() > 0 ? uint64_t(ms.value()) : 0;
            };
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
            unit.interrupted = unit.attempt > 0;
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
                         {"input", unit.input},
                         {"error", dict_of({{"kind", str("cancelled")},
                                            {"message",
                                             str("the process stopped during this attempt")}})}})));
            }
        }
    }
    if (!unit.input_ready) {
        tmpl::Value ctx = step_scope(run, def);
        if (unit.item_index >= 0) {
            // item and index are visible to this invocation only.
            tmpl::Value scoped = tmpl::Value::dict();
            scoped.dict_obj().assign(ctx.dict_obj().items());
            scoped.dict_obj().set(str("item"), unit.item);
            scoped.dict_obj().set(str("index"), tmpl::Value::integer(unit.item_index));
            ctx = scoped;
        }
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
            e.message += unfinished_step_hint(run, def, e.message);
            unit.status = "failed";
            unit.error = error_value(e);
            settle_unit(run, unit);
            return;
        }
        unit.input = input.value();
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

void Engine::unit_finished(Run& run, Unit& unit, TaskOutcome outcome) {
    const workflow::Step& def = run.wf->steps[unit.step_index];
    unit.task = nullptr;
    unit.duration_ms = outcome.duration_ms;
    // What runs outside the scheduler (a sub-workflow) has no task to time: the attempt's
    // own start is the measure (it said 0 ms for a child that took a second).
    const uint64_t now = now_unix_ms();
    if (unit.duration_ms <= 0 && unit.attempt_started_ms && now > unit.attempt_started_ms)
        unit.duration_ms = double(now - unit.attempt_started_ms);
    const bool dry_run = is_dry_run(run, def);
    if (outcome.dry_run_stop && !dry_run) {
        // error({kind = "dry_run"}) is how ctx.http stops a dry run; raised by a task in a
        // real run it would record a success that sent nothing.
        outcome.dry_run_stop = false;
        outcome.error.kind = ErrorKind::LuaError;
        outcome.error.message = "the task stopped as a dry run, but the step is not one (" +
                                outcome.error.message + ")";
    }
    // A dry run keeps no dead letters (integrations.md): `ferry dlq replay` would send what
    // the dry run held back, with the integration's real credentials.
    if (dry_run) {
        auto kept = std::remove_if(outcome.records.begin(), outcome.records.end(),
                                   [](const TaskRecord& r) { return r.kind == "dead_letter"; });
        if (kept != outcome.records.end())
            outcome.logs.push_back({"info",
                                    "dry run: " + std::to_string(outcome.records.end() - kept) +
                                        " dead letter(s) not kept",
                                    {},
                                    now});
        outcome.records.erase(kept, outcome.records.end());
    }
    append_logs(unit.logs, outcome.logs, "");
    for (const TaskChange& c : outcome.changes) {
        // Without its patch: the store derives it from before and after when the change is
        // read (store::change_with_patch), so a created resource is stored once, not twice.
        store_.add_change(run.id, "{\"step\":" + to_json_text(str(unit.key)) +
                                      ",\"kind\":" + to_json_text(str(c.kind)) +
                                      ",\"id\":" + to_json_text(str(c.id)) +
                                      ",\"at\":" + to_json_text(str(rfc3339(now_unix_ms()))) +
                                      ",\"before\":" + json_text(c.before) +
                                      ",\"after\":" + json_text(c.after) + "}");
    }
    for (TaskRecord& r : outcome.records) {
        if (r.kind == "http") {
            if (!unit.http)
                unit.http = std::make_unique<std::string>(std::move(r.json));
            else
                unit.http->append(",").append(r.json);
        } else if (r.kind == "dead_letter") {
            tmpl::Value entry = tmpl::value_from_json(r.json);
            std::string id = new_ulid();
            if (entry.is_dict()) {
                auto& d = entry.dict_obj();
                if (const tmpl::Value* request = d.find("request"))
                    d.set(str("request"), credential_headers_redacted(*request));
                d.set(str("id"), str(id));
                d.set(str("execution_id"), str(run.id));
                d.set(str("workflow"), str(run.wf->name));
                d.set(str("step"), str(unit.key));
                d.set(str("created_at"), str(rfc3339(now_unix_ms())));
            }
            store_.put_dlq(id, to_json_text(entry));
        }
    }
    if (outcome.ok || outcome.dry_run_stop) {
        unit.status = "succeeded";
        if (outcome.dry_run_stop) {
            unit.output = dict_of({{"dry_run", tmpl::Value::boolean(true)},
                                   {"request", from_rapidjson(outcome.error_data)}});
        } else {
            unit.output = from_rapidjson(outcome.value);
        }
        unit.error = tmpl::Value::none();
    } else {
        unit.status = run.cancelled ? "cancelled" : "failed";
        unit.error = error_value(outcome.error, outcome.traceback);
        int max_attempts = def.retry ? def.retry->max_attempts : 1;
        if (outcome.error.retryable() && !outcome.final_failure && unit.attempt < max_attempts &&
            !run.failing) {
            persist_unit(run, unit, true);  // the failed attempt, on record
            // The step is not over: a process that dies during the backoff must find it
            // unfinished and retry it (recorded as "failed", resume ended the execution).
            uint64_t delay = retry_delay_ms(*def.retry, unit.attempt, outcome);
            arm_retry(run, unit, now_unix_ms() + delay);
            persist_unit(run, unit, false);  // with retry_at: a restart keeps the wait
            emit(run, "step.retrying", unit.key, "retrying", outcome.error.message,
                 outcome.duration_ms, unit.attempt, delay);
            return;
        }
    }
    if (!run.wf->hooks.after_step.empty()) {
        tmpl::Value event = dict_of({{"step", str(def.id)},
                                     {"unit", str(unit.key)},
                                     {"task", str(def.task)},
                                     {"status", str(unit.status)},
                                     {"input", unit.input},
                                     {"output", unit.output},
                                     {"error", unit.error}});
        Unit* up = &unit;
        run_hook(
            run, "after_step", event,
            [this, ref = run.ref, up](Result<tmpl::Value> res) {
                Run* r = find_run(ref);
                if (!r) return;
                if (!res) {
                    up->status = r->cancelled ? "cancelled" : "failed";
                    up->error = error_value(res.error());
                } else {
                    if (const tmpl::Value* out = dict_get(res.value(), "output")) up->output = *out;
                    if (const tmpl::Value* ann = dict_get(res.value(), "annotations"))
                        up->annotations = *ann;
                }
                settle_unit(*r, *up, settles_eagerly(*r));
            },
            up);
        return;
    }
    settle_unit(run, unit, settles_eagerly(run));
}

void Engine::arm_retry(Run& run, Unit& unit, uint64_t retry_at_ms) {
    unit.status = "retrying";
    unit.retry_at_ms = retry_at_ms;
    const uint64_t now = now_unix_ms();
    Unit* up = &unit;
    // Stopped (reset) if the run fails or is cancelled first: stop_pending_retries.
    unit.retry_timer =
        loop_.timer(retry_at_ms > now ? retry_at_ms - now : 0, [this, ref = run.ref, up] {
            if (Run* r = find_run(ref)) start_unit(*r, *up);
        });
}

void Engine::settle_unit(Run& run, Unit& unit, bool eager, bool already_durable) {
    if (!already_durable) {
        unit.finished_ms = now_unix_ms();
        persist_unit(run, unit, unit.attempt > 0 && unit.status != "skipped", /*settled=*/true);
        // A result read back from its record (a for_each item that finished before a crash)
        // was announced when it happened: `ferry resume` printed such items as if they ran.
        emit_settled(run, unit);
    }
    recheck_waiting(run);
    if (eager) {
        // The result and whatever it lets start (the dependents' "running" records) go into
        // the same commit; their tasks start from after_commit callbacks, so still only once
        // this result is durable. One commit per step instead of two.
        unit_settled(run, unit);
        return;
    }
    Unit* up = &unit;
    // Dependents start only once this result is durable.
    store_.after_commit([this, ref = run.ref, up] {
        if (Run* r = find_run(ref)) unit_settled(*r, *up);
    });
    loop_.wake();
}

void Engine::unit_settled(Run& run, Unit& u) {
    StepState& st = run.steps[u.step_index];
    const workflow::Step& def = run.wf->steps[u.step_index];
    --st.running;
    --run.in_flight;
    ++st.settled;
    if (!st.fan_out) {
        // A settled unit ends in one of the step's words (succeeded, failed, skipped...).
        st.status = parse_step_status(u.status).value_or(StepStatus::Failed);
        st.output = u.output;
        st.error = u.error;
        st.reason = u.skip_reason;
    } else {
        // With on_error: fail, one failed item is enough: no new items start.
        if (u.status == "failed" && def.on_error == "fail") st.stop_items = true;
        size_t limit = def.concurrency > 0 ? size_t(def.concurrency) : st.units.size();
        while (st.next_unit < st.units.size() && st.running < limit && !run.failing &&
               !st.stop_items) {
            Unit& next = *run.units[st.units[st.next_unit++]];
            ++st.running;
            ++run.in_flight;
            start_unit(run, next);
        }
        if (st.settled < st.units.size() && !((run.failing || st.stop_items) && st.running == 0))
            return;
        // All items done (or the execution is failing and nothing runs): items never
        // started are cancelled, saying why; the output is the list of item outputs, in
        // item order.
        const char* why_not_run = st.stop_items ? "another item failed before this one could run"
                                  : run.cancelled
                                      ? "the execution was cancelled before this item could run"
                                      : "the execution failed before this item could run";
        for (size_t ui : st.units) {
            Unit& item = *run.units[ui];
            if (item.status == "pending") {
                item.status = "cancelled";
                item.skip_reason = why_not_run;
                persist_unit(run, item, false);
            }
        }
        std::vector<tmpl::Value> outputs;
        std::string failed_items;
        tmpl::Value first_error;
        bool cancelled_items = false;
        for (size_t ui : st.units) {
            const Unit& item = *run.units[ui];
            outputs.push_back(item.status == "succeeded" ? item.output : tmpl::Value::none());
            cancelled_items = cancelled_items || item.status == "cancelled";
            if (item.status == "failed") {
                failed_items += failed_items.empty() ? std::to_string(item.item_index)
                                                     : ", " + std::to_string(item.item_index);
                if (first_error.is_undefined()) first_error = item.error;
            }
        }
        st.output = tmpl::Value::list(std::move(outputs));
        const bool several = failed_items.find(',') != std::string::npos;
        st.reason.clear();
        if (failed_items.empty() && cancelled_items) {
            // Not all of its work was done: the step did not succeed, whatever its items
            // that ran returned (a fan-out that opened one ticket of four).
            st.status = StepStatus::Cancelled;
            st.error = tmpl::Value::none();
            st.reason = run.cancelled ? "the execution was cancelled before all items ran"
                                      : "the execution failed before all items ran";
        } else if (failed_items.empty()) {
            st.status = StepStatus::Succeeded;
            st.error = tmpl::Value::none();
        } else {
            st.status = StepStatus::Failed;
            const tmpl::Value* m = dict_get(first_error, "message");
            st.error =
                dict_of({{"kind", dict_get(first_error, "kind") ? *dict_get(first_error, "kind")
                                                                : str("lua_error")},
                         {"message", str((several ? "items " : "item ") + failed_items + " failed" +
                                         (m ? ": " + tmpl::to_str(*m) : ""))}});
        }
        Unit aggregate;
        aggregate.step_index = u.step_index;
        aggregate.key = def.id;
        aggregate.status = step_status_name(st.status);
        aggregate.output = st.output;
        aggregate.error = st.error;
        aggregate.skip_reason = st.reason;
        aggregate.started_ms = st.started_ms;
        aggregate.finished_ms = now_unix_ms();
        aggregate.duration_ms =
            aggregate.started_ms ? double(aggregate.finished_ms - aggregate.started_ms) : 0;
        persist_unit(run, aggregate, false);
        // Live listeners hear of the step's end too, as its recorded history tells it.
        emit_settled(run, aggregate, /*for_each_summary=*/true);
    }
    st.finished_ms = now_unix_ms();
    step_settled(run, u.step_index);
    schedule(run);
}

}  // namespace ferry::engine
