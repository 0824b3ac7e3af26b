// Execution records as terminal text (history_text.h).
#include "cli/history_text.h"

#include "cli/common.h"
#include "core/values.h"
#include "runtime/timestamp.h"

#include <cstdio>

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

int check_exists(engine::App& app, const std::string& id, std::string* record) {
    auto rec = app.store->get_execution(id);
    if (!rec) {
        eprintf("ferry executions: %s\n", rec.error().describe().c_str());
        return 1;
    }
    if (!rec.value()) {
        eprintf("ferry executions: no execution %s\n", id.c_str());
        return 2;
    }
    if (record) *record = std::move(*rec.value());
    return 0;
}

}  // namespace ferry::cli
