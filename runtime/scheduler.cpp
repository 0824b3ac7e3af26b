#include "runtime/scheduler.h"

#include "runtime/json_lua.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace ferry {

namespace {

// "file:line:", how Lua places a message and how task errors are placed.
std::string line_prefix(const SourceLocation& at) {
    return at.file + ":" + std::to_string(at.line) + ":";
}

// What Lua raises from C with no place in it.
constexpr std::string_view kPlacelessRuntimeErrors[] = {"C stack overflow", "stack overflow",
                                                        "error in error handling"};

constexpr int kHookInterval = 1000;  // instructions between limit checks

Task*& task_slot(lua_State* L) {
    return *static_cast<Task**>(lua_getextraspace(L));
}

int error_tostring(lua_State* L) {
    lua_getfield(L, 1, "kind");
    lua_getfield(L, 1, "message");
    lua_pushfstring(L, "%s: %s", luaL_optstring(L, -2, "error"), luaL_optstring(L, -1, ""));
    return 1;
}

// How many calls deep the coroutine is: lua_getstack walks the call list, so the depth is
// found by doubling and then halving the level it asks for.
int call_depth(lua_State* co) {
    lua_Debug ar;
    int known = 0, beyond = 1;
    while (lua_getstack(co, beyond, &ar)) {
        known = beyond;
        if (beyond > (1 << 28)) return beyond;
        beyond *= 2;
    }
    while (beyond - known > 1) {
        int mid = known + (beyond - known) / 2;
        (lua_getstack(co, mid, &ar) ? known : beyond) = mid;
    }
    return known + 1;
}

// Runaway recursion exhausts the memory budget before Lua's own stack limit: said so, as
// "memory limit" alone sends the author looking for a big table.
std::string memory_limit_message(size_t budget, lua_State* co) {
    std::string text = "memory limit exceeded: the task allocated more than " +
                       std::to_string(budget / 1024) + " KiB";
    constexpr int kDeep = 10000;
    if (int depth = co ? call_depth(co) : 0; depth > kDeep)
        text +=
            " (its call stack was " + std::to_string(depth) + " calls deep: unbounded recursion?)";
    return text;
}

}  // namespace

std::string_view to_string(TaskState s) {
    switch (s) {
    case TaskState::Ready: return "ready";
    case TaskState::Running: return "running";
    case TaskState::Parked: return "parked";
    case TaskState::Finished: return "finished";
    }
    return "?";
}

void push_error_table(lua_State* L, const Error& error, long http_status) {
    lua_createtable(L, 0, 4);
    std::string kind(to_string(error.kind));
    lua_pushlstring(L, kind.data(), kind.size());
    lua_setfield(L, -2, "kind");
    lua_pushlstring(L, error.message.data(), error.message.size());
    lua_setfield(L, -2, "message");
    lua_pushboolean(L, error.retryable());
    lua_setfield(L, -2, "retryable");
    if (http_status) {
        lua_pushinteger(L, http_status);
        lua_setfield(L, -2, "status");
    }
    if (luaL_newmetatable(L, "ferry.error")) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
        // Shared by every error table of the process: no task may reach it to change it.
        lua_pushliteral(L, "ferry.error");
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
}

void Task::park(std::unique_ptr<PendingOp> op) {
    pending_ = std::move(op);
    state_ = TaskState::Parked;
}

Scheduler::Scheduler(Loop& loop, LuaVM& vm)
    : loop_(loop), vm_(vm), watchdog_(&Scheduler::hook, kHookInterval) {
    lua_State* L = vm_.state();
    lua_pushlightuserdata(L, this);
    lua_setfield(L, LUA_REGISTRYINDEX, "ferry.scheduler");
    vm_.print_sink = [](lua_State* S, std::string_view text) {
        if (Task* t = task_slot(S))
            t->log("info", std::string(text));
        else
            vm_of(S)->write_untasked("", text);
    };
    push_thread_ = lua_newthread(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "ferry.scheduler.push_thread");
    vm_.limit_breached = [](lua_State* S) {
        Task* t = task_slot(S);
        return t && !t->limit_hit_.empty();
    };
    iteration_id_ = loop_.on_iteration([this] { on_iteration(); });
}

