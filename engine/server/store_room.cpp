#include "server/store_room.h"

#include <algorithm>

#include <sys/statvfs.h>
#include <unistd.h>

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

const std::string& StoreRoom::disk_refusal(uint64_t now_ms) {
    if (disk_checked_ && now_ms - disk_checked_at_ms_ < kRecheckMs && now_ms >= disk_checked_at_ms_)
        return disk_refusal_;
    disk_checked_ = true;
    disk_checked_at_ms_ = now_ms;
    disk_refusal_.clear();
    struct statvfs fs {};
    // A file system that knows no size (ramfs reports 0 blocks) cannot be asked.
    if (statvfs(store_.path().c_str(), &fs) != 0 || fs.f_blocks == 0) return disk_refusal_;
    // Root may write into the blocks a file system keeps back for it.
    const uint64_t blocks = geteuid() == 0 ? uint64_t(fs.f_bfree) : uint64_t(fs.f_bavail);
    const uint64_t free_bytes = blocks * uint64_t(fs.f_frsize);
    if (free_bytes < min_free_disk_)
        disk_refusal_ = "the disk holding the execution history (" + store_.path() + ") has " +
                        mib(free_bytes) + " free, and new executions start with " +
                        mib(min_free_disk_) + " or more: free disk space there (old logs, " +
                        "backups), or move the data folder";
    return disk_refusal_;
}

std::string StoreRoom::refusal(uint64_t now_ms) {
    if (const std::string& disk = disk_refusal(now_ms); !disk.empty()) {
        ++refused_;
        return disk;
    }
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
