// Built-in tasks the engine runs itself, without Lua. They behave as their files in tasks/
// do when run through the scheduler (same inputs, outputs and errors); a project file that
// replaces one of those files runs as Lua like any task.
//
// sleep: a sleeping step is a timer, not a parked Lua coroutine with its ctx and input
// (ARCHITECTURE.md: an execution parked on a long delay is a record, not a live coroutine).
// ~2 KB less per sleeping execution and no Lua at all. Output {}, the step's timeout cuts it
// short with the scheduler's message, cancel ends it, and after a restart an interrupted
// sleep runs again from the start.
//
// template.render: tasks/template/render.lua hands its vars (by default the whole expression
// context) to ferry.template.render, so they went Value -> Lua tables -> JSON DOM -> Value
// before a single line was rendered: a fifth of the loop's CPU per ticket in the ticket
// benchmark. Rendered here from the input Values, shaped as that trip shapes them
// (json_shaped), with ferry.template's environment, so the text is the same.
#include "core/executor.h"
#include "core/expressions.h"

#include "core/run_state.h"
#include "core/values.h"
#include "runtime/duration.h"
#include "runtime/json_lua.h"

#include <cmath>

namespace ferry::engine {

Engine::NativeTask Engine::native_task(const TaskDef& task) const {
    if (is_builtin_sleep(task)) return NativeTask::Sleep;
    if (is_builtin_template_render(task) && templates_) return NativeTask::Render;
    return NativeTask::None;
}

void Engine::invoke_render(Run& run, Unit& unit) {
    const uint64_t started_ns = Loop::hrtime_ns();
    TaskOutcome out;
    const tmpl::Value* name =
        unit.input.is_dict() ? unit.input.dict_obj().find("template") : nullptr;
    const tmpl::Value* vars = unit.input.is_dict() ? unit.input.dict_obj().find("vars") : nullptr;
    if (!name || !name->is_string()) {
        // The input schema requires a string; a before_step hook may still have changed it.
        out.error =
            make_error(ErrorKind::Validation, "template.render: 'template' must be a string");
    } else {
        tmpl::Value shaped =
            vars && vars->is_dict() ? json_shaped(*vars, json_lua::kMaxDepth) : tmpl::Value::dict();
        try {
            std::string text = templates_->render_or_throw(
                *templates_->get_template(std::string(name->str())), shaped);
            out.ok = true;
            out.value.SetObject();
            out.value.AddMember("text",
                                rapidjson::Value(text.data(), rapidjson::SizeType(text.size()),
                                                 out.value.GetAllocator()),
                                out.value.GetAllocator());
        } catch (const tmpl::TemplateError& e) {
            out.error = template_failure(e, e.describe());
        }
    }
    out.duration_ms = double(Loop::hrtime_ns() - started_ns) / 1e6;
    unit_finished(run, unit, std::move(out));
}

void Engine::invoke_sleep(Run& run, Unit& unit) {
    const workflow::Step& def = run.wf->steps[unit.step_index];
    const tmpl::Value* d = unit.input.is_dict() ? unit.input.dict_obj().find("duration") : nullptr;
    Result<uint64_t> wait = uint64_t(0);
    if (d && d->is_string()) {
        wait = parse_duration_ms(d->str());
    } else if (d && d->is_number() && !d->is_bool() && d->as_float() >= 0 &&
               std::isfinite(d->as_float())) {
        wait = uint64_t(d->as_float());  // milliseconds, as ferry.sleep takes them
    } else {
        wait = make_error(ErrorKind::Validation,
                          "duration expected (milliseconds or text like \"2s\"), got " +
                              std::string(d ? tmpl::type_name(*d) : "nothing"));
    }
    if (!wait) {
        TaskOutcome out;
        out.error = make_error(ErrorKind::Validation, "ferry.sleep: " + wait.error().message);
        unit_finished(run, unit, std::move(out));
        return;
    }
    const uint64_t limit = def.timeout_ms ? def.timeout_ms : options_.default_step_timeout_ms;
    const bool times_out = limit && wait.value() >= limit;
    const uint64_t started_ns = Loop::hrtime_ns();
    Unit* up = &unit;
    ++sleeping_;
    unit.retry_timer = loop_.timer(
        times_out ? limit : wait.value(), [this, ref = run.ref, up, limit, times_out, started_ns] {
            // Copied first: resetting the timer below destroys this callback.
            Engine* self = this;
            const RunRef id = ref;
            Unit* u = up;
            TaskOutcome out;
            out.duration_ms = double(Loop::hrtime_ns() - started_ns) / 1e6;
            if (times_out) {
                out.error =
                    make_error(ErrorKind::Timeout, "timed out after " + std::to_string(limit) +
                                                       " ms (the step's timeout)");
            } else {
                out.ok = true;
                out.value.SetObject();
            }
            --self->sleeping_;
            u->retry_timer.reset();
            if (Run* r = self->find_run(id)) self->unit_finished(*r, *u, std::move(out));
        });
}

bool Engine::stop_sleep(Unit& unit) {
    if (unit.status != "running" || !unit.retry_timer) return false;
    unit.retry_timer.reset();
    --sleeping_;
    return true;
}

}  // namespace ferry::engine
