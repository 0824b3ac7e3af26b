// Running a unit's work: the Lua task (with its ctx), the hooks around steps, sub-workflows.
// Inputs, retries and settlement are in units.cpp.
#include "core/executor.h"

#include "core/run_state.h"
#include "core/values.h"
#include "runtime/duration.h"
#include "runtime/ids.h"
#include "runtime/integration/secrets.h"
#include "runtime/json_lua.h"
#include "workflow/loader.h"

#include <cmath>

namespace ferry::engine {

namespace {

// How often a parent looks again at a child another process is running.
constexpr uint64_t kBusyChildPollMs = 1000;

// [-0, +0] t[key] = v for the table on top of the stack.
void set_text_field(lua_State* L, const char* key, std::string_view v) {
    lua_pushlstring(L, v.data(), v.size());
    lua_setfield(L, -2, key);
}

// [-0, +1] Pushes a Value as Lua with the JSON mapping of runtime/json_lua.h (what
// to_rapidjson + json_lua::push did): null for None and for anything JSON cannot hold,
// marked arrays for lists and tuples, string keys (others as their str()). Straight from the
// Value: building a RapidJSON DOM first was 15% of a transform step's CPU.
// [-0, +1] A dict key: a string as it is, any other key as its str().
void push_key(lua_State* L, const tmpl::Value& k) {
    if (k.is_string()) {
        lua_pushlstring(L, k.str().data(), k.str().size());
    } else {
        std::string key = tmpl::to_str(k);
        lua_pushlstring(L, key.data(), key.size());
    }
}

void push_value_at(lua_State* L, const tmpl::Value& v, int depth) {
    switch (v.kind()) {
    case tmpl::Kind::Bool: lua_pushboolean(L, v.as_bool()); return;
    case tmpl::Kind::Int: lua_pushinteger(L, lua_Integer(v.as_int())); return;
    case tmpl::Kind::Float:
        if (std::isfinite(v.as_float()))
            lua_pushnumber(L, v.as_float());
        else
            json_lua::push_null(L);
        return;
    case tmpl::Kind::String: lua_pushlstring(L, v.str().data(), v.str().size()); return;
    case tmpl::Kind::List:
    case tmpl::Kind::Tuple:
    case tmpl::Kind::Dict:
        if (depth < json_lua::kMaxDepth) break;
        [[fallthrough]];  // deeper than JSON may nest (or a cycle): null, not a crash
    default: json_lua::push_null(L); return;
    }
    luaL_checkstack(L, 4, "push_value");
    if (v.is_dict()) {
        const auto& items = v.dict_obj().items();
        lua_createtable(L, 0, int(items.size()));
        for (const auto& [k, val] : items) {
            push_key(L, k);
            push_value_at(L, val, depth + 1);
            lua_rawset(L, -3);
        }
        return;
    }
    const auto& items = v.list_obj().items;
    lua_createtable(L, int(items.size()), 0);
    json_lua::mark_array(L, -1);
    for (size_t i = 0; i < items.size(); ++i) {
        push_value_at(L, items[i], depth + 1);
        lua_rawseti(L, -2, lua_Integer(i) + 1);
    }
}

int push_value(lua_State* L, const tmpl::Value& v) {
    push_value_at(L, v, 0);
    return 1;
}

}  // namespace

Result<int> Engine::stdlib_function(const std::string& module) {
    std::optional<std::string> text = project_.read("stdlib/" + module + ".lua");
    if (!text) return make_error(ErrorKind::Internal, "missing stdlib/" + module + ".lua");
    Result<int> chunk = vm_.load_chunk("@stdlib/" + module + ".lua", *text);
    if (!chunk) return chunk.error();
    return vm_.run_chunk(chunk.value());
}

Status Engine::load_step_metatable() {
    Result<int> module = stdlib_function("ferry/ctx");
    if (!module) return module.error();
    lua_State* L = vm_.state();
    lua_rawgeti(L, LUA_REGISTRYINDEX, module.value());
    luaL_unref(L, LUA_REGISTRYINDEX, module.value());
    int type = LUA_TNIL;
    if (lua_istable(L, -1)) {
        lua_pushstring(L, "step_metatable");  // raw: a plain table of ours
        type = lua_rawget(L, -2);
    } else {
        lua_pushnil(L);
    }
    if (type != LUA_TFUNCTION) {
        lua_pop(L, 2);
        return make_error(ErrorKind::Internal,
                          "stdlib/ferry/ctx.lua must return a module with step_metatable");
    }
    step_metatable_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    return ok_status();
}

Result<int> Engine::hook_ref(const std::string& file) {
    std::string rel = file.rfind("tasks/", 0) == 0 ? file : "tasks/" + file;
    std::optional<uint64_t> stamp = project_.stamp(rel);  // before reading: see App
    auto it = hook_cache_.find(file);
    if (it != hook_cache_.end()) {
        if (stamp && it->second.stamp == stamp) return it->second.ref;
        // What runs the old version holds it on its own stack.
        luaL_unref(vm_.state(), LUA_REGISTRYINDEX, it->second.ref);
        hook_cache_.erase(it);
    }
    Result<int> ref = load_lua_file(vm_, project_, rel);
    if (!ref) return ref.error();
    hook_cache_[file] = LoadedHook{stamp, ref.value()};
    return ref.value();
}

bool Engine::is_dry_run(const Run& run, const workflow::Step& def) const {
    const workflow::IntegrationEntry* integration =
        config_ && !def.integration.empty() ? config_->integration(def.integration) : nullptr;
    return def.dry_run.value_or(run.options.dry_run) ||
           (integration && integration->config.dry_run);
}

void Engine::push_task_context(lua_State* L, Run& run, Unit& unit) {
    // Straight into a Lua table: building a tmpl::Value dict first and pushing it cost more
    // than the transform task itself. Only what differs per invocation is set here; the
    // step's own fields come from its metatable (push_step_metatable, stdlib/ferry/ctx.lua).
    const workflow::Step& def = run.wf->steps[unit.step_index];
    const workflow::IntegrationEntry* integration =
        config_ && !def.integration.empty() ? config_->integration(def.integration) : nullptr;
    luaL_checkstack(L, 4, "task context");
    lua_createtable(L, 0, 5 + (unit.item_index >= 0 ? 2 : 0) + (def.integration.empty() ? 0 : 1));
    set_text_field(L, "execution_id", run.id);
    set_text_field(L, "unit", unit.key);
    lua_pushinteger(L, unit.attempt);
    lua_setfield(L, -2, "attempt");
    set_text_field(L, "idempotency_key", idempotency_key_of(run, unit));
    lua_pushboolean(L, unit.interrupted);
    lua_setfield(L, -2, "resumed");
    if (unit.interrupted && unit.interrupted_attempt_started_ms) {
        lua_pushinteger(L, lua_Integer(unit.interrupted_attempt_started_ms));
        lua_setfield(L, -2, "interrupted_attempt_started_ms");
    }
    if (unit.interrupted && unit.resumed_at_ms) {
        lua_pushinteger(L, lua_Integer(unit.resumed_at_ms));
        lua_setfield(L, -2, "resumed_at_ms");
    }
    if (unit.item_index >= 0) {
        push_value(L, unit.item);
        lua_setfield(L, -2, "item");
        lua_pushinteger(L, unit.item_index);
        lua_setfield(L, -2, "index");
    }
    // A fresh copy of the settings for each invocation: a task may change its ctx's tables.
    // (A step whose integration is gone does not get here: invoke fails it first.)
    if (integration) {
        push_value(L, integration->settings);
        lua_setfield(L, -2, "integration");
    }
    push_step_metatable(L, run, def, is_dry_run(run, def));
    lua_setmetatable(L, -2);
}

void Engine::push_step_metatable(lua_State* L, const Run& run, const workflow::Step& def,
                                 bool dry_run) {
    auto it = step_contexts_.find(&def);
    if (it != step_contexts_.end() && it->second.metatable_ref[dry_run] != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, it->second.metatable_ref[dry_run]);
        return;
    }
    // Bounded: definitions replaced by newer ones leave their entries behind.
    constexpr size_t kMaxStepContexts = 4096;
    if (it == step_contexts_.end()) {
        if (step_contexts_.size() >= kMaxStepContexts) release_step_contexts();
        it = step_contexts_.emplace(&def, StepContext{run.wf, {LUA_NOREF, LUA_NOREF}}).first;
    }
    luaL_checkstack(L, 4, "task context");
    lua_rawgeti(L, LUA_REGISTRYINDEX, step_metatable_ref_);
    lua_createtable(L, 0, 5);
    set_text_field(L, "workflow", run.wf->name);
    set_text_field(L, "step_id", def.id);
    set_text_field(L, "task", def.task);
    set_text_field(L, "provider", def.provider);
    lua_pushboolean(L, dry_run);
    lua_setfield(L, -2, "dry_run");
    lua_call(L, 1, 1);  // stdlib code of ours: raises only when out of memory (protected)
    lua_pushvalue(L, -1);
    it->second.metatable_ref[dry_run] = luaL_ref(L, LUA_REGISTRYINDEX);
}

