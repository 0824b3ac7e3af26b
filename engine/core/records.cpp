// What the executor writes to the store, and how resume() reads it back.
#include "core/executor.h"

#include "core/run_state.h"
#include "workflow/loader.h"

#include <cstdio>
#include <ctime>

namespace ferry::engine {

namespace {

tmpl::Value time_or_none(uint64_t ms) { return ms ? str(rfc3339(ms)) : tmpl::Value::none(); }

// "2026-12-01T06:24:41.478Z" (as rfc3339() writes it) -> unix ms; 0 when unreadable.
uint64_t parse_rfc3339_ms(const std::string& t) {
    int y, mo, d, h, mi, sec, ms = 0;
    if (std::sscanf(t.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &y, &mo, &d, &h, &mi, &sec, &ms) < 6)
        return 0;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return uint64_t(timegm(&tm)) * 1000 + uint64_t(ms);
}

std::string text_of(const tmpl::Value* v) {
    return v && v->is_string() ? std::string(v->str()) : std::string();
}

}  // namespace

const std::string& idempotency_key_of(const Engine::Run& run, Engine::Unit& unit) {
    if (unit.idempotency_key.empty()) unit.idempotency_key = idempotency_key(run.id, unit.key);
    return unit.idempotency_key;
}

void Engine::persist_execution(Run& run) {
    tmpl::Value rec = dict_of({{"id", str(run.id)},
                               {"workflow", str(run.wf->name)},
                               {"definition_hash", str(run.wf->hash)},
                               {"file", str(run.wf->file)},
                               {"status", str(run.status)},
                               {"trigger", str(run.options.trigger)},
                               {"dry_run", tmpl::Value::boolean(run.options.dry_run)},
                               {"inputs", run.inputs},
                               {"outputs", run.outputs.is_undefined() ? tmpl::Value::none() : run.outputs},
                               {"error", run.error.is_undefined() ? tmpl::Value::none() : run.error},
                               {"created_at", str(rfc3339(run.created_ms))},
                               {"finished_at", time_or_none(run.finished_ms)},
                               {"depth", tmpl::Value::integer(run.options.depth)}});
    if (!owner_token_.empty()) rec.dict_obj().set(str("owner"), str(owner_token_));
    if (!run.options.parent_execution.empty()) {
        rec.dict_obj().set(str("parent"), dict_of({{"execution", str(run.options.parent_execution)},
                                                   {"step", str(run.options.parent_step)}}));
    }
    store_.put_execution(run.id, run.wf->name, run.status, to_json_text(rec));
}

void Engine::persist_unit(Run& run, Unit& unit, bool with_attempt) {
    const workflow::Step& def = run.wf->steps[unit.step_index];
    auto none_if_undefined = [](const tmpl::Value& v) {
        return v.is_undefined() ? tmpl::Value::none() : v;
    };
    tmpl::Value rec = dict_of({{"key", str(unit.key)},
                               {"step", str(def.id)},
                               {"task", str(def.task)},
                               {"provider", str(def.provider)},
                               {"status", str(unit.status)},
                               {"attempt", tmpl::Value::integer(unit.attempt)},
                               {"idempotency_key", str(idempotency_key_of(run, unit))},
                               {"input", none_if_undefined(unit.input)},
                               {"output", none_if_undefined(unit.output)},
                               {"error", none_if_undefined(unit.error)},
                               {"started_at", time_or_none(unit.started_ms)},
                               {"finished_at", time_or_none(unit.finished_ms)},
                               {"duration_ms", tmpl::Value::floating(unit.duration_ms)}});
    if (unit.item_index >= 0) {
        rec.dict_obj().set(str("item_index"), tmpl::Value::integer(unit.item_index));
        rec.dict_obj().set(str("item"), unit.item);
    }
    if (!unit.skip_reason.empty()) rec.dict_obj().set(str("reason"), str(unit.skip_reason));
    if (!unit.child_execution.empty())
        rec.dict_obj().set(str("child_execution"), str(unit.child_execution));
    if (!unit.annotations.is_undefined())
        rec.dict_obj().set(str("annotations"), unit.annotations);
    if (!unit.logs.list_obj().items.empty()) rec.dict_obj().set(str("logs"), unit.logs);
    store_.put_step(run.id, unit.key, to_json_text(rec));
    if (with_attempt && unit.attempt > 0) {
        tmpl::Value att = dict_of({{"attempt", tmpl::Value::integer(unit.attempt)},
                                   {"status", str(unit.status)},
                                   {"started_at", time_or_none(unit.attempt_started_ms)},
                                   {"finished_at", unit.status == "running"
                                                       ? tmpl::Value::none()
                                                       : str(rfc3339(now_unix_ms()))},
                                   {"duration_ms", tmpl::Value::floating(unit.duration_ms)},
                                   {"input", none_if_undefined(unit.input)},
                                   {"output", none_if_undefined(unit.output)},
                                   {"error", none_if_undefined(unit.error)}});
        if (!unit.logs.list_obj().items.empty()) att.dict_obj().set(str("logs"), unit.logs);
        store_.put_attempt(run.id, unit.key, uint32_t(unit.attempt), to_json_text(att));
    }
}

Status Engine::resume(const std::string& id, std::function<void(const ExecutionSummary&)> done) {
    if (find_run(id)) return make_error(ErrorKind::Validation, "execution " + id + " is already running");
    if (!acquire_ownership(id)) {
        return make_error(ErrorKind::Validation,
                          "execution " + id + " is being run by another ferry process");
    }
    // Released again on every early return below; kept once the run is registered.
    struct Release {
        Engine* e;
        std::string id;
        bool keep = false;
        ~Release() {
            if (!keep) e->release_ownership(id);
        }
    } release{this, id};
    auto stored = store_.get_execution(id);
    if (!stored) return stored.error();
    if (!stored.value()) return make_error(ErrorKind::NotFound, "no execution " + id);
    tmpl::Value rec = tmpl::value_from_json(*stored.value());
    std::string status = text_of(dict_get(rec, "status"));
    if (status == "succeeded" || status == "failed" || status == "cancelled") {
        ExecutionSummary s{id, text_of(dict_get(rec, "workflow")), status,
                           dict_get(rec, "outputs") ? *dict_get(rec, "outputs") : tmpl::Value::none(),
                           dict_get(rec, "error") ? *dict_get(rec, "error") : tmpl::Value::none()};
        loop_.post([done, s] { done(s); });
        return ok_status();
    }
    // Started by a process that is still alive: it is running it (resumers are serialised
    // by the lock above; a starter takes none).
    if (owner_alive(text_of(dict_get(rec, "owner")))) {
        return make_error(ErrorKind::Validation,
                          "execution " + id + " is being run by another ferry process");
    }
    owner_token();  // the new records name this process
    std::string hash = text_of(dict_get(rec, "definition_hash"));
    auto def = store_.get_workflow(hash);
    if (!def) return def.error();
    if (!def.value()) {
        return make_error(ErrorKind::Storage, "execution " + id + ": its workflow definition " +
                                                  hash + " is missing from the store");
    }
    tmpl::Value def_rec = tmpl::value_from_json(*def.value());
    workflow::LoadResult loaded = workflow::load_workflow_text(
        text_of(dict_get(def_rec, "source")), text_of(dict_get(def_rec, "file")), &catalog_);
    if (!loaded.workflow) {
        return make_error(ErrorKind::Validation,
                          "execution " + id + ": its stored workflow no longer loads: " +
                              (loaded.problems.empty() ? std::string("unknown problem")
                                                       : loaded.problems[0].describe()));
    }
    auto wf = std::make_shared<const workflow::Workflow>(std::move(*loaded.workflow));
    StartOptions opts;
    opts.trigger = text_of(dict_get(rec, "trigger"));
    const tmpl::Value* dry = dict_get(rec, "dry_run");
    opts.dry_run = dry && tmpl::truthy(*dry);
    if (const tmpl::Value* parent = dict_get(rec, "parent")) {
        opts.parent_execution = text_of(dict_get(*parent, "execution"));
        opts.parent_step = text_of(dict_get(*parent, "step"));
    }
    if (const tmpl::Value* depth = dict_get(rec, "depth"); depth && depth->is_int())
        opts.depth = int(depth->as_int());
    const tmpl::Value* inputs = dict_get(rec, "inputs");
    Result<std::shared_ptr<Run>> made =
        make_run(wf, inputs ? *inputs : tmpl::Value::dict(), opts, id);
    if (!made) return made.error();
    std::shared_ptr<Run> run = made.value();
    run->done = std::move(done);
    run->created_ms = parse_rfc3339_ms(text_of(dict_get(rec, "created_at")));
    if (!run->created_ms) run->created_ms = now_unix_ms();

    auto steps = store_.steps(id);
    if (!steps) return steps.error();
    // Finished steps keep their results; everything else runs again. Items of a for_each
    // step are re-expanded from the same inputs and keep their own finished results.
    std::map<std::string, tmpl::Value> records;
    for (const store::KeyedJson& kj : steps.value()) records[kj.key] = tmpl::value_from_json(kj.json);
    for (size_t i = 0; i < wf->steps.size(); ++i) {
        const workflow::Step& sdef = wf->steps[i];
        auto it = records.find(sdef.id);
        if (it == records.end()) continue;
        std::string st = text_of(dict_get(it->second, "status"));
        if (st != "succeeded" && st != "failed" && st != "skipped") continue;
        StepState& state = run->steps[i];
        state.status = st;
        state.output = dict_get(it->second, "output") ? *dict_get(it->second, "output") : tmpl::Value::none();
        state.error = dict_get(it->second, "error") ? *dict_get(it->second, "error") : tmpl::Value::none();
        state.reason = text_of(dict_get(it->second, "reason"));
        state.failure_skip = st == "skipped" && state.reason.rfind("dependency", 0) == 0;
        if (state.handler && st != "skipped") state.triggered = true;
        step_settled(*run, i);
    }
    runs_[id] = run;
    release.keep = true;
    run->status = "running";
    persist_execution(*run);
    emit(*run, "execution.resumed", "", "running");
    // Units of steps that are not finished pick up their previous attempt counts, inputs
    // and child executions from these records when they are created again.
    run->resumed = std::move(records);
    std::string rid = id;
    store_.after_commit([this, rid] {
        if (Run* r = find_run(rid)) schedule(*r);
    });
    loop_.wake();
    return ok_status();
}

}  // namespace ferry::engine