Scheduler::~Scheduler() {
    std::vector<Task*> live;
    for (auto& [id, t] : tasks_)
        live.push_back(t.get());
    for (Task* t : live)
        cancel(t, make_error(ErrorKind::Cancelled, "shutting down"));
    // Done callbacks of cancelled tasks run now: nothing will drain after us.
    auto finished = std::move(finished_);
    for (auto& [done, outcome] : finished)
        if (done) done(std::move(outcome));
    vm_.print_sink = nullptr;
    loop_.remove_iteration(iteration_id_);
}

Task* Scheduler::running(lua_State* L) {
    Task* t = task_slot(L);
    return t && t->co_ == L ? t : nullptr;
}

Scheduler* Scheduler::of(lua_State* L) {
    lua_getfield(L, LUA_REGISTRYINDEX, "ferry.scheduler");
    auto* s = static_cast<Scheduler*>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    return s;
}

size_t Scheduler::parked_tasks() const {
    size_t n = 0;
    for (const auto& [id, t] : tasks_)
        if (t->state_ == TaskState::Parked) ++n;
    return n;
}

Task* Scheduler::spawn(int function_ref, std::function<int(lua_State*)> push_args,
                       TaskLimits limits, std::function<void(TaskOutcome)> done) {
    lua_State* L = vm_.state();
    auto task = std::make_unique<Task>();
    Task* t = task.get();
    t->id_ = next_id_++;
    t->limits_ = limits;
    t->done_ = std::move(done);
    if (!idle_threads_.empty()) {
        t->co_ = idle_threads_.back().first;
        t->co_ref_ = idle_threads_.back().second;
        idle_threads_.pop_back();
    } else if (!new_thread(L, t)) {
        // The VM is full past the engine's reserve: the task fails at its first resume,
        // as one whose arguments could not be pushed does, instead of Lua aborting.
        t->start_error_ = std::make_unique<Error>(vm_full_error());
        t->started_ns_ = Loop::hrtime_ns();
        tasks_.emplace(t->id_, std::move(task));
        ready_.push_back(t->id_);
        loop_.wake();
        return t;
    }
    task_slot(t->co_) = t;
    // A new thread inherits its creator's hook and a reused one may have been armed: the
    // count hook comes from the watchdog, only if a resume runs long (EXAMPLES.md 2.3).
    LuaWatchdog::disarm(t->co_);
    lua_rawgeti(t->co_, LUA_REGISTRYINDEX, function_ref);
    t->started_ns_ = Loop::hrtime_ns();
    tasks_.emplace(t->id_, std::move(task));
    if (push_args) {
        // A failure ends the task at its first resume: the caller holds t until then. The
        // arguments are the task's data: under the VM's cap, not in the engine's reserve
        // (a fan-out's inputs filled that, and the next thread could not be made).
        vm_.set_task_running(true);
        Result<int> pushed = push_protected(push_args, t->co_);
        vm_.set_task_running(false);
        if (pushed)
            t->nargs_ = pushed.value();
        else
            t->start_error_ = std::make_unique<Error>(pushed.error());
    }
    if (limits.timeout_ms) {
        t->deadline_ns_ = t->started_ns_ + limits.timeout_ms * 1'000'000ull;
        deadlines_.push(t);
        // Steps mostly share one timeout, so a new deadline is rarely the earliest: the
        // timer is re-armed only when it is.
        if (!armed_ns_ || t->deadline_ns_ < armed_ns_) arm_timer();
    }
    ready_.push_back(t->id_);
    loop_.wake();
    return t;
}

Error Scheduler::vm_full_error() const {
    return make_error(ErrorKind::Limit,
                      "memory limit exceeded: the Lua VM is out of memory (limit " +
                          std::to_string(vm_.memory_limit() >> 20) + " MiB)");
}

// A new coroutine and its registry reference, made in a protected call: at the VM's limit
// (the engine's reserve spent too) either allocation fails, and unprotected that was Lua's
// panic, an abort of the whole process. False then, nothing made.
bool Scheduler::new_thread(lua_State* L, Task* t) {
    if (!lua_checkstack(L, 3)) return false;
    lua_pushcfunction(L, [](lua_State* S) -> int {
        lua_newthread(S);
        lua_pushvalue(S, -1);
        lua_Integer ref = luaL_ref(S, LUA_REGISTRYINDEX);
        lua_pushinteger(S, ref);
        return 2;  // the thread, its reference
    });
    if (lua_pcall(L, 0, 2, 0) != LUA_OK) {
        lua_pop(L, 1);  // the error object
        return false;
    }
    t->co_ = lua_tothread(L, -2);
    t->co_ref_ = int(lua_tointeger(L, -1));
    lua_pop(L, 2);  // the registry holds the thread
    return true;
}

