// Tasks: one Lua coroutine per invocation, parked while it waits for I/O, resumed by the
// loop (the cosocket model of EXAMPLES.md 2.2).
//
// Protocol for a yielding C function (ferry.http.request, ferry.sleep...):
//   1. check arguments (raise on misuse);  2. Task* t = Scheduler::current(L) — raise when
//   not inside a task or not yieldable;  3. start the operation and t->park(op);
//   4. `return lua_yield(L, 0)`, from a frame where no C++ object is alive any more (Lua
//   built as C++ yields by throwing, and each live object's landing pad costs about as much
//   as the throw: build and park in a helper, yield in its caller, as http_request does).
//   The operation's completion (a libuv or curl callback) never
//   calls Lua: it calls Scheduler::complete(t, pusher), which queues the task; the scheduler
//   drains its ready queue once per loop iteration, pushes the results with the pusher and
//   resumes the coroutine. The pushed values become the yielding function's return values.
//
// Limits: an instruction budget and a wall-clock deadline checked by a count hook on a
// task thread whose resume runs longer than a tick (armed then by LuaWatchdog; re-armed to
// fire on every instruction after a breach, so pcall cannot swallow it); an approximate
// per-task memory cap (bytes allocated while the task ran, charged at each yield and checked
// by the hook); the VM-wide hard cap of LuaVM. Each breach ends the task with
// ErrorKind::Limit and says which limit. A deadline timer also cancels a parked task's
// operation (ErrorKind::Timeout).
//
// Time slicing: the same hook makes a task that keeps the CPU (a loop that waits for
// nothing) yield once its slice is spent (kSliceNs a loop iteration, shared by all such
// tasks), so the loop's I/O, timers and other tasks go on meanwhile: a for_each of looping
// tasks no longer holds the HTTP server for the sum of their budgets. It resumes at a later
// iteration, round robin with the others; its budgets count across slices. Where Lua cannot
// yield (a sort comparator, a metamethod called from C) it runs on until it returns there.
#pragma once

#include "runtime/error.h"
#include "runtime/loop.h"
#include "runtime/lua_vm.h"
#include "runtime/lua_watchdog.h"

#include <rapidjson/document.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ferry {

struct TaskLimits {
    uint64_t instruction_budget = 100'000'000;  // VM instructions per invocation (0: none)
    uint64_t timeout_ms = 0;                    // wall clock, parked time included (0: none)
    size_t memory_bytes = 64u << 20;            // approximate per-invocation cap (0: none)
    // false for a task declared pure: whatever would wait (ferry.http, ferry.sleep) raises
    // instead, so the engine may run it before its "running" record is durable.
    bool io_allowed = true;
};

enum class TaskState { Ready, Running, Parked, Finished };
std::string_view to_string(TaskState s);

// An operation a parked task waits for. Owned by the Task, cancelled by it.
class PendingOp {
  public:
    virtual ~PendingOp() = default;
    virtual void cancel() = 0;
    virtual const char* what() const = 0;  // "http", "sleep"... for diagnostics
};

struct TaskLogEntry {
    std::string level;  // debug | info | warn | error
    std::string message;
    std::string fields;  // JSON object text, may be empty
    uint64_t at_ms = 0;  // unix ms
};

struct TaskChange {
    std::string kind;
    std::string id;
    // As documents, not text: the engine diffs them and then writes them, and parsing the
    // text back for the diff cost more than the rest of the change record.
    rapidjson::Document before;
    rapidjson::Document after;
};

// Something the task produced besides its result, for its owner to store with the step:
// "http" (one attempt of an integration request), "dead_letter" (a delivery given up).
struct TaskRecord {
    std::string kind;
    std::string json;  // a JSON object, already redacted
};

struct TaskOutcome {
    bool ok = false;
    rapidjson::Document value;       // the task's first return value, as JSON (when ok)
    Error error;                     // when !ok
    std::string traceback;           // Lua traceback for lua_error
    rapidjson::Document error_data;  // the `data` field of a Ferry error table, if any
    bool dry_run_stop = false;       // the task stopped at a send in dry-run (kind "dry_run")
    // The failure stands whatever its kind: the work behind it already had its retries and
    // running it again would repeat its side effects (a failed sub-workflow).
    bool final_failure = false;
    // Stopped from outside, not failed (an approval left undecided when its execution
    // failed): the invocation ends "cancelled".
    bool stopped = false;
    // Unix ms before which a peer asked not to be tried again (the Retry-After of the last
    // answer the task got; 0: none): a retry of the invocation waits for it.
    uint64_t retry_not_before_ms = 0;
    std::vector<TaskLogEntry> logs;
    std::vector<TaskChange> changes;
    std::vector<TaskRecord> records;
    uint64_t instructions = 0;
    double duration_ms = 0;
};

