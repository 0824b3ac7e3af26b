#include "commit_counter.h"

#include <chrono>
#include <dlfcn.h>
#include <lmdb.h>
#include <unistd.h>

namespace bench {
SyncCounters& sync_counters() {
    static SyncCounters c;
    return c;
}
}  // namespace bench

namespace {
template <class F>
F real(const char* name) {
    static_assert(sizeof(F) == sizeof(void*));
    void* p = dlsym(RTLD_NEXT, name);
    if (!p) abort();
    return reinterpret_cast<F>(p);
}
}  // namespace

extern "C" int mdb_txn_commit(MDB_txn* txn) {
    using Fn = int (*)(MDB_txn*);
    static Fn fn = real<Fn>("mdb_txn_commit");
    // The store only ever commits write transactions (read ones are aborted): every call
    // here is one group commit (plus one at open).
    bool write = true;
    auto t0 = std::chrono::steady_clock::now();
    int rc = fn(txn);
    if (write) {
        bench::sync_counters().commits.fetch_add(1, std::memory_order_relaxed);
        bench::sync_counters().commit_ns.fetch_add(
            uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - t0)
                         .count()),
            std::memory_order_relaxed);
    }
    return rc;
}

extern "C" int fdatasync(int fd) {
    using Fn = int (*)(int);
    static Fn fn = real<Fn>("fdatasync");
    bench::sync_counters().fdatasyncs.fetch_add(1, std::memory_order_relaxed);
    return fn(fd);
}

extern "C" int fsync(int fd) {
    using Fn = int (*)(int);
    static Fn fn = real<Fn>("fsync");
    bench::sync_counters().fsyncs.fetch_add(1, std::memory_order_relaxed);
    return fn(fd);
}
