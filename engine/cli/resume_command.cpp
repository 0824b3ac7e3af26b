// `ferry resume [ID]`: continue interrupted executions (all, or one) to their end.
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/interrupts.h"
#include "core/values.h"
#include "template/error.h"

#include <algorithm>
#include <cstdio>

namespace ferry::cli {

namespace {

constexpr const char* kResumeUsage =
    "usage: ferry resume [ID] [--project DIR] [--data DIR] [--no-sync] [--quiet] [--json]\n"
    "\n"
    "Continue every interrupted execution (or only ID: an id, or 4 characters or more that\n"
    "only one id starts with) to its end. Steps that finished before the interruption are not\n"
    "run again; a step that was running runs again with the same idempotency key, so tasks\n"
    "that create things find what they created instead of creating it twice. Execution events\n"
    "(ferry.yaml `events:`) that a killed process had not delivered are sent again, with the\n"
    "same webhook-id (only ID's, given an ID). Prints one JSON line per execution on stdout\n"
    "(--json is taken, and changes nothing).\n"
    "--no-sync: do not fsync history commits (faster, not crash-safe). Ctrl-C or SIGTERM\n"
    "stops it as a crash would, saying which executions stop (exit 130 or 143); resume again\n"
    "to go on.\n"
    "\n"
    "Exit status: 0 when every resumed execution succeeded (or waits for an approval), 1 if\n"
    "one did not or is still running, 2 on bad usage, 3 the history could not be written\n"
    "(disk full?: fix it, then resume again).\n";

}  // namespace

int resume_command(int argc, char** argv) {
    CommonOptions common;
    std::string id;
    bool quiet = false;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string err;
        if (arg.empty())  // `ferry resume "$ID"` with ID unset: not "every execution"
            return usage_error("resume", "the execution id is empty");
        if (take_common_option(argc, argv, i, common, err)) {
            if (!err.empty()) return usage_error("resume", err);
        } else if (arg == "-h" || arg == "--help") {
            std::fputs(kResumeUsage, stdout);
            return 0;
        } else if (arg == "--quiet" || arg == "-q") {
            quiet = true;
        } else if (arg == "--json") {
            // One JSON line per execution anyway: other commands' --json, taken here.
        } else if (!arg.empty() && arg[0] == '-') {
            return unexpected_argument("resume", arg);
        } else if (id.empty()) {
            id = std::string(arg);
        } else {
            return unexpected_argument("resume", arg);
        }
    }
    // Nothing to resume where nothing ever ran: a mistyped --data is reported, not created.
    common.store_must_exist = true;
    auto app = open_app(common);
    if (!app) return 2;
    std::vector<std::string> ids;
    if (!id.empty()) {
        int refused = 0;
        std::optional<std::string> full = execution_id_of(*app, id, "resume", refused);
        if (!full) return 2;  // as below: an unreadable store is 2 here too
        ids.push_back(id = std::move(*full));
    } else {
        for (const char* status : {"running", "pending"}) {
            auto found = app->store->executions_with_status(status);
            if (!found) {
                eprintf("ferry resume: %s\n", found.error().describe().c_str());
                return 2;
            }
            for (auto& x : found.value())
                ids.push_back(std::move(x));
        }
    }
    if (!quiet) app->engine->on_event(print_progress);
    // Only top-level executions are resumed directly; a sub-workflow resumes with its parent.
    std::vector<std::string> started;
    std::vector<std::string> ended;  // of those started, in the order they ended
    bool all_ok = true;
    // From the first resume on: an interrupt names the executions still running, and the
    // JSON lines of those that ended are printed first.
    InterruptNotice interrupts(*app, "resume");
    interrupts.before_exit([&] {
        for (const std::string& x : ended)
            (void)print_execution(*app, x, false, false, "resume");
        std::fflush(stdout);
    });
    for (const std::string& x : ids) {
        auto rec = app->store->get_execution(x);
        if (!rec || !rec.value()) {
            std::string why = rec ? "no execution '" + x + "'" : rec.error().describe();
            eprintf("ferry resume: %s\n", why.c_str());
            if (!id.empty()) return 2;  // an id that names nothing is bad input
            all_ok = false;
            continue;
        }
        if (id.empty() && engine::is_sub_workflow_record(*rec.value())) continue;
        // Named, but over already: said (the execution was printed with no word, which read
        // as a resume that ran), and its outcome is the exit status.
        std::string status;
        try {
            if (!id.empty())
                status = engine::dict_text(tmpl::value_from_json(*rec.value()), "status");
        } catch (const tmpl::TemplateError&) {
            // A damaged record: the resume below reports it as for any other.
        }
        if (engine::execution_ended(status)) {
            if (!quiet)
                eprintf("ferry resume: execution %s already ended (%s); nothing left to run\n",
                        x.c_str(), status.c_str());
            if (status != "succeeded") all_ok = false;
            started.push_back(x);  // printed below; its undelivered events still go out
            continue;
        }
        bool busy = false;
        Status s = app->engine->resume(
            x,
            [&all_ok, &ended, &interrupts, x](const engine::ExecutionSummary& sum) {
                if (sum.status != "succeeded") all_ok = false;
                ended.push_back(x);
                interrupts.finished(x);
            },
            &busy);
        if (!s) {
            eprintf("ferry resume: %s%s\n", s.error().message.c_str(),
                    busy && id.empty() ? " (skipped)" : "");
            if (!(busy && id.empty())) all_ok = false;
            continue;
        }
        started.push_back(x);
        if (std::find(ended.begin(), ended.end(), x) == ended.end()) interrupts.add(x);
    }
    // Events a killed process had not delivered (its outbox entries): those of the one
    // execution, or all. They keep their webhook-id, so a receiver that has one already can
    // tell.
    size_t redelivered = 0;
    if (auto taken = app->notifier->redeliver_orphans(id); !taken) {
        eprintf("ferry resume: event outbox: %s\n", taken.error().describe().c_str());
        all_ok = false;
    } else if ((redelivered = taken.value()) && !quiet) {
        eprintf("ferry resume: redelivering %zu event(s) a stopped process had not "
                "delivered\n",
                redelivered);
    }
    if (started.empty() && ids.empty() && !redelivered && !quiet) {
        eprintf("ferry resume: nothing to resume\n");
    }
    app->loop.run();
    (void)app->engine->flush();
    // The store's status index, not the printed JSON: a step's output may hold the text too.
    auto still_running = app->store->executions_with_status("running");
    for (const std::string& x : started) {
        if (!print_execution(*app, x, false, false, "resume")) {
            all_ok = false;
            continue;
        }
        // The loop ran out of work with this one unfinished: a sub-workflow of it is being
        // run by another process. Not a success; nothing is lost either.
        if (still_running && std::find(still_running.value().begin(), still_running.value().end(),
                                       x) != still_running.value().end()) {
            eprintf("ferry resume: execution %s is still running: a sub-workflow of it is "
                    "being run by another ferry process; resume it again once that has "
                    "finished\n",
                    x.c_str());
            all_ok = false;
        }
    }
    return all_ok ? 0 : 1;
}

}  // namespace ferry::cli
