// Typed workflow inputs: their specs in the file, validation of the values a run is given,
// and conversion of `--input key=value` text.
#include "runtime/json_repeats.h"
#include "runtime/utf8.h"
#include "template/environment.h"
#include "template/json_value.h"
#include "workflow/loader_internal.h"
#include "workflow/patterns.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace ferry::workflow {
namespace detail {
namespace {

// Why a whole number is not taken as an integer: as a double (a JSON number with a fraction,
// an exponent, or past 64 bits) it says which integer it is only below 2^53.
constexpr const char* kPast2To53 =
    " (an integer from 2^53 = 9007199254740992 on must be written in digits, without a "
    "fraction or an exponent, and fit in 64 bits)";

const std::vector<std::string> kTypes = {"string", "integer", "number", "boolean",
                                         "array",  "object",  "any"};
const std::vector<std::string> kSpecKeys = {"type",       "required", "enum",       "default",
                                            "pattern",    "min",      "max",        "min_length",
                                            "max_length", "items",    "description"};
// An item of an array has no name of its own to require or default.
const std::vector<std::string> kItemKeys = {
    "type", "enum", "pattern", "min", "max", "min_length", "max_length", "items", "description"};

// One problem: the input's path ("systems[2]") and what is wrong with its value.
using Problems = std::vector<std::pair<std::string, std::string>>;

// The longest value a pattern is matched against (code points): a match costs the length
// times the pattern's states, and a value is checked on the loop, as it arrives.
constexpr int64_t kMaxPatternChecked = 16'384;

}  // namespace

bool type_matches(const std::string& type, const tmpl::Value& v) {
    if (type == "string") return v.is_string();
    if (type == "integer") return v.is_int();
    if (type == "number") return v.is_int() || v.is_float();
    if (type == "boolean") return v.is_bool();
    if (type == "array") return v.is_sequence();
    if (type == "object") return v.is_dict();
    return type.empty() || type == "any";  // a type no one declares matches nothing
}

std::string article_type(const std::string& type) {
    if (type == "integer" || type == "array" || type == "object") return "an " + type;
    if (type == "any") return "any value";
    return "a " + type;
}

std::string describe_value(const tmpl::Value& v) {
    switch (v.kind()) {
    case tmpl::Kind::String: {
        std::string s(v.str());
        if (tmpl::utf8_length(s) > 60)
            s = tmpl::utf8_encode(tmpl::utf8_decode(s).substr(0, 57)) + "...";
        return "'" + s + "'";
    }
    case tmpl::Kind::Bool: return v.as_bool() ? "true" : "false";
    case tmpl::Kind::Int: return std::to_string(v.as_int());
    case tmpl::Kind::Float: {
        std::string out;
        tmpl::append_float(v.as_float(), out);
        return out;
    }
    case tmpl::Kind::None:
    case tmpl::Kind::Undefined: return "null";
    case tmpl::Kind::List:
    case tmpl::Kind::Tuple: return "a list";
    case tmpl::Kind::Dict: return "an object";
    case tmpl::Kind::Object: return std::string(tmpl::type_name(v));
    }
    return "a value";
}

std::string describe_values(const std::vector<tmpl::Value>& values) {
    std::string out;
    for (const tmpl::Value& v : values)
        out += (out.empty() ? "" : ", ") + describe_value(v);
    return out;
}

namespace {

std::string format_number(double d) {
    if (std::trunc(d) == d && std::abs(d) < 1e15) return std::to_string(int64_t(d));
    std::string out;
    tmpl::append_float(d, out);
    return out;
}

// "1 item", "2 items".
std::string count(int64_t n, const char* noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// Whether quoted text would be a value of `type` unquoted (JSON's and YAML's words alike).
bool reads_as(const std::string& type, std::string_view text) {
    if (type == "boolean") return text == "true" || text == "false";
    if (type != "integer" && type != "number") return false;
    double d = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(d)) return false;
    return type == "number" || std::trunc(d) == d;
}

void check(const InputSpec& spec, const tmpl::Value& v, const std::string& path,
           PatternBudget& budget, Problems& out, bool type_only = false) {
    auto fail = [&](std::string message) { out.emplace_back(path, std::move(message)); };
    if (!type_matches(spec.type, v)) {
        // `{"count": "5"}`: "expected an integer, got '5'" read as a contradiction.
        std::string hint;
        if (v.is_string() && reads_as(spec.type, v.str()))
            hint = " (a string; without the quotes it would be " + article_type(spec.type) + ")";
        else if (spec.type == "integer" && v.is_float() && std::isfinite(v.as_float()) &&
                 std::trunc(v.as_float()) == v.as_float())
            hint = kPast2To53;
        fail("expected " + article_type(spec.type) + ", got " + describe_value(v) + hint);
        return;
    }
    if (type_only) return;
    if (!spec.enum_values.empty() &&
        std::none_of(spec.enum_values.begin(), spec.enum_values.end(),
                     [&](const tmpl::Value& e) { return tmpl::equals(e, v); })) {
        fail("must be one of " + describe_values(spec.enum_values) + "; got " + describe_value(v));
        return;
    }
    if (v.is_string()) {
        std::string_view s = v.str();
        auto n = int64_t(tmpl::utf8_length(s));
        const bool too_long = spec.max_length && n > *spec.max_length;
        // A match costs the value's length times the pattern's states ([a-z]{900}): a 1 MB
        // value for a field of 100 characters held the loop for seconds before its length
        // refused it. Past kMaxPatternChecked the pattern is not matched (max_length, when
        // it refuses the value, says enough).
        if (!spec.pattern.empty()) {
            if (n > kMaxPatternChecked) {
                if (!too_long)
                    fail("is " + count(n, "character") +
                         " long, too long to match against the "
                         "pattern (at most " +
                         std::to_string(kMaxPatternChecked) + "; give it a max_length)");
            } else {
                const bool spent_before = budget.steps_left <= 0;
                switch (search_pattern(spec.pattern, s, budget)) {
                case PatternMatch::Found: break;
                case PatternMatch::NotFound:
                    fail(describe_value(v) + " does not match the pattern " + spec.pattern);
                    break;
                case PatternMatch::Invalid:
                    fail("cannot be checked: invalid pattern " + spec.pattern);
                    break;
                case PatternMatch::TooCostly:
                    if (spent_before)
                        fail("was not matched against the pattern " + spec.pattern +
                             ": the checks of the values before it spent the cost allowed");
                    else
                        fail("could not be matched against the pattern " + spec.pattern +
                             " within the cost allowed (its repetitions or lookaheads try too "
                             "many ways through values this long: give the input a "
                             "max_length or a simpler pattern)");
                    break;
                }
            }
        }
        if (spec.min_length && n < *spec.min_length)
            fail("is " + count(n, "character") + " long; the minimum is " +
                 std::to_string(*spec.min_length));
        if (too_long)
            fail("is " + count(n, "character") + " long; the maximum is " +
                 std::to_string(*spec.max_length));
    }
    if (v.is_int() || v.is_float()) {
        // Compare ints as ints where the bound is integral, so 2^53 + 1 is not rounded.
        auto below = [&](double bound) {
            if (v.is_int() && std::trunc(bound) == bound && std::abs(bound) < 9e18)
                return v.as_int() < int64_t(bound);
            return v.as_float() < bound;
        };
        auto above = [&](double bound) {
            if (v.is_int() && std::trunc(bound) == bound && std::abs(bound) < 9e18)
                return v.as_int() > int64_t(bound);
            return v.as_float() > bound;
        };
        if (spec.min && below(*spec.min))
            fail(describe_value(v) + " is less than the minimum " + format_number(*spec.min));
        if (spec.max && above(*spec.max))
            fail(describe_value(v) + " is greater than the maximum " + format_number(*spec.max));
    }
    if (v.is_sequence()) {
        const std::vector<tmpl::Value>& items = v.list_obj().items;
        auto n = int64_t(items.size());
        if (spec.min_length && n < *spec.min_length)
            fail("has " + count(n, "item") + "; the minimum is " +
                 std::to_string(*spec.min_length));
        if (spec.max_length && n > *spec.max_length)
            fail("has " + count(n, "item") + "; the maximum is " +
                 std::to_string(*spec.max_length));
        if (spec.items)
            for (size_t i = 0; i < items.size(); ++i)
                check(*spec.items, items[i], path + "[" + std::to_string(i) + "]", budget, out);
    }
}

std::optional<double> number_of(Context& ctx, const YAML::Node& node, const std::string& what) {
    tmpl::Value v = node.IsScalar() ? scalar_value(ctx, node) : tmpl::Value::none();
    if (v.is_int() || v.is_float()) return v.as_float();
    ctx.error(node, what + " must be a number, got " + describe_node(ctx, node));
    return std::nullopt;
}

std::optional<int64_t> length_of(Context& ctx, const YAML::Node& node, const std::string& what) {
    tmpl::Value v = node.IsScalar() ? scalar_value(ctx, node) : tmpl::Value::none();
    if (v.is_int() && v.as_int() >= 0) return v.as_int();
    ctx.error(node, what + " must be an integer >= 0, got " + describe_node(ctx, node));
    return std::nullopt;
}

InputSpec parse_spec(Context& ctx, const std::string& name, const YAML::Node& at,
                     const YAML::Node& node, bool is_items) {
    InputSpec spec;
    spec.name = name;
    spec.mark = ctx.mark(at);
    const std::string who = is_items ? "items of input '" + name + "'" : "input '" + name + "'";
    auto check_type = [&](const YAML::Node& t) {
        std::string type = t.IsScalar() ? t.Scalar() : std::string();
        if (std::find(kTypes.begin(), kTypes.end(), type) != kTypes.end()) {
            spec.type = type;
            return;
        }
        ctx.error(t, "unknown type " + describe_node(ctx, t) + " for " + who +
                         did_you_mean(type, kTypes) +
                         "; types: string, integer, number, boolean, array, object, any");
        spec.type = "any";  // keep checking the rest without a cascade of type mismatches
    };
    if (node.IsNull()) return spec;  // `name:` alone: an optional string
    if (node.IsScalar()) {           // short form: `name: integer`
        check_type(node);
        return spec;
    }
    if (!node.IsMap()) {
        ctx.error(node, who + " must be a type name or a mapping such as {type: string}, got " +
                            describe_node(ctx, node));
        return spec;
    }

    std::map<std::string, YAML::Node> keys;
    const std::vector<std::string>& allowed = is_items ? kItemKeys : kSpecKeys;
    for_each_entry(
        ctx, node, [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                ctx.error(k, "unknown key '" + key + "' in " + who + did_you_mean(key, allowed));
                return;
            }
            keys.emplace(key, v);
        });
    auto get = [&](const char* key) -> const YAML::Node* {
        auto it = keys.find(key);
        return it == keys.end() ? nullptr : &it->second;
    };
    auto applies = [&](const char* key, std::initializer_list<const char*> types) {
        const YAML::Node* n = get(key);
        if (!n) return false;
        if (spec.type == "any" ||
            std::any_of(types.begin(), types.end(), [&](const char* t) { return spec.type == t; }))
            return true;
        std::string list;
        for (const char* t : types)
            list += std::string(list.empty() ? "" : " and ") + t;
        ctx.error(keys.find(key)->second, "'" + std::string(key) + "' applies to " + list +
                                              " inputs, and " + who + " is " +
                                              article_type(spec.type));
        return false;
    };

