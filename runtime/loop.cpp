// The event loop: owns the uv_loop_t, timers, per-iteration callbacks and cross-thread posts.
// Shape taken from Neovim's event/loop.c: no re-entrant uv_run, a mutex queue plus uv_async
// for other threads, and a close that runs the loop until every close callback has fired.
#include "runtime/loop.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace ferry {

// The uv handle behind a Loop::Timer. It outlives its Timer while the close is pending (the
// callback it holds may be the one running when the Timer is destroyed), and it outlives
// nothing else: the close callback frees it.
struct Loop::Timer::Handle {
    uv_timer_t uv{};
    std::function<void()> cb;
    Loop* loop = nullptr;
    Timer* owner = nullptr;  // null once the Timer is gone or the Loop closed the handle
};

namespace {

// Loop-owned handles are members of Loop, so their close callback has nothing to free.
void noop_close(uv_handle_t*) {}
void noop_idle(uv_idle_t*) {}

const char* handle_type_name(uv_handle_t* h) {
    return uv_handle_type_name(uv_handle_get_type(h));
}

}  // namespace

Loop::Loop() {
    int rc = uv_loop_init(&loop_);
    if (rc != 0) throw std::runtime_error(std::string("uv_loop_init: ") + uv_strerror(rc));
    loop_.data = this;

    // The check handle runs the on_iteration callbacks. It is unref'd: an idle engine with
    // nothing but per-iteration callbacks has nothing to do, and run() must return.
    uv_check_init(&loop_, &check_);
    check_.data = this;
    uv_check_start(&check_, &Loop::on_check);
    uv_unref(reinterpret_cast<uv_handle_t*>(&check_));

    // An active idle handle makes uv_run poll with a zero timeout (uv_backend_timeout()
    // returns 0 while idle handles are active): that is all wake() needs.
    uv_idle_init(&loop_, &idle_);
    idle_.data = this;

    // Unref'd for the same reason as check_: a thread that may post must keep the loop alive
    // by other means (its own handle, or by running the loop until its answer arrives).
    uv_async_init(&loop_, &async_, &Loop::on_async);
    async_.data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
}

Loop::~Loop() {
    close_cleanly();
}

void Loop::enter_run() {
    // uv_run is not re-entrant ("This function must not be called from a callback", and
    // Neovim aborts in loop_uv_run for the same reason): a nested run would dispatch the
    // callbacks of the outer iteration a second time.
    if (run_depth_ > 0) {
        std::fputs("ferry: Loop::run called from inside a loop callback\n", stderr);
        std::abort();
    }
    if (closed_) throw std::logic_error("Loop::run after close_cleanly()");
}

void Loop::run() {
    enter_run();
    ++run_depth_;
    uv_run(&loop_, UV_RUN_DEFAULT);
    --run_depth_;
    rethrow_pending();
}

bool Loop::run_once(bool wait) {
    enter_run();
    ++run_depth_;
    int alive = uv_run(&loop_, wait ? UV_RUN_ONCE : UV_RUN_NOWAIT);
    --run_depth_;
    rethrow_pending();
    return alive != 0;
}

void Loop::stop() {
    uv_stop(&loop_);
}

uint64_t Loop::now_ms() const {
    return uv_now(&loop_);
}

uint64_t Loop::hrtime_ns() {
    return uv_hrtime();
}

void Loop::capture(std::exception_ptr e) noexcept {
    if (!pending_error_) pending_error_ = std::move(e);
    uv_stop(&loop_);
}

void Loop::rethrow_pending() {
    if (!pending_error_) return;
    std::exception_ptr e = std::move(pending_error_);
    pending_error_ = nullptr;
    std::rethrow_exception(e);
}

// ---- timers ----------------------------------------------------------------------------

std::unique_ptr<Loop::Timer> Loop::timer(uint64_t delay_ms, std::function<void()> cb,
                                         uint64_t repeat_ms) {
    auto t = std::make_unique<Timer>();
    if (closed_) return t;  // inert: nothing can run on a closed loop
    auto* h = new Timer::Handle;
    h->cb = std::move(cb);
    h->loop = this;
    h->owner = t.get();
    h->uv.data = h;
    uv_timer_init(&loop_, &h->uv);
    // libuv counts a timer's delay from the clock it read when this iteration began: after
    // a callback that ran long (a large request parsed, a big record shown), the timer
    // would fire early by that much, cutting a linger or a timeout short.
    uv_update_time(&loop_);
    uv_timer_start(&h->uv, &Timer::fire, delay_ms, repeat_ms);
    timers_.insert(h);
    t->h_ = h;
    return t;
}

