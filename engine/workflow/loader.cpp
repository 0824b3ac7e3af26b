// The structure of a workflow file: top-level keys, steps, vars, outputs, hooks. Checks that
// need every step at once (references, cycles, tasks) live in validate.cpp.
#include "runtime/duration.h"
#include "runtime/json_repeats.h"
#include "workflow/loader_internal.h"

#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

namespace ferry::workflow {

std::string Diagnostic::describe() const {
    if (mark.line <= 0) return mark.file + ": " + message;
    // A column that cannot be told is left out rather than given as 1, which an editor
    // would jump to as if it were known.
    if (mark.column <= 0) return mark.file + ":" + std::to_string(mark.line) + ": " + message;
    return mark.file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": " +
           message;
}

namespace detail {
namespace {

const std::vector<std::string> kTopKeys = {"name",  "description", "inputs", "vars",
                                           "steps", "outputs",     "hooks",  "on_step"};
const std::vector<std::string> kStepKeys = {
    "id",       "task",        "provider", "integration", "with",     "needs",  "when",
    "for_each", "concurrency", "retry",    "timeout",     "on_error", "dry_run"};
const std::vector<std::string> kRetryKeys = {"max_attempts", "backoff", "initial_delay",
                                             "max_delay"};
const std::vector<std::string> kHookKeys = {"before_step", "after_step", "on_failure"};

std::string sha256_hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) return {};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 15];
    }
    return out;
}

// A text field: any non-null scalar, taken as written (`provider: 123` is "123").
std::optional<std::string> text_field(Context& ctx, const YAML::Node& node,
                                      const std::string& what) {
    if (node.IsScalar() && !node.Scalar().empty()) return node.Scalar();
    ctx.error(node,
              "'" + what + "' must be " +
                  (node.IsScalar() || node.IsNull() ? std::string("non-empty text")
                                                    : "text, got " + describe_node(ctx, node)));
    return std::nullopt;
}

std::optional<bool> bool_field(Context& ctx, const YAML::Node& node, const std::string& what) {
    tmpl::Value v = node.IsScalar() ? scalar_value(ctx, node) : tmpl::Value::none();
    if (v.is_bool()) return v.as_bool();
    ctx.error(node, "'" + what + "' must be true or false, got " + describe_node(ctx, node));
    return std::nullopt;
}

std::optional<int64_t> int_field(Context& ctx, const YAML::Node& node, const std::string& what,
                                 int64_t min) {
    tmpl::Value v = node.IsScalar() ? scalar_value(ctx, node) : tmpl::Value::none();
    if (v.is_int() && v.as_int() >= min && v.as_int() <= INT32_MAX) return v.as_int();
    std::string range = v.is_int() && v.as_int() > INT32_MAX
                            ? " from " + std::to_string(min) + " to " + std::to_string(INT32_MAX)
                            : " >= " + std::to_string(min);
    ctx.error(node,
              "'" + what + "' must be an integer" + range + ", got " + describe_node(ctx, node));
    return std::nullopt;
}

std::optional<uint64_t> duration_field(Context& ctx, const YAML::Node& node,
                                       const std::string& what) {
    if (!node.IsScalar()) {
        ctx.error(node, "'" + what + "' must be a duration like 300ms, 2s, 1m30s or 1h, got " +
                            describe_node(ctx, node));
        return std::nullopt;
    }
    Result<uint64_t> ms = parse_duration_ms(node.Scalar());
    if (ms) return ms.value();
    ctx.error(node, "'" + what + "': " + ms.error().message);
    return std::nullopt;
}