    if (const YAML::Node* t = get("type")) check_type(*t);
    if (const YAML::Node* r = get("required")) {
        tmpl::Value v = r->IsScalar() ? scalar_value(ctx, *r) : tmpl::Value::none();
        if (v.is_bool())
            spec.required = v.as_bool();
        else
            ctx.error(*r, "'required' must be true or false, got " + describe_node(ctx, *r));
    }
    if (const YAML::Node* d = get("description")) {
        if (d->IsScalar())
            spec.description = d->Scalar();
        else
            ctx.error(*d, "'description' must be text, got " + describe_node(ctx, *d));
    }
    if (applies("min", {"integer", "number"})) spec.min = number_of(ctx, *get("min"), "'min'");
    if (applies("max", {"integer", "number"})) spec.max = number_of(ctx, *get("max"), "'max'");
    if (spec.min && spec.max && *spec.min > *spec.max)
        ctx.error(*get("max"), "'max' " + format_number(*spec.max) + " is less than 'min' " +
                                   format_number(*spec.min) + " for " + who);
    if (applies("min_length", {"string", "array"}))
        spec.min_length = length_of(ctx, *get("min_length"), "'min_length'");
    if (applies("max_length", {"string", "array"}))
        spec.max_length = length_of(ctx, *get("max_length"), "'max_length'");
    if (spec.min_length && spec.max_length && *spec.min_length > *spec.max_length)
        ctx.error(*get("max_length"), "'max_length' " + std::to_string(*spec.max_length) +
                                          " is less than 'min_length' " +
                                          std::to_string(*spec.min_length) + " for " + who);
    if (applies("pattern", {"string"})) {
        const YAML::Node& p = *get("pattern");
        if (!p.IsScalar() || !scalar_value(ctx, p).is_string()) {
            ctx.error(p, "'pattern' must be a regular expression string, got " +
                             describe_node(ctx, p));
        } else {
            std::string error;
            if (is_valid_pattern(p.Scalar(), &error))
                spec.pattern = p.Scalar();
            else
                ctx.error(p, "invalid pattern for " + who + ": " + error);
        }
    }
    if (applies("items", {"array"}))
        spec.items =
            std::make_shared<InputSpec>(parse_spec(ctx, name, *get("items"), *get("items"), true));
    if (const YAML::Node* e = get("enum")) {
        if (!e->IsSequence() || e->size() == 0) {
            ctx.error(
                *e, "'enum' must be a non-empty list of values, got " +
                        (e->IsSequence() ? std::string("an empty list") : describe_node(ctx, *e)));
        } else {
            for (const YAML::Node& item : *e) {
                tmpl::Value v = integers_as_declared(spec, to_value(ctx, item));
                Problems problems;
                PatternBudget unused;  // a type check matches no pattern
                check(spec, v, name, unused, problems, /*type_only=*/true);
                for (const auto& [path, message] : problems)
                    ctx.error(item, "enum value of " + who + ": " + message);
                spec.enum_values.push_back(std::move(v));
            }
        }
    }
    if (const YAML::Node* d = get("default")) {
        // Read as a given value is: `default: 4.0` of an integer input is 4, as `--input
        // n=4.0` and `{"n": 4.0}` are (it was refused).
        spec.default_value = integers_as_declared(spec, to_value(ctx, *d));
        // `default: null` says "absent unless given" explicitly, whatever the type.
        if (!spec.default_value->is_none()) {
            Problems problems;
            PatternBudget budget;
            check(spec, *spec.default_value, name, budget, problems);
            for (const auto& [path, message] : problems)
                ctx.error(*d, "default of input '" + path + "': " + message);
        }
    }
    return spec;
}

}  // namespace

