// `ferry tasks list | show NAME [--provider P]`: the task catalogue with input schemas.
#include "cli/commands.h"
#include "cli/common.h"

#include "core/values.h"
#include "workflow/loader.h"
#include "workflow/suggest.h"

#include <algorithm>
#include <cstdio>
#include <functional>

namespace ferry::cli {

namespace {

constexpr const char* kTasksUsage =
    "usage: ferry tasks list [--json]\n"
    "       ferry tasks show NAME [--provider P] [--json]\n"
    "\n"
    "The task catalogue: built-in tasks and the project's own (tasks/**/*.lua), with their\n"
    "providers and input schemas. Common option: --project DIR. Options take their value\n"
    "as the next argument or after '=' (--provider=jira).\n";

std::string field(const tmpl::Value& v, const char* key) {
    const tmpl::Value* f = engine::dict_get(v, key);
    return f && !f->is_none() ? (f->is_string() ? std::string(f->str()) : engine::to_json_text(*f))
                              : std::string();
}

tmpl::Value task_json(const engine::TaskDef& t) {
    return engine::dict_of(
        {{"name", engine::str(t.name)},
         {"provider", t.provider.empty() ? tmpl::Value::none() : engine::str(t.provider)},
         {"description", engine::str(t.description)},
         {"file", engine::str(t.origin)},
         {"pure", tmpl::Value::boolean(t.pure)},
         {"keeps_input", tmpl::Value::boolean(t.keeps_input)},
         {"input", t.input}});
}

}  // namespace

int tasks_command(int argc, char** argv) {
    CommonOptions common;
    std::vector<std::string> rest;
    std::string provider;
    bool json = false;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string err;
        if (take_common_option(argc, argv, i, common, err)) {
            if (!err.empty()) return usage_error("tasks", err);
        } else if (arg == "-h" || arg == "--help") {
            std::fputs(kTasksUsage, stdout);
            return 0;
        } else if (arg == "--json") {
            json = true;
        } else if (take_named_option(argc, argv, i, "--provider", provider, err)) {
            if (!err.empty()) return usage_error("tasks", err);
        } else if (!arg.empty() && arg[0] == '-') {
            return unexpected_argument("tasks", arg);
        } else {
            rest.emplace_back(arg);
        }
    }
    if (rest.empty()) return usage_error("tasks", "missing a subcommand (list, show)");
    if (rest[0] == "list" && rest.size() > 1) return unexpected_argument("tasks", rest[1]);
    if (rest[0] == "list" && !provider.empty())  // was taken and ignored
        return usage_error("tasks", "--provider picks the provider 'tasks show' shows; 'tasks "
                                    "list' lists every provider");
    if (rest[0] == "show" && rest.size() > 2) return unexpected_argument("tasks", rest[2]);
    auto app = open_app(common, false);
    if (!app) return 2;
    if (rest[0] == "list") {
        auto all = app->catalog.all();
        if (json) {
            tmpl::Value list = tmpl::Value::list();
            for (const auto* t : all)
                list.list_obj().items.push_back(task_json(*t));
            std::printf("%s\n", engine::to_pretty_json(list).c_str());
            return 0;
        }
        std::printf("%-20s %-12s %s\n", "TASK", "PROVIDER", "DESCRIPTION");
        for (const auto* t : all)
            // Descriptions come from task files: one line each, no terminal controls.
            std::printf("%-20s %-12s %s\n", t->name.c_str(),
                        t->provider.empty() ? "-" : t->provider.c_str(),
                        printable(t->description, true).c_str());
        return 0;
    }
    if (rest[0] == "show") {
        if (rest.size() != 2) return usage_error("tasks", "show needs a task NAME");
        const engine::TaskDef* t = app->catalog.find(rest[1], provider);
        if (!t) {
            auto providers = app->catalog.providers(rest[1]);
            std::string msg =
                !app->catalog.has_task(rest[1])
                    ? "no task named '" + rest[1] + "'" +
                          workflow::did_you_mean(rest[1], app->catalog.task_names()) +
                          " (see 'ferry tasks list')"
                : provider.empty()
                    ? "task '" + rest[1] + "' has several providers and no default: add --provider"
                    : "task '" + rest[1] + "' has no provider '" + provider + "'";
            if (!providers.empty()) {
                msg += provider.empty() ? " (one of " : "; providers: ";
                for (size_t i = 0; i < providers.size(); ++i)
                    msg += (i ? ", " : "") + providers[i];
                msg += provider.empty() ? ")" : "";
            }
            eprintf("ferry tasks: %s\n", msg.c_str());
            return 2;
        }
        if (json) {
            std::printf("%s\n", engine::to_pretty_json(task_json(*t)).c_str());
            return 0;
        }
        std::printf("%s%s\n  %s\n  file: %s\n", t->name.c_str(),
                    t->provider.empty() ? "" : (" (provider " + t->provider + ")").c_str(),
                    printable(t->description, true).c_str(), printable(t->origin, true).c_str());
        if (t->pure)
            std::printf("  pure: no I/O; a first step runs before its record is durable\n");
        if (t->keeps_input)
            std::printf("  keeps_input: never modifies its input; constant parts are shared\n");
        // Each provider with what picks it: the default, and the integration types it
        // declares (a step's integration of that type runs it).
        auto providers = app->catalog.providers(t->name);
        if (!providers.empty()) {
            std::printf("  providers:");
            const char* sep = " ";
            for (const auto& p : providers) {
                const engine::TaskDef* def = app->catalog.find(t->name, p);
                std::string notes;
                if (def && def->is_default) notes = "default";
                if (def && !def->integration_types.empty()) {
                    notes += notes.empty() ? "" : ", ";
                    for (size_t i = 0; i < def->integration_types.size(); ++i)
                        notes += (i ? "/" : "") + def->integration_types[i];
                    notes += " integrations";
                }
                std::printf("%s%s%s", sep, p.c_str(),
                            notes.empty() ? "" : (" (" + notes + ")").c_str());
                sep = ", ";
            }
            std::printf("\n");
        } else if (!t->integration_types.empty()) {
            std::printf("  integrations:");
            for (const auto& type : t->integration_types)
                std::printf(" %s", type.c_str());
            std::printf("\n");
        }
        std::printf("inputs\n");
        // An object input's declared keys follow it, indented, named after a dot.
        std::function<void(const tmpl::Value&, const std::string&)> print_inputs =
            [&](const tmpl::Value& inputs, const std::string& indent) {
                if (!inputs.is_dict()) return;
                // By name: a Lua table has no order of its own.
                std::vector<std::pair<tmpl::Value, tmpl::Value>> entries(
                    inputs.dict_obj().items().begin(), inputs.dict_obj().items().end());
                std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
                    return tmpl::to_str(a.first) < tmpl::to_str(b.first);
                });
                for (const auto& [name, spec] : entries) {
                    std::string req = field(spec, "required") == "true" ? "required" : "";
                    std::string dflt = field(spec, "default");
                    // The allowed values, where the task declares them: why `level: loud` fails.
                    std::string choices;
                    if (const tmpl::Value* e =
                            spec.is_dict() ? spec.dict_obj().find("enum") : nullptr;
                        e && e->is_sequence())
                        choices = " (one of " +
                                  workflow::detail::describe_values(e->list_obj().items) + ")";
                    std::string label =
                        indent + (indent.empty() ? "" : ".") + printable(tmpl::to_str(name), true);
                    std::printf("  %-16s %-8s %-9s %s%s%s\n", label.c_str(),
                                printable(field(spec, "type"), true).c_str(), req.c_str(),
                                printable(field(spec, "description"), true).c_str(),
                                printable(choices, true).c_str(),
                                dflt.empty() ? ""
                                             : printable(" (default " + dflt + ")", true).c_str());
                    if (const tmpl::Value* p =
                            spec.is_dict() ? spec.dict_obj().find("properties") : nullptr)
                        print_inputs(*p, indent + "  ");
                }
            };
        print_inputs(t->input, "");
        return 0;
    }
    return usage_error("tasks", "unknown subcommand '" + rest[0] + "'");
}

}  // namespace ferry::cli
