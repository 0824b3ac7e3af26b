// Scheduling: which steps are ready, conditions, fan-out, failure propagation, completion.
#include "core/executor.h"

#include "core/printable.h"
#include "core/run_state.h"
#include "runtime/crypto.h"
#include "runtime/ids.h"
#include "workflow/loader.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace ferry::engine {

namespace {
constexpr std::string_view kStepStatusNames[] = {"pending", "running", "succeeded",
                                                 "failed",  "skipped", "cancelled"};
}

Status check_execution_status(std::string_view status) {
    std::string listed;
    for (std::string_view known : kExecutionStatuses) {
        if (status == known) return ok_status();
        listed.append(listed.empty() ? "" : ", ").append(known);
    }
    return make_error(ErrorKind::Validation,
                      "status must be one of " + listed + "; got '" + std::string(status) + "'");
}

bool execution_ended(std::string_view status) {
    return std::find(std::begin(kEndedStatuses), std::end(kEndedStatuses), status) !=
           std::end(kEndedStatuses);
}

std::string_view step_status_name(StepStatus status) {
    return kStepStatusNames[size_t(status)];
}

std::optional<StepStatus> parse_step_status(std::string_view name) {
    for (size_t i = 0; i < std::size(kStepStatusNames); ++i)
        if (kStepStatusNames[i] == name) return StepStatus(i);
    return std::nullopt;
}

std::string idempotency_key(const std::string& execution_id, const std::string& unit_key) {
    return crypto::sha256_hex(execution_id + "/" + unit_key).substr(0, 32);
}

namespace {

// Writes per transaction, roughly (cut after the next transition): a burst of starts is
// committed in several transactions, since LMDB keeps the dirty-page buffers of its largest
// one; a group commit of a few thousand executions' transitions still goes in one or two.
constexpr size_t kMaxWritesPerBatch = 4096;

}  // namespace

Engine::Engine(Loop& loop, LuaVM& vm, Scheduler& scheduler, store::Store& store,
               TaskCatalog& catalog, const Project& project, Expressions& expressions,
               EngineOptions options)
    : loop_(loop), vm_(vm), scheduler_(scheduler), store_(store), catalog_(catalog),
      project_(project), expressions_(expressions), options_(options) {
    open_data_dir();  // before anything can move it: locks go where the store is
    // Group commit: whatever the iteration staged becomes durable together, then the
    // effects that waited for it (next steps, task starts) run.
    if (!options_.commit_thread) {
        iteration_id_ = loop_.on_iteration([this] {
            run_early_starts();
            if (!store_.has_pending()) return;
            if (Status s = flush(); !s) stop_on_lost_history(s.error());
        });
        return;
    }
    // With a commit thread the store's writer commits and syncs a batch while the loop runs
    // the tasks of the previous one and stages the next; one batch is in flight at a time,
    // so batches become durable in staging order.
    scheduler_.set_resumes_per_iteration(64);
    auto alive = std::weak_ptr<Engine*>(alive_);
    store_.start_writer([&loop = loop_, alive] {
        loop.post([alive] {
            if (auto self = alive.lock()) (*self)->batch_written();
        });
    });
    iteration_id_ = loop_.on_iteration([this] {
        // Submit whatever is staged as soon as the writer is free. In-flight executions then
        // settle into groups that take turns: one group's commit is synced while the loop runs
        // the tasks of the others. A slow sync makes the next batch larger by itself (more is
        // staged while the writer is busy), so batches follow the disk without a timer.
        run_early_starts();
        if (store_.writer_busy() || !store_.has_pending()) return;
        store_.submit(kMaxWritesPerBatch);
        hold_loop_while_writing();
        // Callbacks run at once (nothing to write) may have staged more.
        if (!store_.writer_busy() && store_.has_pending()) loop_.wake();
    });
}

