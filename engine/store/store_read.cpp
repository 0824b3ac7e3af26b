// Reads: each public call runs in its own short read transaction (LMDB readers never block
// the writer, but a long-lived one pins old pages, so none is kept between calls). Views into
// the map are copied out before the transaction ends.
#include "store/store.h"

#include "runtime/ids.h"
#include "store/diff.h"
#include "store/keys.h"
#include "store/store_impl.h"

namespace ferry::store {

namespace {

// Runs body(txn) in a read transaction; an LMDB failure becomes a Storage error that says
// which store and which read.
template <class T, class ImplT, class Body>
Result<T> read_txn(const ImplT& s, const std::string& doing, Body&& body) {
    try {
        lmdb::Txn txn = s.begin_read();
        return body(txn);
    } catch (const lmdb::Failure& f) {
        return s.failure(doing, f);
    }
}

// Positions the cursor on the last key below bound (exclusive); false when there is none.
bool seek_below(lmdb::Cursor& cursor, const std::string& bound, size_t max_key, std::string_view& k,
                std::string_view& v) {
    if (bound.size() <= max_key) {
        k = bound;
        return cursor.get(MDB_SET_RANGE, k, v) ? cursor.get(MDB_PREV, k, v)
                                               : cursor.get(MDB_LAST, k, v);
    }
    // LMDB cannot seek to a key longer than it can store. Every stored key below such a
    // bound is at most its truncation t (a stored key starting with t is t itself).
    std::string t = bound.substr(0, max_key);
    k = t;
    if (!cursor.get(MDB_SET_RANGE, k, v)) return cursor.get(MDB_LAST, k, v);
    if (k == t) return true;
    return cursor.get(MDB_PREV, k, v);
}

// The smallest ULID of millisecond ms: every id made at or after ms sorts at or after it.
std::string ulid_floor(uint64_t ms) {
    static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    constexpr uint64_t kMaxTime = (uint64_t{1} << 48) - 1;
    if (ms > kMaxTime) ms = kMaxTime;
    std::string out(26, '0');
    for (size_t i = 10; i-- > 0;) {
        out[i] = kAlphabet[ms & 31];
        ms >>= 5;
    }
    return out;
}

template <class ImplT>
Result<std::optional<std::string>> get_one(const ImplT& s, const lmdb::Db& db,
                                           const std::string& key, const char* doing);

std::string decimal_suffix(std::string_view key, size_t prefix_size) {
    return std::to_string(keys::read_be(key.substr(prefix_size)));
}

// A page of db's records whose keys start with prefix: those after `after` (a key with the
// prefix; otherwise from the first), at most limit (0: all).
std::vector<KeyedJson> scan_page(const lmdb::Txn& txn, const lmdb::Db& db,
                                 const std::string& prefix, const std::string& after,
                                 size_t limit) {
    std::vector<KeyedJson> out;
    scan_forward(
        txn, db, prefix,
        [&](std::string_view k, std::string_view v) {
            if (k == after) return true;
            out.push_back({std::string(k), std::string(v)});
            return limit == 0 || out.size() < limit;
        },
        keys::starts_with(after, prefix) ? std::string_view(after) : std::string_view());
    return out;
}

}  // namespace

Result<std::optional<std::string>> Store::get_execution(const std::string& id) const {
    return get_one(*impl_, impl_->executions, id, "get_execution");
}

Result<std::vector<std::string>> Store::execution_ids_with_prefix(const std::string& prefix,
                                                                  size_t limit) const {
    const Impl& s = *impl_;
    return read_txn<std::vector<std::string>>(
        s, "execution_ids_with_prefix", [&](const lmdb::Txn& txn) {
            std::vector<std::string> ids;
            if (limit == 0) return ids;
            scan_forward(txn, s.executions, prefix, [&](std::string_view k, std::string_view) {
                ids.emplace_back(k);
                return ids.size() < limit;
            });
            return ids;
        });
}

Result<std::optional<std::string>> Store::get_workflow(const std::string& hash) const {
    return get_one(*impl_, impl_->workflows, hash, "get_workflow");
}

Result<std::optional<std::string>> Store::get_dlq(const std::string& id) const {
    return get_one(*impl_, impl_->dlq, id, "get_dlq");
}

Result<std::optional<std::string>> Store::get_kv(const std::string& key) const {
    return get_one(*impl_, impl_->kv, key, "get_kv");
}

namespace {
template <class ImplT>
Result<std::optional<std::string>> get_one(const ImplT& s, const lmdb::Db& db,
                                           const std::string& key, const char* doing) {
    // A key LMDB could never hold cannot be present: answer "absent" rather than fail.
    if (key.empty() || key.size() > s.max_key_size) return std::optional<std::string>{};
    return read_txn<std::optional<std::string>>(s, doing, [&](const lmdb::Txn& txn) {
        std::string_view v;
        if (!lmdb::get(txn, db, key, v)) return std::optional<std::string>{};
        return std::optional<std::string>(std::string(v));
    });
}
}  // namespace

// Newest first. The scan runs backwards over the narrowest ordered source: by_status or
// by_workflow when filtering (their keys end with the id, so within one prefix they are in id
// order, that is creation order), else executions itself. Cursor and until become an
// exclusive upper bound to seek to; since becomes a lower bound where the scan stops.
Result<std::vector<std::string>> Store::list_executions(const ExecutionFilter& filter) const {
    const Impl& s = *impl_;
    return read_txn<std::vector<std::string>>(s, "list_executions", [&](const lmdb::Txn& txn) {
        std::vector<std::string> out;
        const lmdb::Db* source = &s.executions;
        std::string prefix;
        bool check_workflow = false;
        if (!filter.status.empty()) {
            source = &s.by_status;
            prefix = keys::prefix(filter.status);
            // Both filters: walk the status index and check the workflow in exec_index.
            check_workflow = !filter.workflow.empty();
        } else if (!filter.workflow.empty()) {
            source = &s.by_workflow;
            prefix = keys::prefix(filter.workflow);
        }

        std::optional<std::string> upper;  // ids strictly below this one
        if (!filter.cursor.empty()) upper = filter.cursor;
        if (filter.until_ms) {
            std::string bound = ulid_floor(filter.until_ms);
            if (!upper || bound < *upper) upper = bound;
        }
        std::optional<std::string> lower;  // ids at or above this one
        if (filter.since_ms) lower = ulid_floor(filter.since_ms);
        bool time_bounded = filter.since_ms || filter.until_ms;

        // Seek to the first key past the range, then step back onto the newest candidate.
        std::optional<std::string> seek;
        if (upper)
            seek = prefix + *upper;
        else if (!prefix.empty())
            seek = keys::prefix_end(prefix);  // never empty: ends in 1
        lmdb::Cursor cursor = lmdb::Cursor::open(txn, source->dbi, source->name);
        std::string_view k, v;
        bool ok =
            seek ? seek_below(cursor, *seek, max_key_size(txn), k, v) : cursor.get(MDB_LAST, k, v);

        for (; ok && keys::starts_with(k, prefix); ok = cursor.get(MDB_PREV, k, v)) {
            std::string id(k.substr(prefix.size()));
            if (lower && id < *lower) break;
            // Ids that are not ULIDs have no creation time: a time window excludes them.
            if (time_bounded) {
                uint64_t t = ulid_time_ms(id);
                if (t == 0 || t < filter.since_ms || (filter.until_ms && t >= filter.until_ms))
                    continue;
            }
            if (check_workflow) {
                std::string_view index;
                if (!lmdb::get(txn, s.exec_index, id, index)) continue;
                if (index.substr(0, index.find('\0')) != filter.workflow) continue;
            }
            if (source == &s.executions) {
                out.emplace_back(v);
            } else {
                std::string_view doc;
                if (!lmdb::get(txn, s.executions, id, doc)) continue;
                out.emplace_back(doc);
            }
            if (filter.limit && out.size() >= filter.limit) break;
        }
        return out;
    });
}

Result<std::vector<std::string>> Store::executions_with_status(const std::string& status) const {
    const Impl& s = *impl_;
    return read_txn<std::vector<std::string>>(
        s, "executions_with_status", [&](const lmdb::Txn& txn) {
            std::vector<std::string> ids;
            std::string prefix = keys::prefix(status);
            scan_forward(txn, s.by_status, prefix, [&](std::string_view k, std::string_view) {
                ids.emplace_back(k.substr(prefix.size()));
                return true;
            });
            return ids;
        });
}

Result<std::vector<KeyedJson>> Store::steps(const std::string& exec_id, const std::string& after,
                                            size_t limit) const {
    const Impl& s = *impl_;
    return read_txn<std::vector<KeyedJson>>(s, "steps", [&](const lmdb::Txn& txn) {
        std::string prefix = keys::prefix(exec_id);
        std::vector<KeyedJson> out =
            scan_page(txn, s.steps, prefix, after.empty() ? after : prefix + after, limit);
        for (KeyedJson& kj : out)
            kj.key.erase(0, prefix.size());
        return out;
    });
}

Result<std::vector<KeyedJson>> Store::attempts(const std::string& exec_id,
                                               const std::string& step_key) const {
    const Impl& s = *impl_;
    return read_txn<std::vector<KeyedJson>>(s, "attempts", [&](const lmdb::Txn& txn) {
        std::vector<KeyedJson> out;
        std::string prefix = keys::prefix(keys::join(exec_id, step_key));
        scan_forward(txn, s.attempts, prefix, [&](std::string_view k, std::string_view v) {
            if (k.size() == prefix.size() + 4)
                out.push_back({decimal_suffix(k, prefix.size()), std::string(v)});
            return true;
        });
        return out;
    });
}

Result<std::vector<KeyedJson>> Store::changes(const std::string& exec_id) const {
    const Impl& s = *impl_;
    std::string damaged;
    auto read = read_txn<std::vector<KeyedJson>>(s, "changes", [&](const lmdb::Txn& txn) {
        std::vector<KeyedJson> out;
        std::string prefix = keys::prefix(exec_id);
        scan_forward(txn, s.changes, prefix, [&](std::string_view k, std::string_view v) {
            if (k.size() != prefix.size() + 8) return true;
            std::optional<std::string> record = change_with_patch(std::string(v));
            if (!record) {
                damaged = decimal_suffix(k, prefix.size());
                return false;
            }
            out.push_back({decimal_suffix(k, prefix.size()), std::move(*record)});
            return true;
        });
        return out;
    });
    if (read && !damaged.empty())
        return make_error(ErrorKind::Storage,
                          "change " + damaged + " of execution " + exec_id +
                              " is damaged (its record is not a JSON object): restore the data "
                              "folder from a backup (see 'A data directory Ferry cannot read' in "
                              "docs/operations.md)");
    return read;
}

Result<std::vector<KeyedJson>> Store::list_dlq(const std::string& after, size_t limit) const {
    const Impl& s = *impl_;
    return read_txn<std::vector<KeyedJson>>(s, "list_dlq", [&](const lmdb::Txn& txn) {
        return scan_page(txn, s.dlq, {}, after, limit);
    });
}

Result<uint64_t> Store::dlq_size() const {
    const Impl& s = *impl_;
    return read_txn<uint64_t>(s, "dlq_size",
                              [&](const lmdb::Txn& txn) { return lmdb::entries(txn, s.dlq); });
}

Result<std::vector<KeyedJson>> Store::scan_kv(const std::string& prefix, const std::string& after,
                                              size_t limit) const {
    const Impl& s = *impl_;
    return read_txn<std::vector<KeyedJson>>(s, "scan_kv", [&](const lmdb::Txn& txn) {
        return scan_page(txn, s.kv, prefix, after, limit);
    });
}

}  // namespace ferry::store