class Scheduler;

class Task {
  public:
    uint64_t id() const { return id_; }
    TaskState state() const { return state_; }
    lua_State* thread() const { return co_; }
    // Parks the running task on op (step 3 of the protocol). The caller then yields.
    void park(std::unique_ptr<PendingOp> op);
    // What the last answer a peer gave this task said of trying again (TaskOutcome's
    // retry_not_before_ms): each answer replaces the one before.
    void set_retry_not_before(uint64_t unix_ms) { retry_not_before_ms_ = unix_ms; }

    // What an invocation leaves on record (logs, changes, dead letters) is bounded, as its
    // memory is: it all goes into the history, which no step should fill.
    static constexpr size_t kMaxLogText = 64 * 1024;   // a message (cut_for_the_record), fields
    static constexpr size_t kRecordBudget = 8u << 20;  // everything together
    // A message or fields past kMaxLogText are cut; past the budget entries are dropped,
    // said once by a last warn entry.
    void log(std::string level, std::string message, std::string fields_json = {});
    // False (nothing kept) once the budget is spent: the caller raises a limit error.
    bool record_change(TaskChange change);
    bool record(std::string kind, std::string json);

    // What a task remembers across its attempts (ctx.remember, runtime/task_memo.cpp): named
    // JSON values its owner keeps durably with the invocation (the engine: on the step's
    // record), so a later attempt, in this process or after a crash, knows what an earlier
    // one was about to do. The owner hands over what earlier attempts kept (a JSON object's
    // text, empty: nothing) and the keeper, which stores the whole memo again and calls
    // `kept` once it is durable (later, never from inside the call). A task without a
    // keeper (a hook) cannot remember.
    using MemoKept = std::function<void(Status)>;
    using MemoKeeper = std::function<void(const std::string& memo_json, MemoKept kept)>;
    static constexpr size_t kMaxMemoName = 64;
    static constexpr size_t kMaxMemoBytes = 64 * 1024;  // the whole memo, as JSON
    // False when memo_json is not a JSON object's text (nothing is kept then).
    bool keep_memo(const std::string& memo_json, MemoKeeper keeper);
    const MemoKeeper* memo_keeper() const { return memo_ ? &memo_->keeper : nullptr; }
    // The remembered value's JSON text, or nullptr.
    const std::string* remembered(std::string_view name) const;
    // Sets (or with an empty value_json, forgets) a name: the whole memo's text, for the
    // keeper. A Limit error, nothing changed, when it would pass kMaxMemoBytes.
    Result<std::string> remember(std::string_view name, std::string value_json);

  private:
    friend class Scheduler;
    struct Memo {
        std::vector<std::pair<std::string, std::string>> values;  // name -> JSON text
        MemoKeeper keeper;
    };
    std::unique_ptr<Memo> memo_;  // most tasks remember nothing
    uint64_t id_ = 0;
    TaskState state_ = TaskState::Ready;
    lua_State* co_ = nullptr;
    int co_ref_ = LUA_NOREF;
    int nargs_ = 0;
    TaskLimits limits_;
    uint64_t instructions_ = 0;
    // Time slicing (Scheduler::hook): while the scheduler resumes the task, when the drain
    // it runs in began (slice_base_ns_) and when its slice ends (0: not decided yet).
    bool in_resume_ = false;
    bool yielded_slice_ = false;  // the hook yielded: the loop's turn, not an operation's
    bool cpu_bound_ = false;      // its last resume ended by a slice running out
    uint64_t slice_base_ns_ = 0;
    uint64_t slice_end_ns_ = 0;
    uint64_t started_ns_ = 0;
    uint64_t deadline_ns_ = 0;
    size_t memory_charged_ = 0;
    size_t alloc_mark_ = 0;
    std::string limit_hit_;
    std::unique_ptr<PendingOp> pending_;
    std::function<int(lua_State*)> resume_pusher_;
    std::unique_ptr<Error> start_error_;  // its arguments could not be built: fails at once
    size_t deadline_slot_ = SIZE_MAX;     // index in Scheduler::deadlines_, SIZE_MAX: none
    uint64_t wake_ns_ = 0;                // sleeping (Scheduler::sleep): when to resume
    size_t wake_slot_ = SIZE_MAX;         // index in Scheduler::sleepers_
    std::function<void(TaskOutcome)> done_;
    std::vector<TaskLogEntry> logs_;
    std::vector<TaskChange> changes_;
    std::vector<TaskRecord> records_;
    // Counts bytes against kRecordBudget; false (nothing counted) when they do not fit.
    bool charge_record(size_t bytes);
    size_t recorded_bytes_ = 0;  // logs, changes and records so far (kRecordBudget)
    bool logs_dropped_ = false;
    uint64_t retry_not_before_ms_ = 0;
};