std::vector<InputSpec> parse_inputs(Context& ctx, const YAML::Node& node) {
    std::vector<InputSpec> specs;
    if (node.IsNull()) return specs;
    if (!node.IsMap()) {
        ctx.error(node, "'inputs' must be a mapping of input names to specs, got " +
                            describe_node(ctx, node));
        return specs;
    }
    for_each_entry(ctx, node,
                   [&](const std::string& name, const YAML::Node& key, const YAML::Node& value) {
                       if (!is_identifier(name))
                           ctx.error(key, identifier_problem("input name", name));
                       specs.push_back(parse_spec(ctx, name, key, value, false));
                   });
    return specs;
}

void check_input_value(const InputSpec& spec, const tmpl::Value& value, const std::string& path,
                       PatternBudget& budget, std::vector<std::string>& problems) {
    Problems found;
    check(spec, value, path, budget, found);
    for (const auto& [p, message] : found)
        problems.push_back("input '" + p + "': " + message);
}

std::optional<int64_t> whole_number(double d) {
    // Below 2^53 a whole double is exactly the integer written; from it on, the text it came
    // from may have been another (9007199254740993.0 reads as 2^53, -9223372036854775809 as
    // -2^63).
    constexpr double kExact = 9007199254740992.0;  // 2^53
    if (!std::isfinite(d) || std::trunc(d) != d || d <= -kExact || d >= kExact)
        return std::nullopt;
    return int64_t(d);
}

