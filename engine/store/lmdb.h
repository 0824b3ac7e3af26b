// A thin C++ layer over LMDB, private to the store (the shape of hoytech/lmdbxx).
//
// Two layers. At the bottom, one checked call per mdb_* function: an error code is turned into
// an lmdb::Failure exactly once, right where it happens, naming the call ("mdb_put(changes)").
// Above, move-only RAII owners for MDB_env, MDB_txn and MDB_cursor; a Txn that is neither
// committed nor aborted aborts in its destructor, so an early return or a throw never leaks a
// transaction or leaves the writer lock held. Outcomes that are expected (a key not found) are
// values, not failures.
//
// Failures are C++ exceptions inside engine/store only: every public Store function catches
// them and returns a ferry::Error (kind Storage), so nothing throws across the store's API.
#pragma once

#include <lmdb.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace ferry::store::lmdb {

// One LMDB call that failed: which call, and its return code.
class Failure : public std::runtime_error {
  public:
    Failure(std::string where, int code);
    const std::string& where() const { return where_; }
    int code() const { return code_; }

  private:
    std::string where_;
    int code_;
};

// "MDB_MAP_FULL: Environment mapsize limit reached" or "EACCES: Permission denied".
std::string describe_code(int code);

[[noreturn]] void fail(std::string where, int code);
inline void check(int code, const char* where) {
    if (code != MDB_SUCCESS) fail(where, code);
}

inline MDB_val to_val(std::string_view s) {
    return MDB_val{s.size(), const_cast<char*>(s.data())};  // LMDB never writes through it
}
inline std::string_view to_view(const MDB_val& v) {
    return {static_cast<const char*>(v.mv_data), v.mv_size};
}

class Env {
  public:
    Env() = default;
    explicit Env(MDB_env* env) : env_(env) {}
    Env(Env&& other) noexcept : env_(std::exchange(other.env_, nullptr)) {}
    Env& operator=(Env&& other) noexcept {
        if (this != &other) {
            close();
            env_ = std::exchange(other.env_, nullptr);
        }
        return *this;
    }
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;
    ~Env() { close(); }

    static Env create();
    MDB_env* get() const { return env_; }
    void close() {
        if (env_) mdb_env_close(std::exchange(env_, nullptr));
    }

  private:
    MDB_env* env_ = nullptr;
};

class Txn {
  public:
    Txn(Txn&& other) noexcept : txn_(std::exchange(other.txn_, nullptr)) {}
    Txn& operator=(Txn&&) = delete;
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;
    ~Txn() { abort(); }

    static Txn begin(MDB_env* env, unsigned flags);
    static Txn read(MDB_env* env) { return begin(env, MDB_RDONLY); }
    static Txn write(MDB_env* env) { return begin(env, 0); }

    MDB_txn* get() const { return txn_; }
    // LMDB frees the transaction whether mdb_txn_commit succeeds or not, so the handle is
    // dropped before the result is checked.
    void commit();
    void abort() {
        if (txn_) mdb_txn_abort(std::exchange(txn_, nullptr));
    }

  private:
    explicit Txn(MDB_txn* txn) : txn_(txn) {}
    MDB_txn* txn_ = nullptr;
};

class Cursor {
  public:
    Cursor(Cursor&& other) noexcept : cur_(std::exchange(other.cur_, nullptr)) {}
    Cursor& operator=(Cursor&&) = delete;
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;
    ~Cursor() {
        if (cur_) mdb_cursor_close(cur_);
    }

    static Cursor open(const Txn& txn, MDB_dbi dbi, const char* db_name);

    // Moves the cursor; false when there is no such record (MDB_NOTFOUND). With MDB_SET_RANGE
    // the key passed in is the one to seek; on success key and value view the record, valid
    // until the transaction ends or writes.
    bool get(MDB_cursor_op op, std::string_view& key, std::string_view& value);

  private:
    Cursor(MDB_cursor* cur, const char* db_name) : cur_(cur), db_name_(db_name) {}
    MDB_cursor* cur_ = nullptr;
    const char* db_name_ = "";
};

// A named database handle, with its name kept for messages.
struct Db {
    MDB_dbi dbi = 0;
    const char* name = "";
};

// false when the key is absent; value views LMDB memory until the transaction ends or writes.
bool get(const Txn& txn, const Db& db, std::string_view key, std::string_view& value);
void put(const Txn& txn, const Db& db, std::string_view key, std::string_view value);
// false when the key was absent.
bool del(const Txn& txn, const Db& db, std::string_view key);
// How many records the database holds (mdb_stat: no walk).
uint64_t entries(const Txn& txn, const Db& db);
// Opens (flags may hold MDB_CREATE) a named database; false when it does not exist and
// MDB_CREATE was not given.
bool open_db(const Txn& txn, const char* name, unsigned flags, Db& db);

}  // namespace ferry::store::lmdb
