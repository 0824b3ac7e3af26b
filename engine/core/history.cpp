#include "core/history.h"

#include "core/values.h"
#include "template/environment.h"

namespace ferry::engine {

using tmpl::Value;

namespace {

// A settled unit's last attempt names the step record's fields it shares instead of
// repeating them (records.cpp, persist_unit): put them back, so readers see whole attempts.
void fill_from_step(Value& attempt, const Value& step) {
    if (!attempt.is_dict() || !attempt.dict_obj().find("same_as_step")) return;
    // Rebuilt in order: the shared fields go where the marker is, as they were written.
    std::vector<std::pair<Value, Value>> items;
    for (auto& [key, value] : attempt.dict_obj().items) {
        if (!(key.is_string() && key.str() == "same_as_step")) {
            items.emplace_back(std::move(key), std::move(value));
            continue;
        }
        if (!value.is_list()) continue;
        for (const Value& field : value.list_obj().items) {
            if (!field.is_string()) continue;
            const Value* v = step.is_dict() ? step.dict_obj().find(field.str()) : nullptr;
            items.emplace_back(field, v ? *v : Value::none());
        }
    }
    attempt.dict_obj().items = std::move(items);
}

// The execution record's fields users see, in the order they see them ("steps" comes last).
Value execution_fields(const std::string& record) {
    Value exec = tmpl::value_from_json(record);
    Value out = dict_of({{"id", *dict_get(exec, "id")},
                         {"workflow", *dict_get(exec, "workflow")},
                         {"status", *dict_get(exec, "status")}});
    for (const char* k : {"dry_run", "trigger", "trigger_info", "inputs", "outputs", "error",
                          "created_at", "finished_at", "parent"}) {
        if (const Value* v = dict_get(exec, k)) out.dict_obj().set(str(k), *v);
    }
    return out;
}

}  // namespace

std::string execution_json(const std::string& execution_record,
                           const std::vector<store::KeyedJson>& step_records) {
    // The step records go out as stored (they are compact JSON objects written by the
    // engine): splicing them skips parsing and writing again what is most of the answer
    // (a `?wait=` answer of ferry serve, `ferry run`'s output).
    std::string text = to_json_text(execution_fields(execution_record));
    text.pop_back();  // the closing brace: "steps" goes last
    text += R"(,"steps":{)";
    bool first = true;
    for (const auto& kj : step_records) {
        if (!first) text += ',';
        first = false;
        text += to_json_text(str(kj.key));
        text += ':';
        text += kj.json;
    }
    text += "}}";
    return text;
}

std::string execution_json(store::Store& store, const std::string& id, bool pretty,
                           bool with_attempts) {
    auto rec = store.get_execution(id);
    if (!rec || !rec.value()) return "null";
    auto records = store.steps(id);
    if (!pretty && !with_attempts) {
        static const std::vector<store::KeyedJson> kNone;
        return execution_json(*rec.value(), records ? records.value() : kNone);
    }
    Value out = execution_fields(*rec.value());
    Value steps = Value::dict();
    if (records) {
        for (const auto& kj : records.value()) {
            Value step = tmpl::value_from_json(kj.json);
            if (with_attempts) {
                auto attempts = store.attempts(id, kj.key);
                if (attempts) {
                    Value list = Value::list();
                    for (const auto& a : attempts.value()) {
                        Value attempt = tmpl::value_from_json(a.json);
                        fill_from_step(attempt, step);
                        list.list_obj().items.push_back(std::move(attempt));
                    }
                    step.dict_obj().set(str("attempts"), list);
                }
            }
            steps.dict_obj().set(str(kj.key), step);
        }
    }
    out.dict_obj().set(str("steps"), steps);
    return pretty ? to_pretty_json(out) : to_json_text(out);
}

std::string stored_status(store::Store& store, const std::string& id) {
    auto rec = store.get_execution(id);
    if (!rec || !rec.value()) return "";
    const tmpl::Value v = tmpl::value_from_json(*rec.value());
    const tmpl::Value* st = dict_get(v, "status");
    return st && st->is_string() ? std::string(st->str()) : "";
}

}  // namespace ferry::engine
