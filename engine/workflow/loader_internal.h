// Pieces shared by the loader's source files (not a public API).
//
//   yaml_value.cpp   YAML nodes -> template Values (core schema), positions inside scalars,
//                    "did you mean" suggestions
//   expressions.cpp  `{{ }}` strings: syntax checks and the references they make
//   inputs.cpp       input specs, resolve_inputs, convert_cli_input
//   patterns.cpp     input patterns compiled and matched at a bounded cost (patterns.h)
//   loader.cpp       the file's structure: top level, steps, vars, outputs, hooks
//   on_step.cpp      `on_step` entries, expanded into one generated step per followed step
//   validate.cpp     checks across steps: references, cycles, tasks
#pragma once

#include "workflow/loader.h"
#include "workflow/patterns.h"
#include "workflow/suggest.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ferry::workflow::detail {

// One file being loaded: its text (for positions inside scalars) and the problems found.
// A reference as found in the file.
struct Ref {
    std::string root;
    std::string name;
    Mark mark;
    bool method = false;  // TemplateRef::method
    std::string field;    // TemplateRef::field
};

class Context {
  public:
    Context(const std::string& text, std::string file) : text_(text), file_(std::move(file)) {}

    const std::string& text() const { return text_; }
    const std::string& file() const { return file_; }

    Mark mark(const YAML::Mark& m) const;
    // A node's position. An empty value (`key:` then a line break) has no text of its own;
    // yaml-cpp places it at the next token, so it is placed just after its `:` instead.
    Mark mark(const YAML::Node& node) const;
    // The position of byte `offset` of the text (1-based line and column).
    Mark mark_at_offset(size_t offset) const;

    // Reports the first byte that is not UTF-8 (every value may reach JSON records and
    // answers, which must be UTF-8) or is a control character YAML does not allow; false if
    // there was one.
    bool check_characters();
    // A problem once: a section both converted whole and read field by field (ferry.yaml's
    // schedules, forms, hooks) met each duplicate key twice.
    void error(const Mark& at, std::string message);
    void error(const YAML::Node& at, std::string message) { error(mark(at), std::move(message)); }

    std::vector<Diagnostic>& problems() { return problems_; }

    // Values converted so far, and the bytes of their text: the limits on expanded aliases
    // hold for the whole file.
    size_t converted = 0;
    size_t converted_bytes = 0;
    bool too_large = false;

    // Templates checked so far, by their node's position: an alias reaches its anchor's
    // node again, and its text parsed once per alias was 30 s of `validate` for an 80 KiB
    // file aliasing one expression from 6,000 vars. A repeat gets the references the first
    // check found (each place that uses it depends on them), and no second error.
    struct CheckedTemplate {
        std::string text;
        std::vector<Ref> refs;
    };
    std::unordered_map<int, CheckedTemplate> checked_templates;

  private:
    const std::string& text_;
    std::string file_;
    std::vector<Diagnostic> problems_;
    std::unordered_set<std::string> reported_;  // line:column:message of each problem
    mutable std::vector<size_t> line_starts_;   // built on first use by mark_at_offset
};

// ---- yaml_value.cpp -----------------------------------------------------------------

// Called for every string scalar met while converting (on_string), or for every mapping
// key (on_key: the merge key << aside), within the conversion's bounds on aliases.
using StringVisitor = std::function<void(const YAML::Node& node, const std::string& text)>;

// Converts a node to a Value: mappings to dicts (file order kept), sequences to lists,
// scalars by the YAML 1.2 core schema. Reports duplicate keys, non-string keys, integers
// beyond 64 bits, unknown tags and runaway nesting/aliases.
tmpl::Value to_value(Context& ctx, const YAML::Node& node, const StringVisitor* on_string = nullptr,
                     const StringVisitor* on_key = nullptr);
// A scalar's value by the core schema (quoted scalars are always strings).
tmpl::Value scalar_value(Context& ctx, const YAML::Node& node);

// "a string 'abc'", "an integer 3", "a list", "a mapping", "null": for "got ..." messages.
std::string describe_node(Context& ctx, const YAML::Node& node);

// The documents of a YAML stream, as YAML::LoadAll(text) reads them, except where that
// never returns: in yaml-cpp 0.7 it adds a null document at a time until memory runs out
// when a document starts with a token no node can start with, such as a lone ','
// (yaml-cpp issue #1040, fixed after 0.7; found by tests/fuzz). The stream is read as
// events first; a null document starting where the one before it started moved nothing,
// and raises YAML::ParserException there ("no YAML node can start here"). A quoted scalar
// the end of the text closes raises it at its quote (yaml-cpp 0.7 takes it). `text` holds
// no byte order mark: yaml-cpp's positions count from after one.
std::vector<YAML::Node> load_yaml_documents(const std::string& text);

