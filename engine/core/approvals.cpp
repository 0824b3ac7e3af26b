// The approval task: a step that waits for a person. While it waits the execution is a
// record ("waiting") plus a timer, never a live coroutine; after a restart the step is
// re-armed from its record (same deadline). A decision or the timeout ends the step like a
// task outcome, so on_error, retries and dependents behave as for any step.
#include "core/executor.h"
#include "core/history.h"
#include "core/printable.h"

#include "core/run_state.h"
#include "core/values.h"
#include "runtime/duration.h"

#include <rapidjson/document.h>

namespace ferry::engine {

namespace {

// An approval whose timeout has passed (a process that did not run meanwhile has not applied
// it yet): the timeout decides it, not a decision that comes now.
bool deadline_passed(const Engine::Unit& unit) {
    return unit.wait_deadline_ms && now_unix_ms() >= unit.wait_deadline_ms;
}

// An approval runs no task: its duration is the time it has waited for the decision.
double waited_ms(const Engine::Unit& unit) {
    return unit.attempt_started_ms ? double(now_unix_ms() - unit.attempt_started_ms) : 0;
}

TaskOutcome decision_outcome(const Engine::Unit& unit, const std::string& decision,
                             const std::string& by, const std::string& comment,
                             const std::string& via = {}, uint64_t at_ms = 0) {
    TaskOutcome out;
    out.ok = true;
    out.duration_ms = waited_ms(unit);
    tmpl::Value v = dict_of({{"decision", str(decision)},
                             {"by", str(by)},
                             {"comment", str(comment)},
                             {"at", str(rfc3339(at_ms ? at_ms : now_unix_ms()))}});
    if (!via.empty()) v.dict_obj().set(str("via"), str(via));
    rapidjson::Document doc;
    to_rapidjson(v, doc, doc.GetAllocator());
    out.value.Swap(doc);
    return out;
}

// "was approved by 'ops' at T" for a step whose output records a decision; "ended STATUS"
// otherwise (a step that failed, or was skipped).
std::string ended_step_text(const tmpl::Value& output, std::string_view status) {
    const tmpl::Value* decided = dict_get(output, "decision");
    const tmpl::Value* by = dict_get(output, "by");
    const tmpl::Value* at = dict_get(output, "at");
    if (decided && decided->is_string() && by && by->is_string())
        return "was " + std::string(decided->str()) + " by " +
               (by->str() == "timeout" ? std::string("its timeout")
                                       : "'" + std::string(by->str()) + "'") +
               (at && at->is_string() ? " at " + std::string(at->str()) : "");
    return "ended " + std::string(status);
}

}  // namespace

void Engine::invoke_approval(Run& run, Unit& unit) {
    if (run.options.dry_run) {
        unit_finished(run, unit,
                      decision_outcome(unit, "approved", "dry_run",
                                       "approved automatically: a dry run does not wait"));
        return;
    }
    std::string timeout = dict_text(unit.input, "timeout");
    if (!timeout.empty() && unit.wait_deadline_ms == 0) {
        Result<uint64_t> ms = parse_duration_ms(timeout);
        if (!ms) {
            TaskOutcome out;
            out.error =
                make_error(ErrorKind::Validation, "approval timeout: " + ms.error().message);
            unit_finished(run, unit, std::move(out));
            return;
        }
        unit.wait_deadline_ms = now_unix_ms() + ms.value();
    }
    park_approval(run, unit, true);
}

// The execution is "waiting" only when all that is left of it is decisions: an approval
// parked beside a step that still runs leaves it "running" (a shutdown waits for that
// step, and the API does not list it among the waiting).
bool Engine::only_decisions_left(const Run& run) const {
    bool waiting = false;
    for (const auto& u : run.units) {
        if (u->status == "waiting") {
            waiting = true;
        } else if (u->status == "pending" || u->status == "retrying") {
            return false;
        } else if (u->status == "running") {
            // A sub-workflow whose own work is down to decisions waits with it.
            auto child = u->child_execution.empty() ? runs_.end() : runs_.find(u->child_execution);
            if (child == runs_.end() || !only_decisions_left(*child->second)) return false;
            waiting = true;
        }
    }
    return waiting;
}

// The run, then each parent up the sub-workflow chain: a parent whose child is down to
// decisions waits with it (listed as waiting, not waited for at shutdown, `ferry run`
// reports it waiting), and runs again when the child does.
void Engine::recheck_waiting(Run& run) {
    for (Run* r = &run; r; r = find_run(r->options.parent_execution)) {
        if (!r->parked_approvals || r->finishing) return;
        const char* status = only_decisions_left(*r) ? "waiting" : "running";
        if (r->status != status) {
            r->status = status;
            persist_execution(*r);
        }
    }
}

void Engine::park_approval(Run& run, Unit& unit, bool record_unit) {
    unit.status = "waiting";
    for (Run* r = &run; r; r = find_run(r->options.parent_execution))
        r->parked_approvals = true;
    if (record_unit) persist_unit(run, unit, true);
    recheck_waiting(run);
    if (has_event_listeners()) {
        EngineEvent e = make_event(run, "step.waiting", unit.key, "waiting",
                                   dict_text(unit.input, "message"), 0, unit.attempt);
        e.announced_before = !record_unit;  // waiting again from its record, after a restart
        dispatch(e);
    }
    if (unit.wait_deadline_ms) {
        uint64_t now = now_unix_ms();
        uint64_t left = unit.wait_deadline_ms > now ? unit.wait_deadline_ms - now : 0;
        arm_approval_deadline(run, unit, left);
    }
    // Taken up again in an execution that was failing when its process stopped: no
    // decision is asked for (start_failing ends the ones parked when it fails). Nor in a
    // sub-workflow whose parent (or theirs) is failing: the child is cancelled, as one
    // already waiting when the parent failed is.
    if (run.failing && !run.cancelled) end_pending_decisions(run);
    for (Run* child = &run; child;) {
        Run* parent = find_run(child->options.parent_execution);
        if (parent && parent->failing && !parent->cancelled) {
            unit.retry_timer = loop_.timer(0, [this, id = child->id] {
                (void)cancel(id, "the parent execution failed before a decision");
            });
            break;
        }
        child = parent;
    }
}

void Engine::arm_approval_deadline(Run& run, Unit& unit, uint64_t delay_ms) {
    Unit* up = &unit;
    unit.retry_timer = loop_.timer(delay_ms, [this, ref = run.ref, up] {
        Run* r = find_run(ref);
        if (!r) return;
        // The loop's timers are monotonic and may fire a little before the wall clock
        // agrees: a decision sent in that moment came before the deadline.
        uint64_t now = now_unix_ms();
        if (now < up->wait_deadline_ms) {
            arm_approval_deadline(*r, *up, up->wait_deadline_ms - now);
            return;
        }
        approval_timed_out(*r, *up);
    });
    // Nobody can decide in a process without the server, so the deadline alone does not
    // keep one alive: `ferry run` returns with the execution waiting, and the server
    // re-arms the same deadline when it starts.
    unit.retry_timer->set_background();
}

void Engine::approval_timed_out(Run& run, Unit& unit) {
    if (unit.status != "waiting") return;
    unit.retry_timer.reset();
    run.status = "running";
    persist_execution(run);
    std::string on_timeout = dict_text(unit.input, "on_timeout");
    if (on_timeout.empty() || on_timeout == "reject") {
        // Decided when the deadline passed, even if no process ran then (applied at start).
        unit_finished(run, unit,
                      decision_outcome(unit, "rejected", "timeout", "no decision in time", {},
                                       unit.wait_deadline_ms));
        return;
    }
    // Escalation: the step fails with kind timeout and its on_error step (set to
    // on_timeout by the loader) runs instead.
    TaskOutcome out;
    out.error = make_error(ErrorKind::Timeout, "no decision before the approval's timeout (" +
                                                   dict_text(unit.input, "timeout") + ")");
    // The deadline is the decision's, not an attempt's: a retry would wait for one already
    // past, and record a timeout it never waited for. The escalation runs now.
    out.final_failure = true;
    out.duration_ms = waited_ms(unit);
    unit_finished(run, unit, std::move(out));
}

size_t Engine::busy_executions() const {
    size_t n = 0;
    for (const auto& [id, run] : runs_)
        if (!only_decisions_left(*run)) ++n;
    return n;
}

Engine::Run* Engine::adopt_parked(const std::string& id, std::optional<Error>* failed) {
    if (stored_status(store_, id) != "waiting") return nullptr;
    std::string top = stored_top(store_, id);
    if (!find_run(top)) {
        bool busy = false;
        if (Status s = resume(
                top, [](const ExecutionSummary&) {}, &busy);
            !s) {
            // Not another process's: a lock that cannot be made, a damaged record. Saying
            // "another process runs it" sent operators looking for one that does not exist.
            if (!busy && failed) *failed = s.error();
            return nullptr;
        }
        // A resumed execution is scheduled once its "running" record commits: committing now
        // puts its approvals back into "waiting" (and re-attaches its sub-workflows) before
        // the decision looks for them, as ferry serve does for the ones it resumes at start.
        // The run is registered by then: without its records it could not go on.
        if (Status s = flush(); !s) stop_on_lost_history(s.error());
    }
    return find_run(id);
}

Engine::DecideResult Engine::decide(const std::string& execution_id, const std::string& step_key,
                                    const std::string& decision, const std::string& by,
                                    const std::string& comment, const std::string& via) {
    using Refusal = DecideResult::Refusal;
    Run* run = find_run(execution_id);
    std::optional<Error> not_adopted;
    if (!run) run = adopt_parked(execution_id, &not_adopted);
    if (!run && not_adopted)
        return {Refusal::Failed, "execution " + execution_id +
                                     " waits for a decision, but cannot be taken up here: " +
                                     not_adopted->describe()};
    if (!run) {
        // Not in memory: one that already ended is a conflict, not an unknown execution.
        const std::string status = stored_status(store_, execution_id);
        if (!status.empty()) {
            // Waiting, and run by another live process (adopt_parked could not take it).
            if (status == "waiting")
                return {Refusal::NotWaiting,
                        "execution " + execution_id +
                            " waits in another ferry process that is still running: decide "
                            "through that process (its API), or here once it has ended"};
            // Still run by a live process (a `ferry run` with a step beside the approval).
            if (status == "running" && owner_alive(stored_owner(store_, execution_id)))
                return {Refusal::NotWaiting,
                        "execution " + execution_id +
                            " is still run by another ferry process: decide once only "
                            "decisions are left (a `ferry run` then ends), or through the API "
                            "if that process is `ferry serve`"};
            // Ended: a step it never had is unknown (404), as on a waiting execution.
            std::optional<tmpl::Value> record;
            if (auto steps = store_.steps(execution_id); steps)
                for (const store::KeyedJson& kj : steps.value())
                    if (kj.key == step_key) record = tmpl::value_from_json(kj.json);
            if (!record)
                return {Refusal::NoSuchStep,
                        "execution " + execution_id + " has no step '" + step_key + "'"};
            // What decided it, when the record tells (the timeout, while the caller waited).
            std::string what;
            const tmpl::Value* out = dict_get(*record, "output");
            const tmpl::Value* st = dict_get(*record, "status");
            if (out || (st && st->is_string()))
                what = ": step '" + step_key + "' " +
                       ended_step_text(out ? *out : tmpl::Value(),
                                       st && st->is_string() ? st->str() : "");
            return {Refusal::NotWaiting,
                    "execution " + execution_id + " is not waiting for a decision" + what};
        }
        return {Refusal::NotRunningHere, "no execution '" + execution_id + "'"};
    }
    Unit* unit = nullptr;
    for (auto& u : run->units)
        if (u->key == step_key) unit = u.get();
    if (!unit) {
        // A for_each step is decided item by item: name the items that wait.
        std::string waiting_items;
        size_t waiting_count = 0;
        for (const auto& u : run->units) {
            if (u->item_index < 0 || u->status != "waiting" ||
                run->wf->steps[u->step_index].id != step_key)
                continue;
            if (++waiting_count <= 10) waiting_items += (waiting_count > 1 ? ", " : "") + u->key;
        }
        if (waiting_count > 10)
            waiting_items += " and " + std::to_string(waiting_count - 10) + " more";
        if (waiting_count > 0)
            return {Refusal::NotWaiting, "step '" + step_key +
                                             "' runs for each item: decide its items one by "
                                             "one (waiting: " +
                                             waiting_items + ")"};
        // A sub-workflow's step: named in its own execution, which the message names.
        for (const auto& u : run->units) {
            Run* child = u->child_execution.empty() ? nullptr : find_run(u->child_execution);
            if (!child) continue;
            for (const auto& cu : child->units) {
                if (cu->key != step_key || cu->status != "waiting") continue;
                // Past its deadline the timeout decides it: the child's own refusal says so
                // (and applies it); no decision through the parent is taken.
                if (deadline_passed(*cu))
                    return decide(child->id, step_key, decision, by, comment, via);
                return {Refusal::NoSuchStep,
                        "step '" + step_key + "' is in sub-workflow execution " + child->id +
                            " (step '" + u->key + "' of this one): decide it there"};
            }
        }
        // A step that has not started yet has no unit; it exists all the same. An item
        // ("ok[9]") exists only as one its for_each step made: every item has its unit once
        // the step fans out, so one not among them (past the list, "ok[-1]", "ok[00]") is
        // no step, nor is an item of a step without for_each.
        if (const workflow::Step* def = run->wf->find_step(step_id_of(step_key))) {
            const bool item = step_key.size() > def->id.size();
            const StepState& st = run->steps[size_t(def - run->wf->steps.data())];
            // One that ended keeps no unit either: what decided it, not "not started".
            if (!item && st.status != StepStatus::Pending && st.status != StepStatus::Running)
                return {Refusal::NotWaiting,
                        "step '" + step_key + "' is not waiting for approval: it " +
                            ended_step_text(st.output, step_status_name(st.status))};
            if (!item || (!def->for_each.empty() && !st.fan_out))
                return {Refusal::NotWaiting,
                        "step '" + step_key + "' is not waiting for approval (not started)"};
        }
        return {Refusal::NoSuchStep,
                "execution " + execution_id + " has no step '" + step_key + "'"};
    }
    if (Run* child = unit->child_execution.empty() ? nullptr : find_run(unit->child_execution)) {
        std::string waiting;
        for (const auto& cu : child->units) {
            if (cu->status != "waiting") continue;
            // Past its deadline the timeout decides it: the child's refusal says so.
            if (deadline_passed(*cu)) return decide(child->id, cu->key, decision, by, comment, via);
            waiting += (waiting.empty() ? "'" : ", '") + cu->key + "'";
        }
        if (!waiting.empty())
            return {Refusal::NotWaiting, "step '" + step_key + "' runs sub-workflow execution " +
                                             child->id + ", which waits for a decision on " +
                                             waiting + ": decide it there"};
    }
    if (unit->status != "waiting" || run->wf->steps[unit->step_index].task != "approval") {
        // Decided already (the server keeps the unit): how, by whom and when, as the CLI says.
        if (run->wf->steps[unit->step_index].task == "approval" &&
            (unit->status == "succeeded" || unit->status == "failed"))
            return {Refusal::NotWaiting, "step '" + step_key +
                                             "' is not waiting for approval: it " +
                                             ended_step_text(unit->output, unit->status)};
        return {Refusal::NotWaiting, "step '" + step_key +
                                         "' is not waiting for approval (status " + unit->status +
                                         ")"};
    }
    // Its deadline passed while no process ran it (the adoption above re-armed the timer, which
    // fires only once the loop runs): the timeout decides, as a start would have applied it.
    if (deadline_passed(*unit)) {
        approval_timed_out(*run, *unit);
        return {Refusal::NotWaiting, "step '" + step_key +
                                         "' is not waiting for approval: its timeout passed at " +
                                         rfc3339(unit->wait_deadline_ms) +
                                         ", before this decision (it ended by its timeout)"};
    }
    const tmpl::Value* approvers =
        unit->input.is_dict() ? unit->input.dict_obj().find("approvers") : nullptr;
    if (approvers && approvers->is_list() && !approvers->list_obj().items.empty()) {
        bool allowed = false;
        std::string names;
        for (const tmpl::Value& a : approvers->list_obj().items) {
            if (a.is_string() && a.str() == by) allowed = true;
            if (a.is_string()) names += (names.empty() ? "" : ", ") + printable(a.str());
        }
        // Named: a token renamed since the step started cannot decide it, and nothing else
        // said which names can (admin included).
        if (!allowed)
            return {Refusal::NotAnApprover,
                    "'" + by + "' is not among the approvers of step '" + step_key +
                        "' (it takes " + names +
                        ", the names recorded when it started; a token renamed since decides "
                        "under its old name)"};
    }
    unit->retry_timer.reset();
    run->status = "running";
    persist_execution(*run);
    unit_finished(*run, *unit, decision_outcome(*unit, decision, by, comment, via));
    return {};
}

}  // namespace ferry::engine
