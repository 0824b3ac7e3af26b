// Counts LMDB write commits and the syncs under them by interposing mdb_txn_commit,
// fdatasync and fsync in the benchmark executable (the real ones are found with
// dlsym(RTLD_NEXT)). Link commit_counter.cpp into a benchmark to use it.
#pragma once

#include <atomic>
#include <cstdint>

namespace bench {
struct SyncCounters {
    std::atomic<uint64_t> commits{0};
    std::atomic<uint64_t> fdatasyncs{0};
    std::atomic<uint64_t> fsyncs{0};
    std::atomic<uint64_t> commit_ns{0};  // wall time inside mdb_txn_commit (sync included)
};
SyncCounters& sync_counters();
}  // namespace bench
