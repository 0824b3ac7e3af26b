#include "server/store_room.h"

#include <algorithm>

namespace ferry::engine::server {

namespace {

std::string mib(uint64_t bytes) {
    uint64_t tenths = (bytes * 10 + (1 << 19)) >> 20;
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " MiB";
}

}  // namespace

std::string StoreRoom::refusal(uint64_t now_ms) {
    uint64_t limit = store_.map_bytes() / 100 * kAdmitBelowPercent;
    if (store_.high_water_bytes() < limit) {  // used <= high-water mark: no need to look closer
        checked_ = false;
        return {};
    }
    bool committed = store_.commits() != checked_at_commit_;
    if (!checked_ || (committed && headroom_ < wide_headroom_) ||
        now_ms - checked_at_ms_ >= kRecheckMs || now_ms < checked_at_ms_) {
        store::Store::Usage usage = store_.usage();
        checked_ = true;
        checked_at_ms_ = now_ms;
        checked_at_commit_ = store_.commits();
        refusal_.clear();
        // The map's size as the walk found it: a map another process grew was adopted.
        uint64_t limit_now = usage.map_bytes / 100 * kAdmitBelowPercent;
        headroom_ = limit_now - std::min(limit_now, usage.used_bytes());
        if (usage.used_bytes() >= limit_now) {
            refusal_ = "the execution history fills " + mib(usage.used_bytes()) + " of its " +
                       mib(usage.map_bytes) + " map (new executions start below " +
                       std::to_string(kAdmitBelowPercent) +
                       " %): prune history (store.keep in ferry.yaml, or `ferry executions "
                       "prune`), or raise store.map_size and restart";
        }
    }
    if (!refusal_.empty()) ++refused_;
    return refusal_;
}

}  // namespace ferry::engine::server
