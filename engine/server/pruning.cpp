#include "server/pruning.h"

#include "core/executor.h"
#include "core/history.h"
#include "core/values.h"
#include "runtime/duration.h"
#include "runtime/timestamp.h"
#include "server/claims.h"

#include <algorithm>
#include <iterator>

namespace ferry::engine::server {

using tmpl::Value;

HistoryPruner::HistoryPruner(store::Store& store, Options options, Listed listed)
    : store_(store), options_(std::move(options)), listed_(std::move(listed)),
      erased_before_(store.executions_erased()) {
    // 0 would mean "no bound" to the store: the epoch itself keeps everything.
    options_.before_ms = std::max<uint64_t>(options_.before_ms, 1);
    options_.page = std::max<size_t>(options_.page, 1);
    normal_page_ = options_.page;
    options_.claims_page = std::max<size_t>(options_.claims_page, 1);
}

bool HistoryPruner::keeps_child(const Value& parent) {
    std::string id = dict_text(parent, "execution");
    auto [it, fresh] = parent_ended_.try_emplace(id, true);
    if (fresh) {
        std::string status = stored_status(store_, id);
        it->second = status.empty() || execution_ended(status);
    }
    return !it->second;
}

// A page of one ended status: the cursor is a key bound, so a page whose executions are gone
// (erased by the step before) still leads to the next.
Result<bool> HistoryPruner::next_page() {
    store::ExecutionFilter f;
    f.status = kEndedStatuses[status_index_];
    f.workflow = options_.workflow;
    f.until_ms = options_.before_ms;
    f.limit = options_.page;
    f.cursor = cursor_;
    auto rows = store_.list_executions(f);
    if (!rows) return rows.error();
    for (const std::string& row : rows.value()) {
        Value record = tmpl::value_from_json(row);
        const std::string id = dict_text(record, "id");
        cursor_ = id;
        // A parent resumed after a crash reads its children's results from their records.
        if (const Value* parent = dict_get(record, "parent"); parent && keeps_child(*parent)) {
            ++kept_children_;
            continue;
        }
        ++taken_;
        if (listed_) listed_(record);
        if (!options_.dry_run) store_.erase_execution(id);
    }
    if (rows.value().size() < options_.page) {  // this status is done
        cursor_.clear();
        if (++status_index_ == std::size(kEndedStatuses))
            phase_ = options_.dry_run || taken_ == 0 ? Phase::Done : Phase::Claims;
    }
    return true;
}

// An Idempotency-Key whose execution is gone starts a new one when it comes again. Claims
// are keyed by the key's hash, not by execution: they are walked a page at a time. A key
// claimed anew in this process and not yet committed is left alone: erasing what this read
// found would erase that new claim with it.
Status HistoryPruner::next_claims() {
    auto claims = store_.scan_kv(std::string(kIdempotencyClaims), cursor_, options_.claims_page);
    if (!claims) return claims.error();
    for (const store::KeyedJson& c : claims.value()) {
        cursor_ = c.key;
        if (!claim_outlived_execution(store_, c.key, c.json)) continue;
        store_.erase_kv(c.key);
        ++released_;
    }
    if (claims.value().size() < options_.claims_page) phase_ = Phase::Record;
    return ok_status();
}

Result<bool> HistoryPruner::step() {
    switch (phase_) {
    case Phase::Executions: return next_page();
    case Phase::Claims:
        if (Status s = next_claims(); !s) return s.error();
        return true;
    case Phase::Record:
        store_.put_kv(std::string(kLastPruneKey),
                      to_json_text(dict_of({{"before", str(rfc3339(int64_t(options_.before_ms)))},
                                            {"workflow", str(options_.workflow)},
                                            {"pruned", Value::integer(int64_t(pruned()))},
                                            {"at", str(rfc3339(int64_t(now_unix_ms())))}})));
        phase_ = Phase::Done;
        return true;
    case Phase::Done: break;
    }
    return false;
}

// ---- ferry serve, store.keep ----

namespace {

// Executions read per step: small enough that a page read and parsed between requests does
// not show in their latency.
constexpr size_t kServePage = 100;

uint64_t pass_interval_ms(uint64_t keep_ms) {
    return std::clamp<uint64_t>(keep_ms / 4, 1'000, 3'600'000);
}

}  // namespace

HistoryRetention::HistoryRetention(App& app, uint64_t keep_ms, ServerLog& log, Metrics& metrics)
    : app_(app), keep_ms_(keep_ms), log_(log), metrics_(metrics) {}

HistoryRetention::~HistoryRetention() {
    *alive_ = false;
}

void HistoryRetention::start() {
    log_.info("pruning executions that ended and were created more than " +
                  format_duration_ms(keep_ms_) + " ago, every " +
                  format_duration_ms(pass_interval_ms(keep_ms_)) + " (store.keep)",
              {{"keep_ms", int64_t(keep_ms_)}});
    begin_pass();
}

void HistoryRetention::stop() {
    *alive_ = false;
    timer_.reset();
    pass_.reset();
}

void HistoryRetention::begin_pass() {
    if (!*alive_ || pass_) return;
    uint64_t now = now_unix_ms();
    HistoryPruner::Options options;
    options.before_ms = now > keep_ms_ ? now - keep_ms_ : 1;
    options.page = kServePage;
    pass_ = std::make_unique<HistoryPruner>(*app_.store, options);
    continue_pass();
}

void HistoryRetention::continue_pass() {
    if (!*alive_ || !pass_) return;
    // A full store would fail the commit of these deletions (and ferry serve with it).
    pass_->fit_page_to_room();
    Result<bool> more = pass_->step();
    if (!more) return end_pass(more.error());
    if (!more.value()) return end_pass(ok_status());
    // The next step reads what this one wrote: it runs once the engine's writer has made it
    // durable, and the loop serves requests in between.
    app_.store->after_commit([this, alive = alive_] {
        if (*alive) continue_pass();
    });
    app_.loop.wake();
}

void HistoryRetention::end_pass(const Status& status) {
    const HistoryPruner& p = *pass_;
    const std::string before = rfc3339(int64_t(p.options().before_ms));
    if (!status) {
        log_.error("pruning history: " + status.error().describe(),
                   {{"pruned", int64_t(p.pruned())}});
    } else if (p.pruned()) {
        log_.info("pruned " + std::to_string(p.pruned()) + " execution(s) created before " +
                      before + " (store.keep " + format_duration_ms(keep_ms_) + ")",
                  {{"pruned", int64_t(p.pruned())},
                   {"before", before},
                   {"claims_released", int64_t(p.released_claims())}});
    }
    metrics_.count_pruned(p.pruned());
    pass_.reset();
    timer_ = app_.loop.timer(pass_interval_ms(keep_ms_), [this] { begin_pass(); });
    timer_->set_background();
}

}  // namespace ferry::engine::server