// " (did you mean 'x'?)" for the word another engine uses where Ferry has its own
// (depends_on: needs; `if` is no misspelt `id`), where a key goes instead, or a near miss.
std::string key_hint(const std::string& key, const std::vector<std::string>& allowed) {
    static const std::vector<std::pair<std::string, std::string>> kOtherWords = {
        {"depends_on", "needs"}, {"dependsOn", "needs"}, {"depends", "needs"},
        {"requires", "needs"},   {"after", "needs"},     {"if", "when"},
        {"condition", "when"},   {"loop", "for_each"},   {"with_items", "for_each"},
        {"params", "with"},      {"parameters", "with"}, {"args", "with"}};
    for (const auto& [other, ours] : kOtherWords)
        if (key == other && std::find(allowed.begin(), allowed.end(), ours) != allowed.end())
            return " (did you mean '" + ours + "'?)";
    for (const char* hook : {"before_step", "after_step", "on_failure"})
        if (key == hook && std::find(allowed.begin(), allowed.end(), "hooks") != allowed.end())
            return " (it goes under 'hooks:')";
    return did_you_mean(key, allowed);
}

// The entries of a mapping in file order, unknown keys reported against `allowed`.
std::vector<std::pair<std::string, YAML::Node>> entries(Context& ctx, const YAML::Node& node,
                                                        const std::vector<std::string>& allowed,
                                                        const std::string& where) {
    std::vector<std::pair<std::string, YAML::Node>> out;
    for_each_entry(
        ctx, node, [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
                ctx.error(k, "unknown key '" + key + "' in " + where + key_hint(key, allowed));
            else
                out.emplace_back(key, v);
        });
    return out;
}

std::optional<RetryPolicy> parse_retry(Context& ctx, const YAML::Node& node,
                                       const std::string& step) {
    RetryPolicy retry;
    retry.mark = ctx.mark(node);
    if (node.IsScalar()) {  // `retry: 3` is shorthand for {max_attempts: 3}
        if (auto n = int_field(ctx, node, "retry", 1)) retry.max_attempts = int(*n);
        return retry;
    }
    if (!node.IsMap()) {
        ctx.error(node, "'retry' must be a mapping such as {max_attempts: 3, backoff: "
                        "exponential}, got " +
                            describe_node(ctx, node));
        return std::nullopt;
    }
    std::optional<Mark> initial_mark;
    bool max_written = false;
    std::string where = "retry of step '" + step + "'";
    for (const auto& [key, value] : entries(ctx, node, kRetryKeys, where)) {
        if (key == "max_attempts") {
            if (auto n = int_field(ctx, value, "max_attempts", 1)) retry.max_attempts = int(*n);
        } else if (key == "backoff") {
            if (value.IsScalar() && (value.Scalar() == "exponential" || value.Scalar() == "fixed"))
                retry.backoff = value.Scalar();
            else
                ctx.error(value, "'backoff' must be exponential or fixed, got " +
                                     describe_node(ctx, value));
        } else if (key == "initial_delay") {
            if (auto ms = duration_field(ctx, value, "initial_delay")) {
                retry.initial_delay_ms = *ms;
                initial_mark = ctx.mark(value);
            }
        } else if (key == "max_delay") {
            if (auto ms = duration_field(ctx, value, "max_delay")) {
                retry.max_delay_ms = *ms;
                max_written = true;
            }
        }
    }
    // Only one of the two written: the default of the other follows it, so "retry once
    // after a minute" (initial_delay: 1m) is not refused over a max_delay no one wrote.
    if (initial_mark && !max_written)
        retry.max_delay_ms = std::max(retry.max_delay_ms, retry.initial_delay_ms);
    else if (!initial_mark && max_written)
        retry.initial_delay_ms = std::min(retry.initial_delay_ms, retry.max_delay_ms);
    if (retry.initial_delay_ms > retry.max_delay_ms)
        ctx.error(initial_mark.value_or(retry.mark),
                  "'initial_delay' (" + format_duration_ms(retry.initial_delay_ms) +
                      ") is longer than 'max_delay' (" + format_duration_ms(retry.max_delay_ms) +
                      ")");
    return retry;
}

