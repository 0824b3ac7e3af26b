// The one libuv loop that owns everything but disk sync (ARCHITECTURE.md decision 1):
// timers, the curl multi bridge, the HTTP server, schedules and every Lua coroutine.
//
// Handles are owned by small RAII objects; a handle is freed only in its uv_close callback.
// Loop's destructor closes whatever is still open and runs the loop until every close
// callback has fired, so no test or command leaks a handle (libuv test/task.h discipline).
//
// Callbacks never throw through libuv: an exception escaping a callback stops the loop and
// is rethrown by the run()/run_once() that was running it (the first one wins).
#pragma once

#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <utility>
#include <vector>

#include <uv.h>

namespace ferry {

class Loop {
  public:
    Loop();
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    uv_loop_t* raw() { return &loop_; }

    // Runs until there is nothing left to do (no active handles or requests) or stop().
    void run();
    // Runs one iteration, blocking for I/O only when wait is true. Returns whether the loop
    // still has active handles or requests (uv_run's answer).
    bool run_once(bool wait);
    void stop();
    // The loop's cached clock (uv_now), in milliseconds.
    uint64_t now_ms() const;
    // Monotonic high-resolution clock, nanoseconds.
    static uint64_t hrtime_ns();

    // A one-shot or repeating timer. Destroying the Timer cancels it; it may be destroyed from
    // inside its own callback, and after the Loop (it is then inert).
    class Timer {
      public:
        ~Timer();
        void stop();
        // Arms the (stopped or running) timer again, to fire once after delay_ms: cheaper
        // than a new Timer for an owner that re-arms often (the scheduler's deadline timer).
        void restart(uint64_t delay_ms);
        bool active() const;
        // A background timer does not keep run() from returning on its own: a deadline that
        // outlives the process has no reason to hold it (an approval waiting in `ferry run`;
        // `ferry serve` re-arms it from the record at start).
        void set_background();

      private:
        friend class Loop;
        struct Handle;
        static void fire(uv_timer_t* uvt);
        Handle* h_ = nullptr;
    };
    // Calls cb after delay_ms (and then every repeat_ms if non-zero) on the loop thread.
    std::unique_ptr<Timer> timer(uint64_t delay_ms, std::function<void()> cb,
                                 uint64_t repeat_ms = 0);

    // Calls cb once per loop iteration, after I/O callbacks (uv_check). Used to drain ready
    // queues and to group-commit the writes of one iteration. The callbacks never keep the
    // loop alive by themselves, and the loop may block in poll before running them: call
    // wake() when there is work they must see without waiting for I/O. Returns an id for
    // remove_iteration() (an owner that dies before the Loop must remove its callback).
    uint64_t on_iteration(std::function<void()> cb);
    void remove_iteration(uint64_t id);

    // Runs cb on the loop thread as soon as possible; safe from any thread (uv_async).
    // Callbacks posted after close_cleanly() are dropped. A pending post does not keep
    // run() from returning.
    void post(std::function<void()> cb);
    // Keeps run() from returning while another thread owes the loop a post (the store's
    // writer thread committing a batch): counted, loop thread only. The answer's post
    // should release().
    void hold();
    void release();

    // Asks on_iteration callbacks to run even if no I/O arrives (a zero-timeout poll).
    // Loop thread only.
    void wake();

    // Closes the Loop's own handles (and, reporting them on stderr, any handle someone else
    // left open), runs the loop until every close callback has fired, then uv_loop_close.
    // Returns true only if nothing had to be force-closed and uv_loop_close returned 0.
    // Idempotent; the destructor calls it. The Loop is unusable afterwards.
    bool close_cleanly();

    // Runs f, catching any exception: the first one stops the loop and is rethrown by the
    // running run()/run_once(). For code that calls user callbacks from a libuv callback.
    template <class F>
    void guarded(F&& f) noexcept {
        try {
            std::forward<F>(f)();
        } catch (...) {
            capture(std::current_exception());
        }
    }

  private:
    struct IterationCallback {
        uint64_t id;
        std::function<void()> cb;
    };

    static void on_check(uv_check_t* h);
    static void on_async(uv_async_t* h);
    void capture(std::exception_ptr e) noexcept;
    void rethrow_pending();
    void enter_run();

    uv_loop_t loop_{};
    uv_check_t check_{};
    uv_idle_t idle_{};
    uv_async_t async_{};
    // A deque: a callback may register another while it runs, and deque::push_back never
    // moves the std::function that is executing.
    std::deque<IterationCallback> iteration_callbacks_;
    uint64_t next_iteration_id_ = 1;
    std::mutex posted_mutex_;
    std::vector<std::function<void()>> posted_;
    bool accepting_posts_ = true;  // guarded by posted_mutex_
    bool wake_requested_ = false;
    int holds_ = 0;  // hold() minus release(): async_ is ref'd while positive
    int run_depth_ = 0;
    bool closed_ = false;
    bool closed_cleanly_ = false;
    std::exception_ptr pending_error_;
    std::unordered_set<Timer::Handle*> timers_;  // open timer handles, closed by close_cleanly
};

}  // namespace ferry
