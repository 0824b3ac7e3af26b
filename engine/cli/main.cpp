// ferry: the command-line entry point. Each command lives in its own file; this one only
// dispatches and prints the top-level help.
#include "cli/build_commit.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/allocator.h"
#include "template/error.h"
#include "workflow/suggest.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

using ferry::cli::eprintf;

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

constexpr const char* kCommands[] = {"run",   "validate", "resume", "executions",
                                     "tasks", "dlq",      "serve",  "render"};

// --project and --data as separate words, their value the next argument.
bool is_valued_common_option(std::string_view arg) {
    return arg == "--project" || arg == "--data";
}

bool is_common_option(std::string_view arg) {
    for (std::string_view name : {"--project", "--data"})
        if (arg == name ||
            (arg.starts_with(name) && arg.size() > name.size() && arg[name.size()] == '='))
            return true;
    return arg == "--no-sync";
}

// A launcher that closes stdin, stdout or stderr (a cron wrapper, `2>&-`) leaves the lowest
// descriptor free, and the first one Ferry opened took it: libuv's epoll handle on fd 0-2
// trips its own assertion at close (exit 134, the output never flushed), and a later
// message to "stderr" would have gone into whatever file held fd 2. /dev/null fills them.
void fill_standard_descriptors() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        // The lowest free descriptor: this one, as the lower ones are open by now.
        // Read-only: a write to a closed stdout still fails, as it did ("could not write the
        // output", exit 1), rather than pass for written.
        int opened = open("/dev/null", O_RDONLY);
        if (opened > 2) close(opened);
    }
}

}  // namespace

// A command that stops on an exception says so in one line and exits 2: the one expected
// is a stored record that does not parse (a damaged data folder), read by a command
// that has no better place to report it.
int main(int argc, char** argv) {
    fill_standard_descriptors();
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
        eprintf("ferry %s: a value could not be read: %s (a damaged record in the data "
                "folder? see 'A data directory Ferry cannot read' in docs/operations.md)\n",
                argc > 1 ? argv[1] : "", e.what());
    } catch (const std::exception& e) {
        eprintf("ferry %s: internal error: %s\n", argc > 1 ? argv[1] : "", e.what());
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
    // The common options before the command (`ferry --project /srv/ferry validate`, as
    // the README lists them apart from any command) go to it, after its name.
    std::vector<char*> moved;
    int leading = 1;
    while (leading < argc && is_common_option(argv[leading])) {
        std::string_view opt = argv[leading];
        bool valued = opt.find('=') == opt.npos && opt != "--no-sync";
        leading += valued && leading + 1 < argc ? 2 : 1;
    }
    if (leading > 1 && leading < argc) {
        moved.push_back(argv[0]);
        moved.push_back(argv[leading]);
        moved.insert(moved.end(), argv + 1, argv + leading);
        moved.insert(moved.end(), argv + leading + 1, argv + argc);
        argc = int(moved.size());
        argv = moved.data();
    }
    std::string_view command = argv[1];
    if (leading > 1 && leading >= argc) {  // `ferry --project X` and nothing more
        eprintf("ferry: missing a command after '%s' (see 'ferry --help')\n", argv[argc - 1]);
        return 2;
    }
    // A shell alias (`alias ferry='ferry --project /srv/ferry'`) puts the common options
    // before every command: those that read no project (render, the version, the help)
    // take them and have nothing to apply them to, where they refused them.
    const bool reads_no_project = command == "render" || command == "--version" ||
                                  command == "version" || command == "-h" || command == "--help" ||
                                  command == "help";
    if (leading > 1 && reads_no_project) {
        moved.erase(moved.begin() + 2, moved.begin() + 1 + leading);
        argc = int(moved.size());
        argv = moved.data();
    }
    if (command == "help") {  // `ferry help run`: run's own help (common options aside)
        std::vector<char*> named;
        for (int i = 2; i < argc; ++i)
            if (!is_common_option(argv[i]) && !(i > 2 && is_valued_common_option(argv[i - 1])))
                named.push_back(argv[i]);
        if (named.size() == 1) {
            char help[] = "--help";
            char* args[] = {argv[0], named[0], help, nullptr};
            return dispatch(3, args);
        }
    }
    if (command == "-h" || command == "--help" || command == "help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (command == "--version" || command == "version") {
        if (argc > 2) {
            eprintf("ferry %s: takes no arguments, got '%s'\n", argv[1], argv[2]);
            return 2;
        }
        std::printf("ferry %s (commit %s, %s)\n", FERRY_VERSION, ferry::cli::kBuildCommit,
                    ferry::allocator_name().c_str());
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
    std::vector<std::string> names(std::begin(kCommands), std::end(kCommands));
    std::string hint = ferry::workflow::did_you_mean(command, names);
    if (command.starts_with("-"))  // an option in the command's place: --verison
        hint = ferry::workflow::did_you_mean(command, {"--help", "--version"});
    eprintf("ferry: unknown command '%s'%s; 'ferry --help' lists them\n", argv[1], hint.c_str());
    return 2;
}

}  // namespace
