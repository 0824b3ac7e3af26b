// The durable store: one LMDB environment with named databases and ordered binary keys.
//
// Records are JSON documents (the engine decides their shape; the store only needs a few
// fields to keep its indexes). Writes are staged in memory and made durable together by
// commit(): the engine calls it once per loop iteration (group commit, ARCHITECTURE.md
// decision 4), then runs the callbacks of effects that waited for durability.
//
// Databases and keys ('\0' separates key parts; numbers are big-endian so they sort):
//   executions     id                         -> execution JSON
//   by_workflow    workflow \0 id             -> ""
//   by_status      status \0 id               -> ""
//   exec_index     id                         -> workflow \0 status (the index keys last written
//                                                for id, so a change removes exactly those)
//   steps          exec_id \0 step_key        -> step JSON
//   attempts       exec_id \0 step_key \0 n   -> attempt JSON (n: u32 BE)
//   changes        exec_id \0 seq             -> change JSON (seq: u64 BE; its patch is derived
//                                                when read: store::change_with_patch)
//   workflows      definition hash            -> {"name","source","file"} JSON
//   dlq            id                         -> dead-letter JSON
//   kv             any key                    -> any value (schedules, idempotency keys...)
//   meta           "schema"                   -> format version
//
// Threads: staging, commit(), submit() and collect() belong to one thread (the loop); a
// writer thread (start_writer) may write the submitted batches. Reads open their own read
// transaction (MDB_NOTLS) and may run on any thread; only on the staging thread (the one
// that opened the store) do they adopt a map another process grew past this one's.
#pragma once

#include "runtime/error.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::store {

struct StoreOptions {
    bool durable = true;  // fsync on every commit (MDB_NOSYNC when false)
    // The most the data file may grow to (address space, not disk: the file grows as history
    // does). A store already larger than this opens at its own size.
    uint64_t map_size = 1ull << 34;  // 16 GiB
    // History file pages the process keeps mapped before it drops them (store.cpp,
    // release_mapped_pages); 0: never drop them.
    size_t mapped_budget = size_t(16) << 20;
    // false: a folder that holds no store yet is NotFound instead of a new, empty store (a
    // mistyped --data for a command that only reads must not look like an empty history).
    bool create = true;
    // Opened for reading only (MDB_RDONLY): a copy on read-only media, or one this user may
    // not write. Every commit then fails with the store's error; nothing is created.
    bool read_only = false;
};

struct ExecutionFilter {
    std::string workflow;  // empty: any
    std::string status;    // empty: any
    size_t limit = 50;
    std::string cursor;     // list ids strictly older than this one (paging)
    uint64_t since_ms = 0;  // ids created at/after (0: no bound)
    uint64_t until_ms = 0;  // ids created before (0: no bound)
    // Sets since_ms or until_ms to unix ms: a time at or before 1970 is the first
    // millisecond, as 0 would read as no bound (an --until there exported everything).
    void bound(bool since, uint64_t ms) { (since ? since_ms : until_ms) = ms ? ms : 1; }
    bool bounds_crossed() const { return since_ms && until_ms && since_ms >= until_ms; }
};

struct KeyedJson {
    std::string key;  // step_key, attempt number as text, seq as text...
    std::string json;
};

class Store {
  public:
    // Opens (creating the folder and files if needed) the environment in dir. A folder that
    // exists but is not a Ferry store, or a corrupt or unreadable one, is an error (Storage)
    // that names the path; it is never silently replaced.
    static Result<std::unique_ptr<Store>> open(const std::string& dir, StoreOptions options = {});
    ~Store();

    // ---- staged writes (in memory until commit) ----
    // status and workflow must match the JSON's fields; the store keeps its indexes with them.
    void put_execution(const std::string& id, const std::string& workflow,
                       const std::string& status, std::string json);
    void put_step(const std::string& exec_id, const std::string& step_key, std::string json);
    void put_attempt(const std::string& exec_id, const std::string& step_key, uint32_t attempt,
                     std::string json);
    void add_change(const std::string& exec_id, std::string json);
    void put_workflow(const std::string& hash, std::string json);
    void put_dlq(const std::string& id, std::string json);
    void erase_dlq(const std::string& id);
    void put_kv(const std::string& key, std::string value);
    void erase_kv(const std::string& key);
    // Removes an execution and all that is recorded under it (its steps, attempts, changes
    // and index entries), for pruning old history; an absent id is not an error.
    void erase_execution(const std::string& id);
    // Executions this process's commits have erased: one another process erased first (a
    // prune beside a prune) counts nothing. Read on the staging thread after a commit.
    uint64_t executions_erased() const;
    // Runs cb once the writes staged before this call are durable (after the next commit).
    void after_commit(std::function<void()> cb);
    bool has_pending() const;
    // Writes everything staged in one transaction (synced when durable), then runs the
    // after_commit callbacks in order. On failure nothing staged is written and the error
    // says why; callbacks do not run. Either way the batch is gone afterwards: a failed
    // batch and its callbacks are dropped (a bad write would otherwise fail every later
    // commit). Bad keys (empty, a NUL inside an id or step key, longer than LMDB's 511-byte
    // limit) fail with Validation, LMDB failures (MDB_MAP_FULL...) with Storage. Callbacks
    // that stage writes or callbacks add them to the next batch. With max_writes, at most
    // about that many writes (cut after a callback, as submit() cuts) and the callbacks
    // staged with them; the rest stays staged for the next commit.
    Status commit(size_t max_writes = SIZE_MAX);

