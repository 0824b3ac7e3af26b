// Runs executions: works out which steps are ready, evaluates their inputs, hands each
// invocation to the runtime scheduler as a Lua task, retries, fans out for_each items,
// runs hooks and sub-workflows, and records every transition in the store.
//
// Durability rules (ARCHITECTURE.md decisions 4 and 5):
//   - a step invocation's "running" record (with its idempotency key) is durable before the
//     task starts, and its result is durable before any step that depends on it starts;
//   - all transitions staged during one loop iteration are committed together (the Engine
//     commits once per iteration);
//   - resume() rebuilds an interrupted execution from its records: finished steps keep their
//     results and never run again; an invocation that was running runs again with the same
//     idempotency key.
//
// Dependency rules: a step runs once every step it depends on has finished. A dependency
// skipped by its own `when` counts as finished (its output is null); a dependency that
// failed (with on_error: continue) or was skipped because of a failure makes the step
// skipped too. With on_error: fail (the default) a failure ends the execution: steps not
// yet started are cancelled, running ones finish. on_error: STEP runs STEP (which otherwise
// does not run) and continues.
#pragma once

#include "core/catalog.h"
#include "core/expressions.h"
#include "core/project.h"
#include "runtime/loop.h"
#include "runtime/scheduler.h"
#include "store/store.h"
#include "workflow/model.h"
#include "workflow/patterns.h"
#include "workflow/project_config.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace ferry::engine {

struct EngineOptions {
    uint64_t default_step_timeout_ms = workflow::kDefaultStepTimeoutMs;
    TaskLimits task_limits;       // instruction budget and memory per invocation
    int max_workflow_depth = 16;  // nested sub-workflows
    // Sub-workflow executions one top execution may start below it (children and theirs,
    // counted by this process): the depth limit alone let a workflow that calls itself from
    // a two-item for_each start 2^17 executions. As many as one for_each may have items.
    uint64_t max_tree_executions = 50'000;
    // Group commits on the store's writer thread, overlapping the loop's work, instead of on
    // the loop thread (which then never waits for an fsync). With one CPU the handoff costs
    // more than the overlap gains: off there (docs/performance.md).
    bool commit_thread = std::thread::hardware_concurrency() > 1;
};

// The statuses an execution's record can have, in the order of its life: pending, running,
// waiting, succeeded, failed, cancelled (the API documents them from here).
inline constexpr std::string_view kExecutionStatuses[] = {"pending",   "running", "waiting",
                                                          "succeeded", "failed",  "cancelled"};
// Whether `status` is one of them: what a filter by status (`executions list --status`,
// GET /api/v1/executions?status=) may ask for. The Validation error lists them.
Status check_execution_status(std::string_view status);
// The statuses of an execution that has ended: its record changes no more.
inline constexpr std::string_view kEndedStatuses[] = {"succeeded", "failed", "cancelled"};
// The items one for_each step may run (each is a unit, with its records in memory and in the
// store); a longer list fails the step, which says to split it.
inline constexpr size_t kMaxForEachItems = 50'000;
// What one for_each step's items' inputs may add up to as JSON: each is recorded and held
// while the execution runs, and a large value repeated in every item's `with:` (500 KB in
// 600 items) took a server to 1.4 GB and 366 MB of disk from a request of 500 KB.
inline constexpr uint64_t kMaxForEachInputBytes = 64u << 20;
bool execution_ended(std::string_view status);

