#include "cli/common.h"

#include "runtime/integration/secrets.h"
#include "runtime/json_repeats.h"
#include "runtime/utf8.h"

#include "core/values.h"
#include "template/error.h"
#include "template/json_value.h"

#include <rapidjson/error/en.h>

#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace ferry::cli {

using tmpl::Value;

bool take_common_option(int argc, char** argv, int& i, CommonOptions& out, std::string& error) {
    if (take_named_option(argc, argv, i, "--project", out.project, error) ||
        take_named_option(argc, argv, i, "--data", out.data, error))
        return true;
    if (std::string_view(argv[i]) == "--no-sync") {
        out.no_sync = true;
        return true;
    }
    return false;
}

bool take_named_option(int argc, char** argv, int& i, std::string_view name, std::string& value,
                       std::string& error) {
    std::string_view arg = argv[i];
    if (arg == name) {
        if (std::optional<std::string> v = take_option_value(argc, argv, i, error)) value = *v;
        return true;
    }
    if (arg.size() <= name.size() || arg.substr(0, name.size()) != name || arg[name.size()] != '=')
        return false;
    if (arg.size() == name.size() + 1)
        error = std::string(name) + " needs a value, got ''";
    else
        value = std::string(arg.substr(name.size() + 1));
    return true;
}

std::optional<std::string> take_option_value(int argc, char** argv, int& i, std::string& error) {
    std::string name = argv[i];
    if (i + 1 >= argc) {
        error = name + " needs a value";
        return std::nullopt;
    }
    std::string value = argv[i + 1];
    if (value.empty() || value.rfind("--", 0) == 0) {
        error = name + " needs a value" + (value.empty() ? ", got ''" : ", got '" + value + "'");
        return std::nullopt;
    }
    ++i;
    return value;
}

std::unique_ptr<engine::App>
open_app(const CommonOptions& options, bool with_store, std::vector<workflow::Diagnostic>* problems,
         std::function<void(std::string_view level, std::string_view text)> untasked_output) {
    engine::AppOptions ao;
    ao.untasked_output = std::move(untasked_output);
    ao.project_dir = options.project;
    ao.data_dir = options.data;
    ao.durable = !options.no_sync;
    ao.open_store = with_store;
    ao.create_store = !options.store_must_exist;
    ao.read_only_fallback = options.reads_history_only && options.store_must_exist;
    ao.tolerate_config_problems = options.tolerate_config_problems;
    std::vector<workflow::Diagnostic> local;
    std::vector<workflow::Diagnostic>& probs = problems ? *problems : local;
    auto app = engine::App::open(ao, probs);
    // Only ferry.yaml's problems are worth reading the history without it; a project
    // folder that is not there was reported three times over (twice as a warning).
    std::error_code ec;
    if (!app && options.reads_history_only && app.error().kind == ErrorKind::Validation &&
        !options.tolerate_config_problems && std::filesystem::is_directory(options.project, ec)) {
        print_problem_lines("warning: ", app.error().message);
        eprintf("warning: ferry.yaml does not load (above); the history is read "
                "without it ('ferry validate' lists every problem)\n");
        ao.tolerate_config_problems = true;
        probs.clear();
        app = engine::App::open(ao, probs);
    }
    if (!app) {
        // ferry.yaml's problems come as their FILE:LINE:COL lines (the first followed
        // "ferry: validation: ", where nothing reads it as a place).
        if (app.error().kind == ErrorKind::Validation && !app.error().location)
            print_problem_lines("ferry: ", app.error().message);
        else
            eprintf("ferry: %s\n", printable(app.error().describe()).c_str());
        return nullptr;
    }
    if (!problems) {
        for (const auto& d : local)
            eprintf("warning: %s\n", printable(d.describe(), true).c_str());
    }
    // LMDB reads a read-only file system without its lock file: sound for a copy, not for a
    // live folder a writer reaches through another mount (a container's `:ro` volume).
    if (app.value()->store_read_only)
        eprintf("warning: %s is read-only: opened for reading only, without LMDB's lock; if a "
                "ferry process writes it through another mount, what is read may be "
                "inconsistent\n",
                printable(app.value()->project.data_dir(), true).c_str());
    return std::move(app.value());
}

