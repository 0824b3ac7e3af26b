#include "server/store_room.h"

#include <algorithm>

namespace ferry::engine::server {

namespace {

// What new executions may fill of a map of map_bytes.
uint64_t admit_limit(uint64_t map_bytes) {
    using Wide = unsigned __int128;  // 64 TiB * 90 fits; the product must not wrap
    uint64_t share = uint64_t(Wide{map_bytes} * StoreRoom::kAdmitBelowPercent / 100);
    uint64_t floor = map_bytes - std::min(map_bytes, StoreRoom::kMinFreeBytes);
    return std::min(share, floor);
}

std::string mib(uint64_t bytes) {
    uint64_t tenths = (bytes * 10 + (1 << 19)) >> 20;
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " MiB";
}

}  // namespace

std::string StoreRoom::refusal(uint64_t now_ms) {
    // What is in use never passes the high-water mark: below the limit, no need to look closer.
    if (store_.high_water_bytes() < admit_limit(store_.map_bytes())) {
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
        uint64_t limit = admit_limit(usage.map_bytes);
        headroom_ = limit - std::min(limit, usage.used_bytes());
        if (usage.used_bytes() >= limit) {
            refusal_ = "the execution history fills " + mib(usage.used_bytes()) + " of its " +
                       mib(usage.map_bytes) + " map (new executions start below " +
                       // Rounded: truncated, 90 % of most maps read as 89.
                       std::to_string(usage.map_bytes
                                          ? (limit * 100 + usage.map_bytes / 2) / usage.map_bytes
                                          : 0) +
                       " %): prune history (store.keep in ferry.yaml, or `ferry executions "
                       "prune`), or raise store.map_size and restart";
        }
    }
    if (!refusal_.empty()) ++refused_;
    return refusal_;
}

}  // namespace ferry::engine::server