// yaml-cpp's message for a syntax error at mark, with a hint for the mistake behind most of
// its puzzling ones ("illegal block entry"): a line indented with a tab. An undefined alias
// is named unless quote_alias is false: in ferry.yaml it is most often a credential written
// unquoted (`password: *x9...`), which no message may repeat.
// An unclosed { } or [ ] is placed at its cause when a scan finds one (mark is moved there):
// a quoted text not closed, a [ or { in an unquoted flow value, the bracket itself.
std::string yaml_syntax_message(std::string_view text, YAML::Mark& mark, const std::string& message,
                                bool quote_alias = true);

// Where the quoted text whose opening quote (' or ") is at text[open] ends: its closing
// quote, past `\"` escapes in double quotes and `''` in single ones; npos when the end of
// the file comes first.
size_t closing_quote(std::string_view text, size_t open);
// What is said, at the opening quote, of a quoted text closing_quote finds no end for.
inline constexpr const char* kUnclosedQuote =
    "the quoted text that starts here is not closed: it runs to the end of the file";
// YAML::Mark of byte `offset` of text (0-based, as yaml-cpp's).
YAML::Mark mark_at(std::string_view text, size_t offset);

// The file position of byte `offset` of a scalar's (decoded) text. Follows quotes, escapes,
// line folding and block indentation; falls back to the scalar's own mark when lost.
Mark locate_in_scalar(const Context& ctx, const YAML::Node& scalar, size_t offset);

// Iterates a mapping's entries in file order, reporting duplicate and non-scalar keys;
// f(key_text, key_node, value_node) runs for the first occurrence of each key.
void for_each_entry(
    Context& ctx, const YAML::Node& map,
    const std::function<void(const std::string&, const YAML::Node&, const YAML::Node&)>& f);

inline bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}
// "a, b, c": the names a message lists.
inline std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v)
        out += (out.empty() ? "" : ", ") + s;
    return out;
}

using workflow::did_you_mean;  // workflow/suggest.h
using workflow::kMaxSuggestedLength;
// A name a caller gave, to quote in a message: whole up to kMaxQuotedName bytes, else its
// start and its length (an unknown input name of a megabyte was repeated whole in the 422).
constexpr size_t kMaxQuotedName = 120;
std::string clipped_name(std::string_view name);
// ^[A-Za-z_][A-Za-z0-9_-]*$
bool is_identifier(std::string_view s);
// Digits with an optional sign: a whole number, whatever its size (to say "too large"
// rather than "not a whole number" when it does not fit in 64 bits).
bool is_whole_number_text(std::string_view text);
// s without the blanks (spaces, tabs, line breaks) around it: a block scalar or a stray
// space leaves them around an expression's braces.
inline std::string_view trim_blanks(std::string_view s) {
    const size_t first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}
// The message for a name that is not an identifier.
std::string identifier_problem(std::string_view what, std::string_view name);

// ---- expressions.cpp ----------------------------------------------------------------

// A name an expression reads from one of the roots the loader checks: steps.ID, inputs.X,
// vars.X (also ['ID'] and .get('ID')). line/column: 1-based, in the template's own text.
struct TemplateRef {
    // "steps", "inputs" or "vars"; any other root is a bare read (name empty): "item" and
    // "index", "execution", or a name the workflow does not have.
    std::string root;
    std::string name;
    int line = 0;
    int column = 0;
    // Written ROOT.NAME where NAME is a dict method (items, keys, get...): as in Jinja2 the
    // attribute wins, so this is the method, never the entry NAME.
    bool method = false;
    // The attribute read from what ROOT.NAME gives, when written `steps.ID.FIELD`: a step's
    // record has a fixed shape, so a misspelt field fails at every run.
    std::string field;
};

// Parses a template, raising tmpl::TemplateError, and returns the references it makes.
std::vector<TemplateRef> template_references(const std::string& text, const std::string& name);

// Checks one template string of the file (a scalar node; `prefix` bytes were added in front
// of the node's text, as for a bare `when:` expression) and appends its references. A syntax
// error becomes a diagnostic at its place in the file.
void check_template(Context& ctx, const YAML::Node& node, const std::string& text, size_t prefix,
                    std::vector<Ref>& refs);