tmpl::Value integers_as_declared(const InputSpec& spec, const tmpl::Value& v) {
    if (spec.type == "integer" && v.is_float()) {
        if (std::optional<int64_t> i = whole_number(v.as_float())) return tmpl::Value::integer(*i);
        return v;
    }
    if (spec.type == "array" && spec.items && v.is_list()) {
        std::vector<tmpl::Value> items;
        items.reserve(v.list_obj().items.size());
        for (const tmpl::Value& item : v.list_obj().items)
            items.push_back(integers_as_declared(*spec.items, item));
        return tmpl::Value::list(std::move(items));
    }
    return v;
}

tmpl::Value deep_copy(const tmpl::Value& v) {
    if (v.is_list() || v.is_tuple()) {
        std::vector<tmpl::Value> items;
        for (const tmpl::Value& item : v.list_obj().items)
            items.push_back(deep_copy(item));
        return v.is_tuple() ? tmpl::Value::tuple(std::move(items))
                            : tmpl::Value::list(std::move(items));
    }
    if (v.is_dict()) {
        // The keys are a dict's, so already distinct.
        tmpl::Value d = tmpl::Value::dict();
        tmpl::DictObj& copy = d.dict_obj();
        copy.reserve(v.dict_obj().size());
        for (const auto& [key, value] : v.dict_obj().items())
            copy.append_new(key, deep_copy(value));
        return d;
    }
    return v;  // scalars and strings are immutable
}

}  // namespace detail