// What the engine tells the outside world as it runs (progress lines, later SSE).
struct EngineEvent {
    std::string type;  // execution.started|finished, step.started|finished|failed|skipped|retrying
    std::string execution_id;
    std::string workflow;
    std::string step;  // unit key ("notify[2]") for step events
    std::string status;
    std::string message;  // error text or skip reason
    double duration_ms = 0;
    int attempt = 0;
    uint64_t retry_in_ms = 0;  // step.retrying: the delay before the next attempt
    bool dry_run = false;      // the execution sends nothing
    std::string task;          // step events: the step's task, provider and integration
    std::string provider;
    std::string integration;
    // step.finished|failed, from the step's output: whether it previewed its request instead
    // of sending it ("dry_run": true: a dry run, a dry-run step or integration), and its
    // "status" text (webhook.emit: "delivered" or "dead_lettered").
    bool previewed = false;
    std::string outcome;
    // The step of a for_each, settled once all its items have (their own events came first).
    bool for_each_summary = false;
    // step.waiting of an approval taken up again by a later process (a restart): it was
    // announced when it first parked. Live listeners are told its state again; `events:`
    // subscriptions are not sent a second "a decision is needed".
    bool announced_before = false;
};

struct StartOptions {
    bool dry_run = false;
    std::string trigger = "cli";   // cli | api | form | hook | schedule | workflow
    std::string parent_execution;  // for sub-workflows
    std::string parent_step;
    std::string execution_id;  // preset id (sub-workflows, idempotent submits); empty: new
    int depth = 0;
    // The sub-workflow executions this process started below the top execution, shared by
    // the whole tree (EngineOptions::max_tree_executions); made at the first child.
    std::shared_ptr<uint64_t> tree_started;
    // What the tree's sub-workflow starts may spend on input pattern checks, together:
    // a for_each of 50,000 children each checking a 16 KB value had a budget each, all
    // spent in one turn of the loop (hours). Made with tree_started.
    std::shared_ptr<workflow::PatternBudget> tree_patterns;
    tmpl::Value trigger_info;  // recorded as the execution's "trigger_info" (retry_of...)
    // The summary carries the execution's final records (ExecutionSummary::records), so an
    // answer that shows them (a `?wait=` answer) need not read them back from the store.
    bool keep_records = false;
};

// The end of an execution, as `ferry run` prints it.
struct ExecutionSummary {
    std::string id;
    std::string workflow;
    std::string status;  // succeeded | failed | cancelled
    tmpl::Value outputs;
    tmpl::Value error;  // {kind, message, step?} or none
    // With StartOptions::keep_records: the execution record and its step records (by key,
    // in the store's order) as they were written, before the store scrubbed them of secret
    // values (core/history.h's execution_json scrubs what it builds from them); null
    // otherwise.
    struct Records {
        std::string execution;
        // The length of the execution record's leading part that holds the fields users see
        // (core/history.h), or 0.
        size_t execution_shown = 0;
        std::vector<store::KeyedJson> steps;
    };
    std::shared_ptr<const Records> records;
};

using WorkflowResolver =
    std::function<Result<std::shared_ptr<const workflow::Workflow>>(const std::string& name)>;

// A run as the engine's callbacks name it: a number rather than its id, so a callback
// captures no string (and [this, ref] fits in std::function's own storage: no allocation).
// Never reused within a process, so a callback outliving its run finds nothing.
enum class RunRef : uint64_t {};

class Engine {
  public:
    Engine(Loop& loop, LuaVM& vm, Scheduler& scheduler, store::Store& store, TaskCatalog& catalog,
           const Project& project, Expressions& expressions, EngineOptions options = {});
    ~Engine();

    // One replay of a dead letter at a time among the processes on this data folder
    // (`ferry dlq replay` beside a server's API): an flock on DATA/locks/dlq-ID, held until
    // the replay's outcome is durable. false: another process replays it now.
    Result<bool> hold_dead_letter(const std::string& id) { return acquire_ownership("dlq-" + id); }
    void release_dead_letter(const std::string& id) { release_ownership("dlq-" + id); }
    // For what a process keeps on disk until it is done with it (the event outbox,
    // engine/core/notifier.cpp): the token this process names as "owner" (its lock is made
    // on first use), whether the process a token names still lives, and an flock on
    // DATA/locks/outbox-WEBHOOK-ID for the one process that takes over an entry a dead one
    // left.
    Result<std::string> process_token();
    bool process_alive(const std::string& token) { return owner_alive(token); }
    Result<bool> hold_outbox_entry(const std::string& webhook_id) {
        return acquire_ownership("outbox-" + webhook_id);
    }
    void release_outbox_entry(const std::string& webhook_id) {
        release_ownership("outbox-" + webhook_id);
    }