void Engine::release_step_contexts() {
    for (auto& [def, context] : step_contexts_)
        for (int ref : context.metatable_ref)
            if (ref != LUA_NOREF) luaL_unref(vm_.state(), LUA_REGISTRYINDEX, ref);
    step_contexts_.clear();
}

Engine::SharedInput* Engine::shared_input(const Run& run, const Unit& unit, const tmpl::Value& key,
                                          const tmpl::Value& value) {
    const tmpl::Value& with = run.wf->steps[unit.step_index].with;
    if (!key.is_string() || !with.is_dict() || !(value.is_dict() || value.is_sequence()))
        return nullptr;
    const tmpl::Value* declared = with.dict_obj().find(key.str());
    if (!declared || declared->identity() != value.identity()) return nullptr;
    auto it = shared_inputs_.find(value.identity());
    if (it != shared_inputs_.end()) return &it->second;
    // Bounded: definitions replaced by newer ones leave their entries behind.
    constexpr size_t kMaxSharedInputs = 4096;
    if (shared_inputs_.size() >= kMaxSharedInputs) release_shared_inputs();
    return &shared_inputs_.emplace(value.identity(), SharedInput{value, LUA_NOREF, {}})
                .first->second;
}

void Engine::push_task_input(lua_State* L, const Run& run, const Unit& unit, const TaskDef& task) {
    const tmpl::Value& input = unit.input;
    if (!task.keeps_input || !input.is_dict()) {
        push_value(L, input);
        return;
    }
    luaL_checkstack(L, 4, "task input");
    const auto& items = input.dict_obj().items();
    lua_createtable(L, 0, int(items.size()));
    for (const auto& [k, v] : items) {
        push_key(L, k);
        if (SharedInput* shared = shared_input(run, unit, k, v)) {
            if (shared->ref == LUA_NOREF) {
                push_value_at(L, v, 1);
                lua_pushvalue(L, -1);
                shared->ref = luaL_ref(L, LUA_REGISTRYINDEX);
            } else {
                lua_rawgeti(L, LUA_REGISTRYINDEX, shared->ref);
            }
        } else {
            push_value_at(L, v, 1);
        }
        lua_rawset(L, -3);
    }
}