Task* Scheduler::current(lua_State* L, const char* what) {
    Task* t = task_slot(L);
    if (!t || t->co_ != L) {
        luaL_error(L, "%s is only allowed inside a task or hook, not here", what);
        return nullptr;
    }
    if (!t->limits_.io_allowed) {
        luaL_error(L,
                   "%s is not allowed in a task declared pure (pure = true: no I/O, no "
                   "waiting)",
                   what);
        return nullptr;
    }
    if (!lua_isyieldable(L) && vm_of(L)->loading_module()) {
        luaL_error(L,
                   "%s cannot wait in a module's top level (it runs inside require); "
                   "call it from a function the task calls",
                   what);
        return nullptr;
    }
    if (!lua_isyieldable(L)) {
        luaL_error(L,
                   "%s cannot wait here (inside a metamethod, an iterator or a sort "
                   "comparator); call it from the task's own code",
                   what);
        return nullptr;
    }
    return t;
}

void Scheduler::run_finished_callbacks() {
    auto finished = std::move(finished_);
    finished_.clear();
    for (auto& [done, outcome] : finished)
        if (done) done(std::move(outcome));
}

void Scheduler::complete(Task* task, std::function<int(lua_State*)> pusher) {
    if (!task || task->state_ != TaskState::Parked) return;
    task->pending_.reset();
    task->resume_pusher_ = std::move(pusher);
    task->state_ = TaskState::Ready;
    ready_.push_back(task->id_);
    loop_.wake();
}

void Scheduler::on_iteration() {
    ++iterations_;
    // Those passed over wait longest: they go first.
    for (uint64_t id : waiting_turn_)
        ready_.push_back(id);
    for (uint64_t id : had_turn_)
        ready_.push_back(id);
    waiting_turn_.clear();
    had_turn_.clear();
    drain();
}

void Scheduler::drain() {
    if (draining_) return;
    draining_ = true;
    bool clock_read = false;  // drain_started_ns_, read at the first resume
    // At most resumes_per_iteration_ resumes, then the rest waits for the next iteration
    // (woken at once): with a commit thread, what these tasks staged can be committed while
    // the loop runs the others, instead of every task of a group commit waiting for the same
    // fsync; I/O callbacks get a turn too.
    // And at most a slice of time: each task that starts computing runs a watchdog tick
    // before its hook can slice it, and a fan-out of 500 such items held the loop for 500
    // ticks in one drain.
    size_t resumed = 0;
    bool time_left = true;
    while ((!ready_.empty() && resumed < resumes_per_iteration_ && time_left) ||
           !finished_.empty()) {
        while (!ready_.empty() && resumed < resumes_per_iteration_ && time_left) {
            uint64_t id = ready_.front();
            ready_.pop_front();
            auto it = tasks_.find(id);
            if (it == tasks_.end() || it->second->state_ != TaskState::Ready) continue;
            Task* t = it->second.get();
            if (!std::exchange(clock_read, true)) drain_started_ns_ = Loop::hrtime_ns();
            if (t->cpu_bound_ && Loop::hrtime_ns() - drain_started_ns_ >= kSliceNs) {
                waiting_turn_.push_back(id);  // this iteration's slice is spent
                continue;
            }
            resume(t);
            ++resumed;
            time_left = Loop::hrtime_ns() - drain_started_ns_ < kSliceNs;
        }
        // Swapped with a vector kept between drains: a new one per drain grew to the burst's
        // size every time (1,000 tasks: 400 KB, mapped and unmapped), and its page faults were
        // two thirds of a task's cost with 1,000 in flight.
        std::swap(finishing_, finished_);
        for (auto& [done, outcome] : finishing_)
            if (done) done(std::move(outcome));
        finishing_.clear();
    }
    if (!ready_.empty() || !had_turn_.empty() || !waiting_turn_.empty()) loop_.wake();
    draining_ = false;
}

