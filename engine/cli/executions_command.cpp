// `ferry executions list|show|diff|export|prune`: reading history back, and pruning it
// (approve|reject: decide_command.cpp).
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/history_text.h"

#include "core/executor.h"
#include "core/history.h"
#include "core/values.h"
#include "runtime/duration.h"
#include "runtime/ids.h"
#include "runtime/timestamp.h"
#include "runtime/utf8.h"
#include "server/pruning.h"
#include "store/diff.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string_view>
#include <utility>

namespace ferry::cli {

using tmpl::Value;

namespace {

constexpr const char* kExecutionsUsage =
    "usage: ferry executions list [--workflow W] [--status S] [--since T] [--until T]\n"
    "                             [--limit N] [--json]\n"
    "       ferry executions show ID [--json]\n"
    "       ferry executions diff ID [--json]          the changes the execution recorded\n"
    "       ferry executions diff ID_A ID_B [--json]   two executions' step outputs compared\n"
    "       ferry executions export [--since T] [--until T]   audit records as JSON Lines\n"
    "       ferry executions prune --before T [--workflow W] [--dry-run]\n"
    "                 delete ended executions created before T, with all their records\n"
    "                 (`ferry serve` does it itself with `store: {keep: 90d}` in ferry.yaml)\n"
    "       ferry executions approve|reject ID STEP [--comment TEXT] [--as NAME] [--quiet]\n"
    "                 decide an approval step that waits (the item's key, approve[2], for a\n"
    "                 for_each step) and run the execution on to its end or next decision;\n"
    "                 NAME (default: your login name) must be among the step's approvers\n"
    "                 when it lists any. Prints the execution as JSON. Exit 0 when it\n"
    "                 succeeded or waits again, 1 when it failed, 2 when the decision is\n"
    "                 refused (not waiting, unknown step, held by a running `ferry serve`:\n"
    "                 decide through its API then)\n"
    "       ferry executions cancel ID [--reason TEXT] [--quiet]\n"
    "                 end an execution no live process runs (one waiting for a decision, or\n"
    "                 left running by a process that died): its steps end cancelled, the\n"
    "                 error names the reason and your login name. Prints the execution as\n"
    "                 JSON. Exit 0 when it ended cancelled (1: it was failing already and\n"
    "                 ends failed, keeping its failure), 2 when refused (already ended,\n"
    "                 unknown, or run by a live process: cancel through `ferry serve`'s API)\n"
    "\n"
    "Common options: --project DIR, --data DIR. ID may be the start of an execution id (4\n"
    "characters or more) that no other id starts with. T is a date or time (2026-12-01,\n"
    "2026-12-01T08:00:00Z) or an age (30m, 24h, 7d). list shows the newest first, 50 unless\n"
    "--limit says otherwise. Options take their value as the next argument or after '='\n"
    "(--limit=5).\n"
    "\n"
    "Exit status: 0 done; 1 the history could not be read, or the output could not be\n"
    "written (a full disk); 2 bad usage, an unknown execution (or a start several ids\n"
    "share), or no Ferry data in the data folder (approve, reject and cancel: above);\n"
    "141 the reader of the output went away (| head), as with SIGPIPE.\n";

// An RFC 6902 patch, an operation a line. The path "" is the whole document (an output
// that changed type, say): shown as "(whole)", not as nothing.
void print_patch(const Value& patch) {
    if (!patch.is_sequence()) return;
    for (const Value& op : patch.list_obj().items) {
        const Value* value = engine::dict_get(op, "value");
        std::string path = field(op, "path");
        std::printf("  %-8s %s %s\n", field(op, "op").c_str(),
                    path.empty() ? "(whole)" : path.c_str(),
                    value ? printable(engine::to_json_text(*value)).c_str() : "");
    }
}

// An RFC 3339 date or time, or an age like 24h (now minus it), as unix ms.
Result<uint64_t> parse_time_arg(const std::string& text) {
    return parse_time_or_age(text, now_unix_ms());
}

// --since T or --until T (argv[i]) into f; "" when taken, else what is wrong.
std::string take_time_bound(int argc, char** argv, int& i, store::ExecutionFilter& f) {
    const std::string arg = argv[i];
    std::string err;
    std::optional<std::string> value = take_option_value(argc, argv, i, err);
    if (!value) return err;
    Result<uint64_t> t = parse_time_arg(*value);
    if (!t) return arg + ": " + t.error().message;
    f.bound(arg == "--since", t.value());
    return "";
}

std::string time_bounds_problem(const store::ExecutionFilter& f) {
    if (f.bounds_crossed())
        return "--since must be before --until (an age counts back from now: --since 2h "
               "--until 1h)";
    return "";
}

using AppOpener = std::function<std::unique_ptr<engine::App>()>;

// `executions list` reads this many records at a time, whatever --limit asks for.
constexpr size_t kListPage = 500;

int list(const AppOpener& open_store, int argc, char** argv) {
    store::ExecutionFilter f;
    bool json = false;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string error;
        if (arg == "--workflow" || arg == "--status") {
            std::optional<std::string> value = take_option_value(argc, argv, i, error);
            if (!value) return usage_error("executions", error);
            (arg == "--workflow" ? f.workflow : f.status) = *value;
        } else if (arg == "--limit") {
            std::optional<std::string> value = take_option_value(argc, argv, i, error);
            if (!value) return usage_error("executions", error);  // "needs a value", as others
            const std::string& text = *value;
            char* end = nullptr;
            errno = 0;
            long long n = std::strtoll(text.c_str(), &end, 10);
            if (text.empty() || *end || errno == ERANGE || n < 1)
                return usage_error("executions",
                                   "--limit must be a positive number, got '" + text + "'");
            f.limit = size_t(n);
        } else if (arg == "--since" || arg == "--until") {
            if (std::string err = take_time_bound(argc, argv, i, f); !err.empty())
                return usage_error("executions", err);
        } else if (arg == "--json")
            json = true;
        else
            return unexpected_argument("executions", arg);
    }
    if (std::string err = time_bounds_problem(f); !err.empty())
        return usage_error("executions", err);
    if (!f.status.empty()) {
        if (Status s = engine::check_execution_status(f.status); !s)
            return usage_error("executions", "--status: " + s.error().message);
    }
    std::unique_ptr<engine::App> opened = open_store();
    if (!opened) return 2;
    engine::App& app = *opened;
    // Read a page at a time and printed as read: `--limit 1000000` over a long history held
    // every record in memory at once.
    size_t left = f.limit;
    size_t printed = 0;
    if (json)
        std::fputs("[", stdout);
    else
        std::printf("%-26s  %-24s  %-10s  %-24s  %s\n", "ID", "WORKFLOW", "STATUS", "CREATED",
                    "DURATION");
    while (left > 0) {
        f.limit = std::min<size_t>(left, kListPage);
        auto rows = app.store->list_executions(f);
        if (!rows) {
            std::fflush(stdout);
            eprintf("%sferry executions: %s\n", printed ? "\n" : "",
                    rows.error().describe().c_str());
            return 1;
        }
        for (const std::string& r : rows.value()) {
            Value v = tmpl::value_from_json(r);
            f.cursor = field(v, "id");
            if (json) {
                std::printf("%s%s", printed++ ? "," : "",
                            engine::execution_summary_json(r).c_str());
                continue;
            }
            ++printed;
            std::string created = field(v, "created_at"), finished = field(v, "finished_at");
            // A preview reads like a real send otherwise ("succeeded": which ticket?). Last,
            // so the columns keep their places for awk.
            const bool dry_run = engine::dict_flag(v, "dry_run");
            std::printf("%-26s  %-24s  %-10s  %-24s  %s%s\n", f.cursor.c_str(),
                        field(v, "workflow").c_str(), field(v, "status").c_str(), created.c_str(),
                        finished.empty() ? "-" : duration_between(created, finished).c_str(),
                        dry_run ? "  (dry run)" : "");
        }
        if (rows.value().size() < f.limit) break;
        left -= rows.value().size();
    }
    if (json) std::printf("]\n");
    return 0;
}

// Whether a step of the execution ran a sub-workflow (whose changes are its own record's).
bool has_child(engine::App& app, const std::string& id) {
    engine::StepRecords steps(*app.store, id, engine::StepRecords::kBulkPage);
    while (true) {
        Result<const store::KeyedJson*> record = steps.next();
        if (!record || !record.value()) return false;
        if (record.value()->json.find("\"child_execution\"") != std::string::npos) return true;
    }
}

int diff(engine::App& app, std::vector<std::string> ids, bool json) {
    std::vector<std::string> records(ids.size());  // the execution records, read once
    for (size_t i = 0; i < ids.size(); ++i)
        if (int code = check_exists(app, ids[i], &records[i])) return code;
    if (ids.size() == 1) {
        auto changes = app.store->changes(ids[0]);
        if (!changes) {
            eprintf("ferry executions: %s\n", changes.error().describe().c_str());
            return 1;
        }
        if (json) {
            std::printf("[");
            for (size_t i = 0; i < changes.value().size(); ++i)
                std::printf("%s%s", i ? "," : "", changes.value()[i].json.c_str());
            std::printf("]\n");
            return 0;
        }
        if (changes.value().empty())
            std::printf("execution %s recorded no changes%s\n", ids[0].c_str(),
                        has_child(app, ids[0])
                            ? " (its sub-workflows record their own: ferry executions diff CHILD)"
                            : "");
        for (const auto& c : changes.value()) {
            Value v = tmpl::value_from_json(c.json);
            std::printf("%s %s (step %s, %s)\n", field(v, "kind").c_str(), field(v, "id").c_str(),
                        field(v, "step").c_str(), field(v, "at").c_str());
            print_patch(*engine::dict_get(v, "patch"));
        }
        return 0;
    }
    // The two step lists merged by key a page at a time, each record parsed only for its
    // output: two executions of a 40,000-item for_each would otherwise be values all at once
    // (a GB), or their records all in memory (200 MB).
    struct Shown {
        std::string output;  // JSON text
        std::string status;
    };
    auto shown = [](const std::string& record) {
        Value step = tmpl::value_from_json(record);
        const Value* output = engine::dict_get(step, "output");
        return Shown{engine::to_json_text(output ? *output : Value::none()),
                     engine::dict_text(step, "status")};
    };
    Value steps = Value::dict();
    // A step that failed (or was skipped) on one side has no output there: its status says
    // why, where the outputs alone read as a value that became null.
    Value statuses = Value::dict();
    // A step on one side only (two workflows, or one changed) is not an output that became
    // null: listed apart, so "absent" and "null" stay distinct.
    Value only_a = Value::list(), only_b = Value::list();
    engine::StepRecords records_a(*app.store, ids[0], engine::StepRecords::kBulkPage);
    engine::StepRecords records_b(*app.store, ids[1], engine::StepRecords::kBulkPage);
    Result<const store::KeyedJson*> a = records_a.next(), b = records_b.next();
    while (a && b && (a.value() || b.value())) {
        const store::KeyedJson* ra = a.value();
        const store::KeyedJson* rb = b.value();
        if (ra && (!rb || ra->key < rb->key)) {
            only_a.list_obj().items.push_back(engine::str(ra->key));
            a = records_a.next();
        } else if (rb && (!ra || rb->key < ra->key)) {
            only_b.list_obj().items.push_back(engine::str(rb->key));
            b = records_b.next();
        } else {
            const Shown sa = shown(ra->json), sb = shown(rb->json);
            std::string patch = store::json_patch(sa.output, sb.output);
            if (patch != "[]")  // the keys are distinct, in order
                steps.dict_obj().append_new(engine::str(ra->key), tmpl::value_from_json(patch));
            if (sa.status != sb.status)
                statuses.dict_obj().append_new(
                    engine::str(ra->key),
                    Value::list({engine::str(sa.status), engine::str(sb.status)}));
            a = records_a.next();
            b = records_b.next();
        }
    }
    if (!a || !b) {
        eprintf("ferry executions: %s\n", (!a ? a.error() : b.error()).describe().c_str());
        return 1;
    }
    std::string definition_diff;
    const Value record_a = tmpl::value_from_json(records[0]);
    const Value record_b = tmpl::value_from_json(records[1]);
    const std::string ha = field(record_a, "definition_hash");
    const std::string hb = field(record_b, "definition_hash");
    if (ha != hb) {
        auto da = app.store->get_workflow(ha), db = app.store->get_workflow(hb);
        if (da && db && da.value() && db.value()) {
            Value wa = tmpl::value_from_json(*da.value()), wb = tmpl::value_from_json(*db.value());
            definition_diff = store::unified_diff(
                text_field(wa, "source"), text_field(wb, "source"),
                ids[0] + " " + field(wa, "file"), ids[1] + " " + field(wb, "file"));
        }
    }
    const std::string status_a = field(record_a, "status");
    const std::string status_b = field(record_b, "status");
    if (json) {
        Value out = engine::dict_of(
            {{"a", engine::str(ids[0])},
             {"b", engine::str(ids[1])},
             {"status", Value::list({engine::str(status_a), engine::str(status_b)})},
             {"step_status", statuses},
             {"steps", steps},
             {"only_in_a", only_a},
             {"only_in_b", only_b},
             {"definition_changed", Value::boolean(ha != hb)},
             {"definition_diff", engine::str(definition_diff)}});
        std::printf("%s\n", engine::to_pretty_json(out).c_str());
        return 0;
    }
    // Listed as `show` lists steps (B's file, then the steps only A's has).
    StepOrder order;
    order.add_definition(app, record_b);
    order.add_definition(app, record_a);
    // Each key's place, and its entry's value (nullptr for a list of keys).
    auto in_order = [&order](const Value& keys_or_entries) {
        std::vector<std::pair<ListingPlace, const Value*>> listed;
        if (keys_or_entries.is_dict())
            for (const auto& [k, v] : keys_or_entries.dict_obj().items())
                listed.emplace_back(order.place(tmpl::to_str(k)), &v);
        else
            for (const Value& k : keys_or_entries.list_obj().items)
                listed.emplace_back(order.place(tmpl::to_str(k)), nullptr);
        std::sort(listed.begin(), listed.end(),
                  [](const auto& x, const auto& y) { return x.first < y.first; });
        return listed;
    };
    if (status_a != status_b)
        std::printf("execution %s -> %s\n", status_a.c_str(), status_b.c_str());
    for (const auto& [label, only] : {std::pair{"A", &only_a}, std::pair{"B", &only_b}})
        for (const auto& [place, none] : in_order(*only))
            std::printf("step %s only in %s\n", place.key.c_str(), label);
    if (steps.dict_obj().items().empty() && statuses.dict_obj().items().empty() &&
        only_a.list_obj().items.empty() && only_b.list_obj().items.empty())
        std::printf("step outputs are identical\n");
    for (const auto& [place, pair] : in_order(statuses)) {
        std::printf("step %s: %s -> %s\n", place.key.c_str(),
                    tmpl::to_str(pair->list_obj().items[0]).c_str(),
                    tmpl::to_str(pair->list_obj().items[1]).c_str());
    }
    for (const auto& [place, patch] : in_order(steps)) {
        std::printf("step %s\n", place.key.c_str());
        print_patch(*patch);
    }
    if (!definition_diff.empty())
        std::printf("workflow definition changed:\n%s", definition_diff.c_str());
    return 0;
}

int export_records(const AppOpener& open_store, int argc, char** argv) {
    store::ExecutionFilter f;
    f.limit = 1000;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--since" || arg == "--until") {
            if (std::string err = take_time_bound(argc, argv, i, f); !err.empty())
                return usage_error("executions", err);
        } else {
            return unexpected_argument("executions", arg);
        }
    }
    if (std::string err = time_bounds_problem(f); !err.empty())
        return usage_error("executions", err);
    std::unique_ptr<engine::App> opened = open_store();
    if (!opened) return 2;
    engine::App& app = *opened;
    // Page through everything, newest first, one JSON line per execution with its steps,
    // their attempts and the changes it recorded: what an archive must keep before a prune.
    while (true) {
        auto rows = app.store->list_executions(f);
        if (!rows) {
            eprintf("ferry executions: %s\n", rows.error().describe().c_str());
            return 1;
        }
        for (const std::string& r : rows.value()) {
            Value v = tmpl::value_from_json(r);
            if (!print_execution(app, field(v, "id"), false, true, "executions", true)) return 1;
            // An archive that cannot be written (a full disk) ends the export at once: the
            // documented `export > archive && prune` must not prune what was not kept
            // (main says why).
            if (std::ferror(stdout)) return 1;
            f.cursor = field(v, "id");
        }
        if (rows.value().size() < f.limit) break;
    }
    return 0;
}

