#include "store/lmdb.h"

#include <cerrno>

namespace ferry::store::lmdb {

namespace {

const char* code_name(int code) {
    switch (code) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENOMEM: return "ENOMEM";
    case EIO: return "EIO";
    case EINVAL: return "EINVAL";
    case EAGAIN: return "EAGAIN";
    case ENOTDIR: return "ENOTDIR";
    default: return nullptr;
    }
}

}  // namespace

std::string describe_code(int code) {
    std::string text = mdb_strerror(code);  // covers errno values as well
    // LMDB's own messages already start with the code's name ("MDB_MAP_FULL: ...").
    if (code >= MDB_KEYEXIST && code <= MDB_LAST_ERRCODE) return text;
    if (const char* name = code_name(code)) return std::string(name) + ": " + text;
    return text + " (code " + std::to_string(code) + ")";
}

Failure::Failure(std::string where, int code)
    : std::runtime_error(where + ": " + describe_code(code)), where_(std::move(where)),
      code_(code) {}

void fail(std::string where, int code) {
    throw Failure(std::move(where), code);
}

Env Env::create() {
    MDB_env* env = nullptr;
    check(mdb_env_create(&env), "mdb_env_create");
    return Env(env);
}

Txn Txn::begin(MDB_env* env, unsigned flags) {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env, nullptr, flags, &txn), "mdb_txn_begin");
    return Txn(txn);
}

void Txn::commit() {
    check(mdb_txn_commit(std::exchange(txn_, nullptr)), "mdb_txn_commit");
}

Cursor Cursor::open(const Txn& txn, MDB_dbi dbi, const char* db_name) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn.get(), dbi, &cur);
    if (rc != MDB_SUCCESS) fail(std::string("mdb_cursor_open(") + db_name + ")", rc);
    return Cursor(cur, db_name);
}

bool Cursor::get(MDB_cursor_op op, std::string_view& key, std::string_view& value) {
    MDB_val k = to_val(key);
    MDB_val v{0, nullptr};
    int rc = mdb_cursor_get(cur_, &k, &v, op);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != MDB_SUCCESS) fail(std::string("mdb_cursor_get(") + db_name_ + ")", rc);
    key = to_view(k);
    value = to_view(v);
    return true;
}

bool get(const Txn& txn, const Db& db, std::string_view key, std::string_view& value) {
    MDB_val k = to_val(key);
    MDB_val v{0, nullptr};
    int rc = mdb_get(txn.get(), db.dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != MDB_SUCCESS) fail(std::string("mdb_get(") + db.name + ")", rc);
    value = to_view(v);
    return true;
}

void put(const Txn& txn, const Db& db, std::string_view key, std::string_view value) {
    MDB_val k = to_val(key);
    MDB_val v = to_val(value);
    int rc = mdb_put(txn.get(), db.dbi, &k, &v, 0);
    if (rc != MDB_SUCCESS) fail(std::string("mdb_put(") + db.name + ")", rc);
}

bool del(const Txn& txn, const Db& db, std::string_view key) {
    MDB_val k = to_val(key);
    int rc = mdb_del(txn.get(), db.dbi, &k, nullptr);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != MDB_SUCCESS) fail(std::string("mdb_del(") + db.name + ")", rc);
    return true;
}

uint64_t entries(const Txn& txn, const Db& db) {
    MDB_stat stat{};
    int rc = mdb_stat(txn.get(), db.dbi, &stat);
    if (rc != MDB_SUCCESS) fail(std::string("mdb_stat(") + db.name + ")", rc);
    return stat.ms_entries;
}

bool open_db(const Txn& txn, const char* name, unsigned flags, Db& db) {
    MDB_dbi dbi = 0;
    int rc = mdb_dbi_open(txn.get(), name, flags, &dbi);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != MDB_SUCCESS) fail(std::string("mdb_dbi_open(") + name + ")", rc);
    db = Db{dbi, name};
    return true;
}

}  // namespace ferry::store::lmdb
