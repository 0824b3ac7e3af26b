// Pieces every command shares: common options, opening the app, printing problems and
// progress, building the execution JSON that run/resume/show print.
#pragma once

#include "core/history.h"

#include "core/app.h"
#include "core/printable.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::cli {

struct CommonOptions {
    std::string project = ".";
    std::string data;
    bool no_sync = false;
    bool tolerate_config_problems = false;  // validate reports ferry.yaml itself
    bool store_must_exist = false;          // commands that only read history
    // Reading the history needs no integration: a ferry.yaml that does not load (a deploy's
    // typo, the moment the history is most needed) is warned about, not fatal.
    bool reads_history_only = false;
};

// Consumes --project DIR, --data DIR, --no-sync (and their --x=VALUE forms) at argv[i];
// returns true when it did (advancing i), false when argv[i] is something else.
// Sets error when the option lacks its value.
bool take_common_option(int argc, char** argv, int& i, CommonOptions& out, std::string& error);

// The value of the option at argv[i] (`--workflow NAME`), advancing i; nullopt, with error
// set, when it is missing, empty or another option: an empty filter would read as "no
// filter" (`prune --workflow "$UNSET"` pruned every workflow).
std::optional<std::string> take_option_value(int argc, char** argv, int& i, std::string& error);

// Whether argv[i] is option `name`, as `--name VALUE` (take_option_value's rules) or
// `--name=VALUE`; its value, never empty (`--data "$UNSET"` read as "not given" used the
// default folder), goes to `value`, or error is set.
bool take_named_option(int argc, char** argv, int& i, std::string_view name, std::string& value,
                       std::string& error);

// Opens the project (and its store unless with_store is false). Task problems are printed
// as warnings; a failure to open is printed and nullptr returned (exit 2). What task files
// print while they load goes to untasked_output when it is set.
std::unique_ptr<engine::App> open_app(
    const CommonOptions& options, bool with_store = true,
    std::vector<workflow::Diagnostic>* problems = nullptr,
    std::function<void(std::string_view level, std::string_view text)> untasked_output = nullptr);

// ferry.yaml against the project's workflows: forms, hooks and schedules that name no
// workflow, forms whose fields the workflow does not take, schedules whose inputs do not
// resolve. Each as "FILE:LINE:COL: message" (validate fails on them; serve warns).
std::vector<std::string> config_workflow_problems(engine::App& app,
                                                  const workflow::ProjectConfig& config);

// An error's message on stderr, a line each: a line that names its place
// (FILE:LINE[:COL]: ...) as it is, for editors and CI annotators to read; any other after
// `prefix` ("ferry run: "). A loader's problems come several to a message, one per line.
void print_problem_lines(const std::string& prefix, const std::string& message);

// printf to stderr, through the Redactor: what the user typed or a file holds may be a
// secret ferry.yaml resolves (`--input n=$TOKEN` refused as "got '...'" went into CI logs
// whole). Every message the commands write to stderr goes through here.
[[gnu::format(printf, 1, 2)]] void eprintf(const char* format, ...);

// "ferry CMD: message" on stderr, plus a hint to --help; returns 2.
int usage_error(const char* command, const std::string& message);

// usage_error for an argument the command does not take: "unknown option '--x'" when it
// looks like one, else "unexpected argument 'x'"; returns 2.
int unexpected_argument(const char* command, std::string_view arg);

// "ferry CMD: could not write the output: REASON" on stderr (a full disk), REASON from
// errno as the failed write left it, and returns 1; for a reader that went away (EPIPE:
// `| head`) says nothing and returns 141, a SIGPIPE's status.
int report_output_error(const char* command);

// The execution `given` names: its id, or the start of exactly one id (at least
// kMinIdPrefix characters, as git takes a commit's), so that `show 01M98RSY3V` finds it.
// nullopt once "ferry COMMAND: why" is on stderr: no such execution or several (listed):
// exit_code 2 (bad input); the store could not say: exit_code 1.
constexpr size_t kMinIdPrefix = 4;
std::optional<std::string> execution_id_of(engine::App& app, const std::string& given,
                                           const char* command, int& exit_code);

// The stored execution's JSON on stdout as it is read (engine::print_execution_json), then a
// newline; false once "ferry CMD: why" is on stderr (the store, records that are not JSON).
bool print_execution(engine::App& app, const std::string& id, bool pretty, bool with_attempts,
                     const char* command, bool with_changes = false);

// The JSON object in `text`, read from `path` (an inputs or vars file, called `what` in
// messages), or nullopt once "PATH[:LINE:COL]: ..." is on stderr: text that is not UTF-8 or
// has a lone low surrogate escape (RapidJSON would decode it to bytes that are not UTF-8),
// invalid JSON, a key twice in one object (at the repeat, naming the first), a value that
// does not fit (no position), anything but an object. NaN and Infinity only when
// nan_allowed (render's vars, read as Python's json reads them).
// A file named on the command line: "-" is standard input, and a pipe (/dev/stdin, a
// shell's <(...)) is read to its end like one; otherwise a regular file
// (engine::read_file). nullopt with errno set when it cannot be read.
// At most kMaxArgumentFileBytes: past it, nullopt with errno EFBIG.
constexpr uint64_t kMaxArgumentFileBytes = 64ull << 20;
std::optional<std::string> read_argument_file(const std::string& path);
// Why read_argument_file failed, from errno ("larger than 64 MiB" for EFBIG).
std::string argument_file_error();

std::optional<tmpl::Value> json_object_of_file(const std::string& path, std::string_view text,
                                               const char* what, bool nan_allowed = false);

using engine::printable;  // core/printable.h

// Progress lines on stderr for engine events: aligned and with durations on a terminal,
// one compact line each otherwise.
void print_progress(const engine::EngineEvent& e);

using engine::execution_json;  // core/history.h: run, resume, show and the API agree

}  // namespace ferry::cli
