// Which process runs an execution: a lock per process for executions it started, a lock per
// execution for the ones it resumed (see Engine::acquire_ownership in executor.h).
//
// Why two kinds: an flock'd file per execution cost an open(O_CREAT), flock, unlink and
// close for every start (0.2 ms of system time each on a busy disk, more than the whole
// execution's CPU), while a started execution's id is new and no other process can be
// resuming it yet. The record names the owner instead, and a resumer checks that owner's
// process lock; resumes are rare and keep the per-execution lock that serialises them.
#include "core/executor.h"

#include "runtime/ids.h"

#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <unistd.h>

namespace ferry::engine {

namespace {

std::filesystem::path locks_dir(const store::Store& store) {
    return std::filesystem::path(store.path()) / "locks";
}

std::string process_file(const std::string& token) {
    return "process-" + token;
}

}  // namespace

bool Engine::acquire_ownership(const std::string& id) {
    std::error_code ec;
    std::filesystem::path dir = locks_dir(store_);
    std::filesystem::create_directories(dir, ec);
    int fd = ::open((dir / id).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return true;  // no lock possible (read-only folder): do not block work
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return false;
    }
    owned_[id] = fd;
    return true;
}

void Engine::release_ownership(const std::string& id) {
    auto it = owned_.find(id);
    if (it == owned_.end()) return;
    std::error_code ec;
    std::filesystem::remove(locks_dir(store_) / id, ec);
    ::close(it->second);
    owned_.erase(it);
}

const std::string& Engine::owner_token() {
    if (owner_tried_) return owner_token_;
    owner_tried_ = true;
    std::error_code ec;
    std::filesystem::path dir = locks_dir(store_);
    std::filesystem::create_directories(dir, ec);
    std::string token = new_ulid();
    int fd =
        ::open((dir / process_file(token)).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    // No lock possible (read-only folder): records name no owner, as before locks existed.
    if (fd < 0) return owner_token_;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // a fresh name: cannot be held
        ::close(fd);
        return owner_token_;
    }
    owner_fd_ = fd;
    owner_token_ = std::move(token);
    return owner_token_;
}

bool Engine::owner_alive(const std::string& token) {
    // No owner recorded (older records, read-only folders), or this very process: the caller
    // has already checked it is not running it.
    if (token.empty() || token == owner_token_) return false;
    if (token.find('/') != std::string::npos || token.find("..") != std::string::npos) return false;
    std::filesystem::path file = locks_dir(store_) / process_file(token);
    int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;  // removed: the owner ended
    bool alive = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    if (!alive) {
        // The owner died (its lock went with it): its file is litter now.
        std::error_code ec;
        std::filesystem::remove(file, ec);
    }
    ::close(fd);
    return alive;
}

void Engine::drop_owner_lock() {
    if (owner_fd_ < 0) return;
    // Removed before the lock goes: a resumer that opened it already sees the lock free.
    std::error_code ec;
    std::filesystem::remove(locks_dir(store_) / process_file(owner_token_), ec);
    ::close(owner_fd_);
    owner_fd_ = -1;
}

}  // namespace ferry::engine