std::vector<std::string> config_workflow_problems(engine::App& app,
                                                  const workflow::ProjectConfig& config) {
    std::vector<std::string> out;
    // A workflow with problems of its own is reported by its file, not here.
    auto named_workflow =
        [&](const std::string& name, const workflow::Mark& at,
            const std::string& what) -> std::shared_ptr<const workflow::Workflow> {
        if (name.empty()) return nullptr;
        auto wf = app.load_workflow(name);
        if (wf) return wf.value();
        if (wf.error().kind == ErrorKind::NotFound)
            out.push_back(
                workflow::Diagnostic{at, what + ": no workflow '" + name + "' in workflows/"}
                    .describe());
        return nullptr;
    };
    auto add = [&](const std::vector<workflow::Diagnostic>& found) {
        for (const workflow::Diagnostic& d : found)
            out.push_back(d.describe());
    };
    for (const auto& f : config.form_specs)
        if (auto wf = named_workflow(f.workflow, f.workflow_mark, "form '" + f.name + "'"))
            add(workflow::check_form_inputs(f, *wf));
    for (const auto& h : config.hook_specs) {
        named_workflow(h.start, h.workflow_mark, "hook '" + h.name + "'");
        for (const std::string& w : h.resume_workflows)
            named_workflow(w, h.mark, "hook '" + h.name + "' action.workflows");
    }
    for (const auto& s : config.schedule_entries)
        if (auto wf = named_workflow(s.workflow, s.mark, "schedule '" + s.name + "'"))
            add(workflow::check_schedule_inputs(s, *wf));
    return out;
}

void print_problem_lines(const std::string& prefix, const std::string& message) {
    // "name:12: " or "name:12:3: ": a place, as compilers print one.
    auto names_a_place = [](std::string_view line) {
        const size_t colon = line.find(':');
        if (colon == 0 || colon == std::string_view::npos) return false;
        size_t at = colon + 1;
        for (int part = 0; part < 2; ++part) {
            const size_t digits = at;
            while (at < line.size() && line[at] >= '0' && line[at] <= '9')
                ++at;
            if (at == digits || at >= line.size() || line[at] != ':') return part > 0;
            ++at;
        }
        return true;
    };
    std::string_view rest = message;
    while (!rest.empty()) {
        const size_t end = std::min(rest.find('\n'), rest.size());
        const std::string_view line = rest.substr(0, end);
        eprintf("%s%s\n", names_a_place(line) ? "" : prefix.c_str(),
                printable(std::string(line)).c_str());
        rest.remove_prefix(std::min(end + 1, rest.size()));
    }
}

void eprintf(const char* format, ...) {
    va_list args;
    va_start(args, format);
    va_list again;
    va_copy(again, args);
    const int size = std::vsnprintf(nullptr, 0, format, args);
    va_end(args);
    std::string text(size > 0 ? size_t(size) : 0, '\0');
    if (size > 0) std::vsnprintf(text.data(), text.size() + 1, format, again);
    va_end(again);
    if (!Redactor::instance().empty()) text = redact(text);
    std::fwrite(text.data(), 1, text.size(), stderr);
}

std::optional<std::string> execution_id_of(engine::App& app, const std::string& given,
                                           const char* command, int& exit_code) {
    auto fail = [&](int code, const std::string& why) -> std::optional<std::string> {
        eprintf("ferry %s: %s\n", command, why.c_str());
        exit_code = code;
        return std::nullopt;
    };
    const std::string none = "no execution '" + printable(given, true) + "'";
    if (given.empty()) return fail(2, none);
    // One scan: an id is the start of itself, and sorts first among those it starts.
    constexpr size_t kListed = 5;
    auto found = app.store->execution_ids_with_prefix(given, kListed + 1);
    if (!found) return fail(1, found.error().describe());
    // Ids are upper case (Crockford base32); `01m98` typed from a lower-cased log finds them.
    std::string upper = given;
    for (char& c : upper)
        c = (c >= 'a' && c <= 'z') ? char(c - 'a' + 'A') : c;
    if (found->empty() && upper != given) {
        found = app.store->execution_ids_with_prefix(upper, kListed + 1);
        if (!found) return fail(1, found.error().describe());
    }
    const std::vector<std::string>& ids = found.value();
    if (!ids.empty() && (ids[0] == given || ids[0] == upper)) return ids[0];
    if (ids.empty()) return fail(2, none);
    if (given.size() < kMinIdPrefix)
        return fail(2, none + ": the start of an id names one from " +
                           std::to_string(kMinIdPrefix) + " characters on");
    if (ids.size() == 1) return ids[0];
    std::string listed;
    for (size_t i = 0; i < std::min(ids.size(), kListed); ++i)
        listed += (i ? ", " : "") + ids[i];
    return fail(2, "'" + printable(given, true) + "' is the start of several execution ids (" +
                       listed + (ids.size() > kListed ? ", ..." : "") +
                       "): give more of the one you mean");
}