void Scheduler::hook(lua_State* L, lua_Debug*) {
    Task* t = task_slot(L);
    if (!t) return;
    if (!t->limit_hit_.empty()) {
        luaL_error(L, "%s", t->limit_hit_.c_str());
        return;
    }
    t->instructions_ += kHookInterval;
    const TaskLimits& lim = t->limits_;
    const uint64_t now = Loop::hrtime_ns();
    if (lim.instruction_budget && t->instructions_ > lim.instruction_budget) {
        t->limit_hit_ = "instruction budget exceeded: the task ran more than " +
                        std::to_string(lim.instruction_budget) + " Lua instructions";
    } else if (t->deadline_ns_ && now > t->deadline_ns_) {
        t->limit_hit_ =
            "timeout exceeded: the task ran longer than " + std::to_string(lim.timeout_ms) + " ms";
    } else if (lim.memory_bytes) {
        LuaVM* vm = vm_of(L);
        size_t used = t->memory_charged_ + (vm->allocated_total() - t->alloc_mark_);
        if (used > lim.memory_bytes || vm->ceiling_hit()) {
            t->limit_hit_ = memory_limit_message(lim.memory_bytes, L);
        }
    }
    if (!t->limit_hit_.empty()) {
        // Fire on every instruction from now on, so a pcall cannot swallow the breach.
        lua_sethook(L, &Scheduler::hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "%s", t->limit_hit_.c_str());
        return;
    }
    // Only the resume the scheduler runs yields (not the task's to-be-closed variables run
    // by a cancel), and only where Lua can. The slice is decided at the first call: the
    // hook is armed once a resume has run a watchdog tick, or from the start on a thread
    // that ran long before. A task that starts when the iteration's slice is spent yields
    // at the next call.
    if (!t->in_resume_ || !lua_isyieldable(L)) return;
    if (!t->slice_end_ns_) {
        t->slice_end_ns_ = std::max(now, t->slice_base_ns_ + kSliceNs);
    } else if (now >= t->slice_end_ns_) {
        t->yielded_slice_ = true;
        lua_yield(L, 0);  // from a count hook Lua resumes at the same instruction
    }
}

