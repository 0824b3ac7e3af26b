// Engine::emit: the engine's events (execution and step) to its listeners: logs, SSE,
// metrics, event webhooks, on-event hooks.
#include "core/executor.h"
#include "core/run_state.h"
#include "core/values.h"
#include "runtime/integration/secrets.h"

namespace ferry::engine {

void Engine::emit_settled(const Run& run, const Unit& unit, bool for_each_summary) {
    if (unit.status == "failed") {
        const tmpl::Value* m = dict_get(unit.error, "message");
        emit(run, "step.failed", unit.key, "failed", m ? tmpl::to_str(*m) : "", unit.duration_ms,
             unit.attempt, 0, &unit, for_each_summary);
    } else {
        // A cancelled step says why as its record does: a stopped task has its error, one
        // that never started its reason.
        std::string message = unit.skip_reason;
        if (message.empty() && unit.status == "cancelled")
            if (const tmpl::Value* m = dict_get(unit.error, "message")) message = tmpl::to_str(*m);
        emit(run, unit.status == "skipped" ? "step.skipped" : "step.finished", unit.key,
             unit.status, std::move(message), unit.duration_ms, unit.attempt, 0, &unit,
             for_each_summary);
    }
}

void Engine::emit(const Run& run, std::string type, const std::string& step, std::string status,
                  std::string message, double duration_ms, int attempt, uint64_t retry_in_ms,
                  const Unit* settled, bool for_each_summary) {
    if (!has_event_listeners()) return;
    dispatch(make_event(run, std::move(type), step, std::move(status), std::move(message),
                        duration_ms, attempt, retry_in_ms, settled, for_each_summary));
}

void Engine::dispatch(const EngineEvent& e) {
    for (const auto& cb : staged_event_cbs_)
        cb(e);
    for (const auto& cb : event_cbs_)
        cb(e);
}

EngineEvent Engine::make_event(const Run& run, std::string type, const std::string& step,
                               std::string status, std::string message, double duration_ms,
                               int attempt, uint64_t retry_in_ms, const Unit* settled,
                               bool for_each_summary) const {
    EngineEvent e;
    e.type = std::move(type);
    e.execution_id = run.id;
    e.workflow = run.wf->name;
    e.step = step;
    e.status = std::move(status);
    // Every listener (logs, SSE, event webhooks) gets the message as records do: redacted.
    e.message = message.empty() ? std::move(message) : redact(message);
    e.duration_ms = duration_ms;
    e.attempt = attempt;
    e.retry_in_ms = retry_in_ms;
    e.dry_run = run.options.dry_run;
    e.for_each_summary = for_each_summary;
    if (settled && settled->output.is_dict()) {
        // A preview: a step in dry-run mode (the execution's, its own, or its
        // integration's) whose output says so; a real step may return "dry_run": true.
        e.previewed = dict_flag(settled->output, "dry_run") &&
                      is_dry_run(run, run.wf->steps[settled->step_index]);
        const tmpl::Value* outcome = dict_get(settled->output, "status");
        if (outcome && outcome->is_string()) e.outcome = std::string(outcome->str());
    }
    if (!step.empty()) {
        if (const workflow::Step* def = run.wf->find_step(step_id_of(step))) {
            e.task = def->task;
            e.provider = def->provider;
            e.integration = def->integration;
        }
    }
    return e;
}

}  // namespace ferry::engine