std::string Engine::input_json_text(const Run& run, const Unit& unit) {
    const tmpl::Value& input = unit.input;
    if (!input.is_dict()) return to_json_text(input);
    ScratchBuffer buf;
    JsonWriter w(*buf);
    w.StartObject();
    for (const auto& [k, v] : input.dict_obj().items()) {
        write_json_key(k, w);
        // A credential written into the step's headers (not an integration's) is recorded
        // as the requests are: hidden. A resume evaluates such an input again (units.cpp).
        std::optional<tmpl::Value> hidden;
        if (k.is_string() && k.str() == "headers") hidden = credential_headers_redacted(v);
        if (hidden) {
            write_json(*hidden, w);
        } else if (SharedInput* shared = shared_input(run, unit, k, v)) {
            if (shared->json.empty()) shared->json = to_json_text(v);
            w.RawValue(shared->json.data(), shared->json.size(), rapidjson::kObjectType);
        } else {
            write_json(v, w);
        }
    }
    w.EndObject();
    return buf.text();
}

void Engine::release_shared_inputs() {
    for (auto& [id, shared] : shared_inputs_)
        if (shared.ref != LUA_NOREF) luaL_unref(vm_.state(), LUA_REGISTRYINDEX, shared.ref);
    shared_inputs_.clear();
}

