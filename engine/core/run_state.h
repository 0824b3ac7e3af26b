// The in-memory state of one execution (internal to the executor).
#pragma once

#include "core/executor.h"
#include "core/values.h"
#include "runtime/timestamp.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry::engine {

// One invocation of a step: the step itself, or one for_each item of it.
struct Engine::Unit {
    size_t step_index = 0;
    int item_index = -1;             // >= 0 for for_each items
    std::string key;                 // "ticket" or "notify[2]"
    std::string idempotency_key;     // computed once (idempotency_key_of), stable for the unit
    std::string status = "pending";  // pending running retrying succeeded failed skipped cancelled
    tmpl::Value item;                // the for_each item
    tmpl::Value input;               // resolved `with`
    // unit.input as JSON, for the records that repeat it (step record at start and end, the
    // attempt's): serialised once. input_json_of keeps the Value it was made from, so a
    // reassigned input is noticed (input is not modified in place once recorded).
    std::string input_json;
    tmpl::Value input_json_of;
    bool input_ready = false;  // resolved (kept across retries and resumes)
    tmpl::Value output;
    tmpl::Value error;  // {kind, message, traceback?} when failed
    // Made on first entry (undefined / null until then): most units log nothing and make no
    // request, and a parked unit should not keep empty lists.
    tmpl::Value logs;
    // This attempt's integration requests, as the client recorded them: JSON objects joined
    // by commas, spliced into the attempt record as they are (null: none).
    std::unique_ptr<std::string> http;
    tmpl::Value annotations;  // what hooks added to the record
    // What the task remembered for its later attempts (ctx.remember): a JSON object's text,
    // kept on the step's record and read back on resume (null: nothing).
    std::unique_ptr<std::string> memo;
    std::string skip_reason;
    std::string child_execution;  // sub-workflow step: the child's id
    // The step's timeout cancelled that child: it stays on record, and a retry starts a
    // new one instead of resuming it.
    bool child_timed_out = false;
    int attempt = 0;
    size_t attempt_logs_from = 0;  // where this attempt's entries start in logs
    uint64_t retry_at_ms = 0;      // retrying: when the next attempt starts (unix ms)
    bool interrupted = false;      // re-run after a crash stopped it (ctx.resumed)
    // When the attempt the crash stopped had started (unix ms; 0: unknown).
    uint64_t interrupted_attempt_started_ms = 0;
    // When this process took the interrupted step up: the stopped process sent nothing
    // after it, so its last request is out of the vendor's hands a timeout later.
    uint64_t resumed_at_ms = 0;
    uint64_t wait_deadline_ms = 0;  // approval: when it times out (unix ms; 0: never)
    uint64_t started_ms = 0;
    uint64_t finished_ms = 0;
    uint64_t attempt_started_ms = 0;
    double duration_ms = 0;
    Task* task = nullptr;
    std::unique_ptr<Loop::Timer> retry_timer;
};

// Where a step stands. The scheduler checks every pending step's dependencies each time a
// step settles, so this is a small enum rather than the word records and expressions use
// (step_status_name gives it).
enum class StepStatus : uint8_t { Pending, Running, Succeeded, Failed, Skipped, Cancelled };

std::string_view step_status_name(StepStatus status);

// The step a unit belongs to: "notify" for the for_each item "notify[2]".
inline std::string_view step_id_of(std::string_view unit_key) {
    return unit_key.substr(0, unit_key.find('['));
}
// The stored word back (records.cpp restores a run from them); nullopt for anything else.
std::optional<StepStatus> parse_step_status(std::string_view name);
inline bool step_finished(StepStatus status) {
    return status >= StepStatus::Succeeded;
}

// A set of step indices, a bit each: which steps the scheduler should look at again
// (Engine::Run::woken). next() finds them in step order without visiting the others. The
// first 64 steps' bits are inline: most workflows need no allocation (a parked execution
// keeps its Run).
class StepBits {
  public:
    static constexpr size_t npos = size_t(-1);
    // Room for n steps, all of them in the set. The bits past n are set too: callers stop
    // at n.
    void fill(size_t n) {
        first_ = ~uint64_t(0);
        rest_.assign(n > 64 ? (n - 1) / 64 : 0, ~uint64_t(0));
    }
    void add_all() {
        first_ = ~uint64_t(0);
        std::fill(rest_.begin(), rest_.end(), ~uint64_t(0));
    }
    void add(size_t i) { word(i / 64) |= uint64_t(1) << (i % 64); }
    void remove(size_t i) { word(i / 64) &= ~(uint64_t(1) << (i % 64)); }
    // The smallest index in the set at or after i, or npos.
    size_t next(size_t i) const {
        const size_t words = 1 + rest_.size();
        size_t w = i / 64;
        if (w >= words) return npos;
        uint64_t bits = word(w) & (~uint64_t(0) << (i % 64));
        while (!bits) {
            if (++w == words) return npos;
            bits = word(w);
        }
        return w * 64 + size_t(std::countr_zero(bits));
    }

