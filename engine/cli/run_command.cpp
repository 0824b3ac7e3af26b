// `ferry run WORKFLOW [--input key=value]... [--inputs-file F.json] [--dry-run]`: one
// execution to its end, progress on stderr, the execution as JSON on stdout.
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/interrupts.h"

#include "core/values.h"

#include <algorithm>
#include <cstdio>

namespace ferry::cli {

namespace {

constexpr const char* kRunUsage =
    "usage: ferry run WORKFLOW [--input key=value]... [--inputs-file F.json] [--dry-run]\n"
    "                 [--project DIR] [--data DIR] [--no-sync] [--quiet] [--pretty] [--json]\n"
    "\n"
    "Run one execution of WORKFLOW (a name from the project's workflows/ or a file path) to\n"
    "its end. Progress goes to stderr; the execution ({id, workflow, status, outputs, steps})\n"
    "goes to stdout as JSON.\n"
    "\n"
    "Options:\n"
    "  --input KEY=VALUE   an input, converted to its declared type (repeatable)\n"
    "  --inputs-file FILE  a JSON object of inputs (--input values override it; - reads stdin)\n"
    "  --dry-run           steps that would send something output the request instead\n"
    "  --project DIR       the project folder (default: the current folder)\n"
    "  --data DIR          the state folder (default: PROJECT/.ferry)\n"
    "  --no-sync           do not fsync history commits (faster, not crash-safe)\n"
    "  --quiet             no progress lines\n"
    "  --pretty            indent the JSON\n"
    "  --json              taken, as other commands take it: the output is JSON anyway\n"
    "\n"
    "Exit status: 0 succeeded (or waiting for an approval), 1 failed, 2 bad usage or invalid\n"
    "workflow/inputs, 3 the history could not be written (disk full?: fix it, then `ferry\n"
    "resume`; or run it again when it says it was not recorded), 130/143 interrupted by\n"
    "SIGINT/SIGTERM (`ferry resume` continues it).\n";

}  // namespace

int run_command(int argc, char** argv) {
    CommonOptions common;
    std::string workflow_name, inputs_file;
    std::vector<std::pair<std::string, std::string>> inputs;
    bool dry_run = false, quiet = false, pretty = false;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string err;
        if (take_common_option(argc, argv, i, common, err)) {
            if (!err.empty()) return usage_error("run", err);
        } else if (arg == "-h" || arg == "--help") {
            std::fputs(kRunUsage, stdout);
            return 0;
        } else if (arg == "--dry-run") {
            dry_run = true;
        } else if (arg == "--quiet" || arg == "-q") {
            quiet = true;
        } else if (arg == "--pretty") {
            pretty = true;
        } else if (arg == "--json") {
            // The execution is printed as JSON anyway: other commands' --json, taken here.
        } else if (arg == "--input" || arg.rfind("--input=", 0) == 0) {
            // KEY is a name: a next argument starting with "--" is an option, not a value.
            if (arg == "--input" &&
                (i + 1 >= argc || std::string_view(argv[i + 1]).starts_with("--")))
                return usage_error("run", "--input needs a value, KEY=VALUE");
            std::string kv = arg == "--input" ? argv[++i] : std::string(arg.substr(8));
            size_t eq = kv.find('=');
            if (eq == std::string::npos || eq == 0)
                return usage_error("run", "--input needs KEY=VALUE, got '" + kv + "'");
            // Given twice, one of them is a mistake: which one wins is no answer.
            const std::string key = kv.substr(0, eq);
            if (std::any_of(inputs.begin(), inputs.end(),
                            [&](const auto& given) { return given.first == key; }))
                return usage_error("run", "--input " + key + " is given more than once");
            inputs.emplace_back(key, kv.substr(eq + 1));
        } else if (std::string file; take_named_option(argc, argv, i, "--inputs-file", file, err)) {
            if (!err.empty()) return usage_error("run", err);
            if (!inputs_file.empty())
                return usage_error("run", "--inputs-file is given more than once (one file "
                                          "holds the inputs; --input values override it)");
            inputs_file = file;
        } else if (!arg.empty() && arg[0] == '-') {
            return unexpected_argument("run", arg);
        } else if (workflow_name.empty()) {
            workflow_name = std::string(arg);
        } else {
            return unexpected_argument("run", arg);
        }
    }
    if (workflow_name.empty()) return usage_error("run", "missing WORKFLOW");

