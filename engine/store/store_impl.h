// Store::Impl, shared by store.cpp (opening, staging, commit) and store_read.cpp (reads).
#pragma once

#include <atomic>

#include "runtime/resident_memory.h"
#include "store/keys.h"
#include "store/lmdb.h"
#include "store/store.h"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ferry::store {

inline size_t max_key_size(const lmdb::Txn& txn) {
    return static_cast<size_t>(mdb_env_get_maxkeysize(mdb_txn_env(txn.get())));
}

// The bytes the last committed transaction's pages reach (its meta page says how many);
// 0 when LMDB cannot say.
inline uint64_t pages_reach(MDB_env* env) {
    MDB_envinfo info{};
    MDB_stat stat{};
    if (mdb_env_info(env, &info) != MDB_SUCCESS || mdb_env_stat(env, &stat) != MDB_SUCCESS)
        return 0;
    return (uint64_t(info.me_last_pgno) + 1) * stat.ms_psize;
}

// Calls fn(key, value) for each key starting with prefix, in key order, until fn returns false;
// from the first key at or after `from` when that is given (a key with the prefix).
template <class Fn>
void scan_forward(const lmdb::Txn& txn, const lmdb::Db& db, const std::string& prefix, Fn&& fn,
                  std::string_view from = {}) {
    if (prefix.size() > max_key_size(txn)) return;  // no stored key can be that long
    if (from.size() > max_key_size(txn)) return;
    lmdb::Cursor cursor = lmdb::Cursor::open(txn, db.dbi, db.name);
    std::string_view k = from.empty() ? std::string_view(prefix) : from, v;
    // LMDB refuses a zero-length key, even to seek: an empty prefix starts at the first record.
    bool ok = k.empty() ? cursor.get(MDB_FIRST, k, v) : cursor.get(MDB_SET_RANGE, k, v);
    while (ok && keys::starts_with(k, prefix)) {
        if (!fn(k, v)) return;
        ok = cursor.get(MDB_NEXT, k, v);
    }
}

// One staged write, applied in staging order by commit().
struct StagedOp {
    enum class Kind {
        PutExecution,    // a = id, b = workflow, c = status
        PutStep,         // a = exec_id, b = step_key
        PutAttempt,      // a = exec_id, b = step_key, n = attempt
        AddChange,       // a = exec_id
        PutWorkflow,     // a = hash
        PutDlq,          // a = id
        EraseDlq,        // a = id
        PutKv,           // a = key
        EraseKv,         // a = key
        EraseExecution,  // a = id
    };
    Kind kind;
    std::string a, b, c;
    uint32_t n = 0;
    std::string value;
};

struct Store::Impl {
    std::string path;
    StoreOptions options;
    lmdb::Env env;
    // As opened: options.map_size, or the file's own if larger; larger once the process
    // adopts a map another process grew (mutable: a read may do that, adopt_grown_map).
    mutable uint64_t map_size = 0;
    uint64_t opened_map_size = 0;  // map_size at open: make_room_for_deletes grows from it
    size_t max_key_size = 0;

    // Another process with a larger store.map_size may write past this process's map; LMDB
    // then fails every new transaction here, reads included, with MDB_MAP_RESIZED until the
    // process adopts the larger map, which it may do only while no transaction is open in
    // it. The staging thread (the one that opened the store: the loop) is the only one that
    // reads or stages, so it adopts: after waiting for the writer's batch in flight, none is
    // open. false when called on another thread or when LMDB refuses (the caller then
    // reports the failure as before).
    std::thread::id staging_thread;
    bool adopt_grown_map() const;
    // A read transaction; one that finds the map grown by another process is begun again
    // after adopting it.
    lmdb::Txn begin_read() const;
    // The bytes of the pages on LMDB's freelist (store_map.cpp).
    uint64_t freelist_bytes() const;

    lmdb::Db executions, by_workflow, by_status, exec_index, steps, attempts, changes, workflows,
        dlq, kv, meta;

