// Loads and validates workflow files (`ferry validate`, and before any run).
//
// Every problem is reported, not only the first, each as a Diagnostic with FILE:LINE:COL:
// YAML syntax, unknown keys (with a "did you mean" when close), wrong types, unknown tasks
// and providers, bad step references, dependency cycles (the cycle printed as a -> b -> a),
// invalid expressions, defaults that do not match their input type.
#pragma once

#include "runtime/error.h"
#include "workflow/model.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ferry::workflow {

struct Diagnostic {
    Mark mark;
    std::string message;
    std::string describe() const;  // "FILE:LINE:COL: message"
};

// True when text is exactly one `{{ ... }}` (the typed form); inner gets the expression.
bool is_single_expression(const std::string& text, std::string* inner = nullptr);

// What the loader needs to know about tasks, without depending on the task runtime.
// Whether `path` (keys and list indexes of a step's `with:`) lies under one of a task's raw
// paths ('*' matches any key or index): the loader skips such inputs, the engine passes
// them to the task unevaluated.
bool under_raw_path(const std::vector<std::vector<std::string>>& raw_paths,
                    const std::vector<std::string>& path);

class TaskLookup {
  public:
    virtual ~TaskLookup() = default;
    virtual bool has_task(const std::string& task) const = 0;
    // Providers of a task (empty list: the task has a single implementation).
    virtual std::vector<std::string> providers(const std::string& task) const = 0;
    // Input names the task declares (for unknown `with:` keys). Empty: accepts anything.
    virtual std::vector<std::string> input_names(const std::string& task,
                                                 const std::string& provider) const = 0;
    // What the task declares for one input ({type, required, enum, format, properties...},
    // as a task file writes it); undefined when it declares nothing: written values are
    // checked against it (check_task_input).
    virtual tmpl::Value input_spec(const std::string& /*task*/, const std::string& /*provider*/,
                                   const std::string& /*input*/) const {
        return tmpl::Value();
    }
    // The inputs a step must give: declared required, without a default.
    virtual std::vector<std::string> required_inputs(const std::string& /*task*/,
                                                     const std::string& /*provider*/) const {
        return {};
    }
    // Paths of `with:` the task takes as written (e.g. {"script"}, {"mappings", "*",
    // "template"}; '*' matches any key or index): their `{{ }}` are not workflow expressions,
    // so the loader neither checks them nor takes dependencies from them.
    virtual std::vector<std::vector<std::string>> raw_paths(const std::string& /*task*/,
                                                            const std::string& /*provider*/) const {
        return {};
    }
    // Every task name, for "did you mean" on an unknown task. Optional: the default
    // offers no suggestions.
    virtual std::vector<std::string> task_names() const { return {}; }
    // Whether a step may leave out `provider:` (the task has a default implementation).
    virtual bool has_default_provider(const std::string& /*task*/) const { return true; }
    // The provider a step without `provider:` runs (empty: none, or a single implementation).
    virtual std::string default_provider(const std::string& /*task*/) const { return {}; }
    // The integrations of ferry.yaml a step's `integration:` may name, by name -> type;
    // nullopt: integrations are not checked (no project at hand).
    virtual std::optional<std::map<std::string, std::string>> integrations() const {
        return std::nullopt;
    }
    // The integration types a task's provider works with; empty: it needs none.
    virtual std::vector<std::string> integration_types(const std::string& /*task*/,
                                                       const std::string& /*provider*/) const {
        return {};
    }
};

struct LoadResult {
    std::optional<Workflow> workflow;  // set when the file parsed well enough to build one
    std::vector<Diagnostic> problems;  // empty: valid
    bool ok() const { return workflow.has_value() && problems.empty(); }
};

// Parses YAML (or JSON, a YAML subset: .json files are accepted too) from text.
LoadResult load_workflow_text(const std::string& text, const std::string& file,
                              const TaskLookup* tasks);
LoadResult load_workflow_file(const std::string& path, const TaskLookup* tasks);

// How deeply an input value may nest: as deep as a task's result may (runtime/json_lua.h),
// so that whatever a workflow is given, its tasks can take and give back and its history
// can hold and read again.
constexpr int kMaxInputDepth = 200;

struct PatternBudget;  // workflow/patterns.h

// Validates and converts inputs for a run. given: a dict of provided values. Returns the
// complete inputs (defaults applied) or every problem, each naming the input. The pattern
// checks spend from patterns when given (shared with other starts: a for_each's
// sub-workflows), else from a budget of their own.
Result<tmpl::Value> resolve_inputs(const Workflow& wf, const tmpl::Value& given,
                                   PatternBudget* patterns = nullptr);

// The problems resolve_inputs would report, one per line, when the inputs named in
// given_later will be given too with values known only at run time (a step's `{{ }}`):
// they count as given, and only their names are checked.
std::vector<std::string> input_problems(const Workflow& wf, const tmpl::Value& given,
                                        const std::vector<std::string>& given_later = {});

// An input problem line ("input 'NAME[.path]': text", as resolve_inputs and input_problems
// write them) taken apart: what is quoted (a path into a value, or a given key as written,
// which may hold '.' or '['), the input it names (the path's first part) and the text after
// it; nullopt for a line that names no input ("inputs must be an object, ...").
struct NamedInputProblem {
    std::string_view quoted;
    std::string input;
    std::string_view text;
};
std::optional<NamedInputProblem> named_input_problem(std::string_view line);
// Where the input a problem line names was given: marks[prefix + KEY], the key as quoted
// first (an unknown `n.x` is not input `n`), then the input; nullptr for a line naming none
// or an input not given.
const Mark* named_input_mark(std::string_view line, const std::map<std::string, Mark>& marks,
                             std::string_view prefix = {});

// How input problems name a type ("an object", "a string") and a value ('text', 3, a list):
// in JSON's words, for workflow inputs and task inputs alike.
namespace detail {
// Strings holding `{{` or `{%` are templates; any other string is literal text.
bool is_template(std::string_view s);
// Whether a string anywhere in v (its items, its values) is a template.
bool holds_template(const tmpl::Value& v);
// Whether v is of the declared type (string, integer, number, boolean, array, object;
// "any" or none: everything).
bool type_matches(const std::string& type, const tmpl::Value& v);
std::string article_type(const std::string& type);
std::string describe_value(const tmpl::Value& v);
std::string describe_values(const std::vector<tmpl::Value>& values);  // "'a', 'b', 3"
}  // namespace detail

// The input types (string, integer, number, boolean, array, object, any): a workflow's
// `inputs:` and a task's `input` schema speak the same ones.
const std::vector<std::string>& input_types();
// Converts a command-line `--input key=value` text to the input's declared type
// (integer, number, boolean; JSON for arrays and objects; string as is).
Result<tmpl::Value> convert_cli_input(const InputSpec& spec, const std::string& text);

// The steps an expression text refers to (steps.ID..., steps['ID']...), in order.
// Returns a Validation error with the expression's position for a syntax error.
Result<std::vector<std::string>> referenced_steps(const std::string& text, const Mark& mark);

// The dependency cycle among steps, as ids [a, b, c, a], or empty when acyclic.
std::vector<std::string> find_cycle(const Workflow& wf);

}  // namespace ferry::workflow
