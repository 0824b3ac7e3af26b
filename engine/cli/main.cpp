// ferry: the command-line entry point. Each command lives in its own file; this one only
// dispatches and prints the top-level help.
#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/allocator.h"
#include "template/error.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

constexpr const char* kUsage =
    "usage: ferry COMMAND [ARGS...]\n"
    "\n"
    "Ferry runs integration workflows between IT operations and security tools.\n"
    "\n"
    "Commands:\n"
    "  run WORKFLOW [--input k=v]... [--dry-run]   run one execution to its end\n"
    "  validate [PATH...]  check workflows, tasks, templates and ferry.yaml\n"
    "  resume [ID]         continue interrupted executions\n"
    "  executions list|show|diff|export|prune  read the execution history, or prune it\n"
    "  executions approve|reject ID STEP  decide a step waiting for an approval\n"
    "  executions cancel ID  end an execution no live process runs\n"
    "  tasks list|show     the task catalogue with input schemas\n"
    "  dlq list|replay|drop  deliveries given up on (the dead-letter queue)\n"
    "  serve [--listen HOST:PORT]  the REST API, forms, hooks and /metrics\n"
    "  render TEMPLATE --vars VARS.json [--strict]\n"
    "                      render a Jinja2 template with JSON data to stdout\n"
    "\n"
    "Options:\n"
    "  -h, --help          show this help (ferry COMMAND --help for a command's)\n"
    "  --version           print the version\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 bad usage or invalid input,\n"
    "             3 the history could not be written (disk full?): fix it, then run\n"
    "             'ferry resume' (or start 'ferry serve' again, which resumes).\n";

int dispatch(int argc, char** argv);

}  // namespace

// A command that stops on an exception says so in one line and exits 2: the one expected
// is a stored record that does not parse (a damaged data folder), read by a command
// that has no better place to report it.
int main(int argc, char** argv) {
    try {
        int rc = dispatch(argc, argv);
        // Output that never reached its file (a full disk, a closed pipe) is a failure the
        // caller must see: `ferry executions export > archive && prune` relies on it.
        errno = 0;
        if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
            int failed = ferry::cli::report_output_error(argc > 1 ? argv[1] : "");
            return failed > 1 || rc == 0 ? failed : rc;  // 141 (a closed pipe) wins
        }
        return rc;
    } catch (const ferry::tmpl::TemplateError& e) {
        std::fprintf(stderr,
                     "ferry %s: a value could not be read: %s (a damaged record in the data "
                     "folder? see 'A data directory Ferry cannot read' in docs/operations.md)\n",
                     argc > 1 ? argv[1] : "", e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ferry %s: internal error: %s\n", argc > 1 ? argv[1] : "", e.what());
    }
    return 2;
}

namespace {

int dispatch(int argc, char** argv) {
    // A peer closing a socket must be an error value, not a signal that kills the process.
    std::signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    std::string_view command = argv[1];
    if (command == "-h" || command == "--help" || command == "help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (command == "--version" || command == "version") {
        if (argc > 2) {
            std::fprintf(stderr, "ferry %s: takes no arguments, got '%s'\n", argv[1], argv[2]);
            return 2;
        }
        std::printf("ferry %s (%s)\n", FERRY_VERSION, ferry::allocator_name().c_str());
        return 0;
    }
    if (command == "render") return ferry::cli::render_command(argc - 2, argv + 2);
    if (command == "run") return ferry::cli::run_command(argc - 2, argv + 2);
    if (command == "resume") return ferry::cli::resume_command(argc - 2, argv + 2);
    if (command == "validate") return ferry::cli::validate_command(argc - 2, argv + 2);
    if (command == "executions") return ferry::cli::executions_command(argc - 2, argv + 2);
    if (command == "tasks") return ferry::cli::tasks_command(argc - 2, argv + 2);
    if (command == "dlq") return ferry::cli::dlq_command(argc - 2, argv + 2);
    if (command == "serve") return ferry::cli::serve_command(argc - 2, argv + 2);
    std::fprintf(stderr, "ferry: unknown command '%s'\n\n%s", argv[1], kUsage);
    return 2;
}

}  // namespace
