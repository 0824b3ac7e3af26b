// `ferry validate [PATH...]`: workflows, tasks, templates and ferry.yaml, every problem as
// FILE:LINE:COL: message.
#include "cli/commands.h"
#include "cli/common.h"

#include "template/parser.h"
#include "workflow/project_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

namespace fs = std::filesystem;

namespace ferry::cli {

namespace {

constexpr const char* kValidateUsage =
    "usage: ferry validate [PATH...] [--project DIR]\n"
    "\n"
    "Check workflows (YAML syntax, unknown keys, unknown tasks and providers, bad step\n"
    "references, dependency cycles, invalid expressions, defaults of the wrong type), task\n"
    "files (Lua syntax), templates (Jinja2 syntax) and ferry.yaml. Without PATH, the whole\n"
    "project (a folder with none of ferry.yaml, workflows/, tasks/ and templates/ is not one:\n"
    "exit 2). Every problem is printed as FILE:LINE:COL: message, in file name order.\n"
    "\n"
    "Exit status: 0 when everything is valid, 2 otherwise.\n";

bool ends_with(const std::string& s, const char* suffix) {
    size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

struct Checker {
    engine::App& app;
    std::vector<std::string> problems;
    size_t files = 0;
    std::vector<std::pair<std::string, std::string>> named;  // workflow name, file
    // Files checked, by absolute path: a file named twice (a folder and a file in it,
    // `x.yaml` and `./x.yaml`) is one file, not a workflow that clashes with itself.
    std::set<std::string> checked;

    // Executions are recorded, listed and filtered by workflow name, and `ferry run NAME`
    // finds a file by its stem: a name that two files share, or that is another file's
    // stem, makes a history that mixes workflows or a run of the other file.
    void workflow_names() {
        std::map<std::string, std::string> first, stems;
        for (const auto& [name, file] : named)
            if (fs::path(file).parent_path().filename() == "workflows")
                stems.emplace(fs::path(file).stem().string(), file);
        for (const auto& [name, file] : named) {
            // In workflows/, a name other than the file's is the loader's problem already.
            if (fs::path(file).parent_path().filename() == "workflows" &&
                fs::path(file).stem().string() != name)
                continue;
            auto [it, fresh] = first.emplace(name, file);
            if (!fresh) {
                add(file + ":1:1: workflow name '" + name + "' is also the name of " + it->second +
                    "; their executions would be listed as one workflow's");
                continue;
            }
            auto stem = stems.find(name);
            if (stem != stems.end() && stem->second != file) {
                add(file + ":1:1: workflow name '" + name + "' is the file name of " +
                    stem->second + ": `ferry run " + name + "` runs that file, not this one");
            }
        }
    }

    void add(const std::string& line) { problems.push_back(line); }

    void workflow_file(const std::string& path) {
        ++files;
        auto text = engine::read_file(path);
        if (!text) {
            add(path + ":1:1: cannot read the file");
            return;
        }
        workflow::LoadResult r = workflow::load_workflow_text(*text, path, &app.catalog);
        for (const auto& d : r.problems)
            add(d.describe());
        if (!r.workflow) return;
        named.emplace_back(r.workflow->name, path);
        for (const workflow::Diagnostic& d : app.inline_script_problems(*r.workflow))
            add(d.describe());
        for (const workflow::Diagnostic& d : app.project_problems(*r.workflow))
            add(d.describe());
    }

    void template_file(const std::string& path, const std::string& name) {
        ++files;
        auto text = engine::read_file(path);
        if (!text) {
            add(path + ":1:1: cannot read the file");
            return;
        }
        try {
            engine::check_template_utf8(*text, name);
            tmpl::parse_template(*text, name);
        } catch (const tmpl::TemplateError& e) {
            add(path + ":" + std::to_string(e.where().line) + ":" +
                std::to_string(std::max(1, e.where().column)) + ": " + e.message());
        }
    }

    void lua_file(const std::string& path) {
        ++files;
        auto text = engine::read_file(path);
        if (!text) {
            add(path + ":1:1: cannot read the file");
            return;
        }
        Result<int> chunk = app.vm.load_chunk("@" + path, *text);
        if (!chunk) {
            const Error& e = chunk.error();
            // Lua names the line; the column is known only when the token it stopped at is
            // unique on that line (runtime/lua_vm.cpp): FILE:LINE: alone otherwise, as the
            // project's own check (engine/core/catalog.cpp) prints it, not a column 1 that
            // would point at the wrong token.
            int line = e.location && e.location->line > 0 ? e.location->line : 1;
            int column = e.location ? e.location->column : 0;
            add(path + ":" + std::to_string(line) +
                (column > 0 ? ":" + std::to_string(column) : std::string()) + ": " + e.message);
        }
    }

    void config_file(const std::string& path) {
        ++files;
        auto text = engine::read_file(path);
        if (!text) {
            add(path + ":1:1: cannot read the file");
            return;
        }
        workflow::ConfigLoadResult r = workflow::load_project_config_text(*text, path);
        for (const auto& d : r.problems)
            add(d.describe());
        for (const auto& d : r.file_problems())  // run and serve only warn
            add(d.describe());
        // Forms, hooks and schedules name workflows; only here are the project's workflows
        // known.
        for (const std::string& problem : config_workflow_problems(app, r.config))
            add(problem);
    }

    // named: given on the command line, where a file of no kind ferry checks is a mistake
    // (inside a folder it is simply not ours).
    // Whether path() checks a file of this name (a workflow, task, template or ferry.yaml).
    static bool checked_name(const std::string& p) {
        for (const char* ext : {".yaml", ".yml", ".json", ".lua", ".j2", ".jinja", ".jinja2"})
            if (ends_with(p, ext)) return true;
        return false;
    }

    void path(const std::string& p, const std::string& template_root = {}, bool named = false) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            // In name order, not the directory's: the same checkout listed its problems in
            // another order on another machine (CI logs, golden files).
            std::vector<fs::directory_entry> entries;
            for (auto it = fs::recursive_directory_iterator(p, ec);
                 !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
                entries.push_back(*it);
            std::sort(entries.begin(), entries.end(),
                      [](const auto& a, const auto& b) { return a.path() < b.path(); });
            for (const fs::directory_entry& entry : entries) {
                std::error_code type_ec;
                if (entry.is_regular_file(type_ec)) {
                    path(entry.path().string(), template_root);
                } else if (!entry.is_directory(type_ec) && checked_name(entry.path().string())) {
                    // Skipped by every loader: a file the project seems to have, but does not.
                    bool dangling = entry.is_symlink(type_ec) && !fs::exists(entry.path(), type_ec);
                    add(entry.path().string() + ":1:1: " +
                        (dangling ? "a symbolic link to nothing" : "not a regular file") +
                        ", so it is not loaded");
                }
            }
            return;
        }
        if (!fs::exists(p, ec)) {
            add(p + ":1:1: no such file or folder");
            return;
        }
        // The folder resolved, the file's own name kept: the same file reached through a
        // linked folder is one file, while a symbolic link to a file is a workflow of its
        // own (run and serve find it by its own name).
        fs::path written = fs::absolute(p, ec);
        fs::path key = fs::weakly_canonical(written.parent_path(), ec) / written.filename();
        if (!checked.insert(key.string()).second) return;
        if (ends_with(p, "ferry.yaml"))
            config_file(p);
        else if (ends_with(p, ".yaml") || ends_with(p, ".yml") || ends_with(p, ".json")) {
            if (p.find("/samples/") == std::string::npos) workflow_file(p);
        } else if (ends_with(p, ".lua"))
            lua_file(p);
        else if (ends_with(p, ".j2") || ends_with(p, ".jinja") || ends_with(p, ".jinja2"))
            template_file(p, fs::path(p).filename().string());
        else if (named)
            add(p + ":1:1: not a file ferry checks (a workflow .yaml/.yml/.json, a task .lua, "
                    "a template .j2/.jinja/.jinja2, or ferry.yaml)");
    }
};

}  // namespace

int validate_command(int argc, char** argv) {
    CommonOptions common;
    std::vector<std::string> paths;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string err;
        if (take_common_option(argc, argv, i, common, err)) {
            if (!err.empty()) return usage_error("validate", err);
        } else if (arg == "-h" || arg == "--help") {
            std::fputs(kValidateUsage, stdout);
            return 0;
        } else if (!arg.empty() && arg[0] == '-') {
            return unexpected_argument("validate", arg);
        } else {
            paths.emplace_back(arg);
        }
    }
    std::vector<workflow::Diagnostic> task_problems;
    common.tolerate_config_problems = true;
    auto app = open_app(common, false, &task_problems);
    if (!app) return 2;
    Checker c{*app, {}, 0, {}, {}};
    if (paths.empty()) {
        // Run from the wrong folder, validate checked Ferry's built-in tasks and passed: a
        // CI step that never looked at the project.
        std::error_code ec;
        fs::path root(common.project);
        bool a_project =
            fs::symlink_status(root / "ferry.yaml", ec).type() != fs::file_type::not_found ||
            fs::exists(root / "workflows", ec) || fs::exists(root / "tasks", ec) ||
            fs::exists(root / "templates", ec);
        if (!a_project) {
            std::fprintf(
                stderr,
                "ferry validate: %s has no ferry.yaml, workflows/, tasks/ or templates/: is "
                "it the "
                "project? (--project DIR)\n",
                printable(fs::absolute(root, ec).lexically_normal().string(), true).c_str());
            return 2;
        }
        for (const auto& d : task_problems)
            c.add(d.describe());
        // symlink_status: a dangling or looping link is a ferry.yaml that cannot be read.
        if (fs::symlink_status(root / "ferry.yaml", ec).type() != fs::file_type::not_found)
            c.config_file((root / "ferry.yaml").string());
        for (const char* folder : {"workflows", "templates"}) {
            if (fs::is_directory(root / folder, ec)) c.path((root / folder).string());
        }
        c.files += app->catalog.all().size();
    } else {
        for (const std::string& p : paths)
            c.path(p, {}, true);
    }
    c.workflow_names();
    // What a file holds is shown, not obeyed: a name with an escape sequence or a CR in it
    // rewrote the terminal's line.
    for (const std::string& line : c.problems)
        std::printf("%s\n", printable(line, true).c_str());
    if (c.problems.empty()) {
        std::fprintf(stderr, "ferry validate: %zu file%s checked, no problems\n", c.files,
                     c.files == 1 ? "" : "s");
        return 0;
    }
    std::fprintf(stderr, "ferry validate: %zu problem%s\n", c.problems.size(),
                 c.problems.size() == 1 ? "" : "s");
    return 2;
}

}  // namespace ferry::cli