  private:
    uint64_t& word(size_t w) { return w == 0 ? first_ : rest_[w - 1]; }
    uint64_t word(size_t w) const { return w == 0 ? first_ : rest_[w - 1]; }

    uint64_t first_ = 0;
    std::vector<uint64_t> rest_;
};

struct StepState {
    StepStatus status = StepStatus::Pending;
    std::string reason;         // why skipped or cancelled
    bool failure_skip = false;  // skipped because a dependency failed: propagates
    bool handler = false;       // named by some step's on_error: runs only when triggered
    bool triggered = false;
    bool fan_out = false;
    std::vector<size_t> units;  // indices into Run::units
    size_t next_unit = 0;       // for_each: next item to start
    size_t running = 0;         // units started and not settled
    size_t settled = 0;
    bool stop_items = false;  // for_each: an item failed under on_error: fail
    // for_each: an item's `with` took as long as the render limit allows, blocking the loop
    // that long; the other items' would too, so they are not evaluated.
    bool expressions_ran_away = false;
    // for_each: what the items' inputs may still add up to as JSON (kMaxForEachInputBytes).
    uint64_t item_input_bytes_left = kMaxForEachInputBytes;
    tmpl::Value output;
    tmpl::Value error;
    uint64_t started_ms = 0;
    uint64_t finished_ms = 0;
};

// A time a step record keeps (an RFC 3339 field), as unix ms; 0 when it has none.
uint64_t record_time_ms(const tmpl::Value& record, const char* field);

// steps.ID for a step that did not run (skipped or cancelled): what expressions see.
tmpl::Value not_run_view(const StepState& st);

struct Engine::Run {
    std::string id;
    RunRef ref{};  // set by Engine::add_run
    std::shared_ptr<const workflow::Workflow> wf;
    tmpl::Value inputs;
    // Whether the inputs held a secret when recorded (the record's "inputs_redacted"):
    // unknown until the first record is written.
    std::optional<bool> inputs_held_secret;
    // Resumed: whether a record it was read back from had a secret redacted in it (its
    // inputs, a step's input or output). Only then may "[REDACTED]" in a value stand for a
    // secret rather than be text written so (a vendor's answer may say it).
    bool history_redacted = false;
    tmpl::Value vars;
    StartOptions options;
    std::string status = "running";
    tmpl::Value context;     // {inputs, vars, steps: {...}, execution: {...}}
    tmpl::Value steps_view;  // context["steps"]
    std::vector<StepState> steps;
    // The pending steps schedule() should look at again: those whose dependencies settled
    // since it last did, or all of them when the run starts, fails or is cancelled (handlers
    // and failure notes). It used to examine every step each time one settled:
    // O(steps^2) per execution.
    StepBits woken;
    std::vector<std::unique_ptr<Unit>> units;
    size_t in_flight = 0;  // units between start and settle (commits, timers, tasks)
    bool failing = false;
    bool finishing = false;
    bool parked_approvals = false;  // an approval parked: its status follows its units
    bool cancelled = false;         // Engine::cancel: ends "cancelled", not "failed"
    // Cancelled while already failing: the failure came first and stays the verdict (it
    // ends "failed", with its error and its on_failure hook); the cancel stops what runs.
    bool failed_before_cancel = false;
    bool from_history = false;      // resumed: its values were read back from records
    std::vector<Task*> hook_tasks;  // workflow hooks running for it (a cancel stops them)
    tmpl::Value error;              // the execution's error, if failed
    tmpl::Value outputs;
    uint64_t created_ms = 0;
    uint64_t finished_ms = 0;
    std::function<void(const ExecutionSummary&)> done;
    // After a resume: the unit records found in the store, by unit key.
    std::map<std::string, tmpl::Value> resumed;
    // StartOptions::keep_records: the last record text written for the execution and for
    // each step key. Behind a pointer: a parked execution should not pay for it (< 4 KB).
    struct KeptRecords {
        std::string execution;
        size_t execution_shown = 0;  // the length of its leading shown fields
        std::map<std::string, std::string> steps;
    };
    std::unique_ptr<KeptRecords> kept;
};

// unit.idempotency_key, computed on first use: every record and invocation of the unit
// carries it, and a SHA-256 per write was 4% of an execution's instructions.
const std::string& idempotency_key_of(const Engine::Run& run, Engine::Unit& unit);

// steps.ID (run.steps_view) of step i set to view. The entries stay in the workflow file's
// order whatever order the steps end in: `steps | list`, or a loop over `steps` in an
// output, read the same in every run.
void set_step_view(Engine::Run& run, size_t i, tmpl::Value view);

}  // namespace ferry::engine