const std::vector<std::string>& input_types() {
    return detail::kTypes;
}

namespace {

// Whether v has containers nested more than limit levels deep. The recursion is bounded by
// limit, so an absurdly deep value is refused before anything recurses through all of it.
bool nested_deeper_than(const tmpl::Value& v, int limit) {
    if (!v.is_sequence() && !v.is_dict()) return false;
    if (limit == 0) return true;
    if (v.is_dict()) {
        for (const auto& [key, item] : v.dict_obj().items())
            if (nested_deeper_than(item, limit - 1)) return true;
        return false;
    }
    for (const tmpl::Value& item : v.list_obj().items)
        if (nested_deeper_than(item, limit - 1)) return true;
    return false;
}

}  // namespace

namespace {

// resolve_inputs and input_problems: the complete inputs, and every problem.
tmpl::Value check_inputs(const Workflow& wf, const tmpl::Value& given,
                         const std::vector<std::string>& given_later, PatternBudget& budget,
                         std::vector<std::string>& problems) {
    if (!given.is_dict() && !given.is_none() && !given.is_undefined()) {
        problems.push_back("inputs must be an object, got " + detail::describe_value(given));
        return tmpl::Value::none();
    }
    std::vector<std::string> names;
    for (const InputSpec& spec : wf.inputs)
        names.push_back(spec.name);
    auto unknown = [&](const std::string& name) {
        if (std::find(names.begin(), names.end(), name) != names.end()) return;
        std::string hint = detail::did_you_mean(name, names);
        if (hint.empty() && names.empty()) hint = " (the workflow takes no inputs)";
        problems.push_back("input '" + detail::clipped_name(name) + "': no such input" + hint);
    };
    if (given.is_dict()) {
        for (const auto& [key, value] : given.dict_obj().items())
            unknown(key.is_string() ? std::string(key.str()) : tmpl::to_str(key));
    }
    for (const std::string& name : given_later)
        unknown(name);
    tmpl::Value out = tmpl::Value::dict();
    for (const InputSpec& spec : wf.inputs) {
        const tmpl::Value* v = given.is_dict() ? given.dict_obj().find(spec.name) : nullptr;
        // An explicit null (a JSON body, an empty form field) means "not given".
        if (v && v->is_none()) v = nullptr;
        if (!v) {
            bool later =
                std::find(given_later.begin(), given_later.end(), spec.name) != given_later.end();
            if (later) continue;
            if (spec.default_value)
                out.dict_obj().set(tmpl::Value::string(spec.name),
                                   detail::deep_copy(*spec.default_value));
            else if (spec.required)
                problems.push_back("input '" + spec.name + "': required, but not given");
            continue;
        }
        if (nested_deeper_than(*v, kMaxInputDepth)) {
            problems.push_back("input '" + spec.name + "': nested deeper than " +
                               std::to_string(kMaxInputDepth) + " levels");
            continue;
        }
        const tmpl::Value value = detail::integers_as_declared(spec, *v);
        size_t before = problems.size();
        detail::check_input_value(spec, value, spec.name, budget, problems);
        if (problems.size() == before)
            out.dict_obj().set(tmpl::Value::string(spec.name), detail::deep_copy(value));
    }
    return out;
}

}  // namespace