// A binary min-heap of tasks by one of their times; each task keeps its index (Slot,
// SIZE_MAX when out), so it leaves in O(log n).
template <uint64_t Task::*Key, size_t Task::*Slot>
class TaskHeap {
  public:
    bool empty() const { return items_.empty(); }
    Task* top() const { return items_.front(); }
    void push(Task* t);
    bool remove(Task* t);  // false when t was not in the heap

  private:
    void place(size_t slot, Task* t);
    void up(size_t slot);
    void down(size_t slot);
    std::vector<Task*> items_;
};

class Scheduler {
  public:
    Scheduler(Loop& loop, LuaVM& vm);
    ~Scheduler();  // cancels every live task (their done callbacks run with Cancelled)
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Starts function_ref(args...) as a new task. push_args pushes the arguments on the
    // task's thread and returns how many. done runs exactly once, on the loop, never from
    // inside spawn().
    Task* spawn(int function_ref, std::function<int(lua_State*)> push_args, TaskLimits limits,
                std::function<void(TaskOutcome)> done);
    // Ends a task (running operations cancelled, to-be-closed variables run); its done
    // callback runs with the given error (Cancelled by default).
    void cancel(Task* task, Error why = make_error(ErrorKind::Cancelled, "cancelled"));
    // The task running on L; raises a Lua error naming `what` when there is none, or when
    // the call cannot yield here (inside a metamethod, an iterator or a sort comparator).
    static Task* current(lua_State* L, const char* what);
    // Parks the running task for ms (ferry.sleep); it resumes with no values. The caller
    // then yields.
    void sleep(Task* t, uint64_t ms);
    // Queues a parked task to resume; pusher pushes its results on the task thread.
    void complete(Task* task, std::function<int(lua_State*)> pusher);

    // Keys a task holds alone (ferry.lock; scheduler_locks.cpp): while one task holds a key,
    // the others that ask for it park, and get it in the order they asked. One process
    // only: the lock lives on this loop. A task that ends holding keys gives them up, however
    // it ends (an error, a cancel, a limit).
    // What the holders of a key leave to the next: a value passed on (as JSON text; empty:
    // none), and when the last one ended in the middle of an HTTP request (unix ms, 0: it
    // did not, or a holder since passed a value on, having settled what that request did).
    // Kept after the last release when there is any, so a task that comes a little later
    // learns it too: kIdleKeepMs (long enough for a vendor's search to catch up),
    // kInterruptedKeepMs when the last holder was cut short (longer than a request's
    // timeout); at most kIdleKeepMax keys and kPassedBudget bytes of passed values kept
    // after release: the oldest keys kept for a value go first, then the values of marked
    // keys (a key that carries the mark goes only with age). A value passed on is at most
    // kMaxPassed bytes.
    struct LockHandover {
        std::string passed_json;
        uint64_t interrupted_at_ms = 0;
    };
    using LockGranted = std::function<int(lua_State*, const LockHandover&)>;
    static constexpr uint64_t kIdleKeepMs = 60'000;
    static constexpr uint64_t kInterruptedKeepMs = 600'000;
    static constexpr size_t kIdleKeepMax = 1'000;
    static constexpr size_t kMaxPassed = 1u << 20;
    static constexpr size_t kPassedBudget = 16u << 20;
    // True when t holds key now (handover(key) says what was left). Otherwise t is parked
    // until it does (the caller yields) and resumes with what `granted` pushes.
    bool lock(Task* t, std::string key, LockGranted granted);
    // Gives key up if the task with that id holds it (the next in line gets it); false when
    // it does not hold it.
    bool unlock(uint64_t task, const std::string& key);
    LockHandover handover(const std::string& key) const;
    // Leaves a value (JSON text, at most kMaxPassed bytes) to the next holders of key;
    // false when task does not hold it.
    bool pass_on(uint64_t task, const std::string& key, std::string json);
    // Whether the task holds a key (ferry.lock takes one at a time: two tasks each holding
    // the key the other waits for would wait for good).
    bool holds_a_lock(uint64_t task) const { return held_.count(task) != 0; }
    // The task running on L, or nullptr (never raises, unlike current()).
    static Task* running(lua_State* L);