void Engine::batch_written() {
    Status s = store_.collect();
    if (!s) stop_on_lost_history(s.error());
    // The writer is free now: hand it what was staged meanwhile at once, not at the end of
    // this loop iteration (which may run many tasks first), so the disk never waits. A few
    // pure steps the callbacks started run first, so that their results join their start
    // (a webhook's transform then shares the commit of its execution); the rest run while
    // the writer writes, and their results go in the next batch. Running them all first
    // kept the writer idle for the time of all of them: the loop and the disk took turns
    // instead of working at once (engine benchmark at 200 in flight: 16k -> 22-24k
    // executions/s).
    constexpr size_t kEarlyStartsBeforeSubmit = 32;
    run_early_starts(kEarlyStartsBeforeSubmit);
    if (store_.has_pending()) store_.submit(kMaxWritesPerBatch);
    run_early_starts();
    hold_loop_while_writing();
    if (store_.has_pending()) loop_.wake();
}

void Engine::hold_loop_while_writing() {
    // A batch in flight must keep run() from returning: its callbacks are still to come.
    bool busy = store_.writer_busy();
    if (busy == holding_loop_) return;
    holding_loop_ = busy;
    if (busy)
        loop_.hold();
    else
        loop_.release();
}

void Engine::stop_on_lost_history(const Error& e) const {
    // The effects waiting for this commit cannot happen without it. Stop as a crash would:
    // everything durable so far is resumable with `ferry resume`.
    // LMDB reports a write that found no room as EIO: say what the disk has left.
    std::string space;
    struct statvfs fs {};
    if (statvfs(store_.path().c_str(), &fs) == 0) {
        uint64_t free_bytes = uint64_t(fs.f_bavail) * fs.f_frsize;
        if (free_bytes < (64u << 20))
            space = " The disk holding " + store_.path() +
                    " is (nearly) full: " + std::to_string(free_bytes) + " bytes free.";
    }
    // An execution whose first record was in the lost commit left nothing to resume (and
    // sent nothing: tasks with effects start once their records are durable). Pointing at
    // `ferry resume` made that answer "nothing to resume" and a script report success.
    // Read from the store, on this path only: what is durable is what a resume will find
    // (a read that fails says nothing either way, and names nothing).
    std::vector<std::string> unrecorded;
    const size_t runs = runs_.size();
    for (const auto& entry : runs_) {
        auto stored = store_.get_execution(entry.first);
        if (stored && !stored.value()) unrecorded.push_back(entry.first);
    }
    std::string lost;
    if (!unrecorded.empty()) {
        std::sort(unrecorded.begin(), unrecorded.end());
        constexpr size_t kNamed = 3;
        lost = " Not recorded, so not resumable (nothing of it was sent): execution ";
        for (size_t i = 0; i < unrecorded.size() && i < kNamed; ++i)
            lost += (i ? ", " : "") + unrecorded[i];
        if (unrecorded.size() > kNamed)
            lost += " and " + std::to_string(unrecorded.size() - kNamed) + " more";
        lost += "; start " + std::string(unrecorded.size() > 1 ? "them" : "it") +
                " again once the cause is fixed.";
    }
    const std::string then = !unrecorded.empty() && unrecorded.size() == runs
                                 ? ""
                                 : " Fix the cause, then run 'ferry resume' (or start 'ferry "
                                   "serve' again).";
    notice("error",
           "cannot write the execution history (" + e.describe() + "); stopping (exit status 3)." +
               space + then + lost,
           "");
    std::fflush(nullptr);
    std::_Exit(3);
}