    // Finds workflows for `task: workflow` steps by name.
    void set_workflow_resolver(WorkflowResolver r) { resolver_ = std::move(r); }
    // ferry.yaml: steps' `integration:` settings (ctx.integration) and dry_run.
    void set_project_config(const workflow::ProjectConfig* config) { config_ = config; }
    // ferry.template's environment: with it the built-in template.render runs in C++
    // (engine/core/native_tasks.cpp) instead of handing its vars to Lua and back.
    void set_template_environment(tmpl::Environment* env) { templates_ = env; }
    // Adds a listener for execution and step events (progress lines, notifications...).
    void on_event(std::function<void(const EngineEvent&)> cb) {
        event_cbs_.push_back(std::move(cb));
    }
    // For a listener that keeps what it is told in the store (the event outbox): it hears
    // each event while the records the event reports are staged, so what it stages joins
    // their commit. Every event but execution.finished comes at that moment anyway; that
    // one comes to on_event listeners once the execution's end is durable, and to these
    // just before, with the final record staged.
    void on_event_staged(std::function<void(const EngineEvent&)> cb) {
        staged_event_cbs_.push_back(std::move(cb));
    }
    // Where the engine reports what concerns no step record (a failed on_failure hook, a
    // hook's log once its execution is gone, the history that cannot be written): by default
    // "ferry: MESSAGE" lines on stderr; `ferry serve` makes them JSON lines. level is
    // debug|info|warn|error; execution_id may be empty. An "error" notice can be the last
    // thing the process does (it exits right after): a sink that buffers writes it at once.
    using NoticeSink = std::function<void(std::string_view level, std::string_view message,
                                          std::string_view execution_id)>;
    void set_notice_sink(NoticeSink sink) { notice_sink_ = std::move(sink); }

    // Starts an execution of wf with already resolved inputs. done runs once it has ended
    // and its final record is durable.
    Result<std::string> start(std::shared_ptr<const workflow::Workflow> wf, tmpl::Value inputs,
                              StartOptions options,
                              std::function<void(const ExecutionSummary&)> done);
    // Continues an interrupted execution from its records. When another ferry process is
    // running it, the error says so and *busy (if given) is set: a caller may look again.
    Status resume(const std::string& id, std::function<void(const ExecutionSummary&)> done,
                  bool* busy = nullptr);

    // Ends a running execution as "cancelled": steps not started are cancelled, running
    // tasks (and sub-workflows) are cancelled through the scheduler, retries waiting for
    // their delay stop, no on_failure hook runs. NotFound: not running in this process;
    // Conflict: already finishing.
    Status cancel(const std::string& id, const std::string& reason);

    // Takes this process's lock in DATA/locks now rather than at the first start or resume:
    // a server that cannot make it would otherwise run (and answer every start with the
    // lock's error) instead of refusing to start as `ferry run` does.
    // The process lock, and the folder's server lock (DATA/locks/server, held for the
    // process's life): two servers on one folder both ran every schedule's due times.
    Status claim_data_folder();

    // Removes this process's DATA/locks/process-TOKEN and its lock, as the destructor does:
    // for a process that exits without destroying the engine (`ferry serve` after its
    // drain), which left one file behind per start.
    void drop_owner_lock();
    size_t active_executions() const { return runs_.size(); }
    // Whether this process runs the execution now (its events will come from here).
    bool runs(const std::string& id) const { return runs_.count(id) != 0; }
    // Steps waiting in the built-in sleep task (a timer each, no Lua task).
    size_t sleeping_steps() const { return sleeping_; }
    // Executions with work in progress: those parked on an approval do not count (a
    // shutdown need not wait for them; they are records).
    size_t busy_executions() const;

