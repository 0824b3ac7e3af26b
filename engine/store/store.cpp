// Opening the store, staging writes and the group commit. Reads are in store_read.cpp, the
// map (usage, adopting a grown one, mapped pages) in store_map.cpp, the writer thread in
// store_writer.cpp.
#include "store/store.h"

#include "runtime/integration/secrets.h"
#include "runtime/utf8.h"
#include "store/keys.h"
#include "store/store_impl.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ferry::store {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSchemaKey = "schema";
constexpr std::string_view kSchemaVersion = "1";
// Eleven databases today; the spare slots let a later schema add some without a new env.
constexpr MDB_dbi kMaxDbs = 32;

// What a folder holds before the environment is opened for writing.
enum class Found {
    Nothing,     // no data.mdb (or an empty one): a new store is created
    EmptyEnv,    // an LMDB environment that never committed anything: safe to initialise
    FerryStore,  // data.mdb with Ferry's meta database and a known schema
};

struct OpenFailure {
    std::string reason;
};

// Why LMDB refused a file, in the words a user needs, followed by the exact call and code.
std::string explain(const lmdb::Failure& f) {
    std::string what;
    switch (f.code()) {
    case MDB_INVALID: what = "data.mdb is not an LMDB file or its header is corrupt"; break;
    case MDB_VERSION_MISMATCH: what = "data.mdb was written by an incompatible LMDB version"; break;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_PANIC: what = "data.mdb is corrupt"; break;
    case EACCES:
    case EPERM: what = "permission denied"; break;
    case EROFS: what = "the file system is read-only"; break;
    case MDB_MAP_FULL: what = "the map size is too small for this store"; break;
    default: what = "LMDB failed"; break;
    }
    return what + " (" + f.what() + ")";
}

// After a permission failure: the file of the folder this user may not write, and why. A
// lock.mdb root re-created (a command run as root after a restore) stopped the service with
// a "permission denied" naming only the folder, which the service owns. To the owner
// himself "run ferry as the owner" sends in circles: a file whose mode denies its owner
// the write needs a chmod; one its owner (or root) may write by its mode and still cannot
// is marked immutable (chattr +i), or refused by a security module.
std::string unwritable_file(const std::string& dir) {
    const uid_t self = ::geteuid();
    for (const char* name : {"lock.mdb", "data.mdb"}) {
        std::string path = dir + "/" + name;
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || ::access(path.c_str(), R_OK | W_OK) == 0) continue;
        if (self != 0 && st.st_uid == self && !(st.st_mode & S_IWUSR)) {
            char mode[8];
            std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
            return "; " + std::string(name) + " is this process's (uid " + std::to_string(self) +
                   ") but its mode (" + mode + ") does not let its owner write it: chmod u+w " +
                   path;
        }
        const bool mode_allows = self == 0 || st.st_uid == self;
        if (mode_allows)
            return "; " + std::string(name) +
                   " cannot be opened for writing, though its owner "
                   "(uid " +
                   std::to_string(st.st_uid) + ") and mode let this process (uid " +
                   std::to_string(self) + ") write it: is it immutable (lsattr " + path +
                   "; chattr -i) or refused by a security module?";
        return "; " + std::string(name) + " belongs to uid " + std::to_string(st.st_uid) +
               " and this process (uid " + std::to_string(self) +
               ") may not write it: run ferry as the folder's owner, or chown the folder's "
               "files to the user that runs it";
    }
    return "";
}

// LMDB may commit a meta page that counts pages past the file's end: a page a transaction
// allocated at the end and freed again before committing (a delete that merged pages) is
// never written, and the next open would take the file for a truncated copy. The tail is
// allocated (zeros, which LMDB writes before it reads) right after the commit. fallocate
// only ever extends: another process sharing the store may be writing past it meanwhile,
// and a file system without fallocate leaves the tail as it is. fd must be open for writing.
void fill_unwritten_tail(MDB_env* env, int fd) {
    struct stat file {};
    if (fstat(fd, &file) != 0) return;
    uint64_t needed = pages_reach(env);
    if (uint64_t(file.st_size) < needed &&
        fallocate(fd, 0, off_t(file.st_size), off_t(needed - uint64_t(file.st_size))) != 0) {
        // Left short: see above.
    }
}