void Scheduler::resume(Task* t) {
    if (t->start_error_) {
        fail(t, *t->start_error_);
        return;
    }
    lua_State* co = t->co_;
    int nargs = t->nargs_;
    t->nargs_ = 0;
    t->state_ = TaskState::Running;
    t->alloc_mark_ = vm_.allocated_total();
    // The allocator enforces what is left of the task's budget, so a few instructions that
    // allocate a lot (s = s .. s, string.rep) cannot run past it between two hook calls.
    // The resume values count too: a vendor's answer is the task's memory.
    const size_t budget = t->limits_.memory_bytes;
    if (budget) {
        size_t left = budget > t->memory_charged_ ? budget - t->memory_charged_ : 0;
        vm_.set_alloc_ceiling(t->alloc_mark_ + left);
    }
    vm_.set_task_running(true);
    if (t->resume_pusher_) {
        auto pusher = std::move(t->resume_pusher_);
        t->resume_pusher_ = nullptr;
        Result<int> pushed = push_protected(pusher, co);
        if (!pushed) {
            const bool over = vm_.ceiling_hit();
            vm_.set_task_running(false);
            vm_.set_alloc_ceiling(SIZE_MAX);
            t->memory_charged_ += vm_.allocated_total() - t->alloc_mark_;
            fail(t, over ? make_error(ErrorKind::Limit, memory_limit_message(budget, nullptr))
                         : pushed.error());
            return;
        }
        nargs = pushed.value();
    }
    int nres = 0;
    int status;
    t->slice_base_ns_ = drain_started_ns_;
    t->slice_end_ns_ = 0;
    t->in_resume_ = true;
    {
        LuaWatchdog::Watch watch(watchdog_, co);
        status = lua_resume(co, vm_.state(), nargs, &nres);
    }
    t->in_resume_ = false;
    const bool slice_spent = std::exchange(t->yielded_slice_, false);
    t->cpu_bound_ = slice_spent && status == LUA_YIELD;
    const bool over_budget = vm_.ceiling_hit();
    vm_.set_task_running(false);
    vm_.set_alloc_ceiling(SIZE_MAX);
    t->memory_charged_ += vm_.allocated_total() - t->alloc_mark_;
    if (over_budget) {
        if (t->limit_hit_.empty()) t->limit_hit_ = memory_limit_message(budget, co);
        // Even if the task caught the memory error (pcall) and went on, it breached its limit.
        if (status == LUA_OK || status == LUA_YIELD) {
            lua_pop(co, nres);
            fail(t, make_error(ErrorKind::Limit, t->limit_hit_));
            return;
        }
    }
    if (status == LUA_YIELD) {
        if (t->pending_) {
            lua_pop(co, nres);
            return;  // parked; complete() will queue it again
        }
        if (t->cpu_bound_) {
            t->state_ = TaskState::Ready;
            had_turn_.push_back(t->id_);
            return;  // drain() wakes the loop: the next iteration resumes it
        }
        // A bare coroutine.yield cannot happen (no coroutine library); treat as a bug.
        lua_pop(co, nres);
        fail(t, make_error(ErrorKind::LuaError, "task yielded without waiting for anything"));
        return;
    }
    if (status == LUA_OK) {
        TaskOutcome outcome;
        outcome.ok = true;
        if (nres > 0) {
            Status converted =
                json_lua::to_json(co, -nres, outcome.value, outcome.value.GetAllocator());
            if (!converted) {
                lua_pop(co, nres);
                // A result past the conversion's bound is a limit reached, not a bug.
                ErrorKind kind = converted.error().kind == ErrorKind::Limit ? ErrorKind::Limit
                                                                            : ErrorKind::LuaError;
                fail(t,
                     make_error(kind, std::string(kResultNotStored) + converted.error().message));
                return;
            }
        } else {
            outcome.value.SetNull();
        }
        lua_pop(co, nres);
        finish(t, std::move(outcome));
        return;
    }
    // An error: keep its kind when it is a Ferry error table, else lua_error with traceback.
    Error err = make_error(ErrorKind::LuaError, "");
    bool placeless = false;  // an error object Lua gave no place: error(nil), error({})
    rapidjson::Document data;
    bool dry_run_stop = false;
    if (!t->limit_hit_.empty()) {
        // A step that ran past its deadline timed out, busy or waiting alike.
        bool deadline = t->limit_hit_.rfind("timeout exceeded", 0) == 0;
        err = make_error(deadline ? ErrorKind::Timeout : ErrorKind::Limit, t->limit_hit_);
    } else if (status == LUA_ERRMEM) {
        err = vm_full_error();
    } else if (lua_istable(co, -1)) {
        // Raw reads: an error table's metatable is the task's, and a __index that raises or
        // loops would run here, in C++, with no protected call and no budget around it.
        lua_pushliteral(co, "kind");
        lua_rawget(co, -2);
        lua_pushliteral(co, "message");
        lua_rawget(co, -3);
        std::string kind_name = lua_isstring(co, -2) ? lua_tostring(co, -2) : "";
        auto kind = error_kind_from_string(kind_name);
        err.kind = kind.value_or(ErrorKind::LuaError);
        const char* m = lua_tostring(co, -1);
        err.message = m ? m : "error";
        placeless = !m && !kind;
        lua_pop(co, 2);
        lua_pushliteral(co, "data");
        lua_rawget(co, -2);
        if (!lua_isnil(co, -1)) {
            Status s = json_lua::to_json(co, lua_gettop(co), data, data.GetAllocator());
            if (!s) data.SetNull();
        }
        lua_pop(co, 1);
        dry_run_stop = kind_name == "dry_run";
    } else {
        const char* m = lua_tostring(co, -1);
        err.message =
            m ? m : std::string("(error object is a ") + luaL_typename(co, -1) + " value)";
        placeless = !m;
    }
    // error(string.rep("x", 5e6)) was stored whole, in the step and attempt records; a
    // message quoting a vendor's bytes goes into records and answers, which are JSON.
    cut_for_the_record(err.message);
    // "tasks/x.lua:12: message": keep the place as a location too.
    if (err.kind == ErrorKind::LuaError && err.message.size() > 2) {
        size_t c1 = err.message.find(':');
        if (c1 != std::string::npos && c1 > 0) {
            size_t c2 = err.message.find(':', c1 + 1);
            if (c2 != std::string::npos && c2 > c1 + 1 &&
                err.message.find_first_not_of("0123456789", c1 + 1) == c2) {
                err.location = SourceLocation{err.message.substr(0, c1),
                                              std::atoi(err.message.c_str() + c1 + 1), 0};
            }
        }
        if (err.location) {
            blame_the_task(co, err);
        } else if (placeless || std::ranges::find(kPlacelessRuntimeErrors, err.message) !=
                                    std::end(kPlacelessRuntimeErrors)) {
            // Lua adds "file:line:" to a string raised from Lua code only; the task's
            // author needs it most for the errors that carry nothing else.
            if (std::optional<SourceLocation> at = task_line(co)) {
                err.message = line_prefix(*at) + " " + err.message;
                err.location = std::move(at);
            }
        }
    }
    luaL_traceback(vm_.state(), co, nullptr, 0);
    std::string traceback = lua_tostring(vm_.state(), -1) ? lua_tostring(vm_.state(), -1) : "";
    lua_pop(vm_.state(), 1);
    TaskOutcome outcome;
    outcome.ok = false;
    outcome.error = std::move(err);
    outcome.traceback = std::move(traceback);
    outcome.error_data = std::move(data);
    outcome.dry_run_stop = dry_run_stop;
    finish(t, std::move(outcome));
}