    // Runs the done callbacks of tasks that already ended (normally the loop does it), so an
    // owner being destroyed can flush the callbacks that still point at it.
    void run_finished_callbacks();
    // Whether t is a task that has not ended (t may point at a task already gone).
    bool is_live(const Task* t) const {
        for (const auto& [id, task] : tasks_)
            if (task.get() == t) return true;
        return false;
    }

    size_t live_tasks() const { return tasks_.size(); }
    // Tasks queued to run (not parked): work the loop will do in its next iterations.
    size_t ready_tasks() const { return ready_.size() + waiting_turn_.size() + had_turn_.size(); }
    // How long the tasks that keep the CPU (a loop with no I/O in it) may run in one loop
    // iteration, together, before the loop's I/O gets a turn: a task past it yields from
    // the count hook and resumes at a later iteration, round robin with the others.
    static constexpr uint64_t kSliceNs = 5'000'000;
    // What a task's to-be-closed variables may still run when it ends (they cannot yield):
    // kCloseInstructions and kCloseMs, shared by the tasks that end in the same loop
    // iteration (a cancel of a fan-out ends them all at once: 50 looping cleanups held the
    // loop 100 ms each). One that ends when the share is spent still gets kCloseFloor*.
    static constexpr uint64_t kCloseInstructions = 1'000'000;
    static constexpr uint64_t kCloseMs = 100;
    static constexpr uint64_t kCloseFloorInstructions = 20'000;
    static constexpr uint64_t kCloseFloorNs = 1'000'000;
    // At most n resumes per loop iteration, the rest in the next ones (woken at once): lets an
    // owner act between groups of tasks (the engine hands a commit thread what they staged).
    void set_resumes_per_iteration(size_t n) { resumes_per_iteration_ = n ? n : SIZE_MAX; }
    // Runs the ready tasks now instead of at the loop's next turn, for an owner that just
    // spawned tasks and wants what they do before it goes on (the engine, before a commit).
    void run_ready() { drain(); }
    size_t parked_tasks() const;
    Loop& loop() { return loop_; }
    LuaVM& vm() { return vm_; }
    static Scheduler* of(lua_State* L);