// A data.mdb cut short (a partial copy, a full disk) still opens: LMDB maps it, and the
// first read of a page past its end is a SIGBUS that kills the process. Checked right after
// each mdb_env_open. A short tail LMDB leaves is filled after each commit, above, but
// another process sharing the store may be between its commit and that fill: a short file
// is looked at again for a moment (the fill follows the commit at once) before it is
// called truncated. (A `ferry run` beside others that commit met it: "restore it from a
// backup" for a store that was fine.)
void check_not_truncated(MDB_env* env) {
    mdb_filehandle_t fd = -1;
    if (mdb_env_get_fd(env, &fd) != MDB_SUCCESS) return;
    constexpr int kLooks = 50;  // 2 ms apart: 100 ms at most, only for a short file
    for (int look = 1;; ++look) {
        struct stat file {};
        if (fstat(fd, &file) != 0) return;
        uint64_t needed = pages_reach(env);
        if (uint64_t(file.st_size) >= needed) return;
        if (look == kLooks) {
            throw OpenFailure{"data.mdb is truncated: " + std::to_string(file.st_size) +
                              " bytes, but its pages reach " + std::to_string(needed) +
                              " (a partial copy or a full disk?); restore it from a backup"};
        }
        ::usleep(2000);
    }
}

// LMDB makes lock.mdb with ftruncate (a sparse file) and writes it through a mapping: on a
// full disk that write is a SIGBUS, not an error, and so is a new data.mdb's first page.
// Where either has to be made (a new folder, or a restore that removed lock.mdb), the disk
// must have room for them; an existing store opens on a full disk (it can be read and
// pruned).
void check_room_to_create(const std::string& dir) {
    constexpr uint64_t kNeeded = 64 * 1024;
    std::error_code ec;
    if (fs::exists(dir + "/lock.mdb", ec) && fs::exists(dir + "/data.mdb", ec)) return;
    struct statvfs disk {};
    if (statvfs(dir.c_str(), &disk) != 0) return;  // the open reports what is wrong
    // root may use the blocks the file system reserves for it.
    uint64_t blocks = geteuid() == 0 ? disk.f_bfree : disk.f_bavail;
    uint64_t free_bytes = blocks * disk.f_frsize;
    if (free_bytes < kNeeded) {
        throw OpenFailure{"the disk is full (" + std::to_string(free_bytes) +
                          " bytes free): LMDB needs room to create lock.mdb and data.mdb; free "
                          "some space and try again"};
    }
}

// Looks at an existing data.mdb without changing anything on disk: read-only, and without
// the lock file (MDB_NOLOCK), so not even lock.mdb is created next to a file that turns out
// not to be ours. Only the real open, once the folder is known to be a Ferry store or empty,
// creates files.
Found probe(const std::string& dir) {
    lmdb::Env env = lmdb::Env::create();
    lmdb::check(mdb_env_set_maxdbs(env.get(), kMaxDbs), "mdb_env_set_maxdbs");
    lmdb::check(mdb_env_open(env.get(), dir.c_str(), MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0),
                "mdb_env_open");
    check_not_truncated(env.get());
    lmdb::Txn txn = lmdb::Txn::read(env.get());
    MDB_dbi main = 0;
    lmdb::check(mdb_dbi_open(txn.get(), nullptr, 0, &main), "mdb_dbi_open(main)");
    MDB_stat st;
    lmdb::check(mdb_stat(txn.get(), main, &st), "mdb_stat(main)");
    // A crash between LMDB creating data.mdb and Ferry's first commit leaves an environment
    // with no records at all; there is nothing in it to lose.
    if (st.ms_entries == 0) return Found::EmptyEnv;

    lmdb::Db meta;
    bool has_meta = false;
    try {
        has_meta = lmdb::open_db(txn, "meta", 0, meta);
    } catch (const lmdb::Failure& f) {
        if (f.code() != MDB_INCOMPATIBLE) throw;  // "meta" exists but is a plain key
    }
    if (!has_meta)
        throw OpenFailure{"not a Ferry store: data.mdb is an LMDB environment without Ferry's "
                          "'meta' database"};
    std::string_view schema;
    if (!lmdb::get(txn, meta, kSchemaKey, schema))
        throw OpenFailure{"not a Ferry store: the 'meta' database has no schema version"};
    if (schema != kSchemaVersion)
        throw OpenFailure{"schema version '" + std::string(schema) +
                          "' is not supported (this Ferry reads schema " +
                          std::string(kSchemaVersion) + ")"};
    return Found::FerryStore;
}