    // An approval step's decision (engine/core/approvals.cpp). decision: "approved" or
    // "rejected". A refusal says why, so callers map it without reading the message.
    struct DecideResult {
        // Failed: the execution waits, but could not be taken up (its records, its lock).
        enum class Refusal { None, NotRunningHere, NoSuchStep, NotWaiting, NotAnApprover, Failed };
        Refusal refusal = Refusal::None;
        std::string message;
        bool ok() const { return refusal == Refusal::None; }
    };
    // via: how the decision came when not from `by` itself ("hook:NAME": a callback that
    // names the approver), recorded beside it for the audit.
    DecideResult decide(const std::string& execution_id, const std::string& step_key,
                        const std::string& decision, const std::string& by,
                        const std::string& comment, const std::string& via = {});
    // Commits staged writes now (the loop does it once per iteration anyway).
    Status flush();
    // For a commit the runs in memory depend on: they cannot go on without it, so the
    // process stops as a crash would (exit status 3), saying why.
    [[noreturn]] void stop_on_lost_history(const Error& e) const;

    struct Run;
    struct Unit;

  private:
    friend struct RunAccess;
    // An execution a `ferry run` left waiting for a decision belongs to no live process once
    // that process has ended (it exits when only decisions are left): this one adopts it,
    // as its next start would, so that a decision or a cancel sent now is taken now. A
    // sub-workflow comes with its top-level execution (they resume together). nullptr when
    // it is not waiting, or another live process runs it, or it could not be taken up
    // (*failed, if given, says why: a lock that cannot be made, a damaged record).
    Run* adopt_parked(const std::string& id, std::optional<Error>* failed = nullptr);
    // For a cancel: a top-level execution recorded running whose process is gone (killed,
    // crashed), resumed here with nothing started yet, so that the cancel ends it without
    // running what was left. nullptr when it is not running, a live process runs it, or it
    // is or has a running sub-workflow (why says so).
    Run* adopt_orphan(const std::string& id, std::string& why);
    void schedule(Run& run);
    void start_unit(Run& run, Unit& unit);
    void invoke_unit(Run& run, Unit& unit);
    // A pure task (TaskDef::pure) need not wait for its own "running" record, nor for the
    // results it reads to be durable: it has no effect a crash could hide or repeat, and
    // batches become durable in staging order, so anything with an effect that depends on
    // its result still waits for a commit that carries that result too. Such units are
    // queued (start_unit runs inside schedule()) and invoked by run_early_starts, mostly
    // before the next commit is handed out: a chain of pure steps then shares one commit
    // (after a commit, only the first 32 run before the next goes: Engine::batch_written).
    bool starts_early(const Run& run, const Unit& unit) const;
    // Runs the queued early starts, at most max_units of them (the rest stay queued).
    void run_early_starts(size_t max_units = SIZE_MAX);
    void unit_finished(Run& run, Unit& unit, TaskOutcome outcome);
    // Records a unit's result. With eager, the consequences (dependents scheduled, their
    // "running" records staged) join the same commit; otherwise they wait for it. Eager is
    // only for callers outside schedule() (it schedules again).
    // already_durable: the unit's record is the one resume found (a for_each item that
    // finished before the crash): written again it would lose what only the record holds.
    void settle_unit(Run& run, Unit& unit, bool eager = false, bool already_durable = false);
    void unit_settled(Run& run, Unit& unit);
    bool settles_eagerly(const Run& run) const;
    // restoring: a result read back on resume (it happened as recorded).
    void step_settled(Run& run, size_t step_index, bool restoring = false);
    // The execution fails with the failed step's error: under on_error: fail, or, with
    // `unhandled` (why), a failure into an on_error step that cannot run for it. Retries
    // stop, nothing new starts, and the verdict goes on record. Once: the first failure's.
    void start_failing(Run& run, size_t failed_step, const std::string& unhandled = {});
    // The first failed step whose on_error names the handler; npos when none.
    size_t failed_into(const Run& run, size_t handler_index) const;
    // The step whose failure fails the execution (run.error's step); empty when none.
    static std::string failure_step(const Run& run);
    // Steps waiting for their next attempt end with the one they had, as `status` (the run
    // started failing, or was cancelled); with `only_step`, that step's items only (one of
    // them failed under on_error: fail).
    void stop_pending_retries(Run& run, const char* status, size_t only_step = SIZE_MAX);
    // Ends parked approvals (cancelled) and cancels children waiting for decisions once
    // the execution fails; with `only_step`, that step's items only (as above).
    void end_pending_decisions(Run& run, size_t only_step = SIZE_MAX);
    // The outcome of a unit stopped from outside while it slept or waited for a decision:
    // cancelled with `reason`, for as long as it had run.
    TaskOutcome stopped_outcome(const Unit& unit, const std::string& reason) const;
    // Ends a sub-workflow execution its stopped parent's step had started (the parent
    // ends that step without running it again): taken over and cancelled.
    void cancel_orphaned_child(const std::string& id, const std::string& reason);
    // The unit waits to retry until retry_at_ms (unix ms), then starts its next attempt.
    void arm_retry(Run& run, Unit& unit, uint64_t retry_at_ms);
    // A hint for "'dict object' has no attribute 'X'" where X is a step that has not
    // finished (read through a variable key, so no dependency was seen); "" otherwise.
    std::string unfinished_step_hint(const Run& run, const workflow::Step& def,
                                     const std::string& message) const;
    // A hint for an error about null ("'None' has no attribute 'number'") where source's
    // expressions read a step that did not succeed and so has no output (skipped by its
    // `when`, failed with on_error: continue): which, and why; "" otherwise.
    std::string null_output_hint(const Run& run, const tmpl::Value& source,
                                 const std::string& message) const;
    // The expression context of a step: the run's, plus `event` for on_step steps.
    tmpl::Value step_scope(const Run& run, const workflow::Step& def) const;
    // step_scope plus a for_each invocation's item and index.
    tmpl::Value invocation_scope(const Run& run, const Unit& unit) const;
    // A resumed unit's recorded input with the credential headers the record hides
    // ([REDACTED]) given their values again from the step's `with:`; false when one is not
    // there (a before_step hook added it) or `with:` no longer evaluates: the whole input
    // must be evaluated again then.
    bool restore_hidden_headers(const Run& run, Unit& unit);
    // What the hook logs goes to `unit`'s logs (marked with the hook's name), or to stderr
    // for on_failure, which runs for no step.
    void keep_hook_logs(const std::string& run_id, const std::string& kind, Unit* unit,
                        const std::vector<TaskLogEntry>& logs);
    void run_hook(Run& run, const std::string& kind, tmpl::Value event,
                  std::function<void(Result<tmpl::Value>)> then, Unit* unit);
    void finish_run(Run& run);
    void finalize_run(Run& run);
    void invoke_subworkflow(Run& run, Unit& unit);
    void invoke_approval(Run& run, Unit& unit);
    // Built-in tasks the engine runs without Lua (engine/core/native_tasks.cpp): sleep is a
    // timer (stop_sleep: if unit is sleeping, stops it (true) and the caller settles it);
    // template.render renders from the step's input Values.
    enum class NativeTask { None, Sleep, Render };
    NativeTask native_task(const TaskDef& task) const;
    void invoke_sleep(Run& run, Unit& unit);
    void invoke_render(Run& run, Unit& unit);
    bool stop_sleep(Unit& unit);
    // Times the waiting unit out at its wait_deadline_ms, delay_ms from now (again when the
    // timer fires before the wall clock reaches it).
    void arm_approval_deadline(Run& run, Unit& unit, uint64_t delay_ms);
    // A unit the stopped process had started (its resumed record), ended "cancelled" as it
    // was, in an execution that ends before it runs again (run_end.cpp).
    void end_interrupted_unit(Run& run, size_t step_index, const std::string& key,
                              const tmpl::Value& record, const std::string& reason);
    void approval_timed_out(Run& run, Unit& unit);
    // Waits for a decision (and arms the timeout). record_unit: write the step's "waiting"
    // record; false when it is already there (a resumed wait).
    void park_approval(Run& run, Unit& unit, bool record_unit);
    bool only_decisions_left(const Run& run) const;
    // A run that has parked an approval: "waiting" or "running" again as its units settle.
    void recheck_waiting(Run& run);
    void persist_execution(Run& run);
    // settled: the unit's record is final (settle_unit), so its attempt record can point at
    // the step record's input and output instead of repeating them (records.cpp).
    void persist_unit(Run& run, Unit& unit, bool with_attempt, bool settled = false);
    // The task's memo (ctx.remember) onto the step's record; kept runs once it is durable.
    void keep_memo(Run& run, Unit& unit, const std::string& memo, Task::MemoKept kept);
    void emit(const Run& run, std::string type, const std::string& step, std::string status,
              std::string message = {}, double duration_ms = 0, int attempt = 0,
              uint64_t retry_in_ms = 0, const Unit* settled = nullptr,
              bool for_each_summary = false);
    EngineEvent make_event(const Run& run, std::string type, const std::string& step,
                           std::string status, std::string message = {}, double duration_ms = 0,
                           int attempt = 0, uint64_t retry_in_ms = 0, const Unit* settled = nullptr,
                           bool for_each_summary = false) const;
    bool has_event_listeners() const { return !event_cbs_.empty() || !staged_event_cbs_.empty(); }
    void dispatch(const EngineEvent& e);
    // step.finished, step.failed or step.skipped for a unit that settled.
    void emit_settled(const Run& run, const Unit& unit, bool for_each_summary = false);
    Run* find_run(const std::string& id);
    Run* find_run(RunRef ref);
    void add_run(const std::shared_ptr<Run>& run);
    // An execution is owned by one process at a time, so resume never runs an execution
    // another live process is running (engine/core/ownership.cpp). Each engine holds an flock
    // on its own DATA/locks/process-TOKEN for its lifetime (the kernel drops it when the
    // process dies, kill -9 included) and names TOKEN as "owner" in the execution records it
    // writes: starting an execution costs no file operation. resume() takes an flock on
    // DATA/locks/ID (one resumer at a time, released when the execution ends) and refuses
    // an execution whose recorded owner still holds its lock.
    // false: another process holds it; an error: no lock could be made.
    Result<bool> acquire_ownership(const std::string& id);
    Status resume_stored(const std::string& id, std::function<void(const ExecutionSummary&)> done,
                         bool* busy);
    void release_ownership(const std::string& id);
    Status take_owner_lock();  // creates and locks the process file once; owner_token_ names it
    bool owner_alive(const std::string& token);
    void open_data_dir();
    void close_data_dir();
    Result<int> locks_fd();  // DATA/locks, made on first use
    Error lock_error(const std::string& name, int err) const;
    Result<std::shared_ptr<Run>> make_run(std::shared_ptr<const workflow::Workflow> wf,
                                          tmpl::Value inputs, const StartOptions& options,
                                          std::string id);
    // [-0, +1] The ctx data of one invocation (ctx.lua's M.new makes the ctx of it).
    void push_task_context(lua_State* L, Run& run, Unit& unit);
    // The step runs as a dry run: by its own `dry_run:`, the execution's, or its integration's.
    bool is_dry_run(const Run& run, const workflow::Step& def) const;
    // [-0, +1] The step's input; for a task that keeps its input (TaskDef::keeps_input), the
    // parts taken unevaluated from `with:` as shared tables (shared_inputs_).
    void push_task_input(lua_State* L, const Run& run, const Unit& unit, const TaskDef& task);
    // The step input's JSON text for its records, the constant parts spliced from
    // shared_inputs_ instead of written again.
    std::string input_json_text(const Run& run, const Unit& unit);
    struct SharedInput;
    // The cache entry of an input item `key: value` when value is the constant part of the
    // step's `with:` under key (the evaluator hands those over as they are); else nullptr.
    SharedInput* shared_input(const Run& run, const Unit& unit, const tmpl::Value& key,
                              const tmpl::Value& value);
    void release_shared_inputs();
    Result<int> hook_ref(const std::string& file);
    Result<int> stdlib_function(const std::string& module);
    Status load_step_metatable();  // step_metatable_ref_

