// The scheduler's keyed locks (ferry.lock): a key is held by one task at a time; the others
// that ask for it wait parked, in the order they asked, and are resumed holding it. What a
// holder leaves (a value passed on, or that it ended mid-request) goes to the next holders.
#include "runtime/scheduler.h"

#include "runtime/timestamp.h"

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

bool Scheduler::lock(Task* t, std::string key, LockGranted granted) {
    forget_idle_lines(Loop::hrtime_ns());
    KeyLine& line = locks_[key];
    if (!line.holder) {
        if (line.idle_since_ns) idle_passed_bytes_ -= line.handover.passed_json.size();
        line.holder = t->id_;
        line.passed_by_holder = false;
        line.idle_since_ns = 0;
        held_.emplace(t->id_, std::move(key));
        return true;
    }
    line.waiting.emplace_back(t->id_, std::move(granted));
    t->park(std::make_unique<LockWaitOp>(*this, t->id_, std::move(key)));
    return false;
}

Scheduler::LockHandover Scheduler::handover(const std::string& key) const {
    auto line = locks_.find(key);
    return line == locks_.end() ? LockHandover{} : line->second.handover;
}

bool Scheduler::pass_on(uint64_t task, const std::string& key, std::string json) {
    auto line = locks_.find(key);
    if (line == locks_.end() || line->second.holder != task) return false;
    std::string& passed = line->second.handover.passed_json;
    passed = std::move(json);
    line->second.passed_by_holder = true;
    return true;
}

bool Scheduler::unlock(uint64_t task, const std::string& key) {
    auto line = locks_.find(key);
    if (line == locks_.end() || line->second.holder != task) return false;
    held_.erase(task);
    KeyLine& next = line->second;
    // One cut short mid-request marks the key "interrupted"; one that passed a value on
    // (what it found or created) had settled an earlier such request and clears the mark;
    // any other (one cancelled while it waited that request out) leaves it as it was.
    if (task == ending_mid_request_)
        next.handover.interrupted_at_ms = now_unix_ms();
    else if (next.passed_by_holder)
        next.handover.interrupted_at_ms = 0;
    next.passed_by_holder = false;
    next.holder = 0;
    // The first in line holds it from now on, even before it runs again: a task asking
    // meanwhile queues behind it. A waiter leaves its line when it ends (its LockWaitOp is
    // cancelled), so the first in line is a parked task; one that is not is passed over.
    while (!next.waiting.empty()) {
        auto [waiter, granted] = std::move(next.waiting.front());
        next.waiting.pop_front();
        auto task_it = tasks_.find(waiter);
        if (task_it == tasks_.end() || task_it->second->state_ != TaskState::Parked) continue;
        next.holder = waiter;
        held_.emplace(waiter, key);
        complete(task_it->second.get(), [granted = std::move(granted), handover = next.handover](
                                            lua_State* co) { return granted(co, handover); });
        return true;
    }
    if (next.handover.passed_json.empty() && !next.handover.interrupted_at_ms) {
        locks_.erase(line);
        return true;
    }
    const uint64_t now = Loop::hrtime_ns();
    next.idle_since_ns = now;
    idle_passed_bytes_ += next.handover.passed_json.size();
    if (next.handover.interrupted_at_ms) {
        marked_.emplace_back(now, key);
        // Entries of lines taken again since are stale: cleared out once they are half, so
        // a key marked and retaken a million times holds one entry, not a million.
        if (marked_.size() > marked_compact_at_) {
            std::erase_if(marked_,
                          [this](const auto& e) { return !is_idle_since(e.second, e.first); });
            marked_compact_at_ = std::max<size_t>(64, 2 * marked_.size());
        }
    } else {
        idle_.emplace_back(now, key);
    }
    forget_idle_lines(now);
    return true;
}

void Scheduler::drop_line(std::unordered_map<std::string, KeyLine>::iterator line) {
    idle_passed_bytes_ -= line->second.handover.passed_json.size();  // an idle line's
    locks_.erase(line);
}

bool Scheduler::is_idle_since(const std::string& key, uint64_t since) const {
    auto line = locks_.find(key);
    return line != locks_.end() && !line->second.holder && line->second.waiting.empty() &&
           line->second.idle_since_ns == since;
}

void Scheduler::forget_idle_lines(uint64_t now_ns) {
    // Lines kept for a value passed on: by age, count and bytes, oldest first. An entry whose
    // line was taken again since (held, or idle from a later release) is not its to drop.
    while (!idle_.empty()) {
        const auto& [since, key] = idle_.front();
        if (is_idle_since(key, since)) {
            if (idle_.size() <= kIdleKeepMax && idle_passed_bytes_ <= kPassedBudget &&
                since + kIdleKeepMs * 1'000'000 >= now_ns)
                break;
            drop_line(locks_.find(key));
        }
        idle_.pop_front();
    }
    // Lines that say a request's outcome is unknown go only with age: forgetting one early
    // would let the next create with that key take "not found" for an answer. Over the
    // byte budget they give their passed values up, not the mark.
    while (!marked_.empty()) {
        const auto& [since, key] = marked_.front();
        if (is_idle_since(key, since)) {
            if (since + kInterruptedKeepMs * 1'000'000 >= now_ns) break;
            drop_line(locks_.find(key));
        }
        marked_.pop_front();
    }
    for (auto it = marked_.begin(); idle_passed_bytes_ > kPassedBudget && it != marked_.end();
         ++it) {
        if (!is_idle_since(it->second, it->first)) continue;
        std::string& passed = locks_.find(it->second)->second.handover.passed_json;
        idle_passed_bytes_ -= passed.size();
        std::string().swap(passed);
    }
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
