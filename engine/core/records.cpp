// What the executor writes to the store, and how resume() reads it back.
#include "core/executor.h"

#include "core/run_state.h"
#include "runtime/integration/secrets.h"
#include "runtime/json_writer.h"
#include "workflow/loader.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace ferry::engine {

namespace {

Engine::Run::KeptRecords& kept_records(Engine::Run& run) {
    if (!run.kept) run.kept = std::make_unique<Engine::Run::KeptRecords>();
    return *run.kept;
}

}  // namespace

const std::string& idempotency_key_of(const Engine::Run& run, Engine::Unit& unit) {
    if (unit.idempotency_key.empty()) unit.idempotency_key = idempotency_key(run.id, unit.key);
    return unit.idempotency_key;
}

namespace {

// A record written field by field straight into JSON text: building a tmpl::Value dict per
// record (13 entries) and then serialising it cost more than the LMDB write. Keys and plain
// strings are appended directly (RapidJSON's writer handles them a byte at a time and was
// half of the records' cost); values go through write_json.
class RecordWriter {
  public:
    RecordWriter() : out_(*buffer_) { out_.Put('{'); }
    RecordWriter(const RecordWriter&) = delete;
    RecordWriter& operator=(const RecordWriter&) = delete;
    void string(std::string_view k, std::string_view v) {
        key(k);
        quoted(v);
    }
    void integer(std::string_view k, int64_t v) {
        key(k);
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
        append({buf, size_t(end - buf)});
    }
    void number(std::string_view k, double v) {  // non-finite as null, like every value
        key(k);
        if (!std::isfinite(v)) {
            append("null");
            return;
        }
        char buf[32];
        append({buf, size_t(write_json_double(buf, v) - buf)});  // as Writer::Double
    }
    void boolean(std::string_view k, bool v) {
        key(k);
        append(v ? "true" : "false");
    }
    void time(std::string_view k, uint64_t ms) {  // null when unset
        key(k);
        if (!ms) {
            append("null");
            return;
        }
        char t[kRfc3339Max];
        size_t n = format_rfc3339(ms, t);
        out_.Put('"');
        append({t, n});
        out_.Put('"');
    }
    void value(std::string_view k, const tmpl::Value& v) {  // undefined as null
        key(k);
        if (v.is_undefined() || v.is_none()) {
            append("null");
            return;
        }
        JsonWriter w(out_);  // a writer per value: each is a root to it
        write_json(v, w);
    }
    void json(std::string_view k, std::string_view text) {  // already JSON
        key(k);
        append(text);
    }
    size_t size() const { return out_.GetSize(); }
    // The value written last, which began at `from` (its size() before the call).
    std::string_view value_since(size_t from) const {
        std::string_view written(out_.GetString() + from, out_.GetSize() - from);
        return written.substr(written.find(':') + 1);  // past ,"key":
    }
    std::string finish() {
        out_.Put('}');
        // An exact-size copy: the records of a burst of starts wait in the staged batch
        // among the executions' live objects, and 1 KB buffers would leave 1 KB holes in the
        // heap once they are written (resident memory ~2 KB per started execution). The
        // buffer itself is reused.
        return buffer_.text();
    }

  private:
    void append(std::string_view text) {
        std::memcpy(out_.Push(text.size()), text.data(), text.size());
    }
    void key(std::string_view k) {  // the keys are this file's literals: nothing to escape
        char buf[64];  // ,"key": in one append (a Put per character showed in profiles)
        size_t n = 0;
        if (out_.GetSize() > 1) buf[n++] = ',';
        buf[n++] = '"';
        k = k.substr(0, sizeof buf - 4);
        std::memcpy(buf + n, k.data(), k.size());
        n += k.size();
        buf[n++] = '"';
        buf[n++] = ':';
        append({buf, n});
    }
    void quoted(std::string_view v) {
        out_.Put('"');
        append_json_escaped(out_, v);
        out_.Put('"');
    }
    ScratchBuffer buffer_;
    rapidjson::StringBuffer& out_;
};

bool has_items(const tmpl::Value& list) {
    return list.is_sequence() && !list.list_obj().items.empty();
}

bool same_value(const tmpl::Value& a, const tmpl::Value& b) {
    if (a.kind() != b.kind()) return false;
    if (a.is_dict()) return &a.dict_obj() == &b.dict_obj();
    return false;  // scalars and lists are cheap or rare as inputs: serialise again
}

}  // namespace

