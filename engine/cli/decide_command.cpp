// `ferry executions approve|reject ID STEP`: an approval decided from the command line, for
// a project run with `ferry run` and no server. The execution a `ferry run` left waiting is
// taken over as the server takes it, and runs on to its end or to its next decision.
// `ferry executions cancel ID`: the same take-over, to end one (waiting, or left running by
// a process that died) without starting a server.
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/interrupts.h"

#include "core/executor.h"
#include "core/history.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::cli {

namespace {

// Who decides when --as does not say: the login name, as a person at a terminal is known.
std::string login_name() {
    if (const char* user = std::getenv("USER"); user && *user) return user;
    if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_name && *pw->pw_name)
        return pw->pw_name;
    return "cli";
}

}  // namespace

int decide_subcommand(const CommonOptions& common, const std::string& verb, int argc, char** argv) {
    const std::string command = "executions " + verb;
    std::string id, step, comment, by;
    bool quiet = false;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--comment" || arg == "--as") {
            if (i + 1 >= argc)
                return usage_error("executions", std::string(arg) + " needs a value");
            std::string value = argv[++i];
            if (arg == "--as" && value.empty())
                return usage_error("executions", "--as needs a name (a token name of ferry.yaml)");
            (arg == "--comment" ? comment : by) = std::move(value);
        } else if (arg == "--quiet" || arg == "-q") {
            quiet = true;
        } else if (arg == "--json") {
            // The execution is printed as JSON anyway (as by `ferry run`).
        } else if (arg.size() > 1 && arg[0] == '-') {
            return unexpected_argument("executions", arg);
        } else if (arg.empty()) {
            return usage_error("executions", verb + ": an empty execution ID or step");
        } else if (id.empty()) {
            id = std::string(arg);
        } else if (step.empty()) {
            step = std::string(arg);
        } else {
            return unexpected_argument("executions", arg);
        }
    }
    if (step.empty())
        return usage_error("executions",
                           verb + " needs an execution ID and a step (ferry executions " + verb +
                               " ID STEP)");
    if (by.empty()) by = login_name();
    auto app = open_app(common);
    if (!app) return 2;
    int refused = 0;
    if (std::optional<std::string> full = execution_id_of(*app, id, command.c_str(), refused))
        id = std::move(*full);
    else
        return refused;
    // What deciding shows is held until the decision is taken: taking the parked execution
    // up says "execution resumed", untrue of one whose decision is refused.
    std::vector<engine::EngineEvent> held;
    bool holding = true;
    if (!quiet)
        app->engine->on_event([&](const engine::EngineEvent& e) {
            if (holding)
                held.push_back(e);
            else
                print_progress(e);
        });
    // The decision runs the execution on, as `ferry run` does: a signal stops it as one
    // stops a run (a flush, which execution stops, `ferry resume ID`, 128 + the signal).
    InterruptNotice interrupts(*app, command, {engine::stored_top(*app->store, id)});
    const std::string decision = verb == "approve" ? "approved" : "rejected";
    engine::Engine::DecideResult decided =
        app->engine->decide(id, step, decision, by, comment, "cli");
    holding = false;
    for (const engine::EngineEvent& e : held)
        if (decided.ok() || (e.type != "execution.resumed" && e.type != "step.waiting"))
            print_progress(e);
    if (!decided.ok()) {
        const bool hint = decided.refusal == engine::Engine::DecideResult::Refusal::NotAnApprover;
        eprintf("ferry %s: %s%s\n", command.c_str(), decided.message.c_str(),
                hint ? " (--as NAME decides as one of them)" : "");
        // What the refusal left to do here (a timeout that passed: the rejection or the
        // escalation step) runs before the process ends.
        app->loop.run();
        (void)app->engine->flush();
        return 2;
    }
    app->loop.run();
    Status flushed = app->engine->flush();
    if (!flushed) eprintf("ferry %s: %s\n", command.c_str(), flushed.error().describe().c_str());
    // A sub-workflow's approval runs its top-level execution on: that one tells the outcome.
    const std::string top = engine::stored_top(*app->store, id);
    if (!print_execution(*app, top, false, false, command.c_str())) return 1;
    const std::string status = engine::stored_status(*app->store, top);
    if (status == "waiting") {
        eprintf("ferry %s: execution %s waits for another decision\n", command.c_str(),
                top.c_str());
        return 0;
    }
    return status == "succeeded" ? 0 : 1;
}

int cancel_subcommand(const CommonOptions& common, int argc, char** argv) {
    std::string id, reason;
    bool quiet = false;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--reason") {
            if (i + 1 >= argc) return usage_error("executions", "--reason needs a value");
            reason = argv[++i];
        } else if (arg == "--quiet" || arg == "-q") {
            quiet = true;
        } else if (arg == "--json") {
            // The execution is printed as JSON anyway.
        } else if (arg.size() > 1 && arg[0] == '-') {
            return unexpected_argument("executions", arg);
        } else if (arg.empty()) {
            return usage_error("executions", "cancel: an empty execution ID");
        } else if (id.empty()) {
            id = std::string(arg);
        } else {
            return unexpected_argument("executions", arg);
        }
    }
    if (id.empty())
        return usage_error("executions",
                           "cancel needs an execution ID (ferry executions cancel ID)");
    auto app = open_app(common);
    if (!app) return 2;
    int refused = 0;
    if (std::optional<std::string> full = execution_id_of(*app, id, "executions cancel", refused))
        id = std::move(*full);
    else
        return refused;
    const std::string status = engine::stored_status(*app->store, id);
    auto refuse = [&](const std::string& why) {
        eprintf("ferry executions cancel: %s\n", why.c_str());
        return 2;
    };
    if (status.empty()) return refuse("no execution '" + id + "'");
    if (engine::execution_ended(status))
        return refuse("execution '" + id + "' already ended (" + status + ")");
    // An execution its process left running is taken up to be cancelled, not resumed:
    // "execution resumed" said otherwise.
    if (!quiet)
        app->engine->on_event([](const engine::EngineEvent& e) {
            if (e.type != "execution.resumed") print_progress(e);
        });
    InterruptNotice interrupts(*app, "executions cancel", {id});
    // As the API words it: the reason, and who.
    std::string by = "cancelled by " + login_name() + " (cli)";
    Status cancelled = app->engine->cancel(id, reason.empty() ? by : reason + " (" + by + ")");
    if (!cancelled) {
        // Running in a live process: that one ends it (`ferry serve`: its API).
        return refuse(cancelled.error().message +
                      (cancelled.error().message.find(
                           "another ferry process that is still running") != std::string::npos
                           ? " (ferry serve: cancel it through its API; ferry run or ferry "
                             "resume: stop that process, then cancel it here)"
                           : ""));
    }
    app->loop.run();
    Status flushed = app->engine->flush();
    if (!flushed) eprintf("ferry executions cancel: %s\n", flushed.error().describe().c_str());
    if (!print_execution(*app, id, false, false, "executions cancel")) return 1;
    return engine::stored_status(*app->store, id) == "cancelled" ? 0 : 1;
}

}  // namespace ferry::cli
