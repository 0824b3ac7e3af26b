// Which process runs an execution: a lock per process for executions it started, a lock per
// execution for the ones it resumed (see Engine::acquire_ownership in executor.h).
//
// Why two kinds: an flock'd file per execution cost an open(O_CREAT), flock, unlink and
// close for every start (0.2 ms of system time each on a busy disk, more than the whole
// execution's CPU), while a started execution's id is new and no other process can be
// resuming it yet. The record names the owner instead, and a resumer checks that owner's
// process lock; resumes are rare and keep the per-execution lock that serialises them.
//
// The files are reached through a descriptor of the data folder taken when the engine is
// made, not through its path: a folder moved while the process runs keeps its locks with
// it (a lock made at the old path would be invisible to a resumer of the new one). A lock
// that cannot be made is an error, never "no lock": without it a second process would run
// the same execution.
#include "core/executor.h"

#include "runtime/ids.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ferry::engine {

namespace {

constexpr const char* kLocks = "locks";

std::string process_file(const std::string& token) {
    return "process-" + token;
}

}  // namespace

Error Engine::lock_error(const std::string& name, int err) const {
    std::string what = name.empty() ? "the lock folder " + store_.path() + "/" + kLocks
                                    : "the lock " + store_.path() + "/" + kLocks + "/" + name;
    return make_error(ErrorKind::Storage,
                      "cannot make " + what + ": " + std::strerror(err) +
                          " (without it another ferry process could run the same execution; "
                          "the data folder and its locks/ must be writable by this user)");
}

Result<int> Engine::locks_fd() {
    if (locks_fd_ >= 0) return locks_fd_;
    if (data_dir_fd_ < 0) return lock_error("", data_dir_errno_);
    if (::mkdirat(data_dir_fd_, kLocks, 0700) != 0 && errno != EEXIST) return lock_error("", errno);
    int fd = ::openat(data_dir_fd_, kLocks, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return lock_error("", errno);
    locks_fd_ = fd;
    return locks_fd_;
}

void Engine::open_data_dir() {
    data_dir_fd_ = ::open(store_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    data_dir_errno_ = data_dir_fd_ < 0 ? errno : 0;
}

Status Engine::claim_data_folder() {
    if (Status owner = take_owner_lock(); !owner) return owner;
    if (server_fd_ >= 0) return ok_status();
    Result<int> dir = locks_fd();
    if (!dir) return dir.error();
    int fd = ::openat(dir.value(), "server", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return lock_error("server", errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        char pid[32] = {};
        ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
        ::close(fd);
        if (err != EWOULDBLOCK) return lock_error("server", err);
        std::string who = n > 0 ? " (pid " + std::string(pid, size_t(n)) + ")" : "";
        return make_error(ErrorKind::Storage,
                          "another ferry serve" + who + " is serving the data folder " +
                              store_.path() +
                              ": run one server per data folder (two would each run every "
                              "schedule's due times)");
    }
    // Who holds it, for the message above; the lock is what counts.
    std::string me = std::to_string(::getpid());
    if (::ftruncate(fd, 0) == 0 && ::pwrite(fd, me.data(), me.size(), 0) < 0) {
        // Only the message loses the pid.
    }
    server_fd_ = fd;
    return ok_status();
}

void Engine::close_data_dir() {
    if (server_fd_ >= 0) ::close(server_fd_);
    server_fd_ = -1;
    if (locks_fd_ >= 0) ::close(locks_fd_);
    if (data_dir_fd_ >= 0) ::close(data_dir_fd_);
    locks_fd_ = data_dir_fd_ = -1;
}

Result<bool> Engine::acquire_ownership(const std::string& id) {
    Result<int> dir = locks_fd();
    if (!dir) return dir.error();
    int fd = ::openat(dir.value(), id.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return lock_error(id, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return false;
    }
    // Opened just before its holder unlinked it on release: this lock is on a file nobody
    // else will open again, while a third process locks the new one. Held by someone else,
    // as far as this caller can tell.
    struct stat held {
    }, named{};
    if (::fstat(fd, &held) != 0 || ::fstatat(dir.value(), id.c_str(), &named, 0) != 0 ||
        held.st_ino != named.st_ino || held.st_dev != named.st_dev) {
        ::close(fd);
        return false;
    }
    owned_[id] = fd;
    return true;
}

void Engine::release_ownership(const std::string& id) {
    auto it = owned_.find(id);
    if (it == owned_.end()) return;
    if (locks_fd_ >= 0) ::unlinkat(locks_fd_, id.c_str(), 0);
    ::close(it->second);
    owned_.erase(it);
}

Status Engine::take_owner_lock() {
    if (owner_fd_ >= 0) return ok_status();
    Result<int> dir = locks_fd();
    if (!dir) return dir.error();
    std::string token = new_ulid();
    std::string name = process_file(token);
    int fd = ::openat(dir.value(), name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return lock_error(name, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // a fresh name: cannot be held
        int err = errno;
        ::close(fd);
        return lock_error(name, err);
    }
    owner_fd_ = fd;
    owner_token_ = std::move(token);
    return ok_status();
}

Result<std::string> Engine::process_token() {
    if (Status s = take_owner_lock(); !s) return s.error();
    return owner_token_;
}

bool Engine::owner_alive(const std::string& token) {
    // No owner recorded (records older than locks), or this very process: the caller has
    // already checked it is not running it.
    if (token.empty() || token == owner_token_) return false;
    if (token.find('/') != std::string::npos || token.find("..") != std::string::npos) return false;
    Result<int> dir = locks_fd();
    if (!dir) return false;  // then there is no lock to find
    std::string name = process_file(token);
    int fd = ::openat(dir.value(), name.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;  // removed: the owner ended
    bool alive = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    // The owner died (its lock went with it): its file is litter now.
    if (!alive) ::unlinkat(dir.value(), name.c_str(), 0);
    ::close(fd);
    return alive;
}

void Engine::drop_owner_lock() {
    if (owner_fd_ < 0) return;
    // Removed before the lock goes: a resumer that opened it already sees the lock free.
    if (locks_fd_ >= 0) ::unlinkat(locks_fd_, process_file(owner_token_).c_str(), 0);
    ::close(owner_fd_);
    owner_fd_ = -1;
}

}  // namespace ferry::engine