Engine::~Engine() {
    loop_.remove_iteration(iteration_id_);
    alive_.reset();  // a post of the writer still queued, or a hook's callback, finds no engine
    store_.stop_writer();
    if (holding_loop_) loop_.release();
    // Tasks still running hold callbacks into this engine: end them while it exists, with
    // no run left to find, so those callbacks do nothing.
    auto runs = std::move(runs_);
    runs_.clear();
    runs_by_ref_.clear();
    for (auto& [id, run] : runs)
        for (auto& unit : run->units)
            if (unit->task && scheduler_.is_live(unit->task))
                scheduler_.cancel(unit->task, make_error(ErrorKind::Cancelled, "shutting down"));
    scheduler_.run_finished_callbacks();
    release_shared_inputs();
    release_step_contexts();
    for (auto& [id, fd] : owned_)
        ::close(fd);  // still running: the lock stays on disk
    drop_owner_lock();
    close_data_dir();
}

Status Engine::flush() {
    if (committing_) return ok_status();
    committing_ = true;
    Status s = ok_status();
    // after_commit callbacks may stage more writes; keep going until quiet.
    for (int round = 0; round < 64 && (store_.has_pending() || store_.writer_busy()); ++round) {
        run_early_starts();  // started by the last round's callbacks: they join this one
        s = store_.commit(kMaxWritesPerBatch);  // waits for a batch in flight first
        if (!s) break;
    }
    committing_ = false;
    hold_loop_while_writing();
    // A failed batch is dropped: a definition staged in it may not be on disk.
    if (!s) workflows_stored_.clear();
    if (store_.has_pending()) loop_.wake();
    return s;
}

Engine::Run* Engine::find_run(const std::string& id) {
    auto it = runs_.find(id);
    return it == runs_.end() ? nullptr : it->second.get();
}

Engine::Run* Engine::find_run(RunRef ref) {
    auto it = runs_by_ref_.find(ref);
    return it == runs_by_ref_.end() ? nullptr : it->second;
}

void Engine::notice(std::string_view level, std::string_view message,
                    std::string_view execution_id) const {
    if (notice_sink_) return notice_sink_(level, message, execution_id);
    // A notice carries values an execution was given (an on_failure hook's log line): one
    // line, terminal controls shown, as the CLI prints everything else.
    std::fprintf(stderr, "ferry: %s\n", printable(message, true).c_str());
}

void Engine::add_run(const std::shared_ptr<Run>& run) {
    run->ref = RunRef(++last_run_ref_);
    runs_[run->id] = run;
    runs_by_ref_[run->ref] = run.get();
}

Result<std::shared_ptr<Engine::Run>> Engine::make_run(std::shared_ptr<const workflow::Workflow> wf,
                                                      tmpl::Value inputs,
                                                      const StartOptions& options, std::string id) {
    auto run = std::make_shared<Run>();
    run->id = std::move(id);
    run->wf = std::move(wf);
    run->inputs = std::move(inputs);
    // What expressions see is also the run's record (inputs are stored, step results decide
    // what runs next): read-only for them (tmpl::freeze).
    tmpl::freeze(run->inputs);
    run->options = options;
    // The id's own time: export --since/--until and prune --before select by the id, and
    // an execution must fall on the side of a bound its created_at says (its id was made a
    // millisecond or so before: --since CREATED_AT left it out).
    const uint64_t now = now_unix_ms();
    const uint64_t minted = ulid_time_ms(run->id);
    run->created_ms = minted && minted <= now ? minted : now;
    run->steps_view = tmpl::Value::dict();
    run->vars = tmpl::Value::dict();
    run->context =
        dict_of({{"inputs", run->inputs},
                 {"vars", run->vars},
                 {"steps", run->steps_view},
                 {"execution", dict_of({{"id", str(run->id)},
                                        {"workflow", str(run->wf->name)},
                                        {"dry_run", tmpl::Value::boolean(options.dry_run)},
                                        {"trigger", str(options.trigger)}})}});
    // Frozen before vars are evaluated: a var's expression may neither change `execution`
    // nor add to the vars it sees (which may read inputs and the vars written above them).
    tmpl::freeze(run->context);
    std::string failed_var;
    if (Status vars =
            expressions_.evaluate_vars(run->wf->vars, run->context, run->vars, &failed_var);
        !vars) {
        Error e = vars.error();
        // Refused before the run starts, as a validation problem is: said at its place.
        if (auto at = run->wf->var_marks.find(failed_var); at != run->wf->var_marks.end())
            e.location = SourceLocation{at->second.file, at->second.line, at->second.column};
        return e;
    }
    run->steps.resize(run->wf->steps.size());
    run->woken.fill(run->steps.size());
    for (const auto& step : run->wf->steps) {
        if (step.on_error == "fail" || step.on_error == "continue") continue;
        if (const workflow::Step* handler = run->wf->find_step(step.on_error))
            run->steps[size_t(handler - run->wf->steps.data())].handler = true;
    }
    return run;
}