int usage_error(const char* command, const std::string& message) {
    eprintf("ferry %s: %s\n(see 'ferry %s --help')\n", command, printable(message).c_str(),
            command);
    return 2;
}

int unexpected_argument(const char* command, std::string_view arg) {
    bool option = arg.size() > 1 && arg[0] == '-';
    return usage_error(command, std::string(option ? "unknown option '" : "unexpected argument '") +
                                    std::string(arg) + "'");
}

int report_output_error(const char* command) {
    int err = errno;
    // The reader went away (`| head`): what it wanted it had, and saying so is noise. The
    // status a process killed by SIGPIPE has, as a shell reports it (pipefail sees it).
    if (err == EPIPE) return 128 + SIGPIPE;
    eprintf("ferry %s: could not write the output: %s\n", command,
            err ? std::strerror(err) : "write error");
    return 1;
}

bool print_execution(engine::App& app, const std::string& id, bool pretty, bool with_attempts,
                     const char* command, bool with_changes) {
    Status printed =
        engine::print_execution_json(*app.store, id, pretty, with_attempts, stdout, with_changes);
    std::fputc('\n', stdout);
    if (!printed) eprintf("ferry %s: %s\n", command, printed.error().describe().c_str());
    return bool(printed);
}

namespace {

// "PATH:LINE:COL: message" on stderr, the place being a byte offset in text.
void print_at(const std::string& path, std::string_view text, size_t offset,
              const std::string& message) {
    TextPosition at = position_at(text, offset);
    eprintf("%s:%d:%d: %s\n", path.c_str(), at.line, at.column, message.c_str());
}

// Colour only for a terminal that wants it (https://no-color.org, and a dumb terminal
// prints the escape codes as text).
bool colour_wanted() {
    const char* no_color = std::getenv("NO_COLOR");
    const char* term = std::getenv("TERM");
    return !(no_color && *no_color) && !(term && std::string_view(term) == "dumb");
}

// Where a JSON text that parses does not make a value (value_from_json_document's two
// refusals), so its message has a place: the first value nested 513 levels deep, or an
// integer from 2^63 to 2^64 (beyond that RapidJSON reads a float). npos if neither is found.
size_t unfit_json_offset(std::string_view text) {
    constexpr int kMaxDepth = 512;
    int depth = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':') continue;
        if (c == ']' || c == '}') {
            --depth;
            continue;
        }
        if (depth > kMaxDepth) return i;
        if (c == '[' || c == '{') {
            ++depth;
        } else if (c == '"') {
            for (++i; i < text.size() && text[i] != '"'; ++i)
                if (text[i] == '\\') ++i;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t end = i;
            bool whole = true;
            while (end < text.size() && std::strchr("-+.eE0123456789", text[end])) {
                if (text[end] == '.' || text[end] == 'e' || text[end] == 'E') whole = false;
                ++end;
            }
            const std::string_view digits = text.substr(i, end - i);
            const bool past_int64 =
                digits.size() == 19 ? digits > "9223372036854775807" : digits.size() == 20;
            if (whole && c != '-' && past_int64 &&
                (digits.size() < 20 || digits <= "18446744073709551615"))
                return i;
            i = end - 1;
        }
    }
    return std::string_view::npos;
}
}  // namespace

std::optional<std::string> read_argument_file(const std::string& path) {
    struct stat st {};
    const bool is_stdin = path == "-";
    if (!is_stdin && ::stat(path.c_str(), &st) != 0) return std::nullopt;
    if (!is_stdin && S_ISREG(st.st_mode)) {
        if (uint64_t(st.st_size) > kMaxArgumentFileBytes) {
            errno = EFBIG;
            return std::nullopt;
        }
        return engine::read_file(path);
    }
    if (!is_stdin && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        return std::nullopt;
    }
    // A pipe or a device is read to its end, but not past the limit (/dev/zero, an endless
    // producer): the memory would grow until the kernel killed the process.
    int fd = is_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        int why = n < 0 ? errno : text.size() + size_t(n) > kMaxArgumentFileBytes ? EFBIG : 0;
        if (why) {
            if (!is_stdin) ::close(fd);
            errno = why;
            return std::nullopt;
        }
        if (n == 0) break;
        text.append(buf, size_t(n));
    }
    if (!is_stdin) ::close(fd);
    return text;
}

std::string argument_file_error() {
    if (errno == EFBIG)
        return "larger than " + std::to_string(kMaxArgumentFileBytes >> 20) + " MiB";
    return std::strerror(errno);
}

