#include "core/history.h"

#include "core/values.h"
#include "template/environment.h"

namespace ferry::engine {

using tmpl::Value;

std::string execution_json(store::Store& store, const std::string& id, bool pretty,
                           bool with_attempts) {
    auto rec = store.get_execution(id);
    if (!rec || !rec.value()) return "null";
    Value exec = tmpl::value_from_json(*rec.value());
    Value out = dict_of({{"id", *dict_get(exec, "id")},
                                 {"workflow", *dict_get(exec, "workflow")},
                                 {"status", *dict_get(exec, "status")}});
    for (const char* k : {"dry_run", "trigger", "trigger_info", "inputs", "outputs", "error", "created_at",
                          "finished_at", "parent"}) {
        if (const Value* v = dict_get(exec, k)) out.dict_obj().set(str(k), *v);
    }
    Value steps = Value::dict();
    auto records = store.steps(id);
    if (records) {
        for (const auto& kj : records.value()) {
            Value step = tmpl::value_from_json(kj.json);
            if (with_attempts) {
                auto attempts = store.attempts(id, kj.key);
                if (attempts) {
                    Value list = Value::list();
                    for (const auto& a : attempts.value())
                        list.list_obj().items.push_back(tmpl::value_from_json(a.json));
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