std::vector<std::string> input_problems(const Workflow& wf, const tmpl::Value& given,
                                        const std::vector<std::string>& given_later) {
    std::vector<std::string> problems;
    PatternBudget budget;
    check_inputs(wf, given, given_later, budget, problems);
    return problems;
}

std::optional<NamedInputProblem> named_input_problem(std::string_view line) {
    constexpr std::string_view kPrefix = "input '";
    if (!line.starts_with(kPrefix)) return std::nullopt;
    size_t close = line.find("': ", kPrefix.size());
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view path = line.substr(kPrefix.size(), close - kPrefix.size());
    return NamedInputProblem{path, std::string(path.substr(0, path.find_first_of(".["))),
                             line.substr(close + 3)};
}

const Mark* named_input_mark(std::string_view line, const std::map<std::string, Mark>& marks,
                             std::string_view prefix) {
    std::optional<NamedInputProblem> named = named_input_problem(line);
    if (!named) return nullptr;
    for (std::string_view key : {named->quoted, std::string_view(named->input)}) {
        auto at = marks.find(std::string(prefix) + std::string(key));
        if (at != marks.end()) return &at->second;
    }
    return nullptr;
}

Result<tmpl::Value> resolve_inputs(const Workflow& wf, const tmpl::Value& given,
                                   PatternBudget* patterns) {
    std::vector<std::string> problems;
    PatternBudget own;  // one for all the values: a start is one wait on the loop
    tmpl::Value out = check_inputs(wf, given, {}, patterns ? *patterns : own, problems);
    if (!problems.empty()) {
        std::string message;
        for (const std::string& p : problems)
            message += (message.empty() ? "" : "\n") + p;
        return make_error(ErrorKind::Validation, std::move(message));
    }
    return out;
}

namespace {

// A JSON value given on the command line, as --inputs-file reads one: a key twice in one
// object is refused (runtime/json_repeats.h) rather than read as the last one.
struct CliJson {
    bool is_json = false;  // the text parses, whether or not it makes a value
    bool repeated_key = false;
    std::optional<tmpl::Value> value;
    std::string problem;  // why there is no value
};

CliJson cli_json(const std::string& text) {
    CliJson out;
    rapidjson::Document doc;
    JsonParse parsed = parse_json_noting_repeats<tmpl::kJsonInputReadFlags>(doc, text);
    if (parsed.syntax.IsError()) {
        out.problem = syntax_problem_at_byte(parsed.syntax);
        return out;
    }
    out.is_json = true;
    if (parsed.repeated) {
        out.repeated_key = true;
        out.problem = "the key '" + parsed.repeated->key + "' appears twice in one object " +
                      repeat_places_in_bytes(*parsed.repeated);
        return out;
    }
    try {
        out.value = tmpl::value_from_json_document(doc);
    } catch (const tmpl::TemplateError& e) {
        out.problem = e.message();
    }
    return out;
}

}  // namespace