  private:
    void drain();
    // The loop's per-iteration callback: tasks whose slice ran out go back to the ready
    // queue (those still waiting for a turn first), then drain().
    void on_iteration();
    size_t resumes_per_iteration_ = SIZE_MAX;
    void resume(Task* t);
    void finish(Task* t, TaskOutcome outcome);
    void fail(Task* t, Error error, std::string traceback = {});
    // A located error inside Ferry's own Lua modules: moved to the task's line that called them.
    static void blame_the_task(lua_State* co, Error& err);
    // The line of the task's own code the coroutine was running (Ferry's modules skipped).
    static std::optional<SourceLocation> task_line(lua_State* co);
    static void hook(lua_State* L, lua_Debug* ar);
    // Runs push (a task's arguments or resume values) under lua_pcall on push_thread_ and
    // moves what it pushed onto target; the count. Building them allocates (a vendor's
    // answer, a large for_each item), and an error there outside a protected call would
    // reach Lua's panic handler and abort the process; here it is the task's error.
    Result<int> push_protected(const std::function<int(lua_State*)>& push, lua_State* target);
    bool new_thread(lua_State* L, Task* t);
    Error vm_full_error() const;  // a task that met the whole VM's cap
    // Deadlines of tasks with a timeout, and wake-up times of sleeping tasks: two heaps
    // (scheduler_timers.cpp) and one timer armed for the earliest of both, instead of a uv
    // timer per task (~200 B and ~0.8 µs each). A task leaves the heaps when it finishes; the
    // timer only needs to cancel parked or ready tasks (a running task is stopped by the
    // count hook, which checks the same deadline).
    void arm_timer();
    void on_timer();
    // ferry.lock's keys: who holds each, who waits for it (first in line first) and what
    // its holders left; and the key each holding task has (by task id: a task holds none,
    // mostly). A line with no holder and nobody waiting stays only for what it hands over,
    // for a while after its release (idle_, oldest first).
    struct KeyLine {
        uint64_t holder = 0;
        std::deque<std::pair<uint64_t, LockGranted>> waiting;
        LockHandover handover;
        bool passed_by_holder = false;  // the present holder passed a value on
        uint64_t idle_since_ns = 0;
    };
    friend struct LockWaitOp;
    void stop_waiting(uint64_t task, const std::string& key);  // a waiter cancelled
    void release_locks(const Task* t);                         // t ends
    void forget_idle_lines(uint64_t now_ns);                   // past kIdleKeepMs, or too many
    void drop_line(std::unordered_map<std::string, KeyLine>::iterator line);
    std::unordered_map<std::string, KeyLine> locks_;
    // (idle since, key) in release order: lines kept for a value passed on, and lines kept
    // for an interrupted mark (forgotten only with age).
    std::deque<std::pair<uint64_t, std::string>> idle_;
    std::deque<std::pair<uint64_t, std::string>> marked_;
    bool is_idle_since(const std::string& key, uint64_t since) const;
    // Bytes passed on that idle lines keep (what held lines keep is in use): the budget.
    size_t idle_passed_bytes_ = 0;
    size_t marked_compact_at_ = 64;
    uint64_t ending_mid_request_ = 0;  // a task finish() ends while its HTTP request is out
    std::unordered_map<uint64_t, std::string> held_;
    Loop& loop_;
    LuaVM& vm_;
    uint64_t next_id_ = 1;
    std::unordered_map<uint64_t, std::unique_ptr<Task>> tasks_;
    std::deque<uint64_t> ready_;
    // Tasks that keep the CPU: those that yielded a slice in this iteration, and those
    // passed over because this iteration's slice was spent. Ready again at the next one.
    std::deque<uint64_t> had_turn_;
    std::deque<uint64_t> waiting_turn_;
    uint64_t drain_started_ns_ = 0;
    uint64_t close_share_end_ns_ = 0;  // when the to-be-closed time now being shared ends
    uint64_t close_share_iteration_ = UINT64_MAX;  // the loop iteration it is shared in
    uint64_t iterations_ = 0;                      // on_iteration calls
    bool draining_ = false;
    uint64_t iteration_id_ = 0;
    // Done callbacks run after the task is gone, from the drain loop.
    std::vector<std::pair<std::function<void(TaskOutcome)>, TaskOutcome>> finished_;
    std::vector<std::pair<std::function<void(TaskOutcome)>, TaskOutcome>> finishing_;  // drain's
    TaskHeap<&Task::deadline_ns_, &Task::deadline_slot_> deadlines_;
    TaskHeap<&Task::wake_ns_, &Task::wake_slot_> sleepers_;
    std::vector<std::pair<lua_State*, int>> idle_threads_;  // finished tasks' threads and refs
    static constexpr size_t kIdleThreads = 256;
    std::unique_ptr<Loop::Timer> timer_;  // armed for armed_ns_
    uint64_t armed_ns_ = 0;               // 0: not armed
    LuaWatchdog watchdog_;                // arms the count hook of a resume that runs long
    lua_State* push_thread_ = nullptr;    // never runs task code; see push_protected
};

// [-0, +1] Pushes an error table {kind=, message=, retryable=, status=?} with a __tostring
// giving "kind: message" (the second channel of nil, err returns).
void push_error_table(lua_State* L, const Error& error, long http_status = 0);
// How the error of a task whose return value JSON cannot hold begins.
inline constexpr std::string_view kResultNotStored = "the task's result cannot be stored: ";

// The fields of a log entry whose own could not be kept (too long, not JSON): one
// "fields_not_stored" member saying why, so the entry does not lose them without a word.
std::string fields_not_stored(std::string_view why);

// A message is for people, and goes into the history: past Task::kMaxLogText its end is cut
// (at a character boundary) and the cut said ("... (N more bytes cut)"); bytes that are not
// UTF-8 become U+FFFD.
void cut_for_the_record(std::string& message);

}  // namespace ferry