// Where a `workflow` step's `with: name` and each key of its `with: inputs` are written
// ("with.name", "with.inputs.KEY"): the project's checks of the child place their problems
// there rather than at `with:`.
void mark_sub_workflow_fields(Context& ctx, const YAML::Node& with,
                              std::map<std::string, Mark>& marks) {
    if (!with.IsMap()) return;
    for (auto it = with.begin(); it != with.end(); ++it) {
        if (!it->first.IsScalar()) continue;
        const std::string& key = it->first.Scalar();
        if (key == "name") marks.emplace("with.name", ctx.mark(it->second));
        if (key != "inputs" || !it->second.IsMap()) continue;
        for (auto in = it->second.begin(); in != it->second.end(); ++in)
            if (in->first.IsScalar())
                marks.emplace("with.inputs." + in->first.Scalar(), ctx.mark(in->first));
    }
}

}  // namespace

StepFields parse_step_fields(Context& ctx, const YAML::Node& node, const std::string& who_default,
                             const std::vector<std::string>& other_keys,
                             std::map<std::string, int>* id_lines, const TaskLookup* tasks) {
    StepFields out;
    Step& step = out.step;
    StepExtras& ex = out.extras;
    step.mark = ctx.mark(node);
    step.with = tmpl::Value::dict();
    std::vector<std::string> allowed = id_lines ? kStepKeys : std::vector<std::string>{};
    if (!id_lines)  // an on_step entry: no id, no fan-out
        for (const std::string& k : kStepKeys)
            if (k != "id" && k != "for_each" && k != "concurrency") allowed.push_back(k);
    allowed.insert(allowed.end(), other_keys.begin(), other_keys.end());

    // The id first: every later message names the step.
    std::vector<std::pair<std::string, YAML::Node>> fields;
    std::vector<std::pair<std::string, YAML::Node>> unknown;
    for_each_entry(
        ctx, node, [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
            bool known = std::find(allowed.begin(), allowed.end(), key) != allowed.end();
            bool other = std::find(other_keys.begin(), other_keys.end(), key) != other_keys.end();
            if (other)
                out.other.emplace_back(key, v);
            else
                (known ? fields : unknown).emplace_back(key, known ? v : k);
            if (key == "id" && v.IsScalar() && id_lines) step.id = v.Scalar();
        });
    std::string who = step.id.empty() ? who_default : "step '" + step.id + "'";
    for (const auto& [key, k] : unknown)
        ctx.error(k, "unknown key '" + key + "' in " + who + key_hint(key, allowed));

    const YAML::Node* for_each_node = nullptr;
    const YAML::Node* concurrency_node = nullptr;
    const YAML::Node* with_node = nullptr;
    for (const auto& [key, value] : fields) {
        step.field_marks[key] = ctx.mark(value);
        if (key == "id") {
            if (!text_field(ctx, value, "id")) {
                step.id.clear();
            } else if (!is_identifier(step.id)) {
                ctx.error(value, identifier_problem("step id", step.id));
            } else if (step.id == "fail" || step.id == "continue") {
                // `on_error: continue` is the keyword, so the step could never be a handler:
                // naming it one silently did something else.
                ctx.error(value, "step id '" + step.id + "' is reserved: on_error's '" + step.id +
                                     "' is a keyword, so no step could name this one "
                                     "as its handler; call it something else");
            } else {
                ex.has_id = true;
                auto [it, inserted] = id_lines->emplace(step.id, ctx.mark(value).line);
                if (!inserted)
                    ctx.error(value, "duplicate step id '" + step.id + "' (first at line " +
                                         std::to_string(it->second) + ")");
            }
        } else if (key == "task") {
            if (auto t = text_field(ctx, value, "task")) step.task = *t;
        } else if (key == "provider") {
            if (auto t = text_field(ctx, value, "provider")) step.provider = *t;
        } else if (key == "integration") {
            if (auto t = text_field(ctx, value, "integration")) step.integration = *t;
        } else if (key == "with") {
            if (value.IsNull()) continue;
            if (!value.IsMap()) {
                ctx.error(value, "'with' must be a mapping of task inputs, got " +
                                     describe_node(ctx, value));
                continue;
            }
            with_node = &value;  // read once the task is known: it says which inputs are raw
            ex.with.reset(value);
            for (const auto& entry : value) {
                if (!entry.first.IsScalar()) continue;
                if (entry.first.Scalar() != "<<" || entry.first.Tag() != "?") {
                    ex.with_keys.emplace_back(entry.first.Scalar(), ctx.mark(entry.first));
                    continue;
                }
                // A merge key: the inputs it brings in, placed at the `<<`.
                std::vector<YAML::Node> sources;
                if (entry.second.IsSequence())
                    for (const YAML::Node& item : entry.second)
                        sources.push_back(item);
                else
                    sources.push_back(entry.second);
                for (const YAML::Node& from : sources)
                    if (from.IsMap())
                        for (const auto& merged : from)
                            if (merged.first.IsScalar())
                                ex.with_keys.emplace_back(merged.first.Scalar(),
                                                          ctx.mark(entry.first));
            }
        } else if (key == "needs") {
            std::vector<YAML::Node> items;
            if (value.IsScalar())
                items.push_back(value);
            else if (value.IsSequence())
                for (const YAML::Node& item : value)
                    items.push_back(item);
            else if (!value.IsNull())
                ctx.error(value, "'needs' must be a step id or a list of step ids, got " +
                                     describe_node(ctx, value));
            for (const YAML::Node& item : items) {
                if (!item.IsScalar() || item.Scalar().empty()) {
                    ctx.error(item, "'needs' must list step ids, got " + describe_node(ctx, item));
                    continue;
                }
                ex.needs.emplace_back(item.Scalar(), ctx.mark(item));
                if (std::find(step.needs.begin(), step.needs.end(), item.Scalar()) ==
                    step.needs.end())
                    step.needs.push_back(item.Scalar());
            }
        } else if (key == "when") {
            step.when = expression_field(ctx, value, "when", ex.refs);
        } else if (key == "for_each") {
            step.for_each = expression_field(ctx, value, "for_each", ex.refs);
            for_each_node = &value;
        } else if (key == "concurrency") {
            if (auto n = int_field(ctx, value, "concurrency", 0)) step.concurrency = int(*n);
            concurrency_node = &value;
        } else if (key == "retry") {
            step.retry = parse_retry(ctx, value, step.id);
        } else if (key == "timeout") {
            if (auto ms = duration_field(ctx, value, "timeout")) step.timeout_ms = *ms;
        } else if (key == "on_error") {
            if (auto t = text_field(ctx, value, "on_error")) step.on_error = *t;
        } else if (key == "dry_run") {
            step.dry_run = bool_field(ctx, value, "dry_run");
        }
    }
    if (with_node) {
        std::vector<std::vector<std::string>> raw = tasks && !step.task.empty()
                                                        ? tasks->raw_paths(step.task, step.provider)
                                                        : std::vector<std::vector<std::string>>{};
        std::vector<Ref> with_refs;
        step.with = data_with_templates(ctx, *with_node, with_refs, raw);
        if (step.task == "workflow") mark_sub_workflow_fields(ctx, *with_node, step.field_marks);
        for (Ref& r : with_refs) {
            // `item` and `index` are defined in the with: of a for_each step (only there:
            // its when: and for_each: are evaluated once, for the whole step).
            if (for_each_node && (r.root == "item" || r.root == "index")) continue;
            ex.refs.push_back(std::move(r));
        }
    }
    if (concurrency_node && !for_each_node)
        ctx.error(*concurrency_node,
                  "'concurrency' limits a 'for_each' fan-out, and " + who + " has no 'for_each'");
    if (id_lines && step.id.empty() && !step.field_marks.count("id"))
        ctx.error(node, who + " is missing 'id'");
    if (step.task.empty() && !step.field_marks.count("task"))
        ctx.error(node, who + " is missing 'task'");
    return out;
}