void Engine::persist_execution(Run& run) {
    // The fields users see come first, in the order they see them (core/history.cpp); the
    // `?wait=` answer and `ferry run` take them from a kept record as they are.
    RecordWriter rec;
    rec.string("id", run.id);
    rec.string("workflow", run.wf->name);
    rec.string("status", run.status);
    rec.boolean("dry_run", run.options.dry_run);
    rec.string("trigger", run.options.trigger);
    if (!run.options.trigger_info.is_undefined() && !run.options.trigger_info.is_none())
        rec.value("trigger_info", run.options.trigger_info);
    const size_t inputs_at = rec.size();
    rec.value("inputs", run.inputs);
    // Whether the inputs held a secret (they are kept as [REDACTED]): searched once, in
    // the text just written.
    if (!run.inputs_held_secret)
        run.inputs_held_secret = Redactor::instance().holds_secret_json(rec.value_since(inputs_at));
    rec.value("outputs", run.outputs);
    rec.value("error", run.error);
    rec.time("created_at", run.created_ms);
    rec.time("finished_at", run.finished_ms);
    if (!run.options.parent_execution.empty()) {
        rec.value("parent", dict_of({{"execution", str(run.options.parent_execution)},
                                     {"step", str(run.options.parent_step)}}));
    }
    const size_t shown = rec.size();
    // Always written, so that a record without it is known to come from before the mark
    // (resume_stored, the retry endpoint).
    rec.boolean("inputs_redacted", *run.inputs_held_secret);
    rec.string("definition_hash", run.wf->hash);
    rec.string("file", run.wf->file);
    rec.integer("depth", run.options.depth);
    if (!owner_token_.empty()) rec.string("owner", owner_token_);
    std::string json = rec.finish();
    // Secret values a task or an error message let slip: the store scrubs every history
    // record as it writes it, and an answer built from the kept copies is scrubbed whole
    // (history.cpp), once, rather than each record every time it is written.
    if (run.options.keep_records) {
        Run::KeptRecords& kept = kept_records(run);
        kept.execution = json;
        kept.execution_shown = shown;
    }
    store_.put_execution(run.id, run.wf->name, run.status, std::move(json));
}

void Engine::persist_unit(Run& run, Unit& unit, bool with_attempt, bool settled) {
    const workflow::Step& def = run.wf->steps[unit.step_index];
    if (unit.input_json.empty() || !same_value(unit.input_json_of, unit.input)) {
        unit.input_json = input_json_text(run, unit);
        unit.input_json_of = unit.input;
    }
    const std::string& input = unit.input_json;
    // The output is written twice when the attempt is recorded too: serialise it once.
    std::string output = to_json_text(unit.output);
    RecordWriter rec;
    rec.string("key", unit.key);
    rec.string("step", def.id);
    rec.string("task", def.task);
    rec.string("provider", def.provider);
    rec.string("status", unit.status);
    rec.integer("attempt", unit.attempt);
    rec.string("idempotency_key", idempotency_key_of(run, unit));
    rec.json("input", input);
    rec.json("output", output);
    rec.value("error", unit.error);
    rec.time("started_at", unit.started_ms);
    rec.time("finished_at", unit.finished_ms);
    rec.number("duration_ms", unit.duration_ms);
    if (unit.item_index >= 0) {
        rec.integer("item_index", unit.item_index);
        rec.value("item", unit.item);
    }
    if (!unit.skip_reason.empty()) rec.string("reason", unit.skip_reason);
    if (!unit.child_execution.empty()) rec.string("child_execution", unit.child_execution);
    if (unit.child_timed_out) rec.boolean("child_timed_out", true);
    if (unit.wait_deadline_ms) rec.integer("wait_deadline_ms", int64_t(unit.wait_deadline_ms));
    // A restart re-parks the wait from here: its duration counts from this, not the restart.
    if (unit.status == "waiting") rec.time("waiting_since", unit.attempt_started_ms);
    // A resumed task learns when the attempt the process died in began (a create it sent
    // may still be in the vendor's hands for the integration's timeout).
    if (unit.status == "running") rec.time("attempt_started_at", unit.attempt_started_ms);
    if (unit.status == "retrying") rec.time("retry_at", unit.retry_at_ms);
    if (!unit.annotations.is_undefined()) rec.value("annotations", unit.annotations);
    if (unit.memo) rec.json("memo", *unit.memo);
    if (has_items(unit.logs)) rec.value("logs", unit.logs);
    std::string json = rec.finish();
    if (run.options.keep_records) kept_records(run).steps[unit.key] = json;
    store_.put_step(run.id, unit.key, std::move(json));
    if (with_attempt && unit.attempt > 0) {
        RecordWriter att;
        att.integer("attempt", unit.attempt);
        att.string("status", unit.status);
        att.time("started_at", unit.attempt_started_ms);
        att.time("finished_at", unit.status == "running" ? 0 : now_unix_ms());
        att.number("duration_ms", unit.duration_ms);
        if (settled) {
            // The last attempt of a settled unit ran with the step record's input and ended
            // with its output, and neither changes again: the history reader copies them back
            // (history.cpp). Rendered reports and API answers were stored twice before.
            static const std::string kBoth = R"(["input","output"])";
            att.json("same_as_step", kBoth);
        } else {
            att.json("input", input);
            att.json("output", output);
        }
        att.value("error", unit.error);
        // This attempt's own entries (the step record keeps them all): each attempt repeated
        // the ones before, and ten attempts near the record budget stored 440 MiB.
        if (has_items(unit.logs)) {
            const auto& all = unit.logs.list_obj().items;
            if (unit.attempt_logs_from == 0) {
                att.value("logs", unit.logs);
            } else if (unit.attempt_logs_from < all.size()) {
                att.value("logs", tmpl::Value::list(std::vector<tmpl::Value>(
                                      all.begin() + ptrdiff_t(unit.attempt_logs_from), all.end())));
            }
        }
        if (unit.http) att.json("http", "[" + *unit.http + "]");
        store_.put_attempt(run.id, unit.key, uint32_t(unit.attempt), att.finish());
    }
}

