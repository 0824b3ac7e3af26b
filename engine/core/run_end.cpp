// How an execution ends: the failure that decides it, the steps it never ran, its
// outputs, the on_failure hook, and the final record.
#include "core/executor.h"
#include "core/history.h"
#include "core/run_state.h"
#include "core/values.h"

#include <optional>

namespace ferry::engine {

uint64_t record_time_ms(const tmpl::Value& record, const char* field) {
    const tmpl::Value* v = dict_get(record, field);
    if (!v || !v->is_string()) return 0;
    Result<int64_t> ms = parse_rfc3339_ms(v->str());
    return ms && ms.value() > 0 ? uint64_t(ms.value()) : 0;
}

namespace {

// Whether a resumed record is of a unit the stopped process had started and not finished.
bool started_unfinished(const tmpl::Value& record) {
    const tmpl::Value* status = dict_get(record, "status");
    const tmpl::Value* attempt = dict_get(record, "attempt");
    if (!status || !status->is_string() || !attempt || !attempt->is_int() || attempt->as_int() < 1)
        return false;
    std::string_view s = status->str();
    return s == "running" || s == "retrying" || s == "waiting";
}

}  // namespace

void Engine::end_interrupted_unit(Run& run, size_t step_index, const std::string& key,
                                  const tmpl::Value& record, const std::string& reason) {
    auto unit = std::make_unique<Unit>();
    unit->step_index = step_index;
    unit->key = key;
    if (const tmpl::Value* i = dict_get(record, "item_index"); i && i->is_int())
        unit->item_index = int(i->as_int());
    if (const tmpl::Value* item = dict_get(record, "item")) unit->item = *item;
    if (const tmpl::Value* in = dict_get(record, "input"); in && !in->is_none()) {
        unit->input = *in;
        unit->input_ready = true;
    }
    unit->attempt = int(dict_get(record, "attempt")->as_int());
    unit->started_ms = record_time_ms(record, "started_at");
    unit->finished_ms = now_unix_ms();
    if (unit->started_ms && unit->finished_ms > unit->started_ms)
        unit->duration_ms = double(unit->finished_ms - unit->started_ms);
    if (const tmpl::Value* l = dict_get(record, "logs"); l && l->is_list()) unit->logs = *l;
    if (const tmpl::Value* c = dict_get(record, "child_execution"); c && c->is_string())
        unit->child_execution = std::string(c->str());
    const std::string status = tmpl::to_str(*dict_get(record, "status"));
    unit->status = "cancelled";
    unit->skip_reason = reason;
    if (status == "retrying") {
        // Its last attempt ended, and was recorded: that attempt's error stays the step's.
        if (const tmpl::Value* e = dict_get(record, "error")) unit->error = *e;
    } else {
        unit->error = error_value(make_error(ErrorKind::Cancelled, reason));
        if (status == "running") {
            // The attempt the process died in, as a resume records it (units.cpp).
            const tmpl::Value* started = dict_get(record, "attempt_started_at");
            store_.put_attempt(
                run.id, key, uint32_t(unit->attempt),
                to_json_text(dict_of(
                    {{"attempt", tmpl::Value::integer(unit->attempt)},
                     {"status", str("interrupted")},
                     {"started_at", started ? *started : tmpl::Value::none()},
                     {"input", unit->input.is_undefined() ? tmpl::Value::none() : unit->input},
                     {"error",
                      dict_of({{"kind", str("cancelled")},
                               {"message", str("the process stopped during this attempt")}})}})));
        }
    }
    run.units.push_back(std::move(unit));
    persist_unit(run, *run.units.back(), false);
}

std::string Engine::failure_step(const Run& run) {
    return dict_text(run.error, "step");
}

size_t Engine::failed_into(const Run& run, size_t handler_index) const {
    const auto& defs = run.wf->steps;
    for (size_t j = 0; j < defs.size(); ++j)
        if (defs[j].on_error == defs[handler_index].id && run.steps[j].status == StepStatus::Failed)
            return j;
    return std::string::npos;
}

void Engine::start_failing(Run& run, size_t failed_step, const std::string& unhandled) {
    if (run.failing || failed_step >= run.steps.size()) return;
    const workflow::Step& def = run.wf->steps[failed_step];
    run.failing = true;
    stop_pending_retries(run, "failed");
    end_pending_decisions(run);
    const tmpl::Value& err = run.steps[failed_step].error;
    const tmpl::Value* kind = dict_get(err, "kind");
    const tmpl::Value* message = dict_get(err, "message");
    tmpl::Value text = message ? *message : str("step failed");
    if (!unhandled.empty())
        text = str(tmpl::to_str(text) + " (its on_error step '" + def.on_error +
                   "' did not run for it: " + unhandled + ")");
    run.error = dict_of(
        {{"kind", kind ? *kind : str("lua_error")}, {"message", text}, {"step", str(def.id)}});
    // The verdict on record from now: a resume goes on failing with the failure that came
    // first, whatever order it reads the steps' records back in.
    persist_execution(run);
    run.woken.add_all();  // a failure may trigger handlers and failure notes
}

void Engine::stop_pending_retries(Run& run, const char* status, size_t only_step) {
    // Retries stop once the execution is failing (workflows.md, section 7): a step waiting
    // for its next attempt ends with the attempt it had, instead of sending it again (and
    // holding the finished execution for the delay, an hour for a long Retry-After).
    std::vector<Unit*> waiting;  // settling may add units
    for (auto& unit : run.units)
        if (unit->status == "retrying" && unit->retry_timer &&
            (only_step == SIZE_MAX || unit->step_index == only_step))
            waiting.push_back(unit.get());
    for (Unit* unit : waiting) {
        unit->retry_timer.reset();
        unit->status = status;
        // The step ends with its last attempt as that attempt's record says: the record was
        // written when it failed, and stays as it was (its end, its status).
        unit->finished_ms = now_unix_ms();
        persist_unit(run, *unit, /*with_attempt=*/false, /*settled=*/true);
        emit_settled(run, *unit);
        settle_unit(run, *unit, false, /*already_durable=*/true);
    }
}

TaskOutcome Engine::stopped_outcome(const Unit& unit, const std::string& reason) const {
    TaskOutcome outcome;
    outcome.error = make_error(ErrorKind::Cancelled, reason);
    outcome.stopped = true;
    // How long it ran (slept, or waited for a decision) until it was stopped: a 0 would
    // drag the step-duration histogram down.
    uint64_t began = unit.attempt_started_ms ? unit.attempt_started_ms : unit.started_ms;
    uint64_t now = now_unix_ms();
    if (began && now > began) outcome.duration_ms = double(now - began);
    return outcome;
}

void Engine::end_pending_decisions(Run& run, size_t only_step) {
    // A parked approval is no running task: once the execution fails, a decision could
    // only start steps that will not run (or, in a sub-workflow, do a side effect for a
    // parent that failed), so it ends cancelled, as a cancel ends it, and a child that
    // waits for decisions is cancelled. From the loop, not from inside the failure being
    // handled: ending a unit settles it and may finish the run.
    const bool one_step = only_step != SIZE_MAX;
    const std::string why = one_step ? "another item failed before a decision"
                                     : "the execution failed before a decision";
    // A child did not fail: its parent did.
    const std::string child_why = one_step
                                      ? "another item of the parent's step failed before a decision"
                                      : "the parent execution failed before a decision";
    for (auto& owned : run.units) {
        Unit* unit = owned.get();
        if (one_step && unit->step_index != only_step) continue;
        Run* child = unit->child_execution.empty() ? nullptr : find_run(unit->child_execution);
        bool parked = unit->status == "waiting" && !unit->task;
        if (!parked && !(child && child->status == "waiting")) continue;
        unit->retry_timer = loop_.timer(0, [this, ref = run.ref, unit, parked, why, child_why] {
            Run* r = find_run(ref);
            if (!r) return;
            if (!parked) {
                if (!unit->child_execution.empty()) (void)cancel(unit->child_execution, child_why);
                return;
            }
            if (unit->status != "waiting") return;  // decided meanwhile
            if (r->status == "waiting") {
                r->status = "running";
                persist_execution(*r);
            }
            unit_finished(*r, *unit, stopped_outcome(*unit, why));
        });
    }
}

void Engine::cancel_orphaned_child(const std::string& id, const std::string& reason) {
    // Taken over and cancelled as a top-level orphan is (adopt_orphan): resumed, its steps
    // scheduled only once the resumed record commits, and the cancel lands before that,
    // so none of them starts again. Without it the child stayed "running" for good, and a
    // `ferry resume CHILD` did its side effects for a parent that had failed.
    if (execution_ended(stored_status(store_, id))) return;
    if (!find_run(id) && !resume(id, [](const ExecutionSummary&) {})) return;
    (void)cancel(id, reason);
}

void Engine::finish_run(Run& run) {
    if (run.finishing) return;
    run.finishing = true;
    // Children of steps the stopped process had started, ended below with their step: their
    // own process is gone too, and nothing else would end them.
    std::vector<std::string> orphaned_children;
    // A failure into a handler that never became ready is no failure handled: it waits for
    // a step that did not run (another handler no failure called).
    for (size_t i = 0; i < run.steps.size(); ++i) {
        if (run.steps[i].status != StepStatus::Pending || !run.steps[i].triggered) continue;
        std::string waits_for;
        for (size_t d : run.wf->steps[i].depends_on_steps)
            if (waits_for.empty() && run.steps[d].status == StepStatus::Pending)
                waits_for = run.wf->steps[d].id;
        start_failing(run, failed_into(run, i),
                      waits_for.empty()
                          ? "it never became ready"
                          : "it waits for step '" + waits_for + "', which did not run");
    }
    for (size_t i = 0; i < run.steps.size(); ++i) {
        StepState& st = run.steps[i];
        if (st.status != StepStatus::Pending) continue;
        st.status = run.failing ? StepStatus::Cancelled : StepStatus::Skipped;
        st.reason = run.cancelled ? "the execution was cancelled before this step could run"
                    : run.failing ? "the execution failed before this step could run"
                                  : "not needed: no step failed into this handler";
        // A step (or items of one) the stopped process had started, in an execution taken
        // over and ended before its steps ran again (a cancel of an orphan): it ends as it
        // was, its attempt, start and a retry's error kept, not as one that never ran.
        bool ended_as_it_was = false, had_items = false;
        uint64_t first_item_started = 0;
        if (!run.resumed.empty() && run.failing) {
            const std::string& id = run.wf->steps[i].id;
            const std::string why =
                run.cancelled ? "the execution was cancelled after its process stopped during "
                                "this step"
                              : "the execution failed after its process stopped during this step";
            for (auto it = run.resumed.lower_bound(id);
                 it != run.resumed.end() && it->first.compare(0, id.size(), id) == 0; ++it) {
                const bool item = it->first.size() > id.size() && it->first[id.size()] == '[';
                had_items = had_items || item;
                if (uint64_t at = item ? record_time_ms(it->second, "started_at") : 0;
                    at && (!first_item_started || at < first_item_started))
                    first_item_started = at;
                if ((it->first == id || item) && started_unfinished(it->second)) {
                    end_interrupted_unit(run, i, it->first, it->second, why);
                    if (const tmpl::Value* c = dict_get(it->second, "child_execution");
                        c && c->is_string())
                        orphaned_children.emplace_back(c->str());
                    if (!item) {
                        st.reason = why;
                        ended_as_it_was = true;
                    }
                }
            }
        }
        if (had_items && !ended_as_it_was)
            st.reason = run.cancelled ? "the execution was cancelled before all items ran"
                                      : "the execution failed before all items ran";
        if (ended_as_it_was) {
            set_step_view(run, i, not_run_view(st));
            continue;
        }
        auto unit = std::make_unique<Unit>();
        unit->step_index = i;
        unit->key = run.wf->steps[i].id;
        unit->status = step_status_name(st.status);
        unit->skip_reason = st.reason;
        if (first_item_started) {  // its items ran: the step began with the first of them
            unit->started_ms = first_item_started;
            unit->finished_ms = now_unix_ms();
            unit->duration_ms = double(unit->finished_ms - unit->started_ms);
        }
        run.units.push_back(std::move(unit));
        persist_unit(run, *run.units.back(), false);
        // Announced as any skip or cancel is: live listeners (SSE, logs, progress lines)
        // hear what the recorded stream tells afterwards.
        emit_settled(run, *run.units.back());
        // The outputs below may ask what became of it (steps.handler.status).
        set_step_view(run, i, not_run_view(st));
    }
    for (const std::string& child : orphaned_children)
        cancel_orphaned_child(child, run.cancelled ? "its parent execution was cancelled"
                                                   : "its parent execution failed");
    if (!run.failing) {
        Result<tmpl::Value> outputs = expressions_.evaluate_tree(
            run.wf->outputs.is_dict() ? run.wf->outputs : tmpl::Value::dict(), run.context,
            "outputs");
        if (outputs) {
            run.outputs = outputs.value();
        } else {
            run.failing = true;
            // validation, or limit for a value too large to keep.
            const std::string& message = outputs.error().message;
            run.error = dict_of(
                {{"kind", str(std::string(to_string(outputs.error().kind)))},
                 {"message", str(message + null_output_hint(run, run.wf->outputs, message))}});
        }
    }
    if (run.failing && (!run.cancelled || run.failed_before_cancel) &&
        !run.wf->hooks.on_failure.empty()) {
        tmpl::Value event = dict_of({{"execution_id", str(run.id)},
                                     {"workflow", str(run.wf->name)},
                                     {"error", run.error},
                                     {"steps", run.steps_view}});
        std::string id = run.id;
        run_hook(
            run, "on_failure", event,
            [this, id](Result<tmpl::Value> res) {
                Run* r = find_run(id);
                if (!r) return;
                if (!res) {
                    notice("error",
                           "execution " + id +
                               ": on_failure hook failed: " + res.error().describe(),
                           id);
                }
                finalize_run(*r);
            },
            nullptr);
        return;
    }
    finalize_run(run);
}

void Engine::finalize_run(Run& run) {
    run.status = run.cancelled && !run.failed_before_cancel ? "cancelled"
                 : run.failing                              ? "failed"
                                                            : "succeeded";
    run.finished_ms = now_unix_ms();
    if (!run.failing) run.error = tmpl::Value::none();
    persist_execution(run);
    // Told now to whoever stages what it hears (the event outbox joins the final record's
    // commit), and to everyone else once that commit is durable.
    std::optional<EngineEvent> finished;
    if (has_event_listeners()) {
        const tmpl::Value* message = run.error.is_dict() ? dict_get(run.error, "message") : nullptr;
        finished = make_event(run, "execution.finished", "", run.status,
                              message ? tmpl::to_str(*message) : "",
                              double(run.finished_ms - run.created_ms));
        for (const auto& cb : staged_event_cbs_)
            cb(*finished);
    }
    std::string id = run.id;
    store_.after_commit([this, id, finished = std::move(finished)] {
        auto it = runs_.find(id);
        if (it == runs_.end()) return;
        std::shared_ptr<Run> r = it->second;
        runs_.erase(it);
        runs_by_ref_.erase(r->ref);
        release_ownership(id);
        if (finished)
            for (const auto& cb : event_cbs_)
                cb(*finished);
        ExecutionSummary summary{r->id, r->wf->name, r->status, r->outputs, r->error, nullptr};
        if (r->kept) {
            auto records = std::make_shared<ExecutionSummary::Records>();
            records->execution = std::move(r->kept->execution);
            records->execution_shown = r->kept->execution_shown;
            for (auto& [key, json] : r->kept->steps)
                records->steps.push_back(store::KeyedJson{key, std::move(json)});
            summary.records = std::move(records);
        }
        if (r->done) r->done(summary);
    });
    loop_.wake();
}

}  // namespace ferry::engine