// Decides, from what the folder holds, whether it may be opened; creates it when missing
// (unless !create: a missing folder is then Nothing, as an empty one is), readable by its
// owner only (the history holds tickets, inputs, approvals), and says so in *created.
Found inspect_folder(const std::string& dir, bool create, bool* created) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT)
            throw OpenFailure{std::string("cannot access the folder: ") + std::strerror(errno)};
        if (!create) return Found::Nothing;
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) throw OpenFailure{"cannot create the folder: " + ec.message()};
        *created = true;
        fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
        if (ec) throw OpenFailure{"cannot make the folder private: " + ec.message()};
        return Found::Nothing;
    }
    if (!S_ISDIR(st.st_mode)) throw OpenFailure{"not a folder"};

    std::error_code ec;
    bool has_data = false;
    uintmax_t data_size = 0;
    std::vector<std::string> others;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if ((name == "data.mdb" || name == "lock.mdb") && !it->is_regular_file(ec) && !ec) {
            // file_size() of a folder said only "cannot read the folder: Is a directory".
            throw OpenFailure{name + " is not a file: move it away (a restore put a folder " +
                              "in its place?)"};
        }
        if (name == "data.mdb") {
            has_data = true;
            data_size = it->file_size(ec);
            if (ec) break;
        } else if (name != "lock.mdb") {
            // lock.mdb alone carries no data (LMDB recreates it); anything else is not ours.
            others.push_back(name);
        }
    }
    if (ec) throw OpenFailure{"cannot read the folder: " + ec.message()};

    if (!has_data) {
        if (others.empty()) return Found::Nothing;
        std::string listed;
        for (size_t i = 0; i < others.size() && i < 3; ++i)
            listed += (i ? ", '" : "'") + others[i] + "'";
        if (others.size() > 3) listed += ", ...";
        throw OpenFailure{"not a Ferry store: the folder holds other files (" + listed +
                          ") and no data.mdb; use an empty or new folder"};
    }
    // An empty data.mdb beside lock.mdb alone is a creation interrupted before LMDB wrote
    // its first page. Beside anything more (the engine's locks/, made once a store opened)
    // it is a store cut to nothing (a copy or a restore on a full disk): a new store over it
    // would hide that history was lost.
    if (data_size == 0 && others.empty()) return Found::Nothing;
    if (data_size == 0)
        throw OpenFailure{"data.mdb is empty, but the folder has held a store (it holds '" +
                          others.front() +
                          "'): a partial copy or a full disk? restore it from a backup; "
                          "to start a new history, use an empty folder"};
    // With lock.mdb there, other processes may be writing while the probe reads, and it is
    // not in their reader table (MDB_NOLOCK, so that it changes no file): a page a writer
    // reuses meanwhile reads as garbage, and a store ten `ferry run`s had just made read as
    // "not a Ferry store". What it finds wrong is looked at again for a moment (the writers
    // commit in milliseconds) before it is believed; a folder no one uses is told at once.
    const bool shared = fs::exists(dir + "/lock.mdb", ec);
    constexpr int kLooks = 10;  // 20 ms apart
    for (int look = 1;; ++look) {
        try {
            return probe(dir);
        } catch (const OpenFailure&) {
            if (!shared || look == kLooks) throw;
        } catch (const lmdb::Failure& f) {
            if (!shared || look == kLooks) throw OpenFailure{explain(f)};
        }
        ::usleep(20000);
    }
}

}  // namespace

Store::Store() : impl_(std::make_unique<Impl>()) {}
Store::~Store() {
    stop_writer();
}