    // ---- commits on a writer thread (ARCHITECTURE.md decision 1) ----
    // The fsync of a group commit takes milliseconds; on a writer thread the loop stages the
    // next batch meanwhile. The owner of the staging thread (the engine) drives it:
    // start_writer(notify) starts the thread; notify runs on it after each batch (it must be
    // thread-safe: Loop::post). submit() hands what is staged (writes and callbacks; at most
    // about max_writes writes, cut after a callback: the rest stays staged) to the writer
    // unless a batch is already in flight or there is no writer (false: try again when it
    // is done, or commit()); with no writes staged the callbacks run at once. collect(), on the
    // staging thread after notify, ends the finished batch as commit() ends its own: its callbacks
    // run (on success) or it is dropped and the error returned; ok and nothing when no batch has
    // finished. commit() waits for and collects a batch in flight first, so it keeps its meaning
    // (everything staged so far is durable when it returns). stop_writer() waits for the
    // batch in flight (its callbacks do not run) and ends the thread; the destructor does it.
    void start_writer(std::function<void()> notify);
    bool submit(size_t max_writes = SIZE_MAX);
    Status collect();
    bool writer_busy() const;
    void stop_writer();
    // Batches with writes made durable since open (by commit() or collected): how many
    // synced transactions the engine needed, for tests and benchmarks.
    uint64_t commits() const;

    // ---- reads (each its own read transaction; staged writes are not visible) ----
    Result<std::optional<std::string>> get_execution(const std::string& id) const;
    // Ids of executions that start with prefix, in id order, at most limit.
    Result<std::vector<std::string>> execution_ids_with_prefix(const std::string& prefix,
                                                               size_t limit) const;
    // The execution JSON documents, newest first (ids are ULIDs, so id order is creation
    // order). limit 0 means no limit; the next page's cursor is the last document's id.
    // since/until compare the ULID time of the ids; an id that is not a ULID is listed only
    // when neither is set.
    Result<std::vector<std::string>> list_executions(const ExecutionFilter& filter) const;
    // Ids of executions in a status (e.g. "running" ones to resume), oldest first.
    Result<std::vector<std::string>> executions_with_status(const std::string& status) const;
    // The execution's step records in key order, keyed by step key; a page of them: those
    // after the step key `after` (empty: from the first), at most limit (0: all).
    Result<std::vector<KeyedJson>> steps(const std::string& exec_id, const std::string& after = {},
                                         size_t limit = 0) const;
    Result<std::vector<KeyedJson>> attempts(const std::string& exec_id,
                                            const std::string& step_key) const;
    Result<std::vector<KeyedJson>> changes(const std::string& exec_id) const;
    Result<std::optional<std::string>> get_workflow(const std::string& hash) const;
    Result<std::optional<std::string>> get_dlq(const std::string& id) const;
    // Dead letters oldest first (ids are ULIDs); a page of them: those after `after` (an id;
    // empty: from the first), at most limit (0: all).
    Result<std::vector<KeyedJson>> list_dlq(const std::string& after = {}, size_t limit = 0) const;
    Result<uint64_t> dlq_size() const;
    Result<std::optional<std::string>> get_kv(const std::string& key) const;
    // Keys with this prefix, in key order; a page of them: those after `after` (a key with
    // the prefix; empty: from the first), at most limit (0: all).
    Result<std::vector<KeyedJson>> scan_kv(const std::string& prefix, const std::string& after = {},
                                           size_t limit = 0) const;

    // How full the map is: `file_bytes` is LMDB's high-water mark (pages freed by pruning
    // are reused but do not lower it), `free_bytes` the part of it on LMDB's freelist (what
    // later writes reuse before the file grows), `map_bytes` the map in use, which may exceed
    // StoreOptions::map_size when the file was opened larger. Writes fail (MDB_MAP_FULL) once
    // used_bytes() would pass map_bytes. usage() walks the freelist (as `mdb_stat -f` does):
    // microseconds after a few prunes, more after many; the two parts that follow read no
    // more than a meta page.
    struct Usage {
        uint64_t file_bytes = 0;
        uint64_t free_bytes = 0;
        uint64_t map_bytes = 0;
        uint64_t used_bytes() const { return file_bytes - std::min(free_bytes, file_bytes); }
    };
    Usage usage() const;
    // Frees the reader slots of processes that died inside a read transaction (an
    // `executions export` killed by `timeout`): LMDB clears them only when a process opens
    // the folder alone, and until then the snapshot such a slot pins keeps every page freed
    // after it from reuse, so the file grows however much is pruned. Returns how many it
    // freed. Store::open and usage() call it; a long-running server also on a timer.
    size_t clear_dead_readers() const;
    uint64_t high_water_bytes() const;
    uint64_t map_bytes() const;
    // Deleting needs room too: LMDB copies every page a transaction changes, so a store
    // filled to its map (MDB_MAP_FULL) could not even be pruned. Called before staging
    // deletions: when less than a prune's working room is left, the map grows by that room
    // in this process (the file grows only as pages are written; later opens take the
    // file's size), up to an eighth over the size the store was opened with. True when the
    // store is short of room (grown or not): delete in small batches then. On the staging
    // thread only (the map can change only while no transaction is open).
    bool make_room_for_deletes();

    const std::string& path() const;

  private:
    Store();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::store
