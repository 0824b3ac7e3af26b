// Store::Impl, shared by store.cpp (opening, staging, commit) and store_read.cpp (reads).
#pragma once

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
    uint64_t map_size = 0;  // as opened: options.map_size, or the file's own if larger
    size_t max_key_size = 0;

    lmdb::Db executions, by_workflow, by_status, exec_index, steps, attempts, changes, workflows,
        dlq, kv, meta;

    // exec_index (id -> workflow '\0' status) is the store's own record of the index keys it
    // wrote for each execution, so a status change removes exactly the old by_status entry
    // without parsing the JSON document, which stays opaque to the store.
    void open_dbs(const lmdb::Txn& txn) {
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
            lmdb::open_db(txn, name, MDB_CREATE, *db);
    }

    // Drops the process's mappings of the history file once they pass
    // options.mapped_budget (store.cpp: why).
    void* map_base = nullptr;  // where LMDB mapped the data file (null: not found, no release)
    int statm_fd = -1;         // /proc/self/statm, open for the store's life
    size_t mapped_after_release = 0;
    void locate_map();
    size_t file_pages_mapped() const;
    void release_mapped_pages();

    // Applies one staged write inside the commit's transaction (store.cpp). A history record
    // is scrubbed of secret values first (op.value is redacted in place).
    void apply(const lmdb::Txn& txn, StagedOp& op);
    const std::string& checked_key(const StagedOp& op, const std::string& key) const;

    std::vector<StagedOp> staged;
    std::vector<std::function<void()>> callbacks;
    std::vector<size_t> callback_marks;  // per callback: how many writes were staged before it

    // Writes ops in one transaction (synced when durable): commit()'s and the writer's.
    Status write(std::vector<StagedOp>& ops);

    // The writer thread (store_writer.cpp). The batch in flight belongs to the writer from
    // submit() until it sets written; then to the staging thread, which collects it.
    struct Batch {
        std::vector<StagedOp> ops;
        std::vector<std::function<void()>> callbacks;
        Status status = ok_status();
    };
    std::thread writer;
    std::function<void()> notify;
    mutable std::mutex writer_mutex;
    std::condition_variable writer_cv;
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
    void wait_written();  // blocks until the batch in flight is written

    // A Storage error that says which store and what it was doing.
    Error storage_error(const std::string& doing, const std::string& reason) const {
        return make_error(ErrorKind::Storage, "store " + path + ": " + doing + ": " + reason);
    }
    Error failure(const std::string& doing, const lmdb::Failure& f) const {
        return storage_error(doing, f.what());
    }
};

}  // namespace ferry::store
