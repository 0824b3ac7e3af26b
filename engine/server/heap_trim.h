// Gives freed heap back to the system while `ferry serve` runs. The engine keeps up to
// 64 MiB of freed heap top (tune_malloc_for_engine, engine/core/app.cpp) so that waves of
// steps do not hand pages back and fault them in again, and glibc returns no free memory
// below a live block. A server that once ran a large execution (a 40,000-item for_each
// peaks near 170 MB) would keep most of it for good. Every few seconds, when more than the
// slack of freed heap is still resident, HeapTrimmer returns it (malloc_trim): at most one
// trim per period, and none under ordinary load, where far less is ever free.
#pragma once

#include "runtime/loop.h"
#include "runtime/resident_memory.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

namespace ferry::engine::server {

class HeapTrimmer {
  public:
    static constexpr size_t kSlackBytes = size_t(32) << 20;
    static constexpr uint64_t kPeriodMs = 5000;

    // release_pools, when given, runs first at each check: another pool that keeps freed
    // memory from malloc gives back what it can (the Lua VM's, LuaVM::release_idle_memory)
    // and says how much; anything it gave is trimmed then, whatever the slack.
    explicit HeapTrimmer(size_t slack_bytes = kSlackBytes,
                         std::function<size_t()> release_pools = {})
        : slack_(slack_bytes), release_pools_(std::move(release_pools)) {}
    // Checks every period_ms on loop (a background timer: it keeps no loop alive).
    void start(Loop& loop, uint64_t period_ms = kPeriodMs);

    // Trims when more than the slack of freed heap is still resident, or when release_pools
    // gave something back; returns the freed heap still resident then (0: no trim). Always
    // 0 where the allocator is not glibc's (sanitizer builds).
    size_t check();
    uint64_t trims() const { return trims_; }

  private:
    size_t slack_;
    std::function<size_t()> release_pools_;
    ResidentMemory resident_;
    uint64_t trims_ = 0;
    std::unique_ptr<Loop::Timer> timer_;
};

}  // namespace ferry::engine::server