std::optional<tmpl::Value> json_object_of_file(const std::string& path, std::string_view text,
                                               const char* what, bool nan_allowed) {
    size_t bad = invalid_utf8_at(text);
    const char* problem = "a byte that is not UTF-8";
    if (bad == std::string_view::npos) {
        bad = lone_low_surrogate_escape_at(text);
        problem = "a low surrogate escape without a high one";
    }
    if (bad != std::string_view::npos) {
        print_at(path, text, bad, std::string("invalid JSON: ") + problem);
        return std::nullopt;
    }
    rapidjson::Document doc;
    JsonParse parsed = nan_allowed
                           ? parse_json_noting_repeats<tmpl::kJsonReadFlags>(doc, text)
                           : parse_json_noting_repeats<tmpl::kJsonInputReadFlags>(doc, text);
    if (parsed.syntax.IsError()) {
        print_at(path, text, parsed.syntax.Offset(),
                 std::string("invalid JSON: ") + rapidjson::GetParseError_En(parsed.syntax.Code()));
        return std::nullopt;
    }
    if (parsed.repeated) {
        TextPosition first = position_at(text, parsed.repeated->first_offset);
        print_at(path, text, parsed.repeated->repeat_offset,
                 "duplicate key '" + printable(parsed.repeated->key) + "' (first at " +
                     std::to_string(first.line) + ":" + std::to_string(first.column) + ")");
        return std::nullopt;
    }
    tmpl::Value value;
    try {
        value = tmpl::value_from_json_document(doc);
    } catch (const tmpl::TemplateError& e) {
        // It parses but does not fit (an integer beyond 64 bits, nesting too deep).
        const size_t at = unfit_json_offset(text);
        if (at != std::string_view::npos)
            print_at(path, text, at, "invalid JSON: " + e.message());
        else
            eprintf("%s: invalid JSON: %s\n", path.c_str(), e.message().c_str());
        return std::nullopt;
    }
    if (!value.is_dict()) {
        eprintf("%s:1:1: the %s must hold a JSON object\n", path.c_str(), what);
        return std::nullopt;
    }
    return value;
}

void print_progress(const engine::EngineEvent& e) {
    static const bool tty = isatty(STDERR_FILENO) != 0;
    static const bool colour = colour_wanted();
    std::string what;
    if (e.type == "execution.started")
        what = "execution started";
    else if (e.type == "execution.resumed")
        what = "execution resumed";
    else if (e.type == "execution.finished")
        what = "execution " + e.status;
    else if (e.type == "step.started")
        what = "step " + e.step + " started" +
               (e.attempt > 1 ? " (attempt " + std::to_string(e.attempt) + ")" : "");
    else if (e.type == "step.finished")
        what = "step " + e.step + " " + e.status;
    else if (e.type == "step.failed")
        what = "step " + e.step + " failed";
    else if (e.type == "step.skipped")
        what = "step " + e.step + " skipped";
    else if (e.type == "step.waiting")
        what = "step " + e.step + " waiting for a decision";
    else if (e.type == "step.retrying")
        what = "step " + e.step + " attempt " + std::to_string(e.attempt) + " failed";
    else
        what = e.type;
    auto seconds = [](double ms) {
        char text[32];
        if (ms >= 1000)
            std::snprintf(text, sizeof text, "%.2fs", ms / 1000);
        else
            std::snprintf(text, sizeof text, "%.0fms", ms);
        return std::string(text);
    };
    std::string dur;
    // A step cancelled before it ran took no time ("cancelled in 0ms" read as if it had).
    const bool never_ran = e.type == "step.finished" && e.status == "cancelled" &&
                           e.attempt == 0 && e.duration_ms == 0;
    if ((e.type == "step.finished" && !never_ran) || e.type == "step.failed" ||
        e.type == "execution.finished" || e.type == "step.retrying")
        dur = " in " + seconds(e.duration_ms);
    if (e.type == "step.retrying") dur += ", retrying in " + seconds(double(e.retry_in_ms));
    std::string detail = e.message.empty() ? "" : ": " + printable(e.message, /*one_line=*/true);
    if (tty) {
        const char* mark = e.status == "failed"      ? (colour ? "\033[31m✗\033[0m" : "✗")
                           : e.status == "succeeded" ? (colour ? "\033[32m✓\033[0m" : "✓")
                           : e.status == "skipped"   ? (colour ? "\033[33m-\033[0m" : "-")
                                                     : "•";
        eprintf("%s %s%s%s\n", mark, what.c_str(), dur.c_str(), detail.c_str());
    } else {
        eprintf("ferry: %s %s%s%s\n", e.execution_id.c_str(), what.c_str(), dur.c_str(),
                detail.c_str());
    }
}

}  // namespace ferry::cli