const std::string& Store::path() const {
    return impl_->path;
}

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, StoreOptions options) {
    auto fail = [&](const std::string& reason) {
        return make_error(ErrorKind::Storage, "cannot open store " + dir + ": " + reason);
    };
    if (dir.empty()) return fail("no folder given");

    std::unique_ptr<Store> store(new Store());
    Impl& s = *store->impl_;
    s.path = dir;
    s.options = options;
    // A refused open leaves no folder it made behind (the next try would find it and an
    // operator would wonder what wrote it).
    bool created = false;
    auto forget_created = [&] {
        if (!created) return;
        s.env = {};
        std::error_code ec;
        fs::remove_all(dir, ec);
    };
    try {
        Found found = inspect_folder(dir, options.create, &created);
        if (found == Found::Nothing && !options.create)
            return make_error(ErrorKind::NotFound,
                              "no Ferry data in " + dir +
                                  " (nothing has run with this --data or --project yet)");

        if (!options.read_only) check_room_to_create(dir);
        s.env = lmdb::Env::create();
        lmdb::check(mdb_env_set_maxdbs(s.env.get(), kMaxDbs), "mdb_env_set_maxdbs");
        lmdb::check(mdb_env_set_mapsize(s.env.get(), options.map_size), "mdb_env_set_mapsize");
        // MDB_NOTLS: read transactions are not tied to the thread that began them (the engine
        // may read from a second thread); MDB_NOSYNC trades durability for speed on request.
        unsigned flags = MDB_NOTLS | (options.durable ? 0u : unsigned{MDB_NOSYNC}) |
                         (options.read_only ? unsigned{MDB_RDONLY} : 0u);
        // The files are the owner's alone, as the folder Ferry makes is.
        lmdb::check(mdb_env_open(s.env.get(), dir.c_str(), flags, 0600), "mdb_env_open");
        store->clear_dead_readers();
        s.max_key_size = static_cast<size_t>(mdb_env_get_maxkeysize(s.env.get()));
        check_not_truncated(s.env.get());
        MDB_envinfo info{};
        lmdb::check(mdb_env_info(s.env.get(), &info), "mdb_env_info");
        s.map_size = info.me_mapsize;
        s.opened_map_size = s.map_size;

        if (options.read_only) {
            // Every table exists in a Ferry store (the first open made them all).
            lmdb::Txn txn = lmdb::Txn::read(s.env.get());
            s.open_dbs(txn, 0);
            std::string_view schema;
            if (!lmdb::get(txn, s.meta, kSchemaKey, schema))
                return fail("not a Ferry store: it has no schema version");
            if (schema != kSchemaVersion)
                return fail("schema version '" + std::string(schema) + "' is not supported");
            txn.commit();
            s.staging_thread = std::this_thread::get_id();
            s.locate_map();
            return store;
        }
        lmdb::Txn txn = lmdb::Txn::write(s.env.get());
        s.open_dbs(txn);
        // Checked again inside the write transaction: another process may have initialised
        // the folder since the probe.
        std::string_view schema;
        if (lmdb::get(txn, s.meta, kSchemaKey, schema)) {
            if (schema != kSchemaVersion)
                return fail("schema version '" + std::string(schema) + "' is not supported");
        } else if (found == Found::FerryStore) {
            return fail("not a Ferry store: the schema version disappeared");
        } else {
            lmdb::put(txn, s.meta, kSchemaKey, kSchemaVersion);
        }
        txn.commit();
        s.staging_thread = std::this_thread::get_id();
        s.locate_map();
    } catch (const OpenFailure& f) {
        forget_created();
        return fail(f.reason);
    } catch (const lmdb::Failure& f) {
        std::string why = explain(f);
        if (f.code() == EACCES || f.code() == EPERM) why += unwritable_file(dir);
        forget_created();
        return fail(why);
    }
    return store;
}

// ---- staging ----

void Store::put_execution(const std::string& id, const std::string& workflow,
                          const std::string& status, std::string json) {
    impl_->staged.push_back(
        {StagedOp::Kind::PutExecution, id, workflow, status, 0, std::move(json)});
}

void Store::put_step(const std::string& exec_id, const std::string& step_key, std::string json) {
    impl_->staged.push_back({StagedOp::Kind::PutStep, exec_id, step_key, {}, 0, std::move(json)});
}

void Store::put_attempt(const std::string& exec_id, const std::string& step_key, uint32_t attempt,
                        std::string json) {
    impl_->staged.push_back(
        {StagedOp::Kind::PutAttempt, exec_id, step_key, {}, attempt, std::move(json)});
}

void Store::add_change(const std::string& exec_id, std::string json) {
    impl_->staged.push_back({StagedOp::Kind::AddChange, exec_id, {}, {}, 0, std::move(json)});
}

void Store::put_workflow(const std::string& hash, std::string json) {
    impl_->staged.push_back({StagedOp::Kind::PutWorkflow, hash, {}, {}, 0, std::move(json)});
}