namespace {

// Ferry's own Lua modules (ctx.http, ctx.change...), as their chunks are named.
constexpr std::string_view kFerryLibrary = "stdlib/ferry/";

}  // namespace

std::optional<SourceLocation> Scheduler::task_line(lua_State* co) {
    // The coroutine's stack is still there after the error (the traceback reads it too).
    lua_Debug ar;
    for (int level = 0; lua_getstack(co, level, &ar); ++level) {
        if (!lua_getinfo(co, "Sl", &ar) || ar.currentline <= 0) continue;
        std::string_view src = ar.short_src;
        if (src.starts_with(kFerryLibrary)) continue;
        return SourceLocation{std::string(src), ar.currentline, 0};
    }
    return std::nullopt;
}

void Scheduler::blame_the_task(lua_State* co, Error& err) {
    // An error raised inside Ferry's own modules (a bad argument to ctx.http, say) names
    // their file; the task's author needs the line of theirs that called it.
    if (!err.location->file.starts_with(kFerryLibrary)) return;
    std::optional<SourceLocation> at = task_line(co);
    if (!at) return;
    const std::string old_prefix = line_prefix(*err.location);
    if (err.message.starts_with(old_prefix))
        err.message.replace(0, old_prefix.size(), line_prefix(*at));
    err.location = std::move(at);
}

void Scheduler::fail(Task* t, Error error, std::string traceback) {
    TaskOutcome outcome;
    outcome.ok = false;
    outcome.error = std::move(error);
    outcome.traceback = std::move(traceback);
    finish(t, std::move(outcome));
}

Result<int> Scheduler::push_protected(const std::function<int(lua_State*)>& push,
                                      lua_State* target) {
    lua_State* P = push_thread_;
    lua_settop(P, 0);
    lua_pushcfunction(P, [](lua_State* S) -> int {
        auto* fn = static_cast<const std::function<int(lua_State*)>*>(lua_touserdata(S, 1));
        lua_remove(S, 1);
        return (*fn)(S);
    });
    lua_pushlightuserdata(P, const_cast<std::function<int(lua_State*)>*>(&push));
    int status = lua_pcall(P, 1, LUA_MULTRET, 0);
    if (status != LUA_OK) {
        std::string message = lua_type(P, -1) == LUA_TSTRING ? lua_tostring(P, -1) : "error";
        lua_settop(P, 0);
        if (status == LUA_ERRMEM) return vm_full_error();
        return make_error(ErrorKind::LuaError,
                          "the task's arguments could not be built: " + message);
    }
    int n = lua_gettop(P);
    if (!lua_checkstack(target, n + LUA_MINSTACK)) {
        lua_settop(P, 0);
        return make_error(ErrorKind::Limit, "too many values for the task's stack");
    }
    lua_xmove(P, target, n);
    return n;
}

