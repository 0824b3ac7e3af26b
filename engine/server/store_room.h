// Whether the history has room for another execution. `ferry serve` refuses new executions
// (507 to the API, forms and hooks; a skipped run to schedules) once its store is 90 % full,
// so that the executions already running can finish, reads and pruning go on, and a full map
// is reported to whoever asks for more instead of failing a commit: a failed commit stops the
// server (exit status 3), and under a supervisor that restarts it, it would stop again.
// Room comes back by itself once pruning (store.keep, or `ferry executions prune` from
// another process) frees pages.
#pragma once

#include "store/store.h"

#include <cstdint>
#include <string>

namespace ferry::engine::server {

class StoreRoom {
  public:
    // The share of the map new executions may fill, in percent; and, on a small map, at least
    // this much left free: the pages the last commits freed are not reusable yet, and the
    // running executions still write (a 1 MiB map's 10 % admitted a start it could not hold).
    static constexpr uint64_t kAdmitBelowPercent = 90;
    static constexpr uint64_t kMinFreeBytes = uint64_t(256) << 10;

    // Far more than a burst writes in kRecheckMs (~50 MB at 5,000 tickets/s of 50 KB), so
    // walking after every commit is needed only closer to the limit than this.
    static constexpr uint64_t kWideHeadroom = uint64_t(256) << 20;

    // The disk holding the data folder must have this much free for a new execution: a
    // commit that finds no room there stops the server (exit 3) as a full map would, and
    // under a supervisor a crash loop followed, while /healthz said ok and starts were
    // accepted until the freed pages ran out.
    static constexpr uint64_t kMinFreeDiskBytes = uint64_t(4) << 20;

    explicit StoreRoom(const store::Store& store, uint64_t wide_headroom = kWideHeadroom,
                       uint64_t min_free_disk = kMinFreeDiskBytes)
        : store_(store), wide_headroom_(wide_headroom), min_free_disk_(min_free_disk) {}

    // Empty when a new execution may start; otherwise why not, for the answer and the log.
    // Cheap while the file's high-water mark is below the limit (one meta page read). Past
    // it, the freelist is walked (tens to hundreds of µs) and the answer kept until
    // kRecheckMs have passed (another process may have pruned), or, while the last walk
    // found less than wide_headroom below the limit, until this process commits again (its
    // writes may have used freed pages: a burst of starts must not outrun a kept answer).
    std::string refusal(uint64_t now_ms);
    uint64_t refused() const { return refused_; }

  private:
    static constexpr uint64_t kRecheckMs = 200;
    // Empty while the disk has kMinFreeDiskBytes free; asked at most every kRecheckMs.
    const std::string& disk_refusal(uint64_t now_ms);
    uint64_t disk_checked_at_ms_ = 0;
    bool disk_checked_ = false;
    std::string disk_refusal_;
    const store::Store& store_;
    uint64_t wide_headroom_;
    uint64_t min_free_disk_;
    uint64_t headroom_ = 0;  // bytes below the limit at the last walk
    uint64_t checked_at_ms_ = 0;
    uint64_t checked_at_commit_ = 0;  // store_.commits() then
    bool checked_ = false;
    std::string refusal_;
    uint64_t refused_ = 0;
};

}  // namespace ferry::engine::server
