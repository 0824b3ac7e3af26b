// The scheduler's timers: task deadlines and sleeping tasks, two heaps and one uv timer.
#include "runtime/scheduler.h"

#include <cstdint>

namespace ferry {

template <uint64_t Task::*Key, size_t Task::*Slot>
void TaskHeap<Key, Slot>::place(size_t slot, Task* t) {
    items_[slot] = t;
    t->*Slot = slot;
}

template <uint64_t Task::*Key, size_t Task::*Slot>
void TaskHeap<Key, Slot>::up(size_t slot) {
    Task* t = items_[slot];
    while (slot > 0) {
        size_t parent = (slot - 1) / 2;
        if (items_[parent]->*Key <= t->*Key) break;
        place(slot, items_[parent]);
        slot = parent;
    }
    place(slot, t);
}

template <uint64_t Task::*Key, size_t Task::*Slot>
void TaskHeap<Key, Slot>::down(size_t slot) {
    Task* t = items_[slot];
    const size_t n = items_.size();
    for (;;) {
        size_t child = 2 * slot + 1;
        if (child >= n) break;
        if (child + 1 < n && items_[child + 1]->*Key < items_[child]->*Key) ++child;
        if (t->*Key <= items_[child]->*Key) break;
        place(slot, items_[child]);
        slot = child;
    }
    place(slot, t);
}

template <uint64_t Task::*Key, size_t Task::*Slot>
void TaskHeap<Key, Slot>::push(Task* t) {
    items_.push_back(t);
    up(items_.size() - 1);
}

template <uint64_t Task::*Key, size_t Task::*Slot>
bool TaskHeap<Key, Slot>::remove(Task* t) {
    size_t slot = t->*Slot;
    if (slot == SIZE_MAX) return false;
    t->*Slot = SIZE_MAX;
    Task* last = items_.back();
    items_.pop_back();
    if (last != t) {
        place(slot, last);
        if (slot > 0 && items_[(slot - 1) / 2]->*Key > last->*Key)
            up(slot);
        else
            down(slot);
    }
    return true;
}

// The two heaps the scheduler has (access checking does not apply to explicit
// instantiations, so the private members may be named here).
template class TaskHeap<&Task::deadline_ns_, &Task::deadline_slot_>;
template class TaskHeap<&Task::wake_ns_, &Task::wake_slot_>;

namespace {

// Parked on a sleep: the scheduler's heap holds the task, so there is nothing to cancel
// here (finish() takes the task out of the heap).
struct SleepOp final : PendingOp {
    void cancel() override {}
    const char* what() const override { return "sleep"; }
};

}  // namespace

void Scheduler::sleep(Task* t, uint64_t ms) {
    // Saturating: a duration of years (ferry.sleep(2^44)) overflowed into the past and
    // returned at once; now it waits until something else (the step's timeout) ends it.
    uint64_t now = Loop::hrtime_ns();
    uint64_t room_ms = (UINT64_MAX - now) / 1'000'000ull;
    t->wake_ns_ = ms >= room_ms ? UINT64_MAX : now + ms * 1'000'000ull;
    sleepers_.push(t);
    t->park(std::make_unique<SleepOp>());
    if (!armed_ns_ || t->wake_ns_ < armed_ns_) arm_timer();
}

void Scheduler::arm_timer() {
    uint64_t at = 0;
    if (!deadlines_.empty()) at = deadlines_.top()->deadline_ns_;
    if (!sleepers_.empty() && (!at || sleepers_.top()->wake_ns_ < at))
        at = sleepers_.top()->wake_ns_;
    armed_ns_ = at;
    if (!at) {
        // An armed timer would keep the loop alive with nothing left to wait for: stopped
        // (and kept for the next task: one task at a time would otherwise make and close a
        // uv timer per task).
        if (timer_) timer_->stop();
        return;
    }
    uint64_t now = Loop::hrtime_ns();
    uint64_t delay_ms = at > now ? (at - now + 999'999) / 1'000'000 : 0;
    if (timer_)
        timer_->restart(delay_ms);
    else
        timer_ = loop_.timer(delay_ms, [this] { on_timer(); });
}

void Scheduler::on_timer() {
    armed_ns_ = 0;
    uint64_t now = Loop::hrtime_ns();
    // The loop's timers count whole milliseconds from a cached clock: a deadline within 1 ms
    // is due (a timeout may end 1 ms early); a sleep is never cut short.
    while (!deadlines_.empty() && deadlines_.top()->deadline_ns_ <= now + 1'000'000) {
        Task* t = deadlines_.top();
        deadlines_.remove(t);
        if (t->state_ != TaskState::Parked && t->state_ != TaskState::Ready) continue;
        cancel(t, make_error(ErrorKind::Timeout, "timed out after " +
                                                     std::to_string(t->limits_.timeout_ms) +
                                                     " ms (the step's timeout)"));
    }
    while (!sleepers_.empty() && sleepers_.top()->wake_ns_ <= now) {
        Task* t = sleepers_.top();
        sleepers_.remove(t);
        complete(t, nullptr);
    }
    if (!armed_ns_) arm_timer();
}

}  // namespace ferry
