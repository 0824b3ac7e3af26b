// Workflow expressions: `{{ }}` strings evaluated over the execution's context (inputs,
// vars, steps, item, index, execution) with the template engine.
//
// A string that is exactly one `{{ expr }}` keeps the expression's type (number, list,
// object...); any other string is rendered as text. Parsed forms are cached by text, so an
// expression is parsed once per process however many executions use it. Undefined names
// are errors (StrictUndefined): a typo in `inputs.titel` fails the step instead of sending
// an empty field.
#pragma once

#include "runtime/error.h"
#include "template/environment.h"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ferry::engine {

using tmpl::Value;

// How long one expression or template render may compute (ms). Both run on the event loop,
// which nothing else can use meanwhile; a legitimate report renders in milliseconds.
constexpr uint64_t kMaxRenderMs = 10'000;
// The largest template the engine parses (bytes): a ticket body is a few KB, and a parse
// cannot be stopped by kMaxRenderMs (tmpl::RenderOptions::max_source_bytes).
constexpr size_t kMaxTemplateSourceBytes = 1u << 20;

// A template or expression failure as an engine error with `message`: a runaway render
// (time, output, recursion) is a limit, anything else the template's or its data's fault.
Error template_failure(const tmpl::TemplateError& e, std::string message);

// Raises a TemplateError when a computed value cannot be kept as JSON, where every value
// ends up: an infinity or NaN (a Value error: `1e308 * 10` became null in silence), an
// object JSON has no form for (a range, a dict's items(): null in silence too; a Value error
// saying to add `| list`), or a value past json_lua::kMaxEncodedBytes as JSON (a Limit
// error: `[[[1] * 100] * 1000] * 1000` is small as a value, its list shared, but 200 MB as
// the JSON it is stored as). Tuples that are objects (groupby's groups) become lists in v,
// as Jinja2's tojson writes them.
void check_json_fit(Value& v);

class Expressions {
  public:
    explicit Expressions(std::shared_ptr<const tmpl::Loader> templates);

    // Evaluates one string. `where` names it in errors ("step 'ticket' with.fields.title").
    // The value is one JSON can keep (check_json_fit).
    Result<Value> evaluate(std::string_view text, const Value& context, const std::string& where);
    // The same, the value as computed, which may be no JSON (a condition's range(0), a
    // for_each's range(3) that its own check names): for callers that look at it first.
    Result<Value> evaluate_any(std::string_view text, const Value& context,
                               const std::string& where);
    // Evaluates every string leaf of a tree (dicts and lists are rebuilt; other values kept).
    // Leaves under one of raw_paths ('*' matches any key or index) are kept as written.
    Result<Value> evaluate_tree(const Value& tree, const Value& context, const std::string& where,
                                const std::vector<std::vector<std::string>>* raw_paths = nullptr);
    // A workflow's `vars` (defs, a dict) into `vars`, the frozen dict context holds under
    // "vars": one by one in the order written, each seeing those above it and none able to
    // change them (the loader refuses a reference to one below). Each value is frozen.
    // failed: the name of the var whose evaluation failed, when one did.
    Status evaluate_vars(const Value& defs, const Value& context, const Value& vars,
                         std::string* failed = nullptr);
    // `when:` — the truthiness of the evaluated expression.
    Result<bool> condition(const std::string& text, const Value& context, const std::string& where);

    tmpl::Environment& environment() { return env_; }

  private:
    Result<Value> evaluate_expression(std::string_view text, const Value& context,
                                      const std::string& where, bool as_json);
    Result<Value> evaluate_at(const Value& tree, const Value& context, std::string& where,
                              const std::vector<std::vector<std::string>>* raw_paths,
                              std::vector<std::string>& path, bool root);
    struct Compiled {
        tmpl::ExprPtr expr;                                // exactly one {{ expr }}
        std::shared_ptr<const tmpl::ParsedTemplate> text;  // anything else with {{ or {%
    };
    Result<const Compiled*> compile(std::string_view text, const std::string& where);

    tmpl::Environment env_;
    // Looked up by the text as it stands in the definition: no copy of it per evaluation.
    struct TextHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::unique_ptr<Compiled>, TextHash, std::equal_to<>> cache_;
};

}  // namespace ferry::engine
