// ferry.yaml `forms:` and `hooks:`: read into FormSpec / HookSpec and checked where they are
// written (FILE:LINE:COL), so a typo fails `ferry validate` rather than a person filling a form
// or a vendor's webhook delivery. Whether the workflows exist is checked where workflows are
// known (ferry validate); here a workflow name must at least be an identifier.
#include "workflow/config_reader.h"

#include <cctype>

namespace ferry::workflow::detail {

namespace {

const std::vector<std::string> kFormKeys = {
    "title", "description", "workflow", "public",     "fields",
    "wait",  "lang",        "dir",      "rate_limit", "client_rate_limit"};
const std::vector<std::string> kFieldKeys = {
    "name",       "label",      "type",    "required", "pattern", "min",         "max",
    "min_length", "max_length", "default", "choices",  "help",    "autocomplete"};
const std::vector<std::string> kDirections = {"ltr", "rtl", "auto"};
constexpr uint64_t kMaxFormWaitMs = 300'000;  // the most ?wait= takes
const std::vector<std::string> kHookKeys = {
    "secret", "secrets",       "verify",      "header",     "tolerance",
    "action", "replay_window", "description", "rate_limit", "client_rate_limit"};
const std::vector<std::string> kVerify = {"standard-webhooks", "hmac-sha256", "none"};

// Which rules make sense for which field types: a rule that cannot apply is a mistake.
bool is_text_type(const std::string& t) {
    return t == "string" || t == "text" || t == "email";
}
bool is_number_type(const std::string& t) {
    return t == "number" || t == "integer";
}
bool has_choices(const std::string& t) {
    return t == "choice" || t == "multi-choice";
}

std::string workflow_name(ConfigReader& r, const YAML::Node& v, const std::string& field) {
    std::string name = r.nonempty(v, field);
    if (!name.empty() && !is_identifier(name)) {
        r.ctx().error(v, identifier_problem("workflow name", name));
        return {};
    }
    return name;
}

// A BCP 47 tag as HTML's lang takes it: "en", "de-CH", "zh-Hant-TW".
bool is_language_tag(const std::string& tag) {
    size_t at = 0, part = 0;
    while (at <= tag.size()) {
        size_t end = tag.find('-', at);
        if (end == std::string::npos) end = tag.size();
        size_t n = end - at;
        if (n < 1 || n > 8 || (part == 0 && n < 2)) return false;
        for (size_t i = at; i < end; ++i)
            if (!std::isalnum(static_cast<unsigned char>(tag[i])) ||
                (part == 0 && !std::isalpha(static_cast<unsigned char>(tag[i]))))
                return false;
        at = end + 1;
        ++part;
    }
    return true;
}

// HTML autocomplete tokens ("name", "email", "section-x shipping tel"): lower-case words
// separated by single spaces; which words a browser knows is its own business.
bool is_autocomplete_tokens(const std::string& text) {
    if (text.empty() || text.front() == ' ' || text.back() == ' ') return false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                  (c == ' ' && text[i - 1] != ' ');
        if (!ok) return false;
    }
    return true;
}

std::optional<int64_t> length(ConfigReader& r, const YAML::Node& v, const std::string& field) {
    double d = r.number(v, field, -1, 0);
    if (d < 0) return std::nullopt;
    if (d != double(int64_t(d))) {
        r.ctx().error(v, field + " must be a whole number");
        return std::nullopt;
    }
    return int64_t(d);
}

FormField read_field(ConfigReader& r, const YAML::Node& node, const std::string& form) {
    FormField f;
    f.mark = r.ctx().mark(node);
    if (!r.mapping(node, "a field of form '" + form + "'")) return f;
    std::string where = "form '" + form + "' field";
    if (const YAML::Node n = node["name"]) f.name = r.string(n, "name");
    if (f.name.empty())
        r.ctx().error(node, where + ": 'name' is required");
    else if (!is_identifier(f.name)) {
        r.ctx().error(node["name"], identifier_problem("field name", f.name));
        f.name.clear();
    }
    if (!f.name.empty()) where += " '" + f.name + "'";
    if (const YAML::Node n = node["type"]) {
        std::string t = r.string(n, "type");
        if (!contains(form_field_types(), t))
            r.ctx().error(n, "unknown field type '" + t + "' (one of " + join(form_field_types()) +
                                 ")" + did_you_mean(t, form_field_types()));
        else
            f.type = t;
    }
    // optional: assigning one yaml-cpp Node to another rewrites the first one's target.
    std::optional<YAML::Node> default_node;
    r.fields(node, where, kFieldKeys, [&](const std::string& key, const YAML::Node& v) {
        auto only_for = [&](bool ok, const char* types) {
            if (!ok) r.ctx().error(v, key + " applies to " + types + " fields, not " + f.type);
            return ok;
        };
        if (key == "name" || key == "type") return;
        if (key == "label")
            f.label = r.string(v, key);
        else if (key == "help")
            f.help = r.string(v, key);
        else if (key == "autocomplete") {
            f.autocomplete = r.string(v, key);
            if (!is_autocomplete_tokens(f.autocomplete)) {
                r.ctx().error(v, "autocomplete must be HTML autocomplete tokens like 'name' or "
                                 "'email', got '" +
                                     f.autocomplete + "'");
                f.autocomplete.clear();
            }
        } else if (key == "required")
            f.required = r.boolean(v, key);
        else if (key == "pattern") {
            if (!only_for(is_text_type(f.type), "string, text and email")) return;
            f.pattern = r.string(v, key);
            std::string error;
            if (!is_valid_pattern(f.pattern, &error)) {
                r.ctx().error(v, "pattern is not a valid regular expression: " + error);
                f.pattern.clear();
            }
        } else if (key == "min" || key == "max") {
            if (!only_for(is_number_type(f.type), "number and integer")) return;
            double d = r.number(v, key, 0, -1e300);
            (key == "min" ? f.min : f.max) = d;
        } else if (key == "min_length" || key == "max_length") {
            if (!only_for(is_text_type(f.type) || f.type == "multi-choice",
                          "string, text, email and multi-choice"))
                return;
            (key == "min_length" ? f.min_length : f.max_length) = length(r, v, key);
        } else if (key == "choices") {
            if (!only_for(has_choices(f.type), "choice and multi-choice")) return;
            if (!v.IsSequence() || v.size() == 0) {
                r.ctx().error(v, "choices must be a non-empty list");
                return;
            }
            for (const YAML::Node& c : v) {
                std::string s = r.string(c, "choices[]");
                if (contains(f.choices, s))
                    r.ctx().error(c, "choice '" + s + "' is listed twice");
                else
                    f.choices.push_back(s);
            }
        } else {
            default_node.emplace(v);
        }
    });
    if (f.label.empty()) f.label = f.name;
    if (has_choices(f.type) && f.choices.empty() && !node["choices"])
        r.ctx().error(node, where + ": a " + f.type + " field needs 'choices'");
    if (f.min && f.max && *f.min > *f.max) r.ctx().error(node, where + ": min is above max");
    if (f.min_length && f.max_length && *f.min_length > *f.max_length)
        r.ctx().error(node, where + ": min_length is above max_length");
    if (default_node) {
        tmpl::Value given = to_value(r.ctx(), *default_node);
        PatternBudget budget;
        Result<tmpl::Value> ok = convert_form_value(f, given, budget);
        if (!ok)
            r.ctx().error(*default_node, "default " + ok.error().message);
        else
            f.default_value = ok.value();
    }
    return f;
}

FormSpec read_form(ConfigReader& r, const std::string& name, const YAML::Node& node) {
    FormSpec form;
    form.name = name;
    form.mark = r.ctx().mark(node);
    std::string where = "form '" + name + "'";
    if (!r.mapping(node, where)) return form;
    r.fields(node, where, kFormKeys, [&](const std::string& key, const YAML::Node& v) {
        if (key == "title")
            form.title = r.string(v, key);
        else if (key == "description")
            form.description = r.string(v, key);
        else if (key == "public")
            form.is_public = r.boolean(v, key);
        else if (key == "wait") {
            form.wait_ms = r.duration(v, key, form.wait_ms);
            if (form.wait_ms > kMaxFormWaitMs) r.ctx().error(v, "wait must be at most 5m");
        } else if (key == "lang") {
            form.lang = r.string(v, key);
            if (!is_language_tag(form.lang)) {
                r.ctx().error(v, "lang must be a language tag like 'en', 'de' or 'pt-BR', got '" +
                                     form.lang + "'");
                form.lang = "en";
            }
        } else if (key == "dir") {
            form.dir = r.string(v, key);
            if (!contains(kDirections, form.dir)) {
                r.ctx().error(v, "dir must be one of " + join(kDirections) + ", got '" + form.dir +
                                     "'" + did_you_mean(form.dir, kDirections));
                form.dir.clear();
            }
        } else if (key == "rate_limit") {
            r.rate_limit(v, where, form.rate_per_second, form.rate_burst);
        } else if (key == "client_rate_limit") {
            r.rate_limit(v, where, form.client_rate_per_second, form.client_rate_burst, key);
        } else if (key == "workflow") {
            form.workflow = workflow_name(r, v, key);
            form.workflow_mark = r.ctx().mark(v);
        } else {
            if (!v.IsSequence()) {
                r.ctx().error(v,
                              "fields must be a list of fields, got " + describe_node(r.ctx(), v));
                return;
            }
            for (const YAML::Node& item : v) {
                FormField f = read_field(r, item, name);
                if (f.name.empty()) continue;
                bool twice = std::any_of(form.fields.begin(), form.fields.end(),
                                         [&](const FormField& o) { return o.name == f.name; });
                if (twice)
                    r.ctx().error(item, "field '" + f.name + "' is defined twice");
                else
                    form.fields.push_back(std::move(f));
            }
        }
    });
    if (!node["workflow"]) r.ctx().error(node, where + ": 'workflow' is required");
    if (form.title.empty()) form.title = name;
    return form;
}

void read_action(ConfigReader& r, const YAML::Node& v, HookSpec& h, const std::string& where) {
    if (!r.mapping(v, where + ".action")) return;
    r.fields(v, where + ".action", {"start", "input", "resume", "workflows"},
             [&](const std::string& key, const YAML::Node& a) {
                 if (key == "start") {
                     h.start = workflow_name(r, a, "action.start");
                     h.workflow_mark = r.ctx().mark(a);
                 } else if (key == "input") {
                     h.input = r.string(a, "action.input");
                     if (!h.input.empty() && !is_identifier(h.input))
                         r.ctx().error(a, identifier_problem("input name", h.input));
                 } else if (key == "workflows") {
                     if (!a.IsSequence() || a.size() == 0)
                         return r.ctx().error(a, "action.workflows must be a list of workflow "
                                                 "names");
                     for (const YAML::Node& w : a)
                         h.resume_workflows.push_back(workflow_name(r, w, "action.workflows[]"));
                 } else {
                     h.resume = r.string(a, "action.resume");
                     if (!h.resume.empty() && h.resume != "approval")
                         r.ctx().error(a, "action.resume: only 'approval' can be resumed");
                 }
             });
    bool start = bool(v["start"]), resume = bool(v["resume"]);
    if (start == resume)
        r.ctx().error(v, where + ".action needs exactly one of 'start: WORKFLOW' or "
                                 "'resume: approval'");
    if (resume && v["input"]) r.ctx().error(v["input"], "action.input goes with 'start'");
    if (start && v["workflows"])
        r.ctx().error(v["workflows"], "action.workflows goes with 'resume: approval'");
}

HookSpec read_hook(ConfigReader& r, const std::string& name, const YAML::Node& node) {
    HookSpec h;
    h.name = name;
    h.mark = r.ctx().mark(node);
    std::string where = "hook '" + name + "'";
    if (!r.mapping(node, where)) return h;
    r.fields(node, where, kHookKeys, [&](const std::string& key, const YAML::Node& v) {
        if (key == "secret")
            h.secrets.push_back(r.secret(v, "secret"));
        else if (key == "secrets") {
            if (!v.IsSequence()) return r.ctx().error(v, "secrets must be a list of references");
            for (const YAML::Node& s : v)
                h.secrets.push_back(r.secret(s, "secrets[]"));
        } else if (key == "verify") {
            std::string s = r.string(v, key);
            if (!contains(kVerify, s))
                r.ctx().error(v, "unknown verify '" + s + "' (one of " + join(kVerify) + ")" +
                                     did_you_mean(s, kVerify));
            else
                h.verify = s;
        } else if (key == "header") {
            h.header = r.string(v, key);
            if (h.header.empty() || h.header.find_first_of(" :\r\n") != std::string::npos)
                r.ctx().error(v, "header must be an HTTP header name like X-Signature");
        } else if (key == "rate_limit") {
            r.rate_limit(v, where, h.rate_per_second, h.rate_burst);
        } else if (key == "client_rate_limit") {
            r.rate_limit(v, where, h.client_rate_per_second, h.client_rate_burst, key);
        } else if (key == "tolerance") {
            h.tolerance_ms = r.duration(v, key, h.tolerance_ms);
            // Timestamps are whole seconds (Standard Webhooks): 500ms acted as 0s.
            if (h.tolerance_ms < 1000) r.ctx().error(v, "tolerance must be at least 1s");
        } else if (key == "replay_window") {
            std::optional<uint64_t> ms = r.duration(v, key);
            if (ms == 0u)
                r.ctx().error(v, "replay_window must be more than 0s (leave it out for none)");
            else if (ms)
                h.replay_window_ms = *ms;
        } else if (key == "action") {
            read_action(r, v, h, where);
        }
    });
    if (!node["action"]) r.ctx().error(node, where + ": 'action' is required ({start: WORKFLOW})");
    if (h.verify != "none" && !node["secret"] && !node["secrets"])
        r.ctx().error(node, where + ": verify " + h.verify +
                                " needs 'secret' (a ${env:NAME} or ${file:PATH} reference); "
                                "`verify: none` opts out explicitly");
    if (h.verify == "none" && (node["secret"] || node["secrets"]))
        r.ctx().error(node, where + ": a secret with verify: none would be ignored; set "
                                    "verify to standard-webhooks or hmac-sha256");
    if (h.verify != "hmac-sha256" && node["header"])
        r.ctx().error(node["header"], "header applies to verify: hmac-sha256");
    if (h.verify != "hmac-sha256" && node["replay_window"])
        r.ctx().error(node["replay_window"],
                      "replay_window applies to verify: hmac-sha256 (standard-webhooks refuses "
                      "replayed ids by itself)");
    // Only standard-webhooks signs a timestamp: on another hook it was accepted and checked
    // nothing, while the operator believed stale deliveries refused.
    if (h.verify != "standard-webhooks" && node["tolerance"])
        r.ctx().error(node["tolerance"],
                      "tolerance applies to verify: standard-webhooks (the webhook-timestamp "
                      "it signs)" +
                          std::string(h.verify == "hmac-sha256"
                                          ? "; an hmac-sha256 hook refuses a repeated body "
                                            "within its replay_window"
                                          : ""));
    return h;
}

template <class Read, class Out>
void read_named(ConfigReader& r, const YAML::Node& v, const char* what, Read read, Out& out) {
    for_each_entry(
        r.ctx(), v,
        [&](const std::string& name, const YAML::Node& name_node, const YAML::Node& body) {
            if (!is_identifier(name)) {
                r.ctx().error(name_node, identifier_problem(what, name));
                return;
            }
            out.push_back(read(r, name, body));
        });
}

}  // namespace

void read_forms(ConfigReader& r, const YAML::Node& v, ProjectConfig& c) {
    read_named(r, v, "form name", read_form, c.form_specs);
}

void read_hooks(ConfigReader& r, const YAML::Node& v, ProjectConfig& c) {
    read_named(r, v, "hook name", read_hook, c.hook_specs);
}

}  // namespace ferry::workflow::detail