    // The store opens once the workflow and its inputs are known good: a refused run
    // leaves no data folder behind.
    auto app = open_app(common, false);
    if (!app) return 2;
    auto wf = app->load_workflow(workflow_name);
    if (!wf) {
        print_problem_lines("ferry run: ", wf.error().message);
        return 2;
    }
    tmpl::Value given = tmpl::Value::dict();
    if (!inputs_file.empty()) {
        auto text = read_argument_file(inputs_file);
        if (!text) {
            eprintf("%s: cannot read the inputs file: %s\n", inputs_file.c_str(),
                    argument_file_error().c_str());
            return 2;
        }
        std::optional<tmpl::Value> read = json_object_of_file(inputs_file, *text, "inputs file");
        if (!read) return 2;
        given = std::move(*read);
    }
    // Every --input that names no input or does not convert, each on its line: one at a time
    // took a run per mistake to find them all.
    std::string refused;
    auto refuse = [&refused](const std::string& problem) {
        refused += (refused.empty() ? "" : "\n") + problem;
    };
    for (const auto& [key, text] : inputs) {
        const workflow::InputSpec* spec = nullptr;
        for (const auto& s : wf.value()->inputs)
            if (s.name == key) spec = &s;
        if (!spec) {
            std::string known;
            for (const auto& s : wf.value()->inputs)
                known += (known.empty() ? "" : ", ") + s.name;
            refuse("workflow '" + wf.value()->name + "' has no input '" + key + "'" +
                   (known.empty() ? "" : " (inputs: " + known + ")"));
            continue;
        }
        auto v = workflow::convert_cli_input(*spec, text);
        if (!v) {
            refuse(v.error().message);
            continue;
        }
        given.dict_obj().set(engine::str(key), v.value());
    }
    if (!refused.empty()) {
        print_problem_lines("ferry run: ", refused);
        eprintf("(see 'ferry run --help')\n");
        return 2;
    }
    auto resolved = workflow::resolve_inputs(*wf.value(), given);
    if (!resolved) {
        // One line a problem, each with the command's prefix as every other run error.
        print_problem_lines("ferry run: ", resolved.error().message);
        return 2;
    }
    if (Status opened = app->open_store(); !opened) {
        eprintf("ferry: %s\n", opened.error().describe().c_str());
        return 2;
    }
    if (!quiet) app->engine->on_event(print_progress);
    engine::StartOptions opts;
    opts.dry_run = dry_run;
    opts.trigger = "cli";
    std::string status;
    auto id =
        app->engine->start(wf.value(), resolved.value(), opts,
                           [&status](const engine::ExecutionSummary& s) { status = s.status; });
    if (!id) {
        eprintf("ferry run: %s\n", id.error().describe().c_str());
        return 2;
    }
    {
        InterruptNotice interrupts(*app, "run", {id.value()});
        app->loop.run();
    }
    Status flushed = app->engine->flush();
    if (!flushed) eprintf("ferry run: %s\n", flushed.error().describe().c_str());
    if (!print_execution(*app, id.value(), pretty, false, "run")) return 1;
    if (status.empty() && engine::stored_status(*app->store, id.value()) == "waiting") {
        // Parked on an approval: the record waits for a decision, which only the server
        // takes; an approval timeout keeps its deadline and takes effect there.
        eprintf("ferry run: execution %s is waiting for an approval; decide with "
                "`ferry executions approve|reject %s STEP`, or with "
                "POST /api/v1/executions/%s/steps/STEP/approve|reject on "
                "`ferry serve` (a running server takes it up within seconds, one that starts "
                "later at its start, and applies its timeout)\n",
                id.value().c_str(), id.value().c_str(), id.value().c_str());
        return 0;
    }
    return status == "succeeded" ? 0 : 1;
}

}  // namespace ferry::cli
