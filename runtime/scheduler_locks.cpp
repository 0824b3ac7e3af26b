// The scheduler's keyed locks (ferry.lock): a key is held by one task at a time; the others
// that ask for it wait parked, in the order they asked, and are resumed holding it.
#include "runtime/scheduler.h"

#include <algorithm>

namespace ferry {

// Parked in a key's line: a cancel (the step's timeout, the execution cancelled) leaves it.
struct LockWaitOp final : PendingOp {
    Scheduler& scheduler;
    uint64_t task;
    std::string key;
    LockWaitOp(Scheduler& s, uint64_t t, std::string k)
        : scheduler(s), task(t), key(std::move(k)) {}
    void cancel() override { scheduler.stop_waiting(task, key); }
    const char* what() const override { return "lock"; }
};

bool Scheduler::lock(Task* t, std::string key, std::function<int(lua_State*)> granted) {
    KeyLine& line = locks_[key];
    if (!line.holder) {
        line.holder = t->id_;
        held_.emplace(t->id_, std::move(key));
        return true;
    }
    line.waiting.emplace_back(t->id_, std::move(granted));
    t->park(std::make_unique<LockWaitOp>(*this, t->id_, std::move(key)));
    return false;
}

bool Scheduler::unlock(uint64_t task, const std::string& key) {
    auto line = locks_.find(key);
    if (line == locks_.end() || line->second.holder != task) return false;
    held_.erase(task);
    // The first in line holds it from now on, even before it runs again: a task asking
    // meanwhile queues behind it. A waiter leaves its line when it ends (its LockWaitOp is
    // cancelled), so the first in line is a parked task.
    KeyLine& next = line->second;
    while (!next.waiting.empty()) {
        auto [waiter, granted] = std::move(next.waiting.front());
        next.waiting.pop_front();
        auto task_it = tasks_.find(waiter);
        if (task_it == tasks_.end() || task_it->second->state_ != TaskState::Parked) continue;
        next.holder = waiter;
        held_.emplace(waiter, key);
        complete(task_it->second.get(), std::move(granted));
        return true;
    }
    locks_.erase(line);
    return true;
}

void Scheduler::stop_waiting(uint64_t task, const std::string& key) {
    auto line = locks_.find(key);
    if (line == locks_.end()) return;
    auto& waiting = line->second.waiting;
    waiting.erase(std::remove_if(waiting.begin(), waiting.end(),
                                 [task](const auto& entry) { return entry.first == task; }),
                  waiting.end());
}

void Scheduler::release_locks(const Task* t) {
    auto held = held_.find(t->id_);
    if (held == held_.end()) return;
    const std::string key = held->second;  // unlock() erases it
    unlock(t->id_, key);
}

}  // namespace ferry
