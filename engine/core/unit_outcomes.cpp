// What becomes of a step invocation's outcome: its logs kept, a retry armed after the
// policy's backoff (or the peer's Retry-After), dead letters recorded, and the unit settled
// into the run (results, skips, the steps it unblocks). The start: units.cpp.
#include "core/executor.h"

#include "core/run_state.h"
#include "runtime/ids.h"
#include "runtime/integration/secrets.h"
#include "runtime/timestamp.h"

#include <algorithm>
#include <random>

namespace ferry::engine {

namespace {

// A dead letter's request with its credential headers shown as [REDACTED] whatever their
// value, as everywhere (the integration adds its own again on replay).
tmpl::Value credential_headers_redacted_in(const tmpl::Value& request) {
    const tmpl::Value* headers = request.is_dict() ? request.dict_obj().find("headers") : nullptr;
    std::optional<tmpl::Value> scrubbed =
        headers ? credential_headers_redacted(*headers) : std::nullopt;
    if (!scrubbed) return request;
    tmpl::Value copy = tmpl::Value::dict();
    copy.dict_obj().assign(request.dict_obj().items());
    copy.dict_obj().set(tmpl::Value::string("headers"), std::move(*scrubbed));
    return copy;
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
                    d.set(str("request"), credential_headers_redacted_in(*request));
                d.set(str("id"), str(id));
                d.set(str("execution_id"), str(run.id));
                d.set(str("workflow"), str(run.wf->name));
                d.set(str("step"), str(unit.key));
                d.set(str("created_at"), str(rfc3339(now_unix_ms())));
            }
            store_.put_dlq(id, to_json_text(entry));
            // integrations.md: "a warning is logged" where operators look (the server's
            // journal; ferry run's stderr), not only in the step's own logs.
            std::string what = "execution " + run.id + " step " + unit.key +
                               ": a delivery was kept in the dead-letter queue as " + id;
            if (const tmpl::Value* error =
                    entry.is_dict() ? entry.dict_obj().find("error") : nullptr;
                error && error->is_string())
                what += " (" + std::string(error->str()) + ")";
            notice("warn", redact(what + "; see ferry dlq list"), run.id);
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
        unit.status = run.cancelled || outcome.stopped ? "cancelled" : "failed";
        unit.error = error_value(outcome.error, outcome.traceback);
        int max_attempts = def.retry ? def.retry->max_attempts : 1;
        // Nor once another item of the step failed for good: the step fails anyway.
        if (outcome.error.retryable() && !outcome.final_failure && unit.attempt < max_attempts &&
            !run.failing && !run.steps[unit.step_index].stop_items) {
            persist_unit(run, unit, true);  // the failed attempt, on record
            // The step is not over: a process that dies during the backoff must find it
            // unfinished and retry it (recorded as "failed", resume ended the execution).
            uint64_t delay = retry_delay_ms(*def.retry, unit.attempt, outcome);
            arm_retry(run, unit, now_unix_ms() + delay);
            persist_unit(run, unit, false);  // with retry_at: a restart keeps the wait
            emit(run, "step.retrying", unit.key, "retrying", outcome.error.message,
                 unit.duration_ms, unit.attempt, delay);
            return;
        }
    }
    // For invocations that succeeded or failed (workflows.md section 11): after a cancel
    // the hook ran for each cancelled one, unstoppable, sending its requests after the
    // cancel's answer and holding the execution (and a sub-workflow step's timeout).
    if (!run.wf->hooks.after_step.empty() && !run.cancelled && !outcome.stopped) {
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
        if (u.status == "failed" && def.on_error == "fail" && !st.stop_items) {
            st.stop_items = true;
            // Items waiting to retry end with the attempt they had (settled after the
            // commit, as any unit): their next attempts would be requests sent for nothing.
            stop_pending_retries(run, "failed", u.step_index);
            end_pending_decisions(run, u.step_index);
        }
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
            // After a resume the step was scheduled again, but its items kept their start
            // (a waiting approval, a finished item): the step began with the first of them.
            if (item.started_ms && item.started_ms < st.started_ms) st.started_ms = item.started_ms;
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
