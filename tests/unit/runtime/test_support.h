// Bounded waits for tests that run the loop: a test must fail, never hang.
#pragma once

#include "runtime/loop.h"

#include <cstdint>
#include <functional>

namespace ferry::testing {

// Runs the loop until done() holds or timeout_ms passes; returns done(). The watchdog timer
// also wakes a poll that would otherwise block forever.
inline bool run_until(Loop& loop, const std::function<bool()>& done, uint64_t timeout_ms = 5000) {
    bool expired = false;
    auto watchdog = loop.timer(timeout_ms, [&expired] { expired = true; });
    while (!done() && !expired)
        loop.run_once(true);
    return done();
}

// Runs the loop for about ms milliseconds, so that late (unwanted) callbacks get a chance.
inline void run_for(Loop& loop, uint64_t ms) {
    bool over = false;
    auto t = loop.timer(ms, [&over] { over = true; });
    while (!over)
        loop.run_once(true);
}

// Runs loop.run() and says whether it returned by itself (nothing left alive) within
// timeout_ms. The guard timer is unref'd so it does not keep the loop alive itself; when it
// fires it stops the loop, so this never hangs either.
inline bool run_returns(Loop& loop, uint64_t timeout_ms = 5000) {
    struct Guard {
        uv_timer_t timer{};
        Loop* loop = nullptr;
        bool fired = false;
    } guard;
    guard.loop = &loop;
    guard.timer.data = &guard;
    uv_timer_init(loop.raw(), &guard.timer);
    uv_timer_start(
        &guard.timer,
        [](uv_timer_t* t) {
            auto* g = static_cast<Guard*>(t->data);
            g->fired = true;
            g->loop->stop();
        },
        timeout_ms, 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&guard.timer));
    loop.run();
    bool closed = false;
    guard.timer.data = &closed;
    uv_close(reinterpret_cast<uv_handle_t*>(&guard.timer),
             [](uv_handle_t* h) { *static_cast<bool*>(h->data) = true; });
    while (!closed)
        loop.run_once(false);
    return !guard.fired;
}

}  // namespace ferry::testing
