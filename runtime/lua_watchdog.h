// Arms a count hook on a Lua thread only once one of its resumes has run for a while.
//
// Why: while a count hook is set, Lua 5.4 sends every VM instruction through
// luaG_traceexec, whatever the count: 13 % of the loop's instructions in the engine
// benchmark, for a check that matters only to code that runs long. Most resumes last
// microseconds and give the loop back on their own; the hook is needed for the few that
// do not (a loop that never ends, a task far over its budget or deadline).
//
// How: the loop thread brackets each lua_resume (and whatever else runs a task's Lua code,
// such as its to-be-closed variables) with a Watch (two atomic stores and a thread-local
// pointer). A watchdog thread looks every `tick`: a resume that is still
// the same one as at a previous look, while the loop thread used a tick of CPU time since
// (preempted is not running), has run at least one tick, and the watchdog signals the loop
// thread. The signal handler, on the loop thread, sets the hook on the running
// coroutine with lua_sethook, which Lua allows from a signal handler (lua.c stops a script
// on Ctrl-C the same way). From then on the hook counts and checks as before; a resume
// armed once stays armed until its thread is reused (disarm()).
//
// So the instruction budget counts the instructions a task runs after its first tick of
// uninterrupted running in one resume; a resume shorter than that is not counted, and the
// step's timeout bounds how many of them a task can make.
#pragma once

#include <lua.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <thread>

namespace ferry {

class LuaWatchdog {
  public:
    // hook and count: what lua_sethook gets when a resume runs past one tick. tick_us 0: no
    // watchdog, every resume hooked at its start (what happens when no thread can be had).
    LuaWatchdog(lua_Hook hook, int count, uint64_t tick_us = 2000);
    ~LuaWatchdog();
    LuaWatchdog(const LuaWatchdog&) = delete;
    LuaWatchdog& operator=(const LuaWatchdog&) = delete;

    // On the loop thread, for as long as co runs (lua_resume(co), lua_resetthread(co)).
    // Nests: an inner Watch (a task's C function ending another task) hands the outer
    // back when it ends.
    class Watch {
      public:
        Watch(LuaWatchdog& dog, lua_State* co) : dog_(dog), outer_(dog.enter(co)) {}
        ~Watch() { dog_.leave(outer_); }
        Watch(const Watch&) = delete;
        Watch& operator=(const Watch&) = delete;

      private:
        LuaWatchdog& dog_;
        lua_State* outer_;
    };
    // Removes the hook from a thread about to run another task.
    static void disarm(lua_State* co);
    // Whether this build cannot interrupt a running resume with a signal (ThreadSanitizer
    // defers signals to the next libc call): every resume is then hooked at its start.
    static bool signals_deferred();
    // Whether co's hook is armed (for tests and diagnostics).
    static bool armed(lua_State* co) { return lua_gethookmask(co) != 0; }

  private:
    lua_State* enter(lua_State* co);  // returns the thread watched before, if any
    void leave(lua_State* outer);
    void watch();
    void start_thread();
    uint64_t loop_cpu_ns() const;  // CPU time of the loop thread (0 if unknown)

    lua_Hook hook_;
    int count_;
    uint64_t tick_us_;
    // Written by the loop thread, read by the watchdog.
    std::atomic<uint64_t> resume_seq_{0};
    std::atomic<bool> in_resume_{false};
    // The watchdog parks on cv_ while no resume runs for a while; enter() wakes it.
    std::atomic<bool> parked_{false};
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable cv_;
    std::thread thread_;
    std::thread::native_handle_type loop_thread_{};
    clockid_t loop_cpu_clock_ = clockid_t(-1);
    // No watchdog (tick 0, or none could be started: no thread, no signal handler): every
    // resume is hooked at its start, as before there was a watchdog, so the limits hold.
    bool eager_ = false;
};

}  // namespace ferry