void Engine::run_hook(Run& run, const std::string& kind, tmpl::Value event,
                      std::function<void(Result<tmpl::Value>)> then, Unit* unit) {
    const workflow::Hooks& hooks = run.wf->hooks;
    const std::string& file = kind == "before_step"  ? hooks.before_step
                              : kind == "after_step" ? hooks.after_step
                                                     : hooks.on_failure;
    Result<int> hook = hook_ref(file);
    if (!hook) {
        then(hook.error());
        return;
    }
    if (hook_runner_ref_ == LUA_NOREF) {
        Result<int> r = stdlib_function("ferry/hook_runner");
        if (!r) {
            then(r.error());
            return;
        }
        hook_runner_ref_ = r.value();
    }
    tmpl::Value ctx = dict_of({{"execution_id", str(run.id)},
                               {"workflow", str(run.wf->name)},
                               {"hook", str(kind)},
                               {"dry_run", tmpl::Value::boolean(run.options.dry_run)}});
    int hook_fn = hook.value();
    TaskLimits limits = options_.task_limits;
    limits.timeout_ms = options_.default_step_timeout_ms;
    // A hook task can outlive the engine (an App destroyed while it runs: the scheduler's
    // destructor ends it and runs this callback), so the callback asks alive_ first.
    std::weak_ptr<Engine*> alive = alive_;
    auto self_task = std::make_shared<Task*>(nullptr);  // the spawned task, for its callback
    Task* task = scheduler_.spawn(
        hook_runner_ref_,
        [hook_fn, ctx, event](lua_State* co) {
            lua_rawgeti(co, LUA_REGISTRYINDEX, hook_fn);
            push_value(co, ctx);
            push_value(co, event);
            return 3;
        },
        limits,
        [alive, then = std::move(then), file, kind, rid = run.id, unit,
         self_task](TaskOutcome outcome) {
            auto self = alive.lock();
            if (!self) return;
            if (Run* r = (*self)->find_run(rid)) std::erase(r->hook_tasks, *self_task);
            (*self)->keep_hook_logs(rid, kind, unit, outcome.logs);
            if (!outcome.ok) {
                Error e = outcome.error;
                // A Lua error's text already starts with its FILE:LINE; the location would
                // say it a second time in front of the hook's name.
                e.location.reset();
                // A hook returns the event, not a task's result.
                if (e.message.starts_with(kResultNotStored))
                    e.message = "the event it returned cannot be stored: " +
                                e.message.substr(kResultNotStored.size());
                e.message = "hook " + file + ": " + e.message;
                then(e);
                return;
            }
            then(from_rapidjson(outcome.value));
        });
    *self_task = task;
    run.hook_tasks.push_back(task);
}

