// `ferry executions show ID [--json]`: one execution, its steps in the order the workflow
// file lists them.
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/history_text.h"

#include "core/history.h"
#include "core/values.h"
#include "runtime/utf8.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace ferry::cli {

using tmpl::Value;

namespace {

[[gnu::format(printf, 2, 3)]] void append(std::string& out, const char* format, ...) {
    va_list args, again;
    va_start(args, format);
    va_copy(again, args);
    int n = std::vsnprintf(nullptr, 0, format, args);
    va_end(args);
    if (n > 0) {
        size_t at = out.size();
        out.resize(at + size_t(n) + 1);
        std::vsnprintf(out.data() + at, size_t(n) + 1, format, again);
        out.resize(at + size_t(n));
    }
    va_end(again);
}

// A step record's lines, as `show` prints them.
std::string step_lines(const std::string& key, const Value& step) {
    std::string out;
    std::string started = field(step, "started_at");
    std::string finished = field(step, "finished_at");
    std::string dur =
        started.empty() || finished.empty() ? "" : duration_between(started, finished);
    append(out, "  %-24s %-10s %-8s attempts %-3s started %s\n", key.c_str(),
           field(step, "status").c_str(), dur.c_str(), field(step, "attempt").c_str(),
           started.empty() ? "-" : started.c_str());
    if (const Value* err = engine::dict_get(step, "error"); err && err->is_dict())
        append(out, "      error: %s: %s\n", field(*err, "kind").c_str(),
               field(*err, "message").c_str());
    if (!field(step, "reason").empty())
        append(out, "      reason: %s\n", field(step, "reason").c_str());
    if (!field(step, "child_execution").empty())  // a sub-workflow: its own record
        append(out, "      child: %s\n", field(step, "child_execution").c_str());
    // What the task kept for its later attempts (ctx.remember): why a resumed step did what
    // it did.
    for (const char* name : {"memo", "output"}) {
        const Value* v = engine::dict_get(step, name);
        if (!v || v->is_none()) continue;
        std::string text = printable(engine::to_json_text(*v));
        if (text.size() > 200) text = text.substr(0, utf8_cut(text, 197)) + "...";
        append(out, "      %s: %s\n", name, text.c_str());
    }
    return out;
}

}  // namespace

int show_subcommand(engine::App& app, std::string id, bool json) {
    std::string record;
    if (int code = check_exists(app, id, &record)) return code;
    if (json) return print_execution(app, id, true, true, "executions") ? 0 : 1;
    Value v = tmpl::value_from_json(record);
    std::printf("execution %s\n  workflow  %s\n  status    %s%s\n  trigger   %s\n  created   %s\n",
                field(v, "id").c_str(), field(v, "workflow").c_str(), field(v, "status").c_str(),
                field(v, "dry_run") == "True" ? " (dry run)" : "", field(v, "trigger").c_str(),
                field(v, "created_at").c_str());
    if (const Value* parent = engine::dict_get(v, "parent"); parent && parent->is_dict())
        std::printf("  parent    %s (step %s)\n", field(*parent, "execution").c_str(),
                    field(*parent, "step").c_str());
    if (!field(v, "finished_at").empty())
        std::printf("  finished  %s (%s)\n", field(v, "finished_at").c_str(),
                    duration_between(field(v, "created_at"), field(v, "finished_at")).c_str());
    if (const Value* err = engine::dict_get(v, "error"); err && err->is_dict())
        std::printf("  error     %s: %s\n", field(*err, "kind").c_str(),
                    field(*err, "message").c_str());
    if (const Value* in = engine::dict_get(v, "inputs"))
        std::printf("  inputs    %s\n", printable(engine::to_json_text(*in)).c_str());
    if (const Value* out = engine::dict_get(v, "outputs"); out && !out->is_none())
        std::printf("  outputs   %s\n", printable(engine::to_json_text(*out)).c_str());
    // The records are read a page at a time and each kept as its lines only: a for_each of
    // 40,000 items as values took ~500 MB; as lines it is the listing's own size (~4 MB).
    StepOrder order;
    order.add_definition(app, v);
    std::vector<std::pair<ListingPlace, std::string>> listing;
    engine::StepRecords steps(*app.store, id, engine::StepRecords::kBulkPage);
    while (true) {
        Result<const store::KeyedJson*> step = steps.next();
        if (!step) {
            eprintf("ferry executions: %s\n", step.error().describe().c_str());
            return 1;
        }
        if (!step.value()) break;
        const std::string& key = step.value()->key;
        listing.emplace_back(order.place(key),
                             step_lines(key, tmpl::value_from_json(step.value()->json)));
    }
    std::sort(listing.begin(), listing.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::printf("steps\n");
    for (const auto& [place, lines] : listing)
        std::fwrite(lines.data(), 1, lines.size(), stdout);
    return 0;
}

}  // namespace ferry::cli
