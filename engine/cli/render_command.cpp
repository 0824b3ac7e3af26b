// `ferry render TEMPLATE --vars VARS.json [--strict]`: one template to stdout, byte-exact
// with Jinja2's default Environment over FileSystemLoader(dirname(TEMPLATE)).
#include "cli/commands.h"
#include "cli/common.h"
#include "core/app.h"
#include "core/project.h"

#include "template/environment.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace ferry::cli {

namespace {

constexpr const char* kRenderUsage =
    "usage: ferry render TEMPLATE --vars VARS.json [--strict]\n"
    "\n"
    "Render TEMPLATE (Jinja2 syntax) with the JSON object in VARS.json and print the result.\n"
    "include/import/extends resolve relative to TEMPLATE's folder and cannot leave it.\n"
    "TEMPLATE '-' (stdin) or a pipe (<(...)) is read whole; its includes resolve from the\n"
    "current folder.\n"
    "\n"
    "Options:\n"
    "  --vars FILE    JSON object with the template's variables ('-' reads stdin);\n"
    "                 without it the template renders with none\n"
    "  --strict       undefined variables are errors (Jinja2's StrictUndefined)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Errors print FILE:LINE:COL: Kind: message on stderr (a TEMPLATE that cannot be read:\n"
    "FILE: message) and exit 2; nothing goes to stdout. render reads no project: --project,\n"
    "--data and --no-sync before the command (a shell alias's) are accepted and ignored.\n";

}  // namespace

int render_command(int argc, char** argv) {
    std::string template_path, vars_path, error;
    bool strict = false;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(kRenderUsage, stdout);
            return 0;
        } else if (arg == "--strict") {
            strict = true;
        } else if (take_named_option(argc, argv, i, "--vars", vars_path, error)) {
            if (!error.empty()) return usage_error("render", error);
        } else if (!arg.empty() && arg[0] == '-' && arg != "-") {
            return unexpected_argument("render", arg);
        } else if (template_path.empty()) {
            template_path = std::string(arg);
        } else {
            return unexpected_argument("render", arg);
        }
    }
    if (template_path.empty()) return usage_error("render", "missing TEMPLATE");
    // Standard input is read once: the second reader found it empty and rendered nothing.
    // Any name of it (/dev//stdin, a link to /dev/stdin): the file it opens is fd 0's. The
    // template is looked at once, for this and for how it is read below.
    struct stat in {};
    const bool have_stdin = ::fstat(STDIN_FILENO, &in) == 0;
    auto is_stdin = [&](const std::string& path, const struct stat* st) {
        return path == "-" || path == "/dev/stdin" ||
               (have_stdin && st && st->st_dev == in.st_dev && st->st_ino == in.st_ino);
    };
    struct stat template_st {};
    const bool template_found = ::stat(template_path.c_str(), &template_st) == 0;
    const bool template_is_stdin = is_stdin(template_path, template_found ? &template_st : nullptr);
    if (template_is_stdin && !vars_path.empty()) {
        struct stat vars_st {};
        if (is_stdin(vars_path, ::stat(vars_path.c_str(), &vars_st) == 0 ? &vars_st : nullptr))
            return usage_error("render", "TEMPLATE and --vars cannot both read standard input ('" +
                                             template_path + "', '" + vars_path +
                                             "'): it is read once");
    }

    tmpl::Value vars = tmpl::Value::dict();
    if (!vars_path.empty()) {
        std::optional<std::string> json = read_argument_file(vars_path);
        if (!json) {
            eprintf("%s: cannot read the vars file: %s\n", vars_path.c_str(),
                    argument_file_error().c_str());
            return 2;
        }
        std::optional<tmpl::Value> read = json_object_of_file(vars_path, *json, "vars file", true);
        if (!read) return 2;
        vars = std::move(*read);
    }

    // A template read whole (standard input, a pipe such as <(...)), as --vars takes one;
    // a folder is said to be one (both were "template not found"). /dev/stdin redirected
    // from a file is a regular file, but a link out of its folder.
    const bool streamed =
        template_is_stdin || template_path.starts_with("/dev/fd/") ||
        template_path.starts_with("/proc/self/fd/") ||
        (template_found && !S_ISREG(template_st.st_mode) && !S_ISDIR(template_st.st_mode));
    if (!streamed && template_found && S_ISDIR(template_st.st_mode)) {
        eprintf("%s: is a folder, not a template file\n", template_path.c_str());
        return 2;
    }
    std::optional<std::string> streamed_text;
    if (streamed) {
        streamed_text = read_argument_file(template_path);
        if (!streamed_text) {
            eprintf("%s: cannot read the template: %s\n", template_path.c_str(),
                    argument_file_error().c_str());
            return 2;
        }
    }

    // A streamed template's includes resolve from the current folder.
    size_t slash = streamed ? std::string::npos : template_path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : template_path.substr(0, slash);
    if (dir.empty()) dir = "/";
    std::string name = slash == std::string::npos ? template_path : template_path.substr(slash + 1);
    std::string prefix = slash == std::string::npos ? "" : template_path.substr(0, slash + 1);

    auto loader = engine::make_file_template_loader({dir}, prefix);
    tmpl::RenderOptions options;
    options.strict = strict;
    tmpl::Environment env(loader, options);
    tmpl::Result<std::string> result = std::string();
    if (streamed) {
        try {
            result = env.render(*env.from_string(*streamed_text, template_path), vars);
        } catch (const tmpl::TemplateError& e) {  // a syntax error
            result = e;
        }
    } else {
        result = env.render(name, vars);
    }
    if (!result) {
        tmpl::TemplateError err = result.error();
        tmpl::Location where = err.where();
        where.file = where.file.empty() || (streamed && where.file == template_path)
                         ? template_path
                         : loader->display_name(where.file);
        err.set_location(where);
        if (err.kind() == tmpl::ErrorKind::NotFound && err.where().line == 0) {
            eprintf("%s: template not found: %s\n", template_path.c_str(), err.message().c_str());
        } else {
            eprintf("%s\n", err.describe().c_str());
        }
        return 2;
    }
    std::fwrite(result.value().data(), 1, result.value().size(), stdout);
    return 0;  // main checks that the output was written
}

}  // namespace ferry::cli