// Ended executions created before --before, with all their records (steps, attempts,
// changes) and the idempotency claims that name them. Executions still running or waiting
// stay, and so do sub-workflow executions whose parent has not ended: a parent resumed
// after a crash reads its children's results from their records.
int prune(const AppOpener& open_store, int argc, char** argv) {
    engine::server::HistoryPruner::Options options;
    std::string before_text;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--before") {
            before_text = i + 1 < argc ? argv[++i] : "";
            Result<uint64_t> t = parse_time_arg(before_text);
            if (!t) return usage_error("executions", "--before: " + t.error().message);
            options.before_ms = t.value();
        } else if (arg == "--workflow") {
            std::string error;
            std::optional<std::string> value = take_option_value(argc, argv, i, error);
            if (!value) return usage_error("executions", error);
            options.workflow = *value;
        } else if (arg == "--dry-run") {
            options.dry_run = true;
        } else {
            return unexpected_argument("executions", arg);
        }
    }
    if (before_text.empty())
        return usage_error("executions", "prune needs --before T: a date or time "
                                         "(2026-12-01) or an age (30d)");
    std::unique_ptr<engine::App> opened = open_store();
    if (!opened) return 2;
    engine::App& app = *opened;
    // A page at a time, each committed before the next is read: a large prune neither holds
    // every record in memory nor builds one huge transaction, nor holds the store's write
    // lock long against a running `ferry serve`.
    if (options.dry_run)
        std::printf("%-26s  %-24s  %-10s  %s\n", "ID", "WORKFLOW", "STATUS", "CREATED");
    engine::server::HistoryPruner pruner(*app.store, options, [&](const Value& record) {
        if (options.dry_run)
            std::printf("%-26s  %-24s  %-10s  %s\n", field(record, "id").c_str(),
                        field(record, "workflow").c_str(), field(record, "status").c_str(),
                        field(record, "created_at").c_str());
    });
    size_t committed = 0, reported = 0;
    for (;;) {
        // A store filled to its map needs room for its first deletions (MDB_MAP_FULL).
        pruner.fit_page_to_room();
        Result<bool> more = pruner.step();
        Status done = more ? app.store->commit() : Status(more.error());
        if (!done) {
            eprintf("ferry executions: pruned %zu execution(s), then: %s\n", committed,
                    done.error().describe().c_str());
            return 1;
        }
        if (!more.value()) break;
        committed = pruner.pruned();
        if (!options.dry_run && committed >= reported + options.page) {
            reported = committed;
            eprintf("ferry executions: pruned %zu so far\n", reported);
        }
    }
    const std::string cutoff = rfc3339(int64_t(pruner.options().before_ms));
    const std::string kept = pruner.kept_children() == 0
                                 ? std::string()
                                 : " (kept " + std::to_string(pruner.kept_children()) +
                                       " sub-workflow execution(s) whose parent has not ended)";
    std::printf("%s %zu execution(s) created before %s%s\n",
                options.dry_run ? "would prune" : "pruned", pruner.pruned(), cutoff.c_str(),
                kept.c_str());
    return 0;
}