Result<std::string> Engine::start(std::shared_ptr<const workflow::Workflow> wf, tmpl::Value inputs,
                                  StartOptions options,
                                  std::function<void(const ExecutionSummary&)> done) {
    if (options.depth > options_.max_workflow_depth) {
        return make_error(ErrorKind::Limit, "sub-workflows nested deeper than " +
                                                std::to_string(options_.max_workflow_depth) +
                                                " levels (a workflow that calls itself?)");
    }
    std::string id = options.execution_id.empty() ? new_ulid() : options.execution_id;
    Result<std::shared_ptr<Run>> made = make_run(wf, std::move(inputs), options, id);
    if (!made) return made.error();
    std::shared_ptr<Run> run = made.value();
    run->done = std::move(done);
    // The execution record names this process as its owner.
    if (Status locked = take_owner_lock(); !locked) return locked.error();
    add_run(run);
    // A definition is content-addressed: once this process has staged it, later starts of
    // the same workflow need not write it again (the same or an earlier commit carries it;
    // flush() forgets the set when a commit fails).
    if (workflows_stored_.insert(wf->hash).second) {
        store_.put_workflow(wf->hash, to_json_text(dict_of({{"name", str(wf->name)},
                                                            {"file", str(wf->file)},
                                                            {"source", str(wf->source)}})));
    }
    persist_execution(*run);
    emit(*run, "execution.started", "", "running");
    if (settles_eagerly(*run)) {
        // The first steps' "running" records join the execution record's commit; their
        // tasks start from after_commit callbacks, once both are durable.
        schedule(*run);
        loop_.wake();
        return id;
    }
    // The first steps start once the execution record is durable.
    store_.after_commit([this, ref = run->ref] {
        if (Run* r = find_run(ref)) schedule(*r);
    });
    loop_.wake();
    return id;
}

bool Engine::settles_eagerly(const Run& run) const {
    // Staging the next transitions before the current ones are durable is safe as long as
    // nothing but writes happens before the commit: tasks start from after_commit callbacks.
    // A before_step or on_failure hook would run user Lua as soon as it is scheduled, so
    // workflows with those keep the wait-for-the-commit path.
    return run.wf->hooks.before_step.empty() && run.wf->hooks.on_failure.empty();
}

void set_step_view(Engine::Run& run, size_t i, tmpl::Value view) {
    tmpl::DictObj& steps = run.steps_view.dict_obj();
    const std::string& id = run.wf->steps[i].id;
    const bool first_time = steps.find(id) == nullptr;
    steps.set(str(id), std::move(view));
    if (!first_time || steps.size() < 2) return;
    auto index_of = [&](const tmpl::Value& key) {
        return size_t(run.wf->find_step(key.str()) - run.wf->steps.data());
    };
    const auto& items = steps.items();
    if (index_of(items[items.size() - 2].first) < i) return;  // in order already: most runs
    // The others are in order: the new last entry moves to its place, found by bisection
    // (a re-sort each time made a long chain written bottom-up quadratic in lookups).
    tmpl::DictObj::Items entries = steps.release();
    auto place = std::partition_point(entries.begin(), entries.end() - 1, [&](const auto& e) {
        return index_of(e.first) < i;
    });
    std::rotate(place, entries.end() - 1, entries.end());
    steps.assign(std::move(entries));
}

