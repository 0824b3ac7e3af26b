#include "runtime/lua_watchdog.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <system_error>

#include <pthread.h>

namespace ferry {

namespace {

// SIGURG: ignored by default (a stray one harms nothing) and unused by everything Ferry
// links; Go's runtime preempts goroutines with it for the same reasons.
constexpr int kSignal = SIGURG;
// Ticks with no resume in progress before the watchdog sleeps until the next resume.
constexpr int kIdleTicksBeforePark = 50;

// ThreadSanitizer delivers an asynchronous signal only when the thread next enters one of
// its interceptors (a libc call): a resume spinning in Lua makes none, so the signal would
// never arm the hook and a runaway task would hold the loop for good. Under it the watchdog
// is not used: every resume is hooked at its start (the fallback below), so the limits hold.
#if defined(__SANITIZE_THREAD__)
constexpr bool kSignalsDeferred = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kSignalsDeferred = true;
#else
constexpr bool kSignalsDeferred = false;
#endif
#else
constexpr bool kSignalsDeferred = false;
#endif

// What the signal handler arms, set by enter() on the loop thread. Lock-free atomics are
// safe to read in a handler; the handler runs on the thread that writes them.
thread_local std::atomic<lua_State*> t_running{nullptr};
thread_local lua_Hook t_hook = nullptr;
thread_local int t_count = 0;

void on_signal(int) {
    const int saved_errno = errno;
    lua_State* co = t_running.load(std::memory_order_relaxed);
    // Armed once: re-arming a breached task's every-instruction hook with a larger count
    // would let a pcall loop run on between two checks.
    if (co && lua_gethookmask(co) == 0) lua_sethook(co, t_hook, LUA_MASKCOUNT, t_count);
    errno = saved_errno;
}

bool install_handler() {
    static const bool installed = [] {
        struct sigaction sa = {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        return sigaction(kSignal, &sa, nullptr) == 0;
    }();
    return installed;
}

}  // namespace

LuaWatchdog::LuaWatchdog(lua_Hook hook, int count, uint64_t tick_us)
    : hook_(hook), count_(count), tick_us_(tick_us), eager_(tick_us == 0 || kSignalsDeferred) {}

bool LuaWatchdog::signals_deferred() {
    return kSignalsDeferred;
}

LuaWatchdog::~LuaWatchdog() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_.store(true);
    }
    cv_.notify_one();
    thread_.join();
}

void LuaWatchdog::start_thread() {
    loop_thread_ = pthread_self();
    if (pthread_getcpuclockid(loop_thread_, &loop_cpu_clock_) != 0) loop_cpu_clock_ = -1;
    try {
        if (install_handler()) {
            thread_ = std::thread([this] { watch(); });
            return;
        }
    } catch (const std::system_error&) {  // no thread to be had (RLIMIT_NPROC, memory)
    }
    eager_ = true;
}

uint64_t LuaWatchdog::loop_cpu_ns() const {
    timespec ts{};
    if (loop_cpu_clock_ == clockid_t(-1) || clock_gettime(loop_cpu_clock_, &ts) != 0) return 0;
    return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

lua_State* LuaWatchdog::enter(lua_State* co) {
    lua_State* outer = t_running.load(std::memory_order_relaxed);
    t_hook = hook_;
    t_count = count_;
    std::atomic_signal_fence(std::memory_order_seq_cst);  // hook and count before co
    t_running.store(co, std::memory_order_relaxed);
    resume_seq_.store(resume_seq_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    // seq_cst here and on parked_ (and the reverse in watch()): either this thread sees the
    // watchdog parked and wakes it, or the watchdog sees this resume before it sleeps.
    in_resume_.store(true);
    if (!thread_.joinable() && !eager_) start_thread();
    if (eager_) {
        // No watchdog: every resume is counted, as if the hook had been armed at once.
        if (lua_gethookmask(co) == 0) lua_sethook(co, hook_, LUA_MASKCOUNT, count_);
    } else if (parked_.load()) {
        std::lock_guard<std::mutex> lock(mutex_);
        cv_.notify_one();
    }
    return outer;
}

void LuaWatchdog::leave(lua_State* outer) {
    t_running.store(outer, std::memory_order_relaxed);
    if (outer) {  // the outer run goes on, watched afresh
        resume_seq_.store(resume_seq_.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
        return;
    }
    in_resume_.store(false, std::memory_order_relaxed);
}

void LuaWatchdog::disarm(lua_State* co) {
    if (lua_gethookmask(co) != 0) lua_sethook(co, nullptr, 0, 0);
}

void LuaWatchdog::watch() {
    const auto tick = std::chrono::microseconds(tick_us_);
    uint64_t seen = 0;       // the resume in progress at the previous look (0: none)
    uint64_t seen_cpu = 0;   // the loop thread's CPU time then
    uint64_t signalled = 0;  // the resume already signalled
    int idle_ticks = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_.load()) {
        cv_.wait_for(lock, tick, [this] { return stop_.load(); });
        if (stop_.load()) break;
        if (in_resume_.load()) {
            idle_ticks = 0;
            const uint64_t seq = resume_seq_.load(std::memory_order_relaxed);
            const uint64_t cpu = loop_cpu_ns();
            // Running a whole tick, not just present: on a busy machine the loop thread is
            // often preempted in the middle of a short resume, which the wall clock alone
            // would take for a long one (and hook it for the rest of its life).
            const bool ran_a_tick = cpu == 0 || cpu - seen_cpu >= tick_us_ * 1000;
            if (seq == seen && seq != signalled && ran_a_tick) {
                pthread_kill(loop_thread_, kSignal);
                signalled = seq;
            }
            if (seq != seen) {
                seen = seq;
                seen_cpu = cpu;
            }
            continue;
        }
        seen = 0;
        if (++idle_ticks < kIdleTicksBeforePark) continue;
        parked_.store(true);
        cv_.wait(lock, [this] { return stop_.load() || in_resume_.load(); });
        parked_.store(false);
        idle_ticks = 0;
    }
}

}  // namespace ferry
