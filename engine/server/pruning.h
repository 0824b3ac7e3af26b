// Removing history: ended executions created before a time, with their steps, attempts and
// changes, and the Idempotency-Key claims that named them. One walk, driven a step at a time
// by `ferry executions prune` (committing each step at once) and by `ferry serve` under
// ferry.yaml's store.keep (each step committed by the engine's writer with the executions'
// own writes).
#pragma once

#include "core/app.h"
#include "runtime/loop.h"
#include "server/metrics.h"
#include "server/server_log.h"
#include "store/store.h"
#include "template/value.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace ferry::engine::server {

// The prune's own record in the store's kv: {before, workflow, pruned, at}.
inline constexpr std::string_view kLastPruneKey = "history:last_prune";

class HistoryPruner {
  public:
    struct Options {
        uint64_t before_ms = 0;     // creation time bound (exclusive); must be set
        std::string workflow;       // empty: any
        bool dry_run = false;       // list what would go, stage nothing
        size_t page = 500;          // executions read (and erased) per step
        size_t claims_page = 1000;  // Idempotency-Key claims checked per step
    };
    // Called for each execution a step prunes (or, in a dry run, would): its record.
    using Listed = std::function<void(const tmpl::Value& record)>;

    HistoryPruner(store::Store& store, Options options, Listed listed = {});

    // Stages the next step's writes and says whether there is more to do: a page of
    // executions erased, then (if any were) a page of claims whose execution is gone, then the
    // prune's record (the commit that writes it also hands the pages the last page freed to
    // the next writer: LMDB reuses them only from the second transaction after). Commit what
    // a step staged before the next step: each reads what the one before wrote. A read that
    // fails ends the walk with its error.
    Result<bool> step();

    // Before each step: the room its deletions need, made if the store is short of it
    // (Store::make_room_for_deletes), and then a batch of kTightPage executions rather than
    // the options' page.
    void fit_page_to_room() {
        if (!options_.dry_run)
            options_.page = store_.make_room_for_deletes() ? kTightPage : normal_page_;
    }
    static constexpr size_t kTightPage = 8;

    // Executions this walk erased, as its commits found them (another process's prune
    // beside it may have erased some first); in a dry run, those it would erase.
    size_t pruned() const {
        return options_.dry_run ? taken_ : size_t(store_.executions_erased() - erased_before_);
    }
    size_t kept_children() const { return kept_children_; }
    size_t released_claims() const { return released_; }
    const Options& options() const { return options_; }

  private:
    bool keeps_child(const tmpl::Value& parent);
    Result<bool> next_page();
    Status next_claims();

    store::Store& store_;
    Options options_;
    size_t normal_page_;  // options_.page as given: fit_page_to_room goes back to it
    Listed listed_;
    enum class Phase { Executions, Claims, Record, Done } phase_ = Phase::Executions;
    size_t status_index_ = 0;  // into kEndedStatuses
    std::string cursor_;       // the last id read in this status, or the last claim key
    size_t taken_ = 0;         // executions read and staged for erasing
    size_t kept_children_ = 0, released_ = 0;
    uint64_t erased_before_;  // store_.executions_erased() when the walk began
    // Whether each parent seen has ended, read once however many children it has.
    std::map<std::string, bool> parent_ended_;
};

// `ferry serve` under store.keep: prunes what ended and was created more than keep_ms ago,
// at start and then every keep/4 (at least a second, at most an hour), one page per commit
// so the loop keeps serving between pages.
class HistoryRetention {
  public:
    HistoryRetention(App& app, uint64_t keep_ms, ServerLog& log, Metrics& metrics);
    ~HistoryRetention();
    void start();
    // No further pages or passes (shutdown); a pass cut short resumes at the next start.
    void stop();

  private:
    void begin_pass();
    void continue_pass();
    void end_pass(const Status& status);

    App& app_;
    uint64_t keep_ms_;
    ServerLog& log_;
    Metrics& metrics_;
    std::unique_ptr<Loop::Timer> timer_;
    std::unique_ptr<HistoryPruner> pass_;
    // Callbacks queued on the store may outlive this object (a commit after stop()).
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace ferry::engine::server