tmpl::Value not_run_view(const StepState& st) {
    tmpl::Value view = dict_of({{"status", str(std::string(step_status_name(st.status)))},
                                {"output", tmpl::Value::none()},
                                {"error", tmpl::Value::none()},
                                {"reason", str(st.reason)}});
    tmpl::freeze(view);
    return view;
}

namespace {

// What makes schedule() look at a pending step again (Run::woken): a dependency that
// settled, or a change of the whole run (a failure, which may trigger handlers and failure
// notes, or a cancel).
void wake_dependents(Engine::Run& run, size_t i) {
    for (size_t d : run.wf->steps[i].dependents)
        run.woken.add(d);
}
void wake_all(Engine::Run& run) {
    run.woken.add_all();
}

// An on_step step reports on a step that failed: the failure is what it has to say, so it
// runs even while the execution is failing (a cancelled execution runs nothing more).
bool reports_failure(const Engine::Run& run, const workflow::Step& def) {
    if (def.event_step.empty() || run.cancelled) return false;
    const workflow::Step* followed = run.wf->find_step(def.event_step);
    return followed &&
           run.steps[size_t(followed - run.wf->steps.data())].status == StepStatus::Failed;
}

// While the execution is failing, an on_step step still posts its note when the step it
// follows has finished (succeeded, failed, or skipped by its `when`): that step ran, and
// its note does not depend on which step failed first. Only the steps the failure cancels
// or skips get no note.
bool note_still_due(const Engine::Run& run, const workflow::Step& def) {
    if (def.event_step.empty() || run.cancelled) return false;
    const workflow::Step* followed = run.wf->find_step(def.event_step);
    if (!followed) return false;
    const auto& state = run.steps[size_t(followed - run.wf->steps.data())];
    return state.status == StepStatus::Failed || state.status == StepStatus::Succeeded ||
           (state.status == StepStatus::Skipped && !state.failure_skip);
}

}  // namespace

