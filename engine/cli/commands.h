// One function per `ferry` command; each parses its own arguments (argv after the command
// name) and returns the process exit status: 0 success, 1 failure, 2 bad usage or input.
#pragma once

#include <string>

namespace ferry::engine {
class App;
}

namespace ferry::cli {

int render_command(int argc, char** argv);
int run_command(int argc, char** argv);
int resume_command(int argc, char** argv);
int validate_command(int argc, char** argv);
int executions_command(int argc, char** argv);
int tasks_command(int argc, char** argv);
int dlq_command(int argc, char** argv);
int serve_command(int argc, char** argv);

struct CommonOptions;
// `ferry executions approve|reject ID STEP` (verb: "approve" or "reject"), argv after the verb.
int decide_subcommand(const CommonOptions& common, const std::string& verb, int argc, char** argv);
// `ferry executions show ID [--json]`, on the opened app.
int show_subcommand(engine::App& app, std::string id, bool json);
// `ferry executions cancel ID [--reason TEXT]`, argv after the verb.
int cancel_subcommand(const CommonOptions& common, int argc, char** argv);

}  // namespace ferry::cli