// Whether argv[i] stands where an option's value goes (`--reason -h`): read as a help
// request it printed the usage and exited 0, and `cancel ID --reason "$WHY" && ...` went
// on as if the execution had been cancelled. The subcommand then refuses the value.
bool follows_valued_option(char** argv, int i) {
    if (i == 0) return false;
    std::string_view prev = argv[i - 1];
    return prev.starts_with("--") && prev.find('=') == prev.npos && prev != "--json" &&
           prev != "--dry-run" && prev != "--quiet" && prev != "--no-sync";
}

}  // namespace

int executions_command(int argc, char** argv) {
    CommonOptions common;
    std::vector<char*> rest;
    // `--limit=5` as `--limit 5`, as --project=DIR is taken (it was an "unknown argument").
    std::deque<std::string> split;
    bool json = false;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string err;
        if (take_common_option(argc, argv, i, common, err)) {
            if (!err.empty()) return usage_error("executions", err);
        } else if ((arg == "-h" || arg == "--help") && !follows_valued_option(argv, i)) {
            std::fputs(kExecutionsUsage, stdout);
            return 0;
        } else if (arg == "--json") {
            json = true;
            rest.push_back(argv[i]);
        } else if (size_t eq = arg.find('='); arg.starts_with("--") && eq != arg.npos) {
            std::string_view name = arg.substr(0, eq);
            if (name == "--json" || name == "--dry-run" || name == "--quiet")
                return usage_error("executions", std::string(name) + " takes no value, got '" +
                                                     std::string(arg) + "'");
            for (std::string_view part : {name, arg.substr(eq + 1)})
                rest.push_back(split.emplace_back(part).data());
        } else {
            rest.push_back(argv[i]);
        }
    }
    if (rest.empty())
        return usage_error("executions",
                           "missing a subcommand (list, show, diff, export, prune, approve, "
                           "reject, cancel)");
    std::string sub = rest[0];
    common.store_must_exist = true;
    common.reads_history_only = sub == "list" || sub == "show" || sub == "diff" || sub == "export";
    if (sub == "approve" || sub == "reject")
        return decide_subcommand(common, sub, int(rest.size() - 1), rest.data() + 1);
    if (sub == "cancel") return cancel_subcommand(common, int(rest.size() - 1), rest.data() + 1);
    // The store opens once the subcommand's arguments are read: a mistyped option is a usage
    // error, not "no Ferry data in ./.ferry".
    AppOpener open_store = [&common] { return open_app(common); };
    if (sub == "list") return list(open_store, int(rest.size() - 1), rest.data() + 1);
    if (sub == "export") return export_records(open_store, int(rest.size() - 1), rest.data() + 1);
    if (sub == "prune") return prune(open_store, int(rest.size() - 1), rest.data() + 1);
    if (sub != "show" && sub != "diff")
        return usage_error("executions", "unknown subcommand '" + sub + "'");
    std::vector<std::string> ids;
    for (size_t i = 1; i < rest.size(); ++i) {
        std::string_view arg = rest[i];
        if (arg == "--json") continue;
        if (arg.size() > 1 && arg[0] == '-') return unexpected_argument("executions", arg);
        ids.emplace_back(arg);
    }
    if (sub == "show" && ids.size() != 1)
        return usage_error("executions", "show needs one execution ID");
    if (sub == "diff" && (ids.empty() || ids.size() > 2))
        return usage_error("executions", "diff needs one or two execution IDs");
    auto app = open_app(common);
    if (!app) return 2;
    return sub == "show" ? show_subcommand(*app, ids[0], json) : diff(*app, ids, json);
}

}  // namespace ferry::cli
