// A workflow as loaded from YAML or JSON (CONTRACT.md section 3). Every part keeps the
// place it came from, so validation and runtime errors can name FILE:LINE:COL.
//
// Data parts (with, vars, outputs, defaults) are template Values: the engine's one value
// model for everything expressions touch. Strings in them may hold `{{ }}` expressions.
#pragma once

#include "template/value.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry::workflow {

// A step's attempt ends after this long unless its `timeout:` says otherwise.
constexpr uint64_t kDefaultStepTimeoutMs = 300'000;

struct Mark {
    std::string file;
    int line = 0;    // 1-based
    int column = 0;  // 1-based
};

// A typed input: {type, required, enum, default, pattern, min, max, max_length, items}.
struct InputSpec {
    std::string name;
    std::string type = "string";  // string | integer | number | boolean | array | object | any
    bool required = false;
    std::optional<tmpl::Value> default_value;
    std::vector<tmpl::Value> enum_values;
    std::string pattern;  // ECMAScript regex searched in the string (JSON Schema; anchor with ^ $)
    std::optional<double> min;  // numbers: value; strings/arrays: not used
    std::optional<double> max;
    std::optional<int64_t> min_length;  // strings (code points) and arrays (items)
    std::optional<int64_t> max_length;
    std::shared_ptr<InputSpec> items;  // arrays: the spec every item must meet
    std::string description;
    Mark mark;
};

struct RetryPolicy {
    int max_attempts = 1;
    std::string backoff = "exponential";  // exponential | fixed
    uint64_t initial_delay_ms = 1000;
    uint64_t max_delay_ms = 30000;
    Mark mark;
};

struct Step {
    std::string id;
    std::string task;                // e.g. "ticket.create"
    std::string provider;            // e.g. "servicenow"; empty: the task's only/default
    std::string integration;         // a name from ferry.yaml
    tmpl::Value with;                // dict (may hold expressions)
    std::vector<std::string> needs;  // explicit dependencies
    std::string when;                // expression text ("{{ ... }}"), empty: always
    std::string for_each;            // expression text giving a list, empty: no fan-out
    int concurrency = 0;             // for_each parallelism; 0: unlimited
    std::optional<RetryPolicy> retry;
    uint64_t timeout_ms = 0;        // 0: kDefaultStepTimeoutMs
    std::string on_error = "fail";  // fail | continue | ID of a step to run instead
    std::optional<bool> dry_run;    // per-step dry-run override
    // Set on the steps an `on_step` entry generates: the step whose progress this one
    // reports. Its expressions see `event` = {step, status, output} of that step.
    std::string event_step;
    // Computed by the loader: needs + every step the step's expressions refer to
    // (steps.ID...), deduplicated, in first-seen order.
    std::vector<std::string> depends_on;
    // The same, as indices into Workflow::steps (ids that name no step are left out).
    std::vector<size_t> depends_on_steps;
    // The other way round: the steps whose depends_on_steps hold this one, in step order.
    std::vector<size_t> dependents;
    Mark mark;
    std::map<std::string, Mark> field_marks;  // "task", "with", "when"... for error messages
};

struct Hooks {
    std::string before_step;  // Lua file names relative to the project (tasks/ folder rules)
    std::string after_step;
    std::string on_failure;
    Mark mark;  // the hooks mapping
    // Where each file is named, for problems with that file.
    Mark before_step_mark, after_step_mark, on_failure_mark;
};

struct Workflow {
    std::string name;  // defaults to the file's stem
    std::string description;
    std::string file;  // path as given
    std::vector<InputSpec> inputs;
    tmpl::Value vars;         // dict
    // Where each var's value is written: one that fails to evaluate when a run starts
    // (a division by zero, an infinity) is reported there.
    std::map<std::string, Mark, std::less<>> var_marks;
    std::vector<Step> steps;  // in file order
    tmpl::Value outputs;      // dict of expressions
    Hooks hooks;
    std::string source;  // the file's text, as stored by hash in history
    std::string hash;    // hex SHA-256 of source

    // Each step's position by id (the first of repeated ids), filled when the workflow is
    // validated: the engine looks steps up by id for every event it reports.
    std::map<std::string, size_t, std::less<>> step_positions;

    const Step* find_step(std::string_view id) const {
        if (step_positions.empty()) {  // not validated (a workflow built by hand)
            for (const Step& s : steps)
                if (s.id == id) return &s;
            return nullptr;
        }
        auto it = step_positions.find(id);
        return it == step_positions.end() ? nullptr : &steps[it->second];
    }
};

}  // namespace ferry::workflow