    Loop& loop_;
    LuaVM& vm_;
    Scheduler& scheduler_;
    store::Store& store_;
    TaskCatalog& catalog_;
    const Project& project_;
    Expressions& expressions_;
    EngineOptions options_;
    WorkflowResolver resolver_;
    const workflow::ProjectConfig* config_ = nullptr;
    tmpl::Environment* templates_ = nullptr;
    std::vector<std::function<void(const EngineEvent&)>> event_cbs_;
    std::vector<std::function<void(const EngineEvent&)>> staged_event_cbs_;
    NoticeSink notice_sink_;
    void notice(std::string_view level, std::string_view message,
                std::string_view execution_id) const;
    std::unordered_map<std::string, std::shared_ptr<Run>> runs_;
    std::unordered_map<RunRef, Run*> runs_by_ref_;  // the same runs
    uint64_t last_run_ref_ = 0;
    // Hook files loaded, with their stamps: an edited file is loaded again, a deleted one
    // is not found (as a fresh start would say).
    struct LoadedHook {
        std::optional<uint64_t> stamp;
        int ref = LUA_NOREF;
    };
    std::map<std::string, LoadedHook> hook_cache_;
    int step_metatable_ref_ = LUA_NOREF;  // stdlib/ferry/ctx.lua's step_metatable(shared)
    // The metatable of a step's ctx tables (push_task_context), per step definition and
    // dry-run mode: the fields every invocation of the step shares are set once in it. The
    // entry holds the workflow, so the step's address cannot be reused while it stands.
    struct StepContext {
        std::shared_ptr<const workflow::Workflow> workflow;
        int metatable_ref[2] = {LUA_NOREF, LUA_NOREF};  // [dry_run]
    };
    std::unordered_map<const workflow::Step*, StepContext> step_contexts_;
    void push_step_metatable(lua_State* L, const Run& run, const workflow::Step& def, bool dry_run);
    void release_step_contexts();
    // Constant parts of steps' `with:`, by the part's identity, with what is made of them
    // once instead of per invocation: the Lua table (for tasks that keep their input) and the
    // JSON text (for records). The entry holds the part, so its address cannot be reused
    // while the entry stands for it.
    struct SharedInput {
        tmpl::Value part;
        int ref = LUA_NOREF;  // made on first push
        std::string json;     // made on first record
    };
    std::unordered_map<const tmpl::HeapObject*, SharedInput> shared_inputs_;
    int hook_runner_ref_ = LUA_NOREF;
    bool committing_ = false;
    void batch_written();  // the writer thread finished a batch: its effects run
    void hold_loop_while_writing();
    // Whether the engine still exists, for callbacks that can outlive it: the writer's
    // posts and hook tasks' done callbacks.
    std::shared_ptr<Engine*> alive_ = std::make_shared<Engine*>(this);
    bool holding_loop_ = false;
    size_t sleeping_ = 0;
    std::vector<std::pair<RunRef, Unit*>> early_starts_;  // (starts_early)
    uint64_t iteration_id_ = 0;
    std::map<std::string, int> owned_;  // resumed execution id -> locked file descriptor
    std::string owner_token_;           // empty until take_owner_lock()
    int owner_fd_ = -1;                 // the locked DATA/locks/process-TOKEN
    int server_fd_ = -1;                // the locked DATA/locks/server (claim_data_folder)
    int data_dir_fd_ = -1;              // the data folder, wherever it is moved
    int data_dir_errno_ = 0;            // why it could not be opened
    int locks_fd_ = -1;                 // DATA/locks
    std::unordered_set<std::string> workflows_stored_;  // definition hashes staged by start()
};

// The stable key of one invocation: the same across retries and restarts.
std::string idempotency_key(const std::string& execution_id, const std::string& unit_key);

}  // namespace ferry::engine