Status Engine::resume(const std::string& id, std::function<void(const ExecutionSummary&)> done,
                      bool* busy) {
    // A record that does not parse is damage (a flipped byte on disk): this execution
    // cannot resume, and says so; the others (and the server that resumes them) go on.
    try {
        return resume_stored(id, std::move(done), busy);
    } catch (const tmpl::TemplateError& e) {  // ownership was released on the way out
        return make_error(ErrorKind::Storage, "execution " + id +
                                                  ": a stored record cannot be read (" + e.what() +
                                                  "): the data folder may be damaged");
    }
}

Status Engine::resume_stored(const std::string& id,
                             std::function<void(const ExecutionSummary&)> done, bool* busy) {
    auto run_elsewhere = [&] {
        if (busy) *busy = true;
        return make_error(ErrorKind::Validation,
                          "execution " + id + " is being run by another ferry process");
    };
    if (find_run(id))
        return make_error(ErrorKind::Validation, "execution " + id + " is already running");
    Result<bool> acquired = acquire_ownership(id);
    if (!acquired) return acquired.error();
    if (!acquired.value()) return run_elsewhere();
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
    std::string status = dict_text(rec, "status");
    if (execution_ended(status)) {
        ExecutionSummary s{id,
                           dict_text(rec, "workflow"),
                           status,
                           dict_get(rec, "outputs") ? *dict_get(rec, "outputs")
                                                    : tmpl::Value::none(),
                           dict_get(rec, "error") ? *dict_get(rec, "error") : tmpl::Value::none(),
                           nullptr};
        // Answered from the loop's next turn, which must come: a post alone does not keep
        // the loop running, and a parent resumed after its children had been resumed (and
        // had finished) by id had nothing else to wait for, so `ferry resume` returned with
        // the parent still running.
        loop_.hold();
        loop_.post([loop = &loop_, done, s] {
            loop->release();
            done(s);
        });
        return ok_status();
    }
    // Started by a process that is still alive: it is running it (resumers are serialised
    // by the lock above; a starter takes none).
    if (owner_alive(dict_text(rec, "owner"))) return run_elsewhere();
    if (Status locked = take_owner_lock(); !locked) return locked.error();  // names this process
    std::string hash = dict_text(rec, "definition_hash");
    auto def = store_.get_workflow(hash);
    if (!def) return def.error();
    if (!def.value()) {
        return make_error(ErrorKind::Storage, "execution " + id + ": its workflow definition " +
                                                  hash + " is missing from the store");
    }
    tmpl::Value def_rec = tmpl::value_from_json(*def.value());
    workflow::LoadResult loaded = workflow::load_workflow_text(
        dict_text(def_rec, "source"), dict_text(def_rec, "file"), &catalog_);
    if (!loaded.workflow) {
        return make_error(ErrorKind::Validation,
                          "execution " + id + ": its stored workflow no longer loads: " +
                              (loaded.problems.empty() ? std::string("unknown problem")
                                                       : loaded.problems[0].describe()));
    }
    auto wf = std::make_shared<const workflow::Workflow>(std::move(*loaded.workflow));
    StartOptions opts;
    opts.trigger = dict_text(rec, "trigger");
    // Written back with every record of the run: what started it (a schedule and its due
    // time, the request id logs are correlated by) must survive the restart.
    if (const tmpl::Value* info = dict_get(rec, "trigger_info")) opts.trigger_info = *info;
    const tmpl::Value* dry = dict_get(rec, "dry_run");
    opts.dry_run = dry && tmpl::truthy(*dry);
    if (const tmpl::Value* parent = dict_get(rec, "parent")) {
        opts.parent_execution = dict_text(*parent, "execution");
        opts.parent_step = dict_text(*parent, "step");
    }
    if (const tmpl::Value* depth = dict_get(rec, "depth"); depth && depth->is_int())
        opts.depth = int(depth->as_int());
    const tmpl::Value* inputs = dict_get(rec, "inputs");
    Result<std::shared_ptr<Run>> made =
        make_run(wf, inputs ? *inputs : tmpl::Value::dict(), opts, id);
    if (!made) return made.error();
    std::shared_ptr<Run> run = made.value();
    run->from_history = true;
    // A record from before the marks: any "[REDACTED]" may be a secret, as Ferry then took it.
    const tmpl::Value* inputs_flag = dict_get(rec, "inputs_redacted");
    const tmpl::Value* inputs_value = dict_get(rec, "inputs");
    run->inputs_held_secret = inputs_flag ? tmpl::truthy(*inputs_flag)
                                          : inputs_value && holds_text(*inputs_value, kRedacted);
    run->history_redacted = !inputs_flag || *run->inputs_held_secret;
    run->done = std::move(done);
    Result<int64_t> created = parse_rfc3339_ms(dict_text(rec, "created_at"));
    run->created_ms = created && created.value() > 0 ? uint64_t(created.value()) : now_unix_ms();

    // The run was failing when the process stopped (its record keeps the verdict and the
    // error from the moment it failed): it goes on failing, with the failure that came
    // first, whatever order its steps' records are read back in.
    if (const tmpl::Value* error = dict_get(rec, "error"); error && error->is_dict()) {
        run->failing = true;
        run->error = *error;
        // A cancel's error names no step; a step's failure of kind cancelled (its child
        // cancelled) fails the run as any failure does.
        run->cancelled = dict_text(*error, "kind") == "cancelled" && !dict_get(*error, "step");
    }
    auto steps = store_.steps(id);
    if (!steps) return steps.error();
    // Finished steps keep their results; everything else runs again. Items of a for_each
    // step are re-expanded from the same inputs and keep their own finished results.
    std::map<std::string, tmpl::Value> records;
    for (const store::KeyedJson& kj : steps.value()) {
        tmpl::Value& record = records[kj.key] = tmpl::value_from_json(kj.json);
        if (const tmpl::Value* flag = dict_get(record, "redacted"); flag && tmpl::truthy(*flag))
            run->history_redacted = true;
    }
    for (size_t i = 0; i < wf->steps.size(); ++i) {
        const workflow::Step& sdef = wf->steps[i];
        auto it = records.find(sdef.id);
        if (it == records.end()) continue;
        std::optional<StepStatus> st = parse_step_status(dict_text(it->second, "status"));
        // A step a failure (or a cancel) ended, an approval it ended included, keeps its
        // record as well: it ended, with its attempt and start.
        const bool ended_by_failure = st == StepStatus::Cancelled && run->failing;
        if (st != StepStatus::Succeeded && st != StepStatus::Failed && st != StepStatus::Skipped &&
            !ended_by_failure)
            continue;
        StepState& state = run->steps[i];
        state.status = *st;
        state.output =
            dict_get(it->second, "output") ? *dict_get(it->second, "output") : tmpl::Value::none();
        state.error =
            dict_get(it->second, "error") ? *dict_get(it->second, "error") : tmpl::Value::none();
        state.reason = dict_text(it->second, "reason");
        state.failure_skip = st == StepStatus::Skipped && state.reason.rfind("dependency", 0) == 0;
        if (state.handler && st != StepStatus::Skipped) state.triggered = true;
        step_settled(*run, i, /*restoring=*/true);
    }
    // A failure into a handler that had started before it, whose verdict did not reach the
    // execution's record (a workflow with hooks settles a step one commit after its
    // result): the same verdict, from the records' times.
    auto time_of = [&](const std::string& key, const char* field) -> int64_t {
        auto it = records.find(key);
        if (it == records.end()) return -1;
        Result<int64_t> ms = parse_rfc3339_ms(dict_text(it->second, field));
        return ms ? ms.value() : -1;
    };
    for (size_t i = 0; i < wf->steps.size() && !run->failing; ++i) {
        const workflow::Step& sdef = wf->steps[i];
        if (run->steps[i].status != StepStatus::Failed || !wf->find_step(sdef.on_error)) continue;
        const int64_t handler_started = time_of(sdef.on_error, "started_at");
        const int64_t failed = time_of(sdef.id, "finished_at");
        if (handler_started >= 0 && failed >= 0 && handler_started < failed)
            start_failing(*run, i, "it had started already, for another step's failure");
    }
    add_run(run);
    release.keep = true;
    run->status = "running";
    persist_execution(*run);
    emit(*run, "execution.resumed", "", "running");
    // Units of steps that are not finished pick up their previous attempt counts, inputs
    // and child executions from these records when they are created again.
    run->resumed = std::move(records);
    store_.after_commit([this, ref = run->ref] {
        if (Run* r = find_run(ref)) schedule(*r);
    });
    loop_.wake();
    return ok_status();
}

}  // namespace ferry::engine
