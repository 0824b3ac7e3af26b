// `ferry validate [PATH...]`: workflows, tasks, templates and ferry.yaml, every problem as
// FILE:LINE:COL: message.
#include "cli/commands.h"
#include "cli/common.h"

#include "runtime/integration/secrets.h"
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
    "exit 2). With PATHs, those files and folders: a file under templates/ is a template,\n"
    "workflows/samples/ is skipped, and elsewhere a file goes by its name (.yaml/.yml/.json\n"
    "a workflow, .lua a task, .j2/.jinja/.jinja2 a template, ferry.yaml the configuration).\n"
    "Every problem is printed as FILE:LINE:COL: message, in file name order.\n"
    "\n"
    "Exit status: 0 when everything is valid, 2 otherwise.\n";

bool ends_with(const std::string& s, const char* suffix) {
    size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

struct Checker {
    engine::App& app;
    fs::path root;  // the project folder, resolved: what a file is depends on where it lies
    std::vector<std::string> problems;
    size_t files = 0;
    std::vector<std::pair<std::string, std::string>> named;  // workflow name, file
    // Files checked, by absolute path: a file named twice (a folder and a file in it,
    // `x.yaml` and `./x.yaml`) is one file, not a workflow that clashes with itself.
    std::set<std::string> checked;
    // The problems the project's task catalogue found as it loaded tasks/: a task file named
    // on the command line reports its own (duplicate names, unknown keys, input types),
    // which its Lua syntax alone does not show.
    const std::vector<workflow::Diagnostic>* task_problems = nullptr;

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
        for (const workflow::Diagnostic& d : app.workflow_problems(r))
            add(d.describe());
        if (r.workflow) named.emplace_back(r.workflow->name, path);
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
            const int line = e.location && e.location->line > 0 ? e.location->line : 1;
            const int column = e.location && e.location->column > 0 ? e.location->column : 1;
            add(path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                e.message);
        }
    }

    // A task: one of the project's tasks/ as its catalogue loaded it, or another .lua file
    // for its syntax.
    void task_file(const std::string& path, const fs::path& key) {
        const fs::path from_root = key.lexically_relative(root);
        if (!task_problems || from_root.empty() || *from_root.begin() != "tasks")
            return lua_file(path);
        ++files;
        for (const workflow::Diagnostic& d : *task_problems) {
            const fs::path file(d.mark.file);  // as the catalogue names it: from the project
            if (absolute_of(file.is_relative() ? root / file : file) == key) add(d.describe());
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

    enum class Kind { Config, Workflow, Task, Template, Sample, Unknown };

    // What a file is, by the project folder it lies in: everything under templates/ is a
    // template (a payload.json, a report.md), workflows/samples/ holds inputs files, and
    // only the project's own ferry.yaml is its configuration. A file outside those folders
    // (named on the command line) goes by its name. Decided by the path from the project
    // root, so a project under /srv/samples/ or a workflow named deploy-ferry.yaml is what
    // it is.
    Kind kind_of(const fs::path& file) const {
        const std::string name = file.filename().string();
        std::vector<std::string> parts;
        const fs::path from_root = file.lexically_relative(root);
        if (!from_root.empty() && *from_root.begin() != "..")
            for (const fs::path& part : from_root)
                parts.push_back(part.string());
        const auto has_extension = [&](std::initializer_list<const char*> extensions) {
            return std::any_of(extensions.begin(), extensions.end(),
                               [&](const char* ext) { return ends_with(name, ext); });
        };
        const bool workflow_name = has_extension({".yaml", ".yml", ".json"});
        if (parts.size() == 1 && name == "ferry.yaml") return Kind::Config;
        if (parts.size() > 1 && parts[0] == "templates") return Kind::Template;
        if (parts.size() > 2 && parts[0] == "workflows" && parts[1] == "samples")
            return Kind::Sample;
        if (parts.size() > 1 && parts[0] == "workflows")
            return workflow_name ? Kind::Workflow : Kind::Unknown;
        if (parts.size() > 1 && parts[0] == "tasks")
            return has_extension({".lua"}) ? Kind::Task : Kind::Unknown;
        if (name == "ferry.yaml") return Kind::Config;
        if (workflow_name) return Kind::Workflow;
        if (has_extension({".lua"})) return Kind::Task;
        if (has_extension({".j2", ".jinja", ".jinja2"})) return Kind::Template;
        return Kind::Unknown;
    }

    // named: given on the command line, where a file of no kind ferry checks is a mistake
    // (inside a folder it is simply not ours).
    void path(const std::string& p, bool named = false) {
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
                    path(entry.path().string());
                } else if (!entry.is_directory(type_ec) &&
                           kind_of(absolute_of(entry.path())) != Kind::Unknown) {
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
        const fs::path key = absolute_of(p);
        if (!checked.insert(key.string()).second) return;
        switch (kind_of(key)) {
        case Kind::Config: config_file(p); break;
        case Kind::Workflow: workflow_file(p); break;
        case Kind::Task: task_file(p, key); break;
        case Kind::Template: template_file(p, fs::path(p).filename().string()); break;
        case Kind::Sample: break;
        case Kind::Unknown:
            if (named)
                add(p + ":1:1: not a file ferry checks (a workflow .yaml/.yml/.json, a task "
                        ".lua, a template .j2/.jinja/.jinja2 or any file under templates/, "
                        "or ferry.yaml)");
            break;
        }
    }

    // The folder resolved, the file's own name kept: the same file reached through a linked
    // folder is one file, while a symbolic link to a file is a workflow of its own (run and
    // serve find it by its own name).
    static fs::path absolute_of(const fs::path& p) {
        std::error_code ec;
        fs::path written = fs::absolute(p, ec);
        return fs::weakly_canonical(written.parent_path(), ec) / written.filename();
    }
};

bool is_project_folder(const fs::path& at) {
    std::error_code ec;
    return fs::is_regular_file(at / "ferry.yaml", ec) || fs::is_directory(at / "workflows", ec);
}

// Whether path is root or lies under it, component by component.
bool within(const fs::path& path, fs::path root) {
    if (root.has_relative_path() && root.filename().empty()) root = root.parent_path();
    auto [r, p] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
    return r == root.end();
}

// The other project a path lies in: the nearest folder above it (its own, for a folder)
// holding a ferry.yaml or a workflows/ folder; empty for a path under the project (as
// written, or where its links lead: a workflow linked in from a shared folder is the
// project's) or under no project at all.
fs::path other_project(const std::string& path, const fs::path& root_written,
                       const fs::path& root_resolved) {
    std::error_code ec;
    const fs::path written = fs::absolute(path, ec).lexically_normal();
    if (ec || within(written, root_written)) return {};
    if (within(fs::weakly_canonical(written, ec), root_resolved)) return {};
    fs::path at = fs::is_directory(written, ec) ? written : written.parent_path();
    for (; !at.empty(); at = at.parent_path()) {
        if (is_project_folder(at)) return at;
        if (at == at.root_path()) break;
    }
    return {};
}

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
    std::error_code root_ec;
    const fs::path project_root = fs::weakly_canonical(fs::absolute(common.project), root_ec);
    // A folder named that is the project is the whole project; another project's folder
    // would be checked against this project's tasks, workflows and integrations.
    const bool root_named = std::erase_if(paths, [&](const std::string& p) {
                                std::error_code ec;
                                return fs::is_directory(p, ec) &&
                                       fs::weakly_canonical(fs::absolute(p), ec) == project_root;
                            }) > 0;
    const bool root_is_project = is_project_folder(project_root);
    std::error_code written_ec;
    const fs::path root_written = fs::absolute(common.project, written_ec).lexically_normal();
    for (const std::string& p : paths) {
        std::error_code ec;
        const fs::path dir(p);
        if (fs::is_directory(dir, ec) && is_project_folder(dir)) {
            eprintf("ferry validate: %s is a Ferry project of its own, not a folder of %s: "
                    "check it with `ferry validate --project %s`\n",
                    printable(p, true).c_str(), printable(project_root.string(), true).c_str(),
                    printable(p, true).c_str());
            return 2;
        }
        // A file or folder inside another project (`../ops/workflows/p.yaml`) was checked
        // against this project's tasks: "unknown task" for a task that is there. Only from
        // a project: run from a folder that is none (inside workflows/), a file goes by its
        // name, as before.
        fs::path owner =
            root_is_project ? other_project(p, root_written, project_root) : fs::path();
        if (!owner.empty()) {
            eprintf("ferry validate: %s lies in the Ferry project %s, not in %s: check it "
                    "with `ferry validate --project %s %s`\n",
                    printable(p, true).c_str(), printable(owner.string(), true).c_str(),
                    printable(project_root.string(), true).c_str(),
                    printable(owner.string(), true).c_str(), printable(p, true).c_str());
            return 2;
        }
    }
    const bool whole_project = paths.empty() || root_named;
    Checker c{*app, project_root, {}, 0, {}, {}, &task_problems};
    if (whole_project) {
        // Run from the wrong folder, validate checked Ferry's built-in tasks and passed: a
        // CI step that never looked at the project.
        std::error_code ec;
        fs::path root(common.project);
        bool a_project =
            fs::symlink_status(root / "ferry.yaml", ec).type() != fs::file_type::not_found ||
            fs::exists(root / "workflows", ec) || fs::exists(root / "tasks", ec) ||
            fs::exists(root / "templates", ec);
        if (!a_project) {
            eprintf("ferry validate: %s has no ferry.yaml, workflows/, tasks/ or templates/: is "
                    "it the "
                    "project? (--project DIR)\n",
                    printable(fs::absolute(root, ec).lexically_normal().string(), true).c_str());
            return 2;
        }
        for (const auto& d : task_problems)
            c.add(d.describe());
        // symlink_status: a dangling or looping link is a ferry.yaml that cannot be read.
        if (fs::symlink_status(root / "ferry.yaml", ec).type() != fs::file_type::not_found) {
            c.checked.insert(Checker::absolute_of(root / "ferry.yaml").string());
            c.config_file((root / "ferry.yaml").string());
        }
        for (const char* folder : {"workflows", "templates", "tasks"}) {
            // A file where a folder belongs hides the project's files from every command.
            if (fs::exists(root / folder, ec) && !fs::is_directory(root / folder, ec))
                c.add((root / folder).string() + ":1:1: not a folder, so no " + folder +
                      " are loaded from it");
        }
        for (const char* folder : {"workflows", "templates"}) {
            if (fs::is_directory(root / folder, ec)) c.path((root / folder).string());
        }
        c.files += app->catalog.all().size();
    }
    for (const std::string& p : paths)
        c.path(p, true);
    c.workflow_names();
    // What a file holds is shown, not obeyed: a name with an escape sequence or a CR in it
    // rewrote the terminal's line.
    for (const std::string& line : c.problems)
        std::printf("%s\n", redact(printable(line, true)).c_str());
    // The problems before the count: stdout to a file is buffered, stderr is not, so
    // `ferry validate > log 2>&1` (CI, journald) printed the count above them.
    if (std::fflush(stdout) != 0) return report_output_error("validate");
    if (c.problems.empty()) {
        eprintf("ferry validate: %zu file%s checked, no problems\n", c.files,
                c.files == 1 ? "" : "s");
        return 0;
    }
    eprintf("ferry validate: %zu problem%s\n", c.problems.size(),
            c.problems.size() == 1 ? "" : "s");
    return 2;
}

}  // namespace ferry::cli