Loop::Timer::~Timer() {
    if (!h_) return;
    h_->owner = nullptr;
    h_->loop->timers_.erase(h_);
    // uv_close stops the timer: its callback will not run again, and the Handle is freed in
    // the close callback, never here (it may be executing right now).
    uv_close(reinterpret_cast<uv_handle_t*>(&h_->uv),
             [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
    h_ = nullptr;
}

void Loop::Timer::fire(uv_timer_t* uvt) {
    auto* handle = static_cast<Timer::Handle*>(uvt->data);
    // The callback may destroy its Timer; the Handle (and so cb) lives on until the close
    // callback, so calling through handle->cb stays valid for the whole call.
    handle->loop->guarded([handle] { handle->cb(); });
}

void Loop::Timer::stop() {
    if (h_) uv_timer_stop(&h_->uv);
}

void Loop::Timer::restart(uint64_t delay_ms) {
    if (!h_) return;
    uv_update_time(h_->uv.loop);  // as in Loop::timer
    uv_timer_start(&h_->uv, &Timer::fire, delay_ms, 0);
}

void Loop::Timer::set_background() {
    if (h_) uv_unref(reinterpret_cast<uv_handle_t*>(&h_->uv));
}

bool Loop::Timer::active() const {
    return h_ && uv_is_active(reinterpret_cast<const uv_handle_t*>(&h_->uv));
}

// ---- per-iteration callbacks -------------------------------------------------------------

uint64_t Loop::on_iteration(std::function<void()> cb) {
    uint64_t id = next_iteration_id_++;
    iteration_callbacks_.push_back({id, std::move(cb)});
    return id;
}

void Loop::remove_iteration(uint64_t id) {
    // Only mark it: the callback may be the one running (an owner removing itself from its
    // own callback), and a deque erase would move or destroy it mid-call. on_check sweeps.
    for (auto& entry : iteration_callbacks_)
        if (entry.id == id) entry.id = 0;
}

void Loop::wake() {
    if (closed_ || wake_requested_) return;
    wake_requested_ = true;
    uv_idle_start(&idle_, noop_idle);
}

void Loop::on_check(uv_check_t* h) {
    auto* self = static_cast<Loop*>(h->data);
    // This iteration's wake is used up now; a callback below may ask for another one.
    self->wake_requested_ = false;
    // Callbacks registered while this runs wait for the next iteration.
    size_t n = self->iteration_callbacks_.size();
    for (size_t i = 0; i < n; ++i) {
        IterationCallback& entry = self->iteration_callbacks_[i];
        if (entry.id != 0) self->guarded(entry.cb);
    }
    std::erase_if(self->iteration_callbacks_, [](const IterationCallback& e) { return e.id == 0; });
    if (!self->wake_requested_) uv_idle_stop(&self->idle_);
}

// ---- cross-thread posts -----------------------------------------------------------------

void Loop::post(std::function<void()> cb) {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    // The flag and the send share the lock with close_cleanly(), which clears the flag
    // before it closes async_: uv_async_send on a closed handle is undefined.
    if (!accepting_posts_) return;
    posted_.push_back(std::move(cb));
    // "uv_async_send ... is safe to call from any thread"; several sends before the
    // callback runs are coalesced into one call, hence the queue.
    uv_async_send(&async_);
}

void Loop::hold() {
    if (holds_++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
}

void Loop::release() {
    if (holds_ > 0 && --holds_ == 0) uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
}

void Loop::on_async(uv_async_t* h) {
    auto* self = static_cast<Loop*>(h->data);
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard<std::mutex> lock(self->posted_mutex_);
        batch.swap(self->posted_);
    }
    for (auto& cb : batch)
        self->guarded(cb);
}

// ---- close ------------------------------------------------------------------------------

bool Loop::close_cleanly() {
    if (closed_) return closed_cleanly_;
    closed_ = true;
    {
        std::lock_guard<std::mutex> lock(posted_mutex_);
        accepting_posts_ = false;
        posted_.clear();  // never run: nothing may run on a closing loop
    }
    iteration_callbacks_.clear();

    auto close_if_open = [](uv_handle_t* h, uv_close_cb cb) {
        if (!uv_is_closing(h)) uv_close(h, cb);
    };
    close_if_open(reinterpret_cast<uv_handle_t*>(&check_), noop_close);
    close_if_open(reinterpret_cast<uv_handle_t*>(&idle_), noop_close);
    close_if_open(reinterpret_cast<uv_handle_t*>(&async_), noop_close);
    for (Timer::Handle* h : timers_) {
        // The Timer may outlive the Loop; it must then find nothing to close.
        if (h->owner) h->owner->h_ = nullptr;
        h->owner = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(&h->uv),
                 [](uv_handle_t* uvh) { delete static_cast<Timer::Handle*>(uvh->data); });
    }
    timers_.clear();

    // Anything else still open belongs to an owner that should have closed it before the
    // Loop went away (an HttpClient or server outliving its Loop). Report and force-close it
    // so uv_loop_close can succeed; its owner's memory is its own problem (and a leak).
    bool forced = false;
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void* arg) {
            if (uv_is_closing(h)) return;
            std::fprintf(stderr, "ferry: loop closing with an open %s handle (%p)\n",
                         handle_type_name(h), static_cast<void*>(h));
            *static_cast<bool*>(arg) = true;
            uv_close(h, nullptr);
        },
        &forced);

    // Close callbacks run in the loop's closing phase; requests (writes, getaddrinfo) cancelled
    // by those closes complete first. Bounded like Neovim's loop_close, which gives up after
    // 2 s instead of hanging a shutdown.
    uint64_t deadline = uv_hrtime() + 2'000'000'000ull;
    int rc = uv_loop_close(&loop_);
    while (rc == UV_EBUSY && uv_hrtime() < deadline) {
        uv_run(&loop_, UV_RUN_NOWAIT);
        rc = uv_loop_close(&loop_);
    }
    if (rc != 0) {
        std::fprintf(stderr, "ferry: uv_loop_close failed: %s\n", uv_strerror(rc));
        uv_walk(
            &loop_,
            [](uv_handle_t* h, void*) {
                std::fprintf(stderr, "ferry:   still open: %s handle (%p)%s\n", handle_type_name(h),
                             static_cast<void*>(h), uv_is_closing(h) ? " closing" : "");
            },
            nullptr);
    }
    pending_error_ = nullptr;  // a callback that threw during close has nobody to tell
    closed_cleanly_ = rc == 0 && !forced;
    return closed_cleanly_;
}

}  // namespace ferry