void Scheduler::finish(Task* t, TaskOutcome outcome) {
    // Keys it holds go on with "interrupted": what its request did is not known.
    if (t->pending_ && std::string_view(t->pending_->what()) == "http")
        ending_mid_request_ = t->id_;
    // Before its records are taken: an operation cut short records what it did (the HTTP
    // attempts of a cancelled or timed-out step).
    if (t->pending_) {
        t->pending_->cancel();
        t->pending_.reset();
    }
    outcome.logs = std::move(t->logs_);
    outcome.changes = std::move(t->changes_);
    outcome.records = std::move(t->records_);
    outcome.instructions = t->instructions_;
    outcome.retry_not_before_ms = t->retry_not_before_ms_;
    outcome.duration_ms = double(Loop::hrtime_ns() - t->started_ns_) / 1e6;
    t->state_ = TaskState::Finished;
    bool timed = deadlines_.remove(t);
    timed = sleepers_.remove(t) || timed;
    if (timed && deadlines_.empty() && sleepers_.empty()) arm_timer();  // stops the timer
    // A limit ends a task by raising inside the count hook, and Lua then leaves hooks
    // disabled on that thread (allowhook is restored only when a hook returns, and nothing
    // in the C API sets it): no limit could stop code run on it again. Such a thread runs
    // nothing more, not even its to-be-closed variables (it ran past its limits already),
    // and is left to the collector.
    const bool hooks_dead = !t->limit_hit_.empty();
    // Otherwise run to-be-closed variables (watched: they are the task's code, under its
    // limits) and release the thread. They cannot yield from here, so they get what is left
    // of the task's limits, at most kCloseInstructions and kCloseMs: a cleanup that loops
    // held the loop (and the cancel that ended the task) for the rest of the task's budget.
    if (!hooks_dead && t->co_) {
        const uint64_t now = Loop::hrtime_ns();
        if (close_share_iteration_ != iterations_) {
            close_share_iteration_ = iterations_;
            close_share_end_ns_ = now + kCloseMs * 1'000'000;
        }
        const bool share_left = close_share_end_ns_ > now + kCloseFloorNs;
        const uint64_t budget_end =
            t->instructions_ + (share_left ? kCloseInstructions : kCloseFloorInstructions);
        if (!t->limits_.instruction_budget || t->limits_.instruction_budget > budget_end)
            t->limits_.instruction_budget = budget_end;
        const uint64_t close_deadline = share_left ? close_share_end_ns_ : now + kCloseFloorNs;
        if (!t->deadline_ns_ || t->deadline_ns_ > close_deadline) {
            t->deadline_ns_ = close_deadline;
            t->limits_.timeout_ms = kCloseMs;  // what the hook's message names
        }
        LuaWatchdog::Watch watch(watchdog_, t->co_);
        lua_resetthread(t->co_);  // Lua 5.4.4 (Debian 12) has no lua_closethread
    }
    // After the to-be-closed variables, which give a `local lock <close>` up themselves.
    if (!held_.empty()) release_locks(t);
    ending_mid_request_ = 0;
    if (!t->co_) {  // never had a thread (new_thread failed): nothing to give back
        auto done = std::move(t->done_);
        tasks_.erase(t->id_);
        finished_.emplace_back(std::move(done), std::move(outcome));
        loop_.wake();
        return;
    }
    task_slot(t->co_) = nullptr;
    // Kept for the next spawn (a few): a new thread, its stack and collecting them were
    // ~5% of a short task's cost. Reset, it holds nothing of this task. Not one whose
    // to-be-closed variables just breached a limit: its hooks are off too.
    if (t->limit_hit_.empty() && idle_threads_.size() < kIdleThreads) {
        lua_settop(t->co_, 0);  // an error object resetthread may have left
        idle_threads_.emplace_back(t->co_, t->co_ref_);
    } else {
        luaL_unref(vm_.state(), LUA_REGISTRYINDEX, t->co_ref_);
    }
    auto done = std::move(t->done_);
    tasks_.erase(t->id_);
    finished_.emplace_back(std::move(done), std::move(outcome));
    loop_.wake();
}

void Scheduler::cancel(Task* t, Error why) {
    if (!t || t->state_ == TaskState::Finished) return;
    if (t->state_ == TaskState::Running) {
        // Cancelling the running task from inside itself: let the hook end it.
        t->limit_hit_ = why.message;
        return;
    }
    fail(t, std::move(why));
}

}  // namespace ferry