namespace {

void parse_step(Context& ctx, const YAML::Node& node, size_t index, Parsed& p,
                std::map<std::string, int>& id_lines) {
    if (!node.IsMap()) {
        ctx.error(node, "each step must be a mapping with 'id' and 'task', got " +
                            describe_node(ctx, node));
        return;
    }
    StepFields parsed =
        parse_step_fields(ctx, node, "step #" + std::to_string(index + 1), {}, &id_lines, p.tasks);
    p.wf.steps.push_back(std::move(parsed.step));
    p.steps.push_back(std::move(parsed.extras));
}

// vars and outputs: a mapping of names to data that may hold expressions.
tmpl::Value named_data(Context& ctx, const YAML::Node& node, const std::string& what,
                       std::vector<Ref>& refs, std::vector<std::string>* names,
                       std::vector<size_t>* ref_owners,
                       std::map<std::string, Mark, std::less<>>* marks = nullptr) {
    tmpl::Value dict = tmpl::Value::dict();
    if (node.IsNull()) return dict;
    if (!node.IsMap()) {
        ctx.error(node, "'" + what + "' must be a mapping of names to values, got " +
                            describe_node(ctx, node));
        return dict;
    }
    SeenNodes seen;  // every entry adds to the one `refs`
    for_each_entry(
        ctx, node, [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
            if (!is_identifier(key))
                ctx.error(k, identifier_problem(what == "vars" ? "var name" : "output name", key));
            if (names) names->push_back(key);
            if (marks) marks->emplace(key, ctx.mark(v));
            dict.dict_obj().set(tmpl::Value::string(key),
                                data_with_templates(ctx, v, refs, {}, &seen));
            if (names && ref_owners) ref_owners->resize(refs.size(), names->size() - 1);
        });
    return dict;
}

// Whether a relative file name reaches outside its folder: absolute, or a ".." segment.
bool leaves_folder(std::string_view name) {
    if (name.empty() || name.front() == '/') return !name.empty();
    for (size_t start = 0; start <= name.size();) {
        size_t end = std::min(name.find('/', start), name.size());
        if (name.substr(start, end - start) == "..") return true;
        start = end + 1;
    }
    return false;
}

void parse_hooks(Context& ctx, const YAML::Node& node, Hooks& hooks) {
    hooks.mark = ctx.mark(node);
    if (node.IsNull()) return;
    if (!node.IsMap()) {
        ctx.error(node, "'hooks' must be a mapping such as {before_step: hooks/x.lua}, got " +
                            describe_node(ctx, node));
        return;
    }
    for (const auto& [key, value] : entries(ctx, node, kHookKeys, "hooks")) {
        std::optional<std::string> file = text_field(ctx, value, "hooks." + key);
        if (!file) continue;
        if (leaves_folder(*file)) {
            // As a template name cannot: a workflow would otherwise load (and, failing, quote)
            // any file the process can read.
            ctx.error(value, "hook file '" + *file + "' leaves tasks/ (hooks live under tasks/)");
            continue;
        }
        if (key == "before_step") {
            hooks.before_step = *file;
            hooks.before_step_mark = ctx.mark(value);
        } else if (key == "after_step") {
            hooks.after_step = *file;
            hooks.after_step_mark = ctx.mark(value);
        } else {
            hooks.on_failure = *file;
            hooks.on_failure_mark = ctx.mark(value);
        }
    }
}

// Whether file lies directly in a folder named workflows/: as its path names it, or for a
// bare name, the working directory as the shell names it ($PWD: `cd workflows && ferry
// validate x.yaml`, workflows/ a symbolic link or not).
bool in_workflows_folder(const std::string& file) {
    namespace fs = std::filesystem;
    fs::path path = fs::path(file).lexically_normal();
    if (path.has_parent_path()) return path.parent_path().filename() == "workflows";
    std::error_code ec;
    const char* pwd = std::getenv("PWD");
    if (pwd && *pwd == '/' && fs::equivalent(pwd, ".", ec)) {
        std::string dir = pwd;
        while (dir.size() > 1 && dir.back() == '/')
            dir.pop_back();
        return fs::path(dir).filename() == "workflows";
    }
    return fs::current_path(ec).filename() == "workflows";
}

void parse_workflow(Context& ctx, const YAML::Node& root, Parsed& p) {
    std::map<std::string, YAML::Node> top;
    for (auto& [key, value] : entries(ctx, root, kTopKeys, "workflow"))
        top.emplace(key, value);
    auto get = [&](const char* key) -> const YAML::Node* {
        auto it = top.find(key);
        return it == top.end() ? nullptr : &it->second;
    };
    Workflow& wf = p.wf;
    if (const YAML::Node* n = get("name")) {
        if (auto name = text_field(ctx, *n, "name")) {
            const std::string stem = wf.name;  // the file's, set by the caller
            wf.name = *name;
            if (!is_identifier(wf.name)) {
                ctx.error(*n, identifier_problem("workflow name", wf.name));
            } else if (wf.name != stem && in_workflows_folder(wf.file)) {
                // The API listed the name and answered 404 for it: starts, sub-workflows,
                // retries and `ferry run` find a project's workflow by its file's name.
                ctx.error(*n, "workflow name '" + wf.name + "' is not its file's name '" + stem +
                                  "': workflows are found by file name (ferry run, the API, "
                                  "sub-workflows); rename the file to " +
                                  wf.name + std::filesystem::path(wf.file).extension().string() +
                                  " or drop 'name:'");
            }
        }
    }
    if (const YAML::Node* n = get("description")) {
        if (n->IsScalar())
            wf.description = n->Scalar();
        else if (!n->IsNull())
            ctx.error(*n, "'description' must be text, got " + describe_node(ctx, *n));
    }
    if (const YAML::Node* n = get("inputs")) wf.inputs = parse_inputs(ctx, *n);
    if (const YAML::Node* n = get("vars"))
        wf.vars = named_data(ctx, *n, "vars", p.var_refs, &p.var_names, &p.var_ref_owners,
                             &wf.var_marks);
    if (const YAML::Node* n = get("outputs"))
        wf.outputs = named_data(ctx, *n, "outputs", p.output_refs, nullptr, nullptr);
    if (const YAML::Node* n = get("hooks")) parse_hooks(ctx, *n, wf.hooks);

    const YAML::Node* steps = get("steps");
    if (!steps) {
        ctx.error(ctx.mark(root), "workflow has no 'steps'");
    } else if (!steps->IsSequence()) {
        ctx.error(*steps, "'steps' must be a list of steps, got " + describe_node(ctx, *steps));
    } else if (steps->size() == 0) {
        ctx.error(*steps, "workflow has no steps ('steps' is empty)");
    } else {
        std::map<std::string, int> id_lines;
        size_t index = 0;
        for (const YAML::Node& s : *steps)
            parse_step(ctx, s, index++, p, id_lines);
    }
    // After the steps: an on_step entry expands into one step per step it follows.
    if (const YAML::Node* n = get("on_step")) parse_on_step(ctx, *n, p);
}

// Problems in file order, each once (an alias repeats its node's problems).
void tidy(std::vector<Diagnostic>& problems) {
    auto before = [](const Diagnostic& a, const Diagnostic& b) {
        return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
    };
    std::stable_sort(problems.begin(), problems.end(), before);
    auto same = [](const Diagnostic& a, const Diagnostic& b) {
        return a.mark.line == b.mark.line && a.mark.column == b.mark.column &&
               a.message == b.message;
    };
    problems.erase(std::unique(problems.begin(), problems.end(), same), problems.end());
}

}  // namespace
}  // namespace detail

