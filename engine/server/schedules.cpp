#include "server/schedules.h"

#include "core/history.h"
#include "core/values.h"
#include "runtime/ids.h"
#include "runtime/timestamp.h"
#include "server/openapi.h"
#include "template/environment.h"

namespace ferry::engine::server {

namespace {

using tmpl::Value;

// How far a recorded due time may be after the clock and still be taken as a clock that
// stepped back, not as one that was wrong when it was recorded.
constexpr uint64_t kClockStepTrusted = 24 * 3600 * 1000ull;

std::string kv_key(const std::string& name) {
    return "schedule:" + name;
}

Value time_or_null(uint64_t ms) {
    return ms ? str(rfc3339(ms)) : Value::none();
}

}  // namespace

struct Schedules::State {
    const workflow::ScheduleEntry* def = nullptr;
    // When this server first saw the schedule: until a first run, due times count from it,
    // so a server restarted more often than the period still runs it.
    uint64_t first_seen = 0;
    uint64_t last_due = 0;  // the last due time handled: started, skipped or failed
    uint64_t last_run = 0;  // the last due time that started an execution
    std::string last_execution_id;
    std::string last_error;  // why the last due time started nothing
    uint64_t next_due = 0;
    // Seen switched off (enabled: false) by a server: switched on again, the due times it
    // was off for are not caught up (an operator's pause is not downtime).
    bool off = false;
    std::unique_ptr<Loop::Timer> timer;
};

Schedules::Schedules(App& app, bool dry_run, ServerLog& log, StoreRoom& room)
    : app_(app), dry_run_(dry_run), log_(log), room_(room) {
    for (const workflow::ScheduleEntry& e : app_.config.schedule_entries) {
        auto s = std::make_unique<State>();
        s->def = &e;
        states_.push_back(std::move(s));
    }
}

Schedules::~Schedules() = default;

namespace {

// What a schedule's due times follow, kept with its state: due times recorded under another
// definition are not this one's to catch up.
std::string definition_of(const workflow::ScheduleEntry& e) {
    if (e.cron.empty()) return "every " + std::to_string(e.every_ms) + "ms";
    // UTC (no zone, or UTC written out) reads as before zones existed: a stored definition of
    // a UTC cron still matches.
    return "cron " + e.cron + (e.cron_spec.zone ? " in " + e.timezone : "");
}

}  // namespace

void Schedules::start() {
    uint64_t now = now_unix_ms();
    forget_removed_schedules();
    for (auto& sp : states_) {
        State& s = *sp;
        auto stored = app_.store->get_kv(kv_key(s.def->name));
        std::string stored_definition;
        if (stored && stored.value()) {
            Value v = tmpl::value_from_json(*stored.value());
            if (const Value* d = dict_get(v, "last_due"); d && d->is_int())
                s.last_due = uint64_t(d->as_int());
            if (const Value* r = dict_get(v, "last_run"); r && r->is_int())
                s.last_run = uint64_t(r->as_int());
            else if (!s.last_execution_id.empty())  // recorded before last_run was kept
                s.last_run = s.last_due;
            if (const Value* e = dict_get(v, "last_error"); e && e->is_string())
                s.last_error = std::string(e->str());
            if (const Value* o = dict_get(v, "off"); o && o->is_bool()) s.off = o->as_bool();
            if (const Value* id = dict_get(v, "execution_id"); id && id->is_string())
                s.last_execution_id = std::string(id->str());
            if (const Value* f = dict_get(v, "first_seen"); f && f->is_int() && f->as_int() > 0)
                s.first_seen = uint64_t(f->as_int());
            if (const Value* d = dict_get(v, "definition"); d && d->is_string())
                stored_definition = std::string(d->str());
        }
        // A changed expression starts from its next due time: "0 6" moved to "30 6" and
        // deployed at 07:00 ran at once, for the 06:30 the old expression never had.
        const bool redefined =
            !stored_definition.empty() && stored_definition != definition_of(*s.def);
        if (!s.def->enabled) {
            if (!s.off) {
                s.off = true;
                remember(s);
            }
            continue;
        }
        bool back_on = s.off || redefined;
        if (s.off) {
            log_.info("schedule " + s.def->name +
                          ": enabled again; the times it was off for are not caught up",
                      {{"schedule", s.def->name}});
            s.off = false;
        } else if (redefined) {
            log_.info("schedule " + s.def->name + ": its definition changed (" + stored_definition +
                          " -> " + definition_of(*s.def) +
                          "); due times before now are not caught up",
                      {{"schedule", s.def->name}});
        }
        // First seen with a clock that was ahead (nothing ran): it starts from now, not from
        // a time the clock has yet to reach.
        if (!s.first_seen || back_on || (!s.last_due && s.first_seen > now)) {
            if (!s.first_seen || s.first_seen > now) s.first_seen = now;
            remember(s);
        }
        uint64_t last_due = s.last_due ? s.last_due : s.first_seen;
        if (s.last_due > now && s.last_due - now > kClockStepTrusted) {
            // Further ahead than a clock steps back (NTP, a snapshot): the clock was wrong
            // when it ran. Planned from now, or it would stay silent until then.
            log_.warn("schedule " + s.def->name + ": its last due time (" + rfc3339(s.last_due) +
                          ") is more than a day after the clock: taken for a clock that was "
                          "wrong; planning from now",
                      {{"schedule", s.def->name}, {"last_due", rfc3339(s.last_due)}});
            last_due = 0;
        } else if (s.last_due > now) {
            log_.warn("schedule " + s.def->name + ": the clock is behind its last due time (" +
                          rfc3339(s.last_due) +
                          "); the due times up to it ran already and do not run again",
                      {{"schedule", s.def->name}, {"last_due", rfc3339(s.last_due)}});
        }
        workflow::SchedulePlan plan = workflow::plan_schedule(
            s.def->every_ms, s.def->cron_spec, s.def->catch_up && !back_on, last_due, now);
        if (plan.skipped) {
            std::string due = rfc3339(*plan.skipped);
            if (!back_on)  // back on says why above
                log_.info("schedule " + s.def->name + ": due times missed while nothing ran " +
                              "are skipped (catch_up: false), the latest " + due,
                          {{"schedule", s.def->name}, {"due", due}});
            // Handled, as a due time that ran is: a restart does not report it again, nor
            // (back on) catch up a time the schedule was off or defined otherwise.
            s.last_due = *plan.skipped;
            remember(s);
        }
        if (plan.catch_up) {
            std::string due = rfc3339(*plan.catch_up);
            log_.info("schedule " + s.def->name + ": catching up the run due " + due,
                      {{"schedule", s.def->name}, {"due", due}});
            arm(s, *plan.catch_up);
        } else {
            arm(s, plan.next);
        }
    }
}

void Schedules::arm(State& s, uint64_t due) {
    s.next_due = due;
    s.timer.reset();
    if (due == 0) return;  // a cron expression with no future match
    uint64_t now = now_unix_ms();
    State* sp = &s;
    s.timer = app_.loop.timer(due > now ? due - now : 0, [this, sp, due] {
        // The loop's timers are monotonic and may fire a little before the wall clock agrees.
        if (now_unix_ms() < due) return arm(*sp, due);
        fire(*sp, due);
    });
}

void Schedules::fire(State& s, uint64_t due) {
    const workflow::ScheduleEntry& def = *s.def;
    std::string id;
    s.last_error.clear();
    std::string previous;
    if (def.skip_overlap && !s.last_execution_id.empty()) {
        std::string st = stored_status(*app_.store, s.last_execution_id);
        if (st == "running" || st == "waiting" || st == "pending") previous = st;
    }
    auto wf = app_.load_workflow(def.workflow);
    std::string full = previous.empty() ? room_.refusal(app_.loop.now_ms()) : std::string();
    if (!previous.empty()) {
        s.last_error = "skipped: the previous run " + s.last_execution_id + " is still " + previous;
    } else if (!full.empty()) {
        s.last_error = "skipped: " + full;
    } else if (!wf) {
        s.last_error = app_.project.without_folder(wf.error().message);  // shown to viewers
    } else if (Result<Value> inputs = workflow::resolve_inputs(*wf.value(), def.inputs); !inputs) {
        s.last_error = inputs.error().message;
    } else {
        StartOptions opts;
        opts.trigger = "schedule";
        opts.dry_run = dry_run_;
        opts.execution_id = new_ulid();
        opts.trigger_info = dict_of({{"schedule", str(def.name)}, {"due", str(rfc3339(due))}});
        auto started =
            app_.engine->start(wf.value(), inputs.value(), opts, [](const ExecutionSummary&) {});
        if (started)
            id = started.value();
        else
            s.last_error = started.error().message;
    }
    if (!s.last_error.empty()) {
        std::string due_text = rfc3339(due);
        // A run skipped for overlap is the schedule doing as configured; the others failed.
        log_.at(previous.empty() ? "error" : "warn",
                "schedule " + def.name + ": due " + due_text + ": " + s.last_error,
                {{"schedule", def.name}, {"due", due_text}, {"workflow", def.workflow}});
    }
    // Staged in this loop iteration with the execution's first record: one commit, so the
    // due time counts as done exactly when the execution exists. A due time that could not
    // start (a broken workflow) counts as done too, rather than retrying in a tight loop.
    s.last_due = due;
    if (!id.empty()) {
        s.last_run = due;
        s.last_execution_id = id;
    }
    remember(s);
    workflow::SchedulePlan plan =
        workflow::plan_schedule(def.every_ms, def.cron_spec, def.catch_up, due, now_unix_ms());
    arm(s, plan.catch_up ? *plan.catch_up : plan.next);
}

void Schedules::remember(const State& s) {
    app_.store->put_kv(kv_key(s.def->name),
                       to_json_text(dict_of({{"last_due", Value::integer(int64_t(s.last_due))},
                                             {"last_run", Value::integer(int64_t(s.last_run))},
                                             {"execution_id", str(s.last_execution_id)},
                                             {"last_error", str(s.last_error)},
                                             {"off", Value::boolean(s.off)},
                                             {"first_seen", Value::integer(int64_t(s.first_seen))},
                                             {"definition", str(definition_of(*s.def))}})));
    app_.loop.wake();
}

void Schedules::forget_removed_schedules() {
    // Taken out of ferry.yaml is paused, as enabled: false is: put back, the due times it
    // was out for are not caught up.
    const std::string prefix = kv_key("");
    auto entries = app_.store->scan_kv(prefix);
    if (!entries) return;
    for (const auto& e : entries.value()) {
        std::string name = e.key.substr(prefix.size());
        bool configured = false;
        for (const auto& sp : states_)
            configured = configured || sp->def->name == name;
        if (configured) continue;
        Value v = tmpl::value_from_json(e.json);
        if (!v.is_dict()) continue;
        if (dict_flag(v, "off")) continue;
        v.dict_obj().set(str("off"), Value::boolean(true));
        app_.store->put_kv(e.key, to_json_text(v));
    }
}

std::string Schedules::list_json() const {
    Value items = Value::list();
    for (const auto& sp : states_) {
        const State& s = *sp;
        const workflow::ScheduleEntry& d = *s.def;
        std::string last_status =
            s.last_execution_id.empty() ? "" : stored_status(*app_.store, s.last_execution_id);
        items.list_obj().items.push_back(
            dict_of({{"name", str(d.name)},
                     {"workflow", str(d.workflow)},
                     {"every", d.every_ms ? str(d.every) : Value::none()},
                     {"cron", d.every_ms ? Value::none() : str(d.cron)},
                     {"timezone",
                      d.every_ms ? Value::none() : str(d.timezone.empty() ? "UTC" : d.timezone)},
                     {"enabled", Value::boolean(d.enabled)},
                     {"catch_up", Value::boolean(d.catch_up)},
                     {"overlap", str(d.skip_overlap ? "skip" : "allow")},
                     {"next_run", d.enabled ? time_or_null(s.next_due) : Value::none()},
                     {"last_run", time_or_null(s.last_run)},
                     {"last_execution_id",
                      s.last_execution_id.empty() ? Value::none() : str(s.last_execution_id)},
                     {"last_status", last_status.empty() ? Value::none() : str(last_status)},
                     {"last_error", s.last_error.empty() ? Value::none() : str(s.last_error)}}));
    }
    return to_json_text(dict_of({{"schedules", items}}));
}

void Schedules::stop() {
    for (auto& s : states_)
        s->timer.reset();
}

void Schedules::add_routes(Api& api) {
    api.add("GET", "/api/v1/schedules", Role::Viewer, [this](Call& c) { c.json(200, list_json()); },
            {{},
             "",
             {},
             {{200, "each schedule, its next and last run", "", schema_ref("ScheduleList")}}});
}

}  // namespace ferry::engine::server