namespace {

// The whole text as a T, a leading '+' allowed ("+4"), or nullopt.
template <typename T>
std::optional<T> whole_text_as(std::string_view s) {
    if (s.starts_with('+')) s.remove_prefix(1);
    T value{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return value;
}

}  // namespace

Result<tmpl::Value> convert_cli_input(const InputSpec& spec, const std::string& text) {
    // Checked first, and the text not quoted: it would go into history, answers and this
    // very message as bytes no JSON reader takes (--inputs-file and the API refuse them too).
    if (size_t bad = invalid_utf8_at(text); bad != std::string::npos)
        return make_error(ErrorKind::Validation, "input '" + spec.name +
                                                     "': a byte that is not UTF-8 at offset " +
                                                     std::to_string(bad));
    auto fail = [&](const std::string& expected, const std::string& detail = {}) {
        // A long value is shown by its start: the message is for a person.
        constexpr size_t kShown = 80;
        const std::string got = text.size() <= kShown
                                    ? "'" + text + "'"
                                    : "'" + text.substr(0, utf8_cut(text, kShown)) + "...' (" +
                                          std::to_string(text.size()) + " bytes)";
        return make_error(ErrorKind::Validation, "input '" + spec.name + "': expected " + expected +
                                                     ", got " + got + detail);
    };
    std::string_view t = text;
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front())))
        t.remove_prefix(1);
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back())))
        t.remove_suffix(1);
    const std::string& type = spec.type;
    if (type == "integer") {
        if (auto i = whole_text_as<int64_t>(t)) return tmpl::Value::integer(*i);
        // 4.0 is the integer 4, as in JSON Schema (and a JSON body or inputs file).
        if (std::optional<double> d = whole_text_as<double>(t))
            if (std::optional<int64_t> whole = detail::whole_number(*d))
                return tmpl::Value::integer(*whole);
        // A whole number past 64 bits is one: say what is wrong with it.
        if (detail::is_whole_number_text(t))
            return make_error(ErrorKind::Validation,
                              "input '" + spec.name + "': " + std::string(t) +
                                  " does not fit in a 64-bit integer (-9223372036854775808 to "
                                  "9223372036854775807)");
        // 1e16 or 9007199254740993.0: whole, but not exactly the integer written.
        if (std::optional<double> d = whole_text_as<double>(t);
            d && std::isfinite(*d) && std::trunc(*d) == *d)
            return make_error(ErrorKind::Validation,
                              "input '" + spec.name + "': expected an integer, got '" +
                                  std::string(t) + "'" + detail::kPast2To53);
        return fail("an integer");
    }
    if (type == "number") {
        if (auto i = whole_text_as<int64_t>(t))
            return tmpl::Value::integer(*i);  // keeps JSON's int type
        if (std::optional<double> d = whole_text_as<double>(t); d && std::isfinite(*d))
            return tmpl::Value::floating(*d);
        return fail("a number");
    }
    if (type == "boolean") {
        std::string lower;
        for (char c : t)
            lower += char(std::tolower(static_cast<unsigned char>(c)));
        if (lower == "true" || lower == "yes" || lower == "1") return tmpl::Value::boolean(true);
        if (lower == "false" || lower == "no" || lower == "0") return tmpl::Value::boolean(false);
        return fail("a boolean (true/false, yes/no, 1/0)");
    }
    if (type == "array" || type == "object") {
        const char* expected = type == "array" ? "a JSON array" : "a JSON object";
        CliJson v = cli_json(text);
        if (!v.value) return fail(expected, " (" + v.problem + ")");
        if (type == "array" ? v.value->is_list() : v.value->is_dict()) return *v.value;
        return fail(expected);
    }
    if (type == "any") {
        // Text that is not JSON is the text itself; JSON with a key twice, nested past the
        // limit or with an integer past 64 bits is a mistake, not text.
        CliJson v = cli_json(text);
        if (v.value) return *v.value;
        if (v.repeated_key) return fail("JSON with each key once", " (" + v.problem + ")");
        if (v.is_json) return fail("JSON Ferry can take", " (" + v.problem + ")");
    }
    return tmpl::Value::string(text);
}

}  // namespace ferry::workflow
