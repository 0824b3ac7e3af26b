// `ferry executions show ID [--json]`: one execution, its steps in the order the workflow
// file lists them.
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/history_text.h"

#include "core/history.h"
#include "core/values.h"
#include "runtime/utf8.h"
#include "template/error.h"
#include "workflow/loader.h"

#include <algorithm>
#include <charconv>
#include <compare>
#include <cstdarg>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>

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

using StepRanks = std::map<std::string, size_t, std::less<>>;

// Each step id's place in the workflow file the execution ran (the definition stored by
// hash with it); a step an `on_step` entry generates comes right after the step it
// reports on. Empty when the definition cannot be read back (missing, damaged, or no
// longer loading): the listing falls back to id order.
StepRanks step_ranks(engine::App& app, const Value& record) {
    StepRanks ranks;
    const Value* hash = engine::dict_get(record, "definition_hash");
    if (!hash || !hash->is_string()) return ranks;
    auto def = app.store->get_workflow(tmpl::to_str(*hash));
    if (!def || !def.value()) return ranks;
    std::optional<workflow::Workflow> wf;
    try {
        Value def_record = tmpl::value_from_json(*def.value());
        wf = workflow::load_workflow_text(text_field(def_record, "source"),
                                          text_field(def_record, "file"), nullptr)
                 .workflow;
    } catch (const tmpl::TemplateError&) {  // a damaged record: the steps are still listed
        return ranks;
    }
    if (!wf) return ranks;
    for (const workflow::Step& step : wf->steps)  // a repeated id keeps its first place
        if (step.event_step.empty()) ranks.emplace(step.id, 2 * ranks.size());
    for (const workflow::Step& step : wf->steps) {
        auto followed = ranks.find(step.event_step);
        if (!step.event_step.empty() && followed != ranks.end())
            ranks.emplace(step.id, followed->second + 1);
    }
    return ranks;
}

// Where a step record is listed: its step's place in the file (ids it does not list after
// the rest, by id), the step's own record before its items, the items by number (fe[2]
// before fe[10], where the stored key order puts fe[10] first), then the key.
struct ListingPlace {
    size_t rank;
    std::string id;
    uint64_t item;  // 0: the step's own record; an item's index + 1
    std::string key;
    auto operator<=>(const ListingPlace&) const = default;
};

ListingPlace listing_place(const StepRanks& ranks, const std::string& key) {
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
    auto it = ranks.find(id);
    return {it == ranks.end() ? kUnlisted : it->second, std::string(id), item, key};
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

int show_subcommand(engine::App& app, const std::string& id, bool json) {
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
    const StepRanks ranks = step_ranks(app, v);
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
        listing.emplace_back(listing_place(ranks, key),
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