void Store::put_dlq(const std::string& id, std::string json) {
    impl_->staged.push_back({StagedOp::Kind::PutDlq, id, {}, {}, 0, std::move(json)});
}

void Store::erase_dlq(const std::string& id) {
    impl_->staged.push_back({StagedOp::Kind::EraseDlq, id, {}, {}, 0, {}});
}

void Store::put_kv(const std::string& key, std::string value) {
    impl_->staged.push_back({StagedOp::Kind::PutKv, key, {}, {}, 0, std::move(value)});
}

void Store::erase_kv(const std::string& key) {
    impl_->staged.push_back({StagedOp::Kind::EraseKv, key, {}, {}, 0, {}});
}

uint64_t Store::executions_erased() const {
    return impl_->executions_erased.load(std::memory_order_relaxed);
}

void Store::erase_execution(const std::string& id) {
    impl_->staged.push_back({StagedOp::Kind::EraseExecution, id, {}, {}, 0, {}});
}

void Store::after_commit(std::function<void()> cb) {
    impl_->callbacks.push_back(std::move(cb));
    impl_->callback_marks.push_back(impl_->staged.size());
}

bool Store::has_pending() const {
    return !impl_->staged.empty() || !impl_->callbacks.empty();
}

// ---- commit ----

namespace {

// A staged write the store refuses before LMDB sees it (a caller bug).
struct Invalid {
    std::string message;
};

// Secret values a task, a vendor's answer or an error message let slip never reach the
// history. Done here, on the writer thread, for every record of an execution whoever staged
// it: on the loop this search was 4 % of a ticket's instructions. Workflows, dead letters
// and kv entries are not history: a definition and a delivery are kept as they must run.
//
// And every JSON record is valid UTF-8 when it is stored, whatever slipped into it (a
// template that printed a byte that is not UTF-8, a task's change record, a dead letter):
// a bad byte, which can only sit inside a string, becomes U+FFFD, so each reader (show,
// export, the API) can always parse what it reads.
void scrub_history(StagedOp& op) {
    using Kind = StagedOp::Kind;
    bool history = op.kind == Kind::PutExecution || op.kind == Kind::PutStep ||
                   op.kind == Kind::PutAttempt || op.kind == Kind::AddChange;
    if (history && Redactor::instance().redact_json_in_place(op.value) &&
        op.kind == Kind::PutStep && !op.value.empty() && op.value.back() == '}') {
        // Said in the record: read back (a resume), "[REDACTED]" in its input or output
        // then stands for a secret, which the run cannot send again. Without the mark the
        // text may be a vendor's own words.
        const bool empty =
            op.value.find_last_not_of(" \t\r\n", op.value.size() - 2) == op.value.find('{');
        op.value.insert(op.value.size() - 1, empty ? "\"redacted\":true" : ",\"redacted\":true");
    }
    if ((history || op.kind == Kind::PutDlq) && invalid_utf8_at(op.value) != std::string::npos)
        op.value = to_valid_utf8(op.value);
}

const char* op_name(StagedOp::Kind kind) {
    switch (kind) {
    case StagedOp::Kind::PutExecution: return "put_execution";
    case StagedOp::Kind::PutStep: return "put_step";
    case StagedOp::Kind::PutAttempt: return "put_attempt";
    case StagedOp::Kind::AddChange: return "add_change";
    case StagedOp::Kind::PutWorkflow: return "put_workflow";
    case StagedOp::Kind::PutDlq: return "put_dlq";
    case StagedOp::Kind::EraseDlq: return "erase_dlq";
    case StagedOp::Kind::PutKv: return "put_kv";
    case StagedOp::Kind::EraseKv: return "erase_kv";
    case StagedOp::Kind::EraseExecution: return "erase_execution";
    }
    return "write";
}

// A key part that is followed by '\0' in a composite key must be non-empty and NUL-free.
void check_part(const StagedOp& op, const char* what, const std::string& part) {
    if (part.empty()) throw Invalid{std::string(op_name(op.kind)) + ": " + what + " is empty"};
    if (part.find('\0') != std::string::npos)
        throw Invalid{std::string(op_name(op.kind)) + ": " + what + " contains a NUL byte"};
}

// The workflow and status under which exec_index says an execution is indexed, read inside
// the write's own transaction so an earlier write of the same batch is seen too.
struct IndexedAs {
    std::string workflow, status;
};
std::optional<IndexedAs> indexed_as(const lmdb::Txn& txn, const lmdb::Db& exec_index,
                                    const std::string& id) {
    std::string_view found;
    if (!lmdb::get(txn, exec_index, id, found)) return std::nullopt;
    // Copied out: the view into the map does not survive the caller's deletes.
    const size_t sep = found.find('\0');
    if (sep == std::string_view::npos) return IndexedAs{std::string(found), {}};
    return IndexedAs{std::string(found.substr(0, sep)), std::string(found.substr(sep + 1))};
}

// Deletes every record of db whose key starts with prefix.
void erase_prefixed(const lmdb::Txn& txn, const lmdb::Db& db, const std::string& prefix) {
    std::vector<std::string> doomed;  // collected first: deleting moves the cursor
    scan_forward(txn, db, prefix, [&](std::string_view k, std::string_view) {
        doomed.emplace_back(k);
        return true;
    });
    for (const std::string& k : doomed)
        lmdb::del(txn, db, k);
}

std::string writes(size_t n) {
    return std::to_string(n) + (n == 1 ? " write" : " writes");
}

}  // namespace