// The nodes whose references a collection (one vector of Refs) already holds: an alias
// reaches its anchor's node again, and adding its references again only grew the vector
// (6,000 vars aliasing one expression of 600 references were 3.6 million). Keys too, so a
// mistake in an aliased key is reported once.
struct SeenNodes {
    std::unordered_set<int> positions;
    bool first(const YAML::Node& node) { return positions.insert(node.Mark().pos).second; }
};

// Converts a data part (with, vars, outputs) to a Value, checking every template in it
// except those under `raw_paths` (a task's inputs taken as written; see TaskLookup). Parts
// that add to one vector of refs (every var) share `seen`.
tmpl::Value data_with_templates(Context& ctx, const YAML::Node& node, std::vector<Ref>& refs,
                                const std::vector<std::vector<std::string>>& raw_paths = {},
                                SeenNodes* seen = nullptr);
// `when` / `for_each`: an expression with or without `{{ }}`, normalised to "{{ expr }}".
// Returns an empty string (after reporting) when the node is not usable.
std::string expression_field(Context& ctx, const YAML::Node& node, std::string_view field,
                             std::vector<Ref>& refs);

// ---- inputs.cpp ---------------------------------------------------------------------

std::vector<InputSpec> parse_inputs(Context& ctx, const YAML::Node& node);
// Appends one "input 'PATH': problem" line per problem of value against spec; its pattern
// checks spend from budget.
void check_input_value(const InputSpec& spec, const tmpl::Value& value, const std::string& path,
                       PatternBudget& budget, std::vector<std::string>& problems);
// A deep copy: Values share containers, and a default must not be mutated through a run.
tmpl::Value deep_copy(const tmpl::Value& v);
// d as an int64 when it is a whole number no larger than 2^53 (4.0), else nullopt.
std::optional<int64_t> whole_number(double d);
// v with its whole floats as integers where spec (or its items') type is integer: JSON
// Schema, which the API publishes for inputs, counts 4.0 as an integer (a client that
// writes every number as a float, JavaScript's JSON of a computed 4, sends it so).
tmpl::Value integers_as_declared(const InputSpec& spec, const tmpl::Value& v);

// ---- validate.cpp -------------------------------------------------------------------

// What the loader found beside the model, for the checks that need every step first.
struct StepExtras {
    std::vector<Ref> refs;                                // from with/when/for_each
    std::vector<std::pair<std::string, Mark>> needs;      // as written
    std::vector<std::pair<std::string, Mark>> with_keys;  // top-level keys of `with`
    YAML::Node with;  // as written: where a problem deep inside an input is placed
    bool has_id = false;
    std::string who;  // the subject of messages when not "step 'ID'" (generated steps)
};

struct Parsed {
    Workflow wf;
    std::vector<StepExtras> steps;  // parallel to wf.steps
    std::vector<Ref> output_refs;
    std::vector<Ref> var_refs;
    std::vector<std::string> var_names;  // in file order
    std::vector<size_t> var_ref_owners;  // for each of var_refs, its var (var_names index)
    const TaskLookup* tasks = nullptr;   // null: no catalogue at hand (tasks are not checked)
};

// One step mapping as parsed: the step, what validation needs of it, and the entries of
// `other_keys` (keys the caller handles). With id_lines (a step under `steps:`), `id` is
// required and checked for duplicates; without (an on_step entry), `id`, `for_each` and
// `concurrency` are not allowed. `who_default` names the step in messages until its id is known.
struct StepFields {
    Step step;
    StepExtras extras;
    std::vector<std::pair<std::string, YAML::Node>> other;
};
StepFields parse_step_fields(Context& ctx, const YAML::Node& node, const std::string& who_default,
                             const std::vector<std::string>& other_keys,
                             std::map<std::string, int>* id_lines, const TaskLookup* tasks);

// `on_step:` (a list of entries), after the steps are parsed: appends the generated steps.
void parse_on_step(Context& ctx, const YAML::Node& node, Parsed& parsed);

// References, on_error targets, depends_on, cycles and task checks.
void validate(Context& ctx, Parsed& parsed, const TaskLookup* tasks);

// Every dependency cycle, one per strongly connected group of steps, each as [a, ..., a]
// starting from the group's first step in file order.
std::vector<std::vector<std::string>> find_cycles(const Workflow& wf);

}  // namespace ferry::workflow::detail