LoadResult load_workflow_text(const std::string& text, const std::string& file,
                              const TaskLookup* tasks) {
    // A UTF-8 byte order mark is not part of the document; columns count from after it.
    std::string body = text.starts_with("\xEF\xBB\xBF") ? text.substr(3) : text;
    detail::Context ctx(body, file);
    LoadResult result;
    std::vector<YAML::Node> docs;
    if (!ctx.check_characters()) {
        result.problems = std::move(ctx.problems());
        return result;
    }
    // YAML reads JSON and more (a trailing comma, comments, block style): a .json file that
    // only YAML reads is one other JSON tools refuse. Checked as JSON first, then read as
    // YAML for the positions every later problem names.
    if (file.ends_with(".json")) {
        rapidjson::Document json;
        json.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
        if (json.HasParseError()) {
            TextPosition at = position_at(body, json.GetErrorOffset());
            ctx.error(Mark{file, at.line, at.column},
                      std::string("invalid JSON: ") +
                          rapidjson::GetParseError_En(json.GetParseError()) +
                          " (a .json workflow is JSON; YAML goes in a .yaml file)");
            result.problems = std::move(ctx.problems());
            return result;
        }
    }
    try {
        docs = detail::load_yaml_documents(body);
    } catch (const YAML::ParserException& e) {
        YAML::Mark at = e.mark;
        std::string message = detail::yaml_syntax_message(body, at, e.msg);
        ctx.error(ctx.mark(at), message);
    } catch (const YAML::Exception& e) {
        ctx.error(ctx.mark(e.mark), e.msg.empty() ? std::string(e.what()) : e.msg);
    }
    if (ctx.problems().empty()) {
        if (docs.empty() || (docs.size() == 1 && docs[0].IsNull())) {
            ctx.error(Mark{file, 1, 1}, "empty workflow file");
        } else if (docs.size() > 1) {
            ctx.error(docs[1], "a workflow file holds one YAML document; this is a second");
        }
        if (!docs.empty() && !docs[0].IsNull() && !docs[0].IsMap())
            ctx.error(docs[0], "a workflow must be a mapping with 'steps', got " +
                                   detail::describe_node(ctx, docs[0]));
    }
    if (!docs.empty() && docs[0].IsMap()) {
        detail::Parsed p;
        p.wf.file = file;
        p.wf.source = text;
        p.wf.hash = detail::sha256_hex(text);
        p.wf.name = std::filesystem::path(file).stem().string();
        p.wf.vars = tmpl::Value::dict();
        p.wf.outputs = tmpl::Value::dict();
        p.wf.hooks.mark = Mark{file, 0, 0};
        p.tasks = tasks;
        const std::string stem = p.wf.name;
        detail::parse_workflow(ctx, docs[0], p);
        // The file's name is the workflow's in the API (/api/v1/workflows/NAME), the CLI
        // and the history: it must be a name too (a stem with a quote, a line break or
        // bytes that are not UTF-8 went into JSON answers and log lines as it was).
        if (!detail::is_identifier(stem))
            ctx.error(docs[0],
                      detail::identifier_problem("workflow file name", stem) + ": rename the file");
        detail::validate(ctx, p, tasks);
        result.workflow = std::move(p.wf);
    }
    detail::tidy(ctx.problems());
    result.problems = std::move(ctx.problems());
    return result;
}

LoadResult load_workflow_file(const std::string& path, const TaskLookup* tasks) {
    auto unreadable = [&](const std::string& why) {
        LoadResult result;
        result.problems.push_back(Diagnostic{Mark{path, 0, 0}, "cannot read workflow: " + why});
        return result;
    };
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return unreadable("it is a directory");
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) return unreadable(std::strerror(errno ? errno : ENOENT));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return unreadable(std::strerror(errno ? errno : EIO));
    return load_workflow_text(text.str(), path, tasks);
}

std::vector<std::string> find_cycle(const Workflow& wf) {
    std::vector<std::vector<std::string>> cycles = detail::find_cycles(wf);
    return cycles.empty() ? std::vector<std::string>{} : std::move(cycles.front());
}

}  // namespace ferry::workflow