// Keys are checked here rather than left to LMDB so the error names the write and the limit.
const std::string& Store::Impl::checked_key(const StagedOp& op, const std::string& key) const {
    if (key.empty()) throw Invalid{std::string(op_name(op.kind)) + ": the key is empty"};
    if (key.size() > max_key_size)
        throw Invalid{std::string(op_name(op.kind)) + ": a key of " + std::to_string(key.size()) +
                      " bytes is longer than LMDB's maximum of " + std::to_string(max_key_size)};
    return key;
}

bool Store::Impl::apply(const lmdb::Txn& txn, StagedOp& op) {
    using Kind = StagedOp::Kind;
    scrub_history(op);
    switch (op.kind) {
    case Kind::PutExecution: {
        check_part(op, "the id", op.a);
        check_part(op, "the workflow", op.b);
        check_part(op, "the status", op.c);
        const std::string& id = checked_key(op, op.a);
        std::string wf_key = checked_key(op, keys::join(op.b, id));
        std::string status_key = checked_key(op, keys::join(op.c, id));
        // The index keys written last time for this id.
        if (auto old = indexed_as(txn, exec_index, id)) {
            if (old->workflow != op.b) lmdb::del(txn, by_workflow, keys::join(old->workflow, id));
            if (old->status != op.c) lmdb::del(txn, by_status, keys::join(old->status, id));
        }
        lmdb::put(txn, by_workflow, wf_key, {});
        lmdb::put(txn, by_status, status_key, {});
        lmdb::put(txn, exec_index, id, keys::join(op.b, op.c));
        lmdb::put(txn, executions, id, op.value);
        break;
    }
    case Kind::PutStep:
        check_part(op, "the execution id", op.a);
        check_part(op, "the step key", op.b);
        lmdb::put(txn, steps, checked_key(op, keys::join(op.a, op.b)), op.value);
        break;
    case Kind::PutAttempt: {
        check_part(op, "the execution id", op.a);
        check_part(op, "the step key", op.b);
        std::string key = keys::append_be(keys::prefix(keys::join(op.a, op.b)), op.n, 4);
        lmdb::put(txn, attempts, checked_key(op, key), op.value);
        break;
    }
    case Kind::AddChange: {
        check_part(op, "the execution id", op.a);
        std::string prefix = keys::prefix(op.a);
        checked_key(op, keys::append_be(prefix, 0, 8));
        // The next sequence number is the last one of this execution plus one: seek just past
        // the execution's keys, step back, and look at what is there.
        uint64_t next = 1;
        {
            lmdb::Cursor cursor = lmdb::Cursor::open(txn, changes.dbi, changes.name);
            std::string end = *keys::prefix_end(prefix);  // prefix ends in '\0': never all 0xff
            std::string_view k = end, v;
            bool found = cursor.get(MDB_SET_RANGE, k, v) ? cursor.get(MDB_PREV, k, v)
                                                         : cursor.get(MDB_LAST, k, v);
            if (found && keys::starts_with(k, prefix) && k.size() == prefix.size() + 8)
                next = keys::read_be(k.substr(prefix.size())) + 1;
        }
        lmdb::put(txn, changes, keys::append_be(prefix, next, 8), op.value);
        break;
    }
    case Kind::PutWorkflow: lmdb::put(txn, workflows, checked_key(op, op.a), op.value); break;
    case Kind::PutDlq: lmdb::put(txn, dlq, checked_key(op, op.a), op.value); break;
    case Kind::EraseDlq: lmdb::del(txn, dlq, checked_key(op, op.a)); break;
    case Kind::PutKv: lmdb::put(txn, kv, checked_key(op, op.a), op.value); break;
    case Kind::EraseKv: lmdb::del(txn, kv, checked_key(op, op.a)); break;
    case Kind::EraseExecution: {
        check_part(op, "the id", op.a);
        const std::string& id = checked_key(op, op.a);
        if (auto indexed = indexed_as(txn, exec_index, id)) {
            lmdb::del(txn, by_workflow, keys::join(indexed->workflow, id));
            lmdb::del(txn, by_status, keys::join(indexed->status, id));
            lmdb::del(txn, exec_index, id);
        }
        const bool erased = lmdb::del(txn, executions, id);
        const std::string prefix = keys::prefix(id);
        for (const lmdb::Db* db : {&steps, &attempts, &changes})
            erase_prefixed(txn, *db, prefix);
        return erased;
    }
    }
    return false;
}

