// Engine::cancel: an execution stopped from outside (the API, a parent's timeout) ends
// "cancelled": what runs is stopped through the scheduler, what waits ends at once.
#include "core/executor.h"
#include "core/history.h"
#include "core/run_state.h"
#include "core/values.h"

namespace ferry::engine {

Engine::Run* Engine::adopt_orphan(const std::string& id, std::string& why) {
    if (stored_status(store_, id) != "running") return nullptr;
    if (owner_alive(stored_owner(store_, id))) {
        why = "another ferry process that is still running runs it";
        return nullptr;
    }
    // A sub-workflow's run exists only once its parent's step runs again: adopting one
    // would resume the parent and run its steps. And a parent cancelled here while its
    // child is still recorded running would leave that child so for good. Only a
    // top-level execution without one is taken over.
    if (std::string top = stored_top(store_, id); top != id) {
        why = "it is a sub-workflow of execution " + top +
              ", whose process is gone: cancel that one once its sub-workflows have ended "
              "(ferry resume, or a restart of the server, runs them)";
        return nullptr;
    }
    StepRecords steps(store_, id, StepRecords::kBulkPage);
    for (Result<const store::KeyedJson*> r = steps.next(); r && r.value(); r = steps.next()) {
        if (r.value()->json.find("\"child_execution\"") == std::string::npos) continue;
        const tmpl::Value step = tmpl::value_from_json(r.value()->json);
        const tmpl::Value* child = dict_get(step, "child_execution");
        if (child && child->is_string() &&
            stored_status(store_, std::string(child->str())) == "running") {
            why = "its sub-workflow execution " + std::string(child->str()) +
                  " is still recorded running, and its process is gone: ferry resume, or a "
                  "restart of the server, runs them; cancel it then";
            return nullptr;
        }
    }
    // Its steps are scheduled once the resumed record commits; the cancel lands before
    // that (no flush here), so none starts: they end "cancelled".
    if (!find_run(id) && !resume(id, [](const ExecutionSummary&) {})) return nullptr;
    return find_run(id);
}

Status Engine::cancel(const std::string& id, const std::string& reason) {
    Run* run = find_run(id);
    std::optional<Error> not_adopted;
    if (!run) run = adopt_parked(id, &not_adopted);  // waiting, left by a `ferry run` that ended
    if (!run && not_adopted)
        return make_error(not_adopted->kind, "execution '" + id +
                                                 "' waits for a decision, but cannot be taken "
                                                 "up here: " +
                                                 not_adopted->message);
    std::string why;
    if (!run) run = adopt_orphan(id, why);  // running, left by a process that died
    if (!run && why.empty()) {
        // Why it could not be taken over: ended meanwhile (another cancel won), or held
        // for a decision by a process that is still running.
        const std::string status = stored_status(store_, id);
        if (execution_ended(status))
            return make_error(ErrorKind::Cancelled,
                              "execution '" + id + "' already ended (" + status + ")");
        if (status == "waiting" && owner_alive(stored_owner(store_, id)))
            why = "another ferry process that is still running holds it, waiting for a decision";
    }
    if (!run)
        return make_error(ErrorKind::NotFound, "execution '" + id + "' is not running here" +
                                                   (why.empty() ? "" : ": " + why));
    if (run->finishing || run->cancelled)
        return make_error(ErrorKind::Cancelled, "execution '" + id + "' is already ending");
    run->failed_before_cancel = run->failing;
    run->cancelled = true;
    run->failing = true;   // nothing new starts; pending steps end "cancelled"
    run->woken.add_all();  // schedule() looks at every pending step again
    if (!run->failed_before_cancel)
        run->error = dict_of({{"kind", str("cancelled")}, {"message", str(reason)}});
    // Workflow hooks running for it (a before_step that computes or waits) end too: the
    // cancel waited for them.
    stop_pending_retries(*run, "cancelled");
    for (Task* hook : std::vector<Task*>(run->hook_tasks))
        if (scheduler_.is_live(hook))
            scheduler_.cancel(hook, make_error(ErrorKind::Cancelled, reason));
    std::vector<std::string> children;
    std::vector<Unit*> woken;  // built-in sleeps, ended after the loop (settling adds units)
    for (auto& unit : run->units) {
        if (unit->task && scheduler_.is_live(unit->task)) {
            // The task's done callback settles the unit (as "cancelled") on the loop.
            scheduler_.cancel(unit->task, make_error(ErrorKind::Cancelled, reason));
        } else if (stop_sleep(*unit)) {
            woken.push_back(unit.get());
        } else if (unit->status == "waiting") {
            // An approval: no coroutine to stop, only its deadline. It ends now, so a
            // decision sent after the cancel is refused as for any decided step.
            unit->retry_timer.reset();
            woken.push_back(unit.get());
        } else if (!unit->child_execution.empty() && find_run(unit->child_execution)) {
            children.push_back(unit->child_execution);
        }
    }
    if (run->status == "waiting") {
        run->status = "running";
        persist_execution(*run);
    }
    for (Unit* unit : woken)
        unit_finished(*run, *unit, stopped_outcome(*unit, reason));
    // A sub-workflow's end settles its parent's unit.
    for (const std::string& child : children)
        (void)cancel(child, reason);
    if (run->in_flight == 0) finish_run(*run);
    loop_.wake();
    return ok_status();
}

}  // namespace ferry::engine