void Engine::schedule(Run& run) {
    if (run.finishing) return;
    const auto& defs = run.wf->steps;
    bool progress = true;
    while (progress) {
        progress = false;
        // In step order, as a pass over every step would go: a step woken by one that
        // settles during the pass is looked at in this pass if it comes later, else next.
        for (size_t i = run.woken.next(0); i < defs.size(); i = run.woken.next(i + 1)) {
            run.woken.remove(i);
            StepState& st = run.steps[i];
            if (st.status != StepStatus::Pending) continue;
            const bool failure_note = reports_failure(run, defs[i]);
            if (run.failing && !note_still_due(run, defs[i])) continue;
            if (st.handler && !st.triggered) continue;
            const workflow::Step& def = defs[i];
            bool ready = true;
            std::string blocked_by;
            for (size_t d : def.depends_on_steps) {
                const std::string& dep = defs[d].id;
                const StepState& ds = run.steps[d];
                if (!step_finished(ds.status)) {
                    ready = false;
                    break;
                }
                // A handler reads the failure it handles (steps.X.error): that dependency
                // failing is the reason it runs, not a reason to skip it.
                if (st.handler && ds.status == StepStatus::Failed && defs[d].on_error == def.id)
                    continue;
                if (failure_note && dep == def.event_step) continue;
                if (ds.status == StepStatus::Failed || ds.status == StepStatus::Cancelled ||
                    ds.failure_skip) {
                    blocked_by =
                        dep + (ds.status == StepStatus::Failed ? "' failed" : "' was skipped");
                    // A note (the one step that runs on while the execution fails) that reads
                    // the failure ending it ends as the failure's other dependents do:
                    // cancelled, at the end (workflows.md section 9).
                    if (run.failing && ds.status == StepStatus::Failed &&
                        (defs[d].on_error == "fail" || failure_step(run) == dep))
                        ready = false;
                }
            }
            if (!ready) continue;
            progress = true;
            auto skip = [&](std::string reason, bool failure) {
                st.status = StepStatus::Skipped;
                st.reason = std::move(reason);
                st.failure_skip = failure;
                st.output = tmpl::Value::none();
                set_step_view(run, i, not_run_view(st));
                wake_dependents(run, i);
                auto unit = std::make_unique<Unit>();
                unit->step_index = i;
                unit->key = def.id;
                unit->status = "skipped";
                unit->skip_reason = st.reason;
                st.units.push_back(run.units.size());
                run.units.push_back(std::move(unit));
                persist_unit(run, *run.units.back(), false);
                emit(run, "step.skipped", def.id, "skipped", st.reason);
            };
            if (!blocked_by.empty()) {
                skip("dependency '" + blocked_by, true);
                if (st.handler)
                    start_failing(run, failed_into(run, i), "dependency '" + blocked_by);
                continue;
            }
            if (!def.when.empty()) {
                Result<bool> cond = expressions_.condition(def.when, step_scope(run, def),
                                                           "step '" + def.id + "' when");
                if (!cond) {
                    st.status = StepStatus::Running;
                    st.started_ms = now_unix_ms();
                    auto unit = std::make_unique<Unit>();
                    unit->step_index = i;
                    unit->key = def.id;
                    unit->status = "failed";
                    unit->error = dict_of(
                        {{"kind", str("validation")},
                         {"message",
                          str(cond.error().message +
                              unfinished_step_hint(run, def, cond.error().message) +
                              null_output_hint(run, str(def.when), cond.error().message))}});
                    st.units.push_back(run.units.size());
                    run.units.push_back(std::move(unit));
                    ++st.running;
                    ++run.in_flight;
                    settle_unit(run, *run.units.back());
                    continue;
                }
                if (!cond.value()) {
                    skip("when condition is false", false);
                    // A handler that did not run handled nothing (workflows.md, section 9):
                    // the failure it was to take stays the execution's.
                    if (st.handler && st.triggered)
                        start_failing(run, failed_into(run, i), "when condition is false");
                    continue;
                }
            }
            st.status = StepStatus::Running;
            st.started_ms = now_unix_ms();
            if (!def.for_each.empty()) {
                const std::string where = "step '" + def.id + "' for_each";
                // As computed: a range() is named below with its remedy; a list's items are
                // then checked as every value kept is (groupby's groups become lists).
                Result<tmpl::Value> items =
                    expressions_.evaluate_any(def.for_each, run.context, where);
                if (items && items.value().is_sequence()) {
                    try {
                        check_json_fit(items.value());
                    } catch (const tmpl::TemplateError& e) {
                        items = template_failure(e, where + ": " + e.message());
                    }
                }
                std::string problem;
                if (!items)
                    problem = items.error().message;
                else if (!items.value().is_sequence())
                    problem = "step '" + def.id + "' for_each must give a list, got " +
                              workflow::detail::describe_value(items.value()) +
                              // range(), a generator, dict.items(): a list once listed.
                              (items.value().is_object() && items.value().object_obj().is_iterable()
                                   ? " (add | list: \"{{ ... | list }}\")"
                                   : "");
                else if (items.value().list_obj().items.size() > kMaxForEachItems)
                    // Each item is a unit with its records in memory and in the store: an
                    // input of 140,000 items took a server past 700 MB.
                    problem = "step '" + def.id + "' for_each gives " +
                              std::to_string(items.value().list_obj().items.size()) +
                              " items, more than the " + std::to_string(kMaxForEachItems) +
                              " one step may run: split the list (a sub-workflow per batch)";
                if (!problem.empty()) {
                    problem += null_output_hint(run, str(def.for_each), problem);
                    auto unit = std::make_unique<Unit>();
                    unit->step_index = i;
                    unit->key = def.id;
                    unit->status = "failed";
                    unit->error = dict_of({{"kind", str("validation")}, {"message", str(problem)}});
                    st.units.push_back(run.units.size());
                    run.units.push_back(std::move(unit));
                    ++st.running;
                    ++run.in_flight;
                    settle_unit(run, *run.units.back());
                    continue;
                }
                st.fan_out = true;
                const auto& list = items.value().list_obj().items;
                for (size_t k = 0; k < list.size(); ++k) {
                    auto unit = std::make_unique<Unit>();
                    unit->step_index = i;
                    unit->item_index = int(k);
                    unit->item = list[k];
                    unit->key = def.id + "[" + std::to_string(k) + "]";
                    st.units.push_back(run.units.size());
                    run.units.push_back(std::move(unit));
                }
                if (list.empty()) {
                    st.status = StepStatus::Succeeded;
                    st.output = tmpl::Value::list();
                    st.finished_ms = now_unix_ms();
                    Unit record;  // the step's record says it ran over no items
                    record.step_index = i;
                    record.key = def.id;
                    record.status = "succeeded";
                    record.output = st.output;
                    record.started_ms = st.started_ms;
                    record.finished_ms = st.finished_ms;
                    persist_unit(run, record, false);
                    emit_settled(run, record, /*for_each_summary=*/true);
                    step_settled(run, i);
                    continue;
                }
                size_t limit = def.concurrency > 0 ? size_t(def.concurrency) : st.units.size();
                while (st.next_unit < st.units.size() && st.running < limit) {
                    Unit& u = *run.units[st.units[st.next_unit++]];
                    ++st.running;
                    ++run.in_flight;
                    start_unit(run, u);
                }
            } else {
                auto unit = std::make_unique<Unit>();
                unit->step_index = i;
                unit->key = def.id;
                st.units.push_back(run.units.size());
                run.units.push_back(std::move(unit));
                ++st.running;
                ++run.in_flight;
                start_unit(run, *run.units.back());
            }
        }
    }
    if (run.in_flight == 0) finish_run(run);
}