// Staged writes are taken out of the store before the transaction starts, so whatever
// happens they are gone afterwards: on failure the transaction is aborted (nothing of the
// batch reaches the disk) and the batch is dropped with its callbacks, and the error says
// why. Keeping a failed batch would make every later commit fail again on the same bad write
// (a key too long never gets shorter); the engine treats a failed commit as the loss of the
// effects that waited for it.
Status Store::Impl::write(std::vector<StagedOp>& ops, bool* map_resized) {
    if (ops.empty()) return ok_status();
    if (map_resized) *map_resized = false;
    try {
        uint64_t erased = 0;
        lmdb::Txn txn = lmdb::Txn::write(env.get());
        for (StagedOp& op : ops)
            erased += apply(txn, op);
        txn.commit();  // synced unless MDB_NOSYNC
        executions_erased.fetch_add(erased, std::memory_order_relaxed);
        if (mdb_filehandle_t fd = -1; mdb_env_get_fd(env.get(), &fd) == MDB_SUCCESS)
            fill_unwritten_tail(env.get(), fd);
        release_mapped_pages();
    } catch (const Invalid& e) {
        return make_error(ErrorKind::Validation, "store " + path + ": commit of " +
                                                     writes(ops.size()) +
                                                     " refused, nothing written: " + e.message);
    } catch (const lmdb::Failure& f) {
        std::string reason = f.what();
        if (f.code() == MDB_MAP_FULL)
            reason += " (the map is " + std::to_string(map_size) +
                      " bytes: prune history with `ferry executions prune`, or raise "
                      "store.map_size in ferry.yaml and restart)";
        else if (f.code() == MDB_MAP_RESIZED && map_resized)
            *map_resized = true;  // the staging thread adopts the larger map and writes again
        else if (f.code() == MDB_MAP_RESIZED)
            reason += " (another process opened this store with a larger store.map_size and "
                      "wrote past this one's " +
                      std::to_string(map_size) +
                      " bytes, and it could not be adopted: restart this process)";
        return storage_error("commit of " + writes(ops.size()) + " failed, nothing written",
                             reason);
    }
    return ok_status();
}

Status Store::Impl::write_on_staging_thread(std::vector<StagedOp>& ops) {
    bool map_resized = false;
    Status status = write(ops, &map_resized);
    if (!status && map_resized && adopt_grown_map()) status = write(ops);
    return status;
}

Status Store::commit(size_t max_writes) {
    Impl& s = *impl_;
    // A batch in flight was staged earlier: it is durable (and its callbacks have run)
    // before anything staged after it.
    if (s.submitted) {
        s.wait_written();
        if (Status c = collect(); !c) return c;
    }
    Impl::Batch batch = s.take(max_writes);
    if (Status w = s.write_on_staging_thread(batch.ops); !w) return w;
    if (!batch.ops.empty()) ++s.commits;
    // A callback may stage writes or callbacks of its own; they belong to the next commit.
    for (auto& cb : batch.callbacks)
        cb();
    s.recycle(std::move(batch));
    return ok_status();
}

uint64_t Store::commits() const {
    return impl_->commits;
}

}  // namespace ferry::store
