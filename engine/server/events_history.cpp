// A finished execution's events rebuilt from its records (GET .../events once the ring no
// longer holds them, or after a restart): the step records read in the order their events
// went out live, each parsed only for the members its event carries.
#include "core/history.h"
#include "core/values.h"
#include "runtime/json_members.h"
#include "runtime/timestamp.h"
#include "server/events.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace ferry::engine::server {

using tmpl::Value;

namespace {

// A step record as the event it becomes, with when it began (its sort key).
struct StepEvent {
    std::string when, started, type, key, status, message, at;
    double ms = 0;
    int attempt = 0;
    bool previewed = false;
};

// A step record with only the members its event reads parsed into values: its input and
// output (megabytes each in a large for_each: 600 such records parsed whole held the loop
// 2 s) are only scanned. output becomes {"dry_run": ...} when it has that member.
Value event_fields_of(const std::string& record) {
    const std::optional<JsonMembers> members = json_members(record);
    if (!members) return tmpl::value_from_json(record);  // says what is wrong with it
    Value r = Value::dict();
    for (const char* key : {"started_at", "finished_at", "status", "error", "reason", "duration_ms",
                            "attempt", "key"})
        if (const std::string_view* text = json_member(*members, key))
            r.dict_obj().set(Value::string(key), tmpl::value_from_json(std::string(*text)));
    if (const std::string_view* out = json_member(*members, "output");
        out && out->starts_with('{')) {
        const std::string output(*out);
        if (std::optional<JsonMembers> fields = json_members(output))
            if (const std::string_view* flag = json_member(*fields, "dry_run"))
                r.dict_obj().set(Value::string("output"),
                                 dict_of({{"dry_run", tmpl::value_from_json(std::string(*flag))}}));
    }
    return r;
}

// The execution's step records as events, in the order they were sent live: by when each
// step ended (a step's event is sent as it ends); steps that never ran come last; a
// for_each step after its items, which end first (in the same millisecond, too). One
// record parsed at a time (a 40,000-item for_each as values at once took hundreds of MB).
std::vector<StepEvent> step_events_of(store::Store& store, const std::string& id) {
    std::vector<StepEvent> step_events;
    StepRecords records(store, id, StepRecords::kBulkPage);
    for (Result<const store::KeyedJson*> kj = records.next(); kj && kj.value();
         kj = records.next()) {
        const Value r = event_fields_of(kj.value()->json);
        StepEvent e;
        e.started = dict_text(r, "started_at");
        e.when = dict_text(r, "finished_at");
        if (e.when.empty()) e.when = e.started;
        if (e.when.empty()) e.when = "~";
        e.status = dict_text(r, "status");
        e.type = e.status == "failed"    ? "step.failed"
                 : e.status == "skipped" ? "step.skipped"
                                         : "step.finished";
        const Value* err = dict_get(r, "error");
        e.message = err && err->is_dict() ? dict_text(*err, "message") : dict_text(r, "reason");
        const Value* ms = dict_get(r, "duration_ms");
        e.ms = ms && ms->is_number() ? ms->as_float() : 0;
        const Value* attempt = dict_get(r, "attempt");
        e.attempt = attempt && attempt->is_int() ? int(attempt->as_int()) : 0;
        e.key = dict_text(r, "key");
        e.at = dict_text(r, "finished_at");
        // As the live event says it (event_emit.cpp): an output that says it previewed.
        // A real task may return "dry_run": true too; the record cannot tell, and a dry
        // run's every step is in dry-run mode.
        if (const Value* out = dict_get(r, "output")) e.previewed = dict_flag(*out, "dry_run");
        step_events.push_back(std::move(e));
    }
    // Ties at millisecond resolution are common (a pure step settles in the commit of the
    // one before it): the for_each summaries last, then by start.
    std::set<std::string, std::less<>> for_each_steps;  // owned: the sort moves the events
    for (const StepEvent& e : step_events)
        if (size_t bracket = e.key.find('['); bracket != std::string::npos)
            for_each_steps.insert(e.key.substr(0, bracket));
    auto order = [&](const StepEvent& e) {
        return std::tuple(std::string_view(e.when), for_each_steps.count(e.key) > 0,
                          std::string_view(e.started));
    };
    std::stable_sort(step_events.begin(), step_events.end(),
                     [&](const StepEvent& a, const StepEvent& b) { return order(a) < order(b); });
    return step_events;
}

}  // namespace

std::vector<EventHub::Event> EventHub::from_history(const std::string& id, const Value& exec) {
    std::vector<Event> out;
    std::string wf = dict_text(exec, "workflow");
    const bool dry_run = dict_flag(exec, "dry_run");
    auto event = [&](std::string type, std::string step, std::string status, std::string message,
                     double ms, int attempt, std::string at, bool previewed = false) {
        Event e;
        e.id = ++next_id_;
        e.type = std::move(type);
        e.execution_id = id;
        e.workflow = wf;
        e.step = std::move(step);
        e.status = std::move(status);
        e.message = std::move(message);
        e.duration_ms = ms;
        e.attempt = attempt;
        e.dry_run = dry_run;
        e.previewed = previewed;
        e.at = std::move(at);
        out.push_back(std::move(e));
    };
    event("execution.started", "", "running", "", 0, 0, dict_text(exec, "created_at"));
    for (StepEvent& e : step_events_of(*app_.store, id))
        event(std::move(e.type), std::move(e.key), std::move(e.status), std::move(e.message), e.ms,
              e.attempt, e.at.empty() ? dict_text(exec, "finished_at") : std::move(e.at),
              e.previewed);
    const Value* err = dict_get(exec, "error");
    // The execution's own duration, as the live event gives it: created to finished.
    Result<int64_t> created = parse_rfc3339_ms(dict_text(exec, "created_at"));
    Result<int64_t> ended = parse_rfc3339_ms(dict_text(exec, "finished_at"));
    double took = created && ended && ended.value() >= created.value()
                      ? double(ended.value() - created.value())
                      : 0;
    event("execution.finished", "", dict_text(exec, "status"),
          err && err->is_dict() ? dict_text(*err, "message") : "", took, 0,
          dict_text(exec, "finished_at"));
    // The same ids on every reading, ending at the finish time in microseconds: a client
    // that reconnects with the end's id is told it has everything (stream_execution). Live
    // ids count up from the process's start and stay below the finish time of what it ran.
    if (ended && uint64_t(ended.value()) * 1000 > out.size()) {
        uint64_t end_id = uint64_t(ended.value()) * 1000;
        for (size_t i = 0; i < out.size(); ++i)
            out[i].id = end_id - (out.size() - 1 - i);
    }
    return out;
}

std::shared_ptr<const std::vector<EventHub::Event>>
EventHub::recorded_history(const std::string& id, const Value& exec) {
    if (auto it = histories_.find(id); it != histories_.end())
        if (auto kept = it->second.lock()) return kept;
    std::erase_if(histories_, [](const auto& entry) { return entry.second.expired(); });
    auto built = std::make_shared<const std::vector<Event>>(from_history(id, exec));
    histories_[id] = built;
    return built;
}

}  // namespace ferry::engine::server