void Engine::step_settled(Run& run, size_t i, bool restoring) {
    const workflow::Step& def = run.wf->steps[i];
    StepState& st = run.steps[i];
    // As its record says (and a resumed run reads): a failed step's output is null, not
    // undefined; a step the before_step hook vetoed has its reason, as one `when` skipped.
    // Every step has the four fields `ferry validate` lets expressions read: `reason` was
    // missing when there was none, so `steps.a.reason` failed whenever a ran.
    auto or_null = [](const tmpl::Value& v) { return v.is_undefined() ? tmpl::Value::none() : v; };
    tmpl::Value view =
        dict_of({{"status", str(std::string(step_status_name(st.status)))},
                 {"output", or_null(st.output)},
                 {"error", or_null(st.error)},
                 {"reason", st.reason.empty() ? tmpl::Value::none() : str(st.reason)}});
    tmpl::freeze(view);
    set_step_view(run, i, std::move(view));
    if (st.status == StepStatus::Failed) {
        if (def.on_error == "fail") {
            start_failing(run, i);
        } else if (def.on_error != "continue") {
            if (const workflow::Step* handler = run.wf->find_step(def.on_error)) {
                StepState& hs = run.steps[size_t(handler - run.wf->steps.data())];
                hs.triggered = true;
                // It started for an earlier failure, and read that one: this one would be
                // handled by nobody. (Restored results are as they were.)
                if (hs.status != StepStatus::Pending && !restoring)
                    start_failing(run, i,
                                  hs.status == StepStatus::Skipped
                                      ? "it was skipped already, for another step's failure"
                                      : "it had started already, for another step's failure");
            }
        }
        wake_all(run);
    } else {
        wake_dependents(run, i);
    }
}

}  // namespace ferry::engine