void Engine::invoke_unit(Run& run, Unit& unit) {
    const workflow::Step& def = run.wf->steps[unit.step_index];
    // A step starts beside a parked approval: the run (and its parents) run again.
    if (run.status == "waiting") recheck_waiting(run);
    if (run.cancelled) {  // cancelled while its "running" record was being committed
        TaskOutcome outcome;
        outcome.error = make_error(ErrorKind::Cancelled, "the execution was cancelled");
        unit_finished(run, unit, std::move(outcome));
        return;
    }
    if (run.from_history && run.history_redacted && holds_text(unit.input, kRedacted)) {
        // History keeps secrets as [REDACTED]; a resumed step whose input was read back
        // with one would send that text to the vendor instead of the value. Only a run whose
        // records had a secret redacted: otherwise the text is what it says (a vendor's
        // answer may say "[REDACTED]").
        TaskOutcome outcome;
        outcome.error = make_error(
            ErrorKind::Validation,
            "step '" + def.id + "': its input holds a value the history keeps only as " +
                std::string(kRedacted) +
                " (a secret), so the resumed execution cannot send it; start a new execution");
        unit_finished(run, unit, std::move(outcome));
        return;
    }
    if (def.task == "workflow") {
        invoke_subworkflow(run, unit);
        return;
    }
    if (def.task == "approval") {
        invoke_approval(run, unit);
        return;
    }
    // The workflow was checked against the project when the execution started; what it
    // names is looked up now, and a deploy since (a task module removed or broken, an
    // integration renamed) would otherwise fail deep inside the task, or as a bad input.
    const TaskDef* task = catalog_.find(def.task, def.provider);
    if (!task) {
        TaskOutcome outcome;
        outcome.error =
            make_error(ErrorKind::Validation,
                       "task '" + def.task + "'" +
                           (def.provider.empty() ? "" : " provider '" + def.provider + "'") +
                           " is not in the project now (its file was removed since the execution "
                           "started, or no longer loads: `ferry validate` says why)");
        unit_finished(run, unit, std::move(outcome));
        return;
    }
    if (!def.integration.empty() && (!config_ || !config_->integration(def.integration))) {
        std::string defined;
        if (config_)
            for (const workflow::IntegrationEntry& e : config_->integrations)
                defined += (defined.empty() ? "" : ", ") + e.config.name;
        TaskOutcome outcome;
        outcome.error = make_error(
            ErrorKind::Validation,
            "integration '" + def.integration + "' is not in ferry.yaml (it defines " +
                (defined.empty() ? std::string("none") : defined) +
                "): renamed or removed since the execution started? Put it back under that "
                "name, or start the workflow again once it names another");
        unit_finished(run, unit, std::move(outcome));
        return;
    }
    switch (native_task(*task)) {
    case NativeTask::Sleep: return invoke_sleep(run, unit);
    case NativeTask::Render: return invoke_render(run, unit);
    case NativeTask::None: break;
    }
    if (step_metatable_ref_ == LUA_NOREF) {
        if (Status loaded = load_step_metatable(); !loaded) {
            TaskOutcome outcome;
            outcome.error = loaded.error();
            unit_finished(run, unit, std::move(outcome));
            return;
        }
    }
    unit.http.reset();  // this attempt's requests only
    TaskLimits limits = options_.task_limits;
    limits.timeout_ms = def.timeout_ms ? def.timeout_ms : options_.default_step_timeout_ms;
    limits.io_allowed = !task->pure;  // held to it: it may have started early (starts_early)
    const RunRef ref = run.ref;
    Unit* up = &unit;
    Run* rp = &run;
    unit.task = scheduler_.spawn(
        task->run_ref,  // run(ctx, input): whatever it returns is the step's output
        // spawn() pushes the arguments before it returns: run and unit outlive the call.
        [this, rp, up, task](lua_State* co) {
            push_task_context(co, *rp, *up);
            push_task_input(co, *rp, *up, *task);
            return 2;
        },
        limits,
        [this, ref, up](TaskOutcome outcome) {
            if (Run* r = find_run(ref)) unit_finished(*r, *up, std::move(outcome));
        });
    // A pure task waits for nothing, the disk included: it has no memo.
    if (!task->pure)
        unit.task->keep_memo(unit.memo ? *unit.memo : std::string(),
                             [this, rp, up](const std::string& memo, Task::MemoKept kept) {
                                 keep_memo(*rp, *up, memo, std::move(kept));
                             });
}

