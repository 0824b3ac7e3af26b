// Execution records as terminal text (history_text.h).
#include "cli/history_text.h"

#include "cli/common.h"
#include "core/values.h"
#include "runtime/timestamp.h"
#include "template/error.h"
#include "workflow/loader.h"

#include <charconv>
#include <cstdio>
#include <limits>
#include <optional>

namespace ferry::cli {

using tmpl::Value;

std::string field(const Value& v, const char* key) {
    const Value* f = engine::dict_get(v, key);
    return f && !f->is_none() ? printable(tmpl::to_str(*f), true) : std::string();
}

std::string text_field(const Value& v, const char* key) {
    const Value* f = engine::dict_get(v, key);
    return f && !f->is_none() ? printable(tmpl::to_str(*f)) : std::string();
}

std::string duration_between(const std::string& a, const std::string& b) {
    Result<int64_t> x = parse_rfc3339_ms(a), y = parse_rfc3339_ms(b);
    if (!x || !y || y.value() < x.value()) return "-";
    int64_t d = y.value() - x.value();
    char buf[32];
    if (d >= 1000)
        std::snprintf(buf, sizeof buf, "%.2fs", double(d) / 1000);
    else
        std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(d));
    return buf;
}

int check_exists(engine::App& app, std::string& id, std::string* record) {
    int code = 0;
    std::optional<std::string> full = execution_id_of(app, id, "executions", code);
    if (!full) return code;
    id = std::move(*full);
    auto rec = app.store->get_execution(id);
    if (!rec) {
        eprintf("ferry executions: %s\n", rec.error().describe().c_str());
        return 1;
    }
    if (!rec.value()) {
        eprintf("ferry executions: no execution '%s'\n", id.c_str());  // pruned meanwhile
        return 2;
    }
    if (record) *record = std::move(*rec.value());
    return 0;
}

void StepOrder::add_definition(engine::App& app, const Value& execution_record) {
    const Value* hash = engine::dict_get(execution_record, "definition_hash");
    if (!hash || !hash->is_string()) return;
    auto def = app.store->get_workflow(tmpl::to_str(*hash));
    if (!def || !def.value()) return;
    std::optional<workflow::Workflow> wf;
    try {
        Value def_record = tmpl::value_from_json(*def.value());
        wf = workflow::load_workflow_text(text_field(def_record, "source"),
                                          text_field(def_record, "file"), nullptr)
                 .workflow;
    } catch (const tmpl::TemplateError&) {  // a damaged record: the steps are still listed
        return;
    }
    if (!wf) return;
    for (const workflow::Step& step : wf->steps) {
        if (!step.event_step.empty() || ranks_.count(step.id)) continue;
        ranks_.emplace(step.id, next_rank_);
        next_rank_ += 2;
    }
    for (const workflow::Step& step : wf->steps) {
        auto followed = ranks_.find(step.event_step);
        if (!step.event_step.empty() && followed != ranks_.end())
            ranks_.emplace(step.id, followed->second + 1);  // kept if already there
    }
}

ListingPlace StepOrder::place(const std::string& key) const {
    constexpr size_t kUnlisted = std::numeric_limits<size_t>::max();
    std::string_view id = key;
    uint64_t item = 0;
    if (size_t open = key.rfind('['); open != std::string::npos && key.back() == ']') {
        uint64_t index = 0;
        const char* first = key.data() + open + 1;
        const char* last = key.data() + key.size() - 1;
        auto [end, ec] = std::from_chars(first, last, index);
        if (ec == std::errc() && end == last && first != last &&
            index < std::numeric_limits<uint64_t>::max()) {
            id = std::string_view(key).substr(0, open);
            item = index + 1;
        }
    }
    auto it = ranks_.find(id);
    return {it == ranks_.end() ? kUnlisted : it->second, std::string(id), item, key};
}

}  // namespace ferry::cli