    // exec_index (id -> workflow '\0' status) is the store's own record of the index keys it
    // wrote for each execution, so a status change removes exactly the old by_status entry
    // without parsing the JSON document, which stays opaque to the store.
    void open_dbs(const lmdb::Txn& txn, unsigned flags = MDB_CREATE) {
        const std::pair<const char*, lmdb::Db*> dbs[] = {
            {"executions", &executions},
            {"by_workflow", &by_workflow},
            {"by_status", &by_status},
            {"exec_index", &exec_index},
            {"steps", &steps},
            {"attempts", &attempts},
            {"changes", &changes},
            {"workflows", &workflows},
            {"dlq", &dlq},
            {"kv", &kv},
            {"meta", &meta},
        };
        for (const auto& [name, db] : dbs)
            lmdb::open_db(txn, name, flags, *db);
    }

    // Drops the process's mappings of the history file once they pass
    // options.mapped_budget (store_map.cpp: why).
    mutable void* map_base = nullptr;  // where LMDB mapped the file (null: not found, no release)
    ResidentMemory resident;
    mutable size_t mapped_after_release = 0;
    void locate_map() const;
    size_t file_pages_mapped() const;
    void release_mapped_pages();

    // Applies one staged write inside the commit's transaction (store.cpp). A history record
    // is scrubbed of secret values first (op.value is redacted in place). True when it
    // erased an execution that was there (counted once the batch commits).
    bool apply(const lmdb::Txn& txn, StagedOp& op);
    std::atomic<uint64_t> executions_erased{0};  // by this process's commits
    const std::string& checked_key(const StagedOp& op, const std::string& key) const;

    std::vector<StagedOp> staged;
    std::vector<std::function<void()>> callbacks;
    std::vector<size_t> callback_marks;  // per callback: how many writes were staged before it

    // Writes ops in one transaction (synced when durable): commit()'s and the writer's.
    // map_resized (when given) is set when the transaction could not begin because another
    // process grew the map: the staging thread adopts it and writes again
    // (write_on_staging_thread); the writer thread leaves that to collect().
    Status write(std::vector<StagedOp>& ops, bool* map_resized = nullptr);
    Status write_on_staging_thread(std::vector<StagedOp>& ops);

    // The writer thread (store_writer.cpp). The batch in flight belongs to the writer from
    // submit() until it sets written; then to the staging thread, which collects it.
    struct Batch {
        std::vector<StagedOp> ops;
        std::vector<std::function<void()>> callbacks;
        Status status = ok_status();
        bool map_resized = false;  // failed for a map another process grew (write())
    };
    std::thread writer;
    std::function<void()> notify;
    mutable std::mutex writer_mutex;
    mutable std::condition_variable writer_cv;
    Batch in_flight;
    bool submitted =
        false;              // a batch is in flight (staging thread's view; set before handing over)
    bool written = false;   // the writer finished it (guarded by writer_mutex)
    bool stopping = false;  // guarded by writer_mutex
    uint64_t commits = 0;   // batches made durable (staging thread's count)
    // A written batch's emptied vectors, handed back to staging (capacity kept): a batch of a
    // thousand executions is a vector of some 500 KB, and allocating and freeing one per
    // commit made glibc consolidate its whole free heap each time (7 % of the loop's CPU).
    Batch spare;
    void recycle(Batch&& batch);
    void writer_main();
    // Takes what is staged, at most about max_writes writes, cut after a callback.
    Batch take(size_t max_writes);
    void wait_written() const;  // blocks until the batch in flight is written

    // A Storage error that says which store and what it was doing.
    Error storage_error(const std::string& doing, const std::string& reason) const {
        return make_error(ErrorKind::Storage, "store " + path + ": " + doing + ": " + reason);
    }
    Error failure(const std::string& doing, const lmdb::Failure& f) const {
        return storage_error(doing, f.what());
    }
};

}  // namespace ferry::store