void Engine::keep_memo(Run& run, Unit& unit, const std::string& memo, Task::MemoKept kept) {
    // Called by the task while it runs, so run and unit are there. The step's record is
    // written again with the memo; the task goes on once that is durable.
    unit.memo = std::make_unique<std::string>(memo);
    persist_unit(run, unit, /*with_attempt=*/false, /*settled=*/false);
    store_.after_commit([kept = std::move(kept)] { kept(ok_status()); });
    loop_.wake();
}

void Engine::invoke_subworkflow(Run& run, Unit& unit) {
    auto fail = [&](Error e) {
        TaskOutcome outcome;
        outcome.error = std::move(e);
        unit_finished(run, unit, std::move(outcome));
    };
    const tmpl::Value* name = dict_get(unit.input, "name");
    if (!name || !name->is_string()) {
        fail(
            make_error(ErrorKind::Validation, "task 'workflow' needs with.name (a workflow name)"));
        return;
    }
    if (!resolver_) {
        fail(make_error(ErrorKind::Internal, "sub-workflows are not available here"));
        return;
    }
    const RunRef ref = run.ref;
    Unit* up = &unit;
    // Set when the step's `timeout:` cancelled the child: the step then fails as a timeout.
    auto timed_out = std::make_shared<bool>(false);
    auto on_done = [this, ref, up, timed_out](const ExecutionSummary& s) {
        Run* r = find_run(ref);
        if (!r) return;
        up->retry_timer.reset();
        TaskOutcome outcome;
        if (*timed_out) {
            uint64_t limit = r->wf->steps[up->step_index].timeout_ms;
            outcome.error =
                // Worded as every other step's timeout ("300 ms"), not as a duration.
                make_error(ErrorKind::Timeout, "timed out after " + std::to_string(limit) +
                                                   " ms (the step's timeout); sub-workflow '" +
                                                   s.workflow + "' (" + s.id + ") was cancelled");
            up->child_timed_out = true;  // on record; a retry starts a new child
        } else if (s.status == "succeeded") {
            outcome.ok = true;
            to_rapidjson(s.outputs, outcome.value, outcome.value.GetAllocator());
        } else {
            std::string msg = "sub-workflow '" + s.workflow + "' (" + s.id + ") " + s.status;
            if (const tmpl::Value* m = dict_get(s.error, "message")) msg += ": " + tmpl::to_str(*m);
            // The child's kind says what went wrong (an HTTP 4xx, a limit...); a cancelled
            // child without an error record is a cancellation.
            const tmpl::Value* kind = dict_get(s.error, "kind");
            std::optional<ErrorKind> child_kind =
                kind && kind->is_string() ? error_kind_from_string(kind->str()) : std::nullopt;
            if (!child_kind)
                child_kind = s.status == "cancelled" ? ErrorKind::Cancelled : ErrorKind::LuaError;
            outcome.error = make_error(*child_kind, msg);
            outcome.final_failure = true;
        }
        unit_finished(*r, *up, std::move(outcome));
    };
    // An explicit `timeout:` bounds the child, counted from the attempt's start (recorded,
    // so a restart does not give it a fresh one); the default step timeout does not, as
    // children may wait for approvals.
    auto arm_timeout = [this, ref, up, timed_out](uint64_t limit) {
        if (limit == 0) return;
        const uint64_t now = now_unix_ms();
        const uint64_t began = up->attempt_started_ms ? up->attempt_started_ms : now;
        const uint64_t spent = now > began ? now - began : 0;
        // Passed while no process ran it: cancelled as soon as the loop turns.
        const uint64_t left = spent < limit ? limit - spent : 1;
        up->retry_timer = loop_.timer(left, [this, ref, up, timed_out, limit] {
            if (!find_run(ref) || up->child_execution.empty()) return;
            *timed_out = true;
            Status s = cancel(up->child_execution, "the parent step's timeout of " +
                                                       format_duration_ms(limit) + " passed");
            if (!s) *timed_out = false;  // the child already ended: its result stands
        });
    };
    const uint64_t limit = run.wf->steps[unit.step_index].timeout_ms;
    // A resumed parent finds its child by the id recorded before the child started.
    if (unit.child_timed_out) {
        unit.child_execution.clear();
        unit.child_timed_out = false;
    }
    if (!unit.child_execution.empty()) {
        if (find_run(unit.child_execution)) return;  // still running in this process
        auto stored = store_.get_execution(unit.child_execution);
        if (stored && stored.value()) {
            bool busy = false;
            Status s = resume(unit.child_execution, on_done, &busy);
            if (busy) {
                // Another process is running the child right now (`ferry resume CHILD`):
                // look again later rather than fail the step for good, which would lose
                // what the child did (running it anew would do it twice). A background
                // timer: a process with nothing else to do ends, the parent still running,
                // and the next resume finds the child's result.
                unit.retry_timer = loop_.timer(kBusyChildPollMs, [this, ref, up] {
                    if (Run* r = find_run(ref)) invoke_subworkflow(*r, *up);
                });
                unit.retry_timer->set_background();
            } else if (!s) {
                fail(s.error());
            } else {
                arm_timeout(limit);
            }
            return;
        }
    }
    // A new child runs the workflow file as it is now; one already recorded (above) goes on
    // with the definition it was started with, whatever became of the file since.
    Result<std::shared_ptr<const workflow::Workflow>> child = resolver_(std::string(name->str()));
    if (!child) {
        fail(child.error());
        return;
    }
    const tmpl::Value* given = dict_get(unit.input, "inputs");
    if (!run.options.tree_patterns)
        run.options.tree_patterns = std::make_shared<workflow::PatternBudget>();
    Result<tmpl::Value> inputs = workflow::resolve_inputs(
        *child.value(), given ? *given : tmpl::Value::dict(), run.options.tree_patterns.get());
    if (!inputs) {
        Error e = inputs.error();  // named: the name may have come from an expression
        e.message = "inputs for sub-workflow '" + std::string(name->str()) + "': " + e.message;
        fail(std::move(e));
        return;
    }
    if (!run.options.tree_started) run.options.tree_started = std::make_shared<uint64_t>(0);
    if (*run.options.tree_started >= options_.max_tree_executions) {
        fail(make_error(ErrorKind::Limit,
                        "step '" + unit.key + "' would start more than " +
                            std::to_string(options_.max_tree_executions) +
                            " sub-workflow executions below one top execution (a workflow that "
                            "calls itself from a for_each?)"));
        return;
    }
    ++*run.options.tree_started;
    StartOptions opts;
    opts.tree_started = run.options.tree_started;
    opts.tree_patterns = run.options.tree_patterns;
    opts.dry_run = run.wf->steps[unit.step_index].dry_run.value_or(run.options.dry_run);
    opts.trigger = "workflow";
    opts.parent_execution = run.id;
    opts.parent_step = unit.key;
    opts.depth = run.options.depth + 1;
    opts.execution_id = unit.child_execution.empty() ? new_ulid() : unit.child_execution;
    unit.child_execution = opts.execution_id;
    persist_unit(run, unit, false);
    Result<std::string> started = start(child.value(), inputs.value(), opts, on_done);
    if (!started)
        fail(started.error());
    else
        arm_timeout(limit);
}

}  // namespace ferry::engine
