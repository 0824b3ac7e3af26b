#include "server/forms.h"

#include "core/values.h"
#include "runtime/crypto.h"
#include "runtime/duration.h"
#include "runtime/http_server.h"
#include "runtime/timestamp.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ferry::engine::server {

namespace {

using tmpl::Value;
using workflow::FormField;
using workflow::FormSpec;

bool given(const Value* v) {
    if (!v || v->is_none() || v->is_undefined()) return false;
    if (v->is_string() && v->str().empty()) return false;
    return true;
}

// The shortest text that reads back as d: 0.1, not 0.10000000000000001.
std::string number_text(double d) {
    if (std::trunc(d) == d && std::abs(d) < 1e15) return std::to_string(int64_t(d));
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    return ec == std::errc() ? std::string(buf, end) : std::string();
}

// What a datetime-local control can show: "YYYY-MM-DDTHH:MM:SS[.fff]" without an offset.
// Ferry reads a datetime without one as UTC, so a value with an offset is shown in UTC.
std::string datetime_local_text(const std::string& text) {
    // Read as the submit reads it: 10:00+02:00 (no seconds) is valid there, and a control
    // given it as written shows nothing.
    const std::string normalized = workflow::normalize_datetime(text);
    Result<int64_t> ms = parse_rfc3339_ms(normalized.empty() ? text : normalized);
    if (!ms) return text;
    std::string utc = rfc3339(ms.value());  // ...T09:00:00.000Z
    utc.pop_back();
    if (utc.ends_with(".000")) utc.resize(utc.size() - 4);
    return utc;
}

// A submitted or default value as the text an input shows.
std::string shown(const Value& v) {
    if (v.is_string()) return std::string(v.str());
    if (v.is_bool()) return v.as_bool() ? "true" : "false";
    if (v.is_int()) return std::to_string(v.as_int());
    if (v.is_float()) return number_text(v.as_float());
    return {};
}

bool selected(const Value* v, const std::string& choice) {
    if (!v) return false;
    if (v->is_sequence()) {
        for (const Value& item : v->list_obj().items)
            if (shown(item) == choice) return true;
        return false;
    }
    return shown(*v) == choice;
}

const char* kStyle =
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5}label{display:block;font-weight:600;margin-top:1rem}"
    "input:not([type=checkbox]),select,textarea{width:100%;padding:.4rem;font:inherit;"
    "box-sizing:border-box}.help{color:#444;margin:.2rem 0}.error{color:#a00;margin:.2rem 0;"
    "font-weight:600}[aria-invalid=true]{border:2px solid #a00}.summary{border:2px solid #a00;"
    "padding:0 1rem}button{margin-top:1.5rem;padding:.5rem 1.5rem;font:inherit}";

// The page's own words are English; a form in another language says so with `lang`, and
// the right-to-left scripts with `dir`.
std::string page(const FormSpec& form, const std::string& title, const std::string& body) {
    std::string html = "<!DOCTYPE html>\n<html lang=\"" + html_escape(form.lang) + "\"";
    if (!form.dir.empty()) html += " dir=\"" + html_escape(form.dir) + "\"";
    return html +
           ">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
           html_escape(title) + "</title>\n<style>" + kStyle +
           "</style>\n</head>\n<body>\n<main>\n" + body + "</main>\n</body>\n</html>\n";
}

// Element ids: the control "f-NAME", its help "help-NAME", its errors "error-NAME". Names
// may hold '-', so one shared prefix with suffixes let a field "s-help" take the id of
// field s's help (its label then named a paragraph, not a control); distinct prefixes
// cannot meet.
std::string control_id(const std::string& name) {
    return "f-" + name;
}

// How to pick several options in a <select multiple> (nothing on the control says so) and how
// many the field takes, which HTML cannot check before the submit.
std::string multi_choice_hint(const FormField& f) {
    auto options = [](int64_t n) { return std::to_string(n) + (n == 1 ? " option" : " options"); };
    std::string hint = "Hold Ctrl (&#8984; on a Mac) to choose several.";
    int64_t at_least = f.min_length.value_or(0);
    if (f.required && at_least < 1) at_least = 1;
    if (at_least > 0 && f.max_length && *f.max_length == at_least)
        hint += " Choose " + options(at_least) + ".";
    else if (at_least > 0 && f.max_length)
        hint += " Choose " + std::to_string(at_least) + " to " + options(*f.max_length) + ".";
    else if (at_least > 0)
        hint += " Choose at least " + options(at_least) + ".";
    else if (f.max_length)
        hint += " Choose at most " + options(*f.max_length) + ".";
    return hint;
}

// errors: every message about this field, each shown beside it (the summary lists them too).
std::string field_html(const FormField& f, const Value* value,
                       const std::vector<const std::string*>& errors) {
    std::string id = control_id(f.name);
    std::string help_id = "help-" + f.name, error_id = "error-" + f.name;
    std::string hint_id = "hint-" + f.name;
    std::string name = html_escape(f.name);
    std::string out;
    std::string described;
    if (!f.help.empty()) described += help_id;
    std::string hint = f.type == "multi-choice" ? multi_choice_hint(f) : "";
    if (!hint.empty()) described += (described.empty() ? "" : " ") + hint_id;
    if (!errors.empty()) described += (described.empty() ? "" : " ") + error_id;
    std::string common = " id=\"" + html_escape(id) + "\" name=\"" + name + "\"";
    if (!f.autocomplete.empty()) common += " autocomplete=\"" + html_escape(f.autocomplete) + "\"";
    // A required checkbox must be checked, as HTML's own `required` on one means.
    if (f.required) common += " required aria-required=\"true\"";
    if (!described.empty()) common += " aria-describedby=\"" + html_escape(described) + "\"";
    if (!errors.empty()) common += " aria-invalid=\"true\"";
    // A datetime-local control gives the wall-clock time the person picked, without its
    // zone; Ferry reads it as UTC, and the person must know before picking a change window.
    std::string label = "<label for=\"" + html_escape(id) + "\">" + html_escape(f.label) +
                        (f.type == "datetime" ? " (UTC)" : "") +
                        (f.required ? " <span aria-hidden=\"true\">*</span>"
                                      "<span class=\"visually-hidden\" style=\"position:absolute;"
                                      "left:-9999px\"> (required)</span>"
                                    : "") +
                        "</label>\n";
    std::string text = value ? shown(*value) : "";
    out += "<div class=\"field\">\n";
    if (f.type == "boolean") {
        bool on =
            value && ((value->is_bool() && value->as_bool()) || text == "true" || text == "on");
        out += "<label for=\"" + html_escape(id) + "\"><input type=\"checkbox\"" + common +
               " value=\"true\"" + (on ? " checked" : "") + "> " + html_escape(f.label) +
               (f.required ? " <span aria-hidden=\"true\">*</span>" : "") + "</label>\n";
    } else if (f.type == "choice" || f.type == "multi-choice") {
        bool multi = f.type == "multi-choice";
        // A select with nothing chosen sends nothing; the empty marker before it says
        // "none of them", so a default does not come back in place of the choice made.
        if (multi) out += "<input type=\"hidden\" name=\"" + name + "\" value=\"\">\n";
        out += label + "<select" + common + (multi ? " multiple" : "") + ">\n";
        if (!multi) out += "<option value=\"\">(choose)</option>\n";
        for (const std::string& c : f.choices)
            out += "<option value=\"" + html_escape(c) + "\"" +
                   (selected(value, c) ? " selected" : "") + ">" + html_escape(c) + "</option>\n";
        out += "</select>\n";
    } else if (f.type == "text") {
        std::string attrs;
        if (f.min_length) attrs += " minlength=\"" + std::to_string(*f.min_length) + "\"";
        if (f.max_length) attrs += " maxlength=\"" + std::to_string(*f.max_length) + "\"";
        // The newline after the start tag is the one a parser drops there: without it a
        // value that starts with a blank line came back without it.
        out += label + "<textarea rows=\"5\"" + common + attrs + ">\n" + html_escape(text) +
               "</textarea>\n";
    } else {
        std::string type = "text", attrs;
        if (f.type == "number")
            type = "number", attrs = " step=\"any\"";
        else if (f.type == "integer")
            type = "number", attrs = " step=\"1\"";
        else if (f.type == "date")
            type = "date";
        else if (f.type == "datetime") {
            type = "datetime-local";
            text = datetime_local_text(text);
        } else if (f.type == "email")
            type = "email";
        // The browser steps an integer control from its min: 1.5 would allow only halves.
        bool whole = f.type == "integer";
        if (f.min) attrs += " min=\"" + number_text(whole ? std::ceil(*f.min) : *f.min) + "\"";
        if (f.max) attrs += " max=\"" + number_text(whole ? std::floor(*f.max) : *f.max) + "\"";
        if (f.min_length) attrs += " minlength=\"" + std::to_string(*f.min_length) + "\"";
        if (f.max_length) attrs += " maxlength=\"" + std::to_string(*f.max_length) + "\"";
        // The browser matches a pattern against the whole value, Ferry searches it: the
        // wrapper makes the two agree. One the browser cannot compile (its `v` flag refuses
        // some syntax std::regex takes) is ignored there; the submit is checked either way.
        if (!f.pattern.empty() && (type == "text" || type == "email"))
            attrs += " pattern=\"" + html_escape("[\\s\\S]*(?:" + f.pattern + ")[\\s\\S]*") + "\"";
        out += label + "<input type=\"" + type + "\"" + common + attrs + " value=\"" +
               html_escape(text) + "\">\n";
    }
    if (!f.help.empty())
        out += "<p class=\"help\" id=\"" + html_escape(help_id) + "\">" + html_escape(f.help) +
               "</p>\n";
    if (!hint.empty())
        out += "<p class=\"help\" id=\"" + html_escape(hint_id) + "\">" + hint + "</p>\n";
    if (!errors.empty()) {
        out += "<p class=\"error\" id=\"" + html_escape(error_id) + "\">";
        for (size_t i = 0; i < errors.size(); ++i)
            out += (i ? "<br>\n" : "") + html_escape(*errors[i]);
        out += "</p>\n";
    }
    return out + "</div>\n";
}

}  // namespace

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

FormOutcome check_submission(const FormSpec& form, const Value& submitted,
                             const std::vector<std::string>& repeated) {
    FormOutcome out;
    if (!submitted.is_dict()) {
        out.errors.emplace_back("", "the submission must be an object of field values");
        return out;
    }
    auto& inputs = out.inputs.dict_obj();
    workflow::PatternBudget budget;  // one for the whole submission, checked on the loop
    for (const FormField& f : form.fields) {
        if (std::find(repeated.begin(), repeated.end(), f.name) != repeated.end()) {
            out.errors.emplace_back(f.name, "given more than once");
            continue;
        }
        const Value* v = submitted.dict_obj().find(f.name);
        // An empty list for a multi-choice is an answer ("none of them"), not a missing
        // value: the default does not replace it; a required one needs at least one choice,
        // one with min_length that many (the page sends the empty list when none is picked).
        bool none_chosen =
            f.type == "multi-choice" && v && v->is_sequence() && v->list_obj().items.empty();
        if (none_chosen) {
            if (f.required)
                out.errors.emplace_back(f.name, "is required: choose at least one");
            else if (f.min_length && *f.min_length > 0)
                out.errors.emplace_back(f.name, "has 0 items; the minimum is " +
                                                    std::to_string(*f.min_length));
            else
                inputs.set(str(f.name), Value::list());
            continue;
        }
        if (!given(v)) {
            if (f.default_value)
                inputs.set(str(f.name), *f.default_value);
            else if (f.required)
                out.errors.emplace_back(f.name, "is required");
            continue;
        }
        Result<Value> converted = workflow::convert_form_value(f, *v, budget);
        if (!converted)
            out.errors.emplace_back(f.name, converted.error().message);
        else if (f.type == "boolean" && f.required && !converted.value().as_bool())
            out.errors.emplace_back(f.name, "must be checked");
        else
            inputs.set(str(f.name), converted.value());
    }
    // Names the form does not have are listed up to a point, then counted: an anonymous
    // submit of 100,000 made-up names was answered with 3.9 MB of errors.
    size_t unknown = 0;
    for (const auto& [key, value] : submitted.dict_obj().items()) {
        std::string name = shown(key);
        bool known = std::any_of(form.fields.begin(), form.fields.end(),
                                 [&](const FormField& f) { return f.name == name; });
        if (!known && ++unknown <= kMaxUnknownListed)
            out.errors.emplace_back(name, "is not a field of this form");
    }
    if (unknown > kMaxUnknownListed) out.unlisted_unknown = unknown - kMaxUnknownListed;
    return out;
}

UrlencodedSubmission urlencoded_submission(const FormSpec& form, const std::string& body) {
    UrlencodedSubmission out;
    auto& d = out.values.dict_obj();
    for (const auto& [key, value] : parse_query(body)) {
        if (key == kSubmissionKeyField) {
            if (out.page_key.empty()) out.page_key = value;
            continue;
        }
        const FormField* f = nullptr;
        for (const FormField& field : form.fields)
            if (field.name == key) f = &field;
        const Value* seen = d.find(key);
        if (f && f->type == "multi-choice") {
            if (!seen) {
                d.append_new(str(key), Value::list());
                seen = d.find(key);
            }
            if (!value.empty()) seen->list_obj().items.push_back(str(value));
        } else if (!seen) {
            d.append_new(str(key), str(value));
        } else if (f &&
                   std::find(out.repeated.begin(), out.repeated.end(), key) == out.repeated.end()) {
            // Readers disagree on which of two values wins; the person who sent them decides.
            out.repeated.push_back(key);
        }
    }
    // A browser sends nothing for an unchecked checkbox: that is a "no", not a missing value.
    for (const FormField& f : form.fields)
        if (f.type == "boolean" && !d.find(f.name)) d.set(str(f.name), Value::boolean(false));
    return out;
}

Value form_schema(const FormSpec& form) {
    Value props = Value::dict();
    Value required = Value::list();
    for (const FormField& f : form.fields) {
        Value p = dict_of({{"title", str(f.label)}});
        auto& d = p.dict_obj();
        if (!f.help.empty()) d.set(str("description"), str(f.help));
        const std::string& t = f.type;
        if (t == "number" || t == "integer" || t == "boolean")
            d.set(str("type"), str(t));
        else if (t == "multi-choice")
            d.set(str("type"), str("array"));
        else
            d.set(str("type"), str("string"));
        if (t == "date") d.set(str("format"), str("date"));
        if (t == "datetime") d.set(str("format"), str("date-time"));
        if (t == "email") d.set(str("format"), str("email"));
        std::vector<Value> choices;
        for (const std::string& c : f.choices)
            choices.push_back(str(c));
        if (t == "choice") d.set(str("enum"), Value::list(choices));
        if (t == "multi-choice") {
            d.set(str("items"), dict_of({{"type", str("string")}, {"enum", Value::list(choices)}}));
            d.set(str("uniqueItems"), Value::boolean(true));
            if (f.min_length) d.set(str("minItems"), Value::integer(*f.min_length));
            if (f.max_length) d.set(str("maxItems"), Value::integer(*f.max_length));
        } else {
            if (f.min_length) d.set(str("minLength"), Value::integer(*f.min_length));
            if (f.max_length) d.set(str("maxLength"), Value::integer(*f.max_length));
        }
        if (!f.pattern.empty()) d.set(str("pattern"), str(f.pattern));
        auto bound = [&](const char* key, const std::optional<double>& b) {
            if (!b) return;
            if (t == "integer" && std::trunc(*b) == *b)
                d.set(str(key), Value::integer(int64_t(*b)));
            else
                d.set(str(key), Value::floating(*b));
        };
        bound("minimum", f.min);
        bound("maximum", f.max);
        if (f.default_value) d.set(str("default"), *f.default_value);
        if (t == "boolean" && f.required) d.set(str("const"), Value::boolean(true));
        if (t == "multi-choice" && f.required && !f.min_length)
            d.set(str("minItems"), Value::integer(1));
        d.set(str("x-ferry-type"), str(t));  // text vs string, for renderers
        props.dict_obj().set(str(f.name), p);
        if (f.required) required.list_obj().items.push_back(str(f.name));
    }
    Value schema = dict_of({{"$schema", str("https://json-schema.org/draft/2020-12/schema")},
                            {"$id", str("/api/v1/forms/" + form.name)},
                            {"title", str(form.title)}});
    if (!form.description.empty()) schema.dict_obj().set(str("description"), str(form.description));
    schema.dict_obj().set(str("type"), str("object"));
    schema.dict_obj().set(str("properties"), props);
    schema.dict_obj().set(str("required"), required);
    schema.dict_obj().set(str("additionalProperties"), Value::boolean(false));
    return schema;
}

std::string unlisted_unknown_text(size_t unlisted) {
    return std::to_string(unlisted) +
           (unlisted == 1 ? " more name that is" : " more names that are") +
           " not a field of this form";
}

std::string form_page(const FormSpec& form, const Value& values, const FieldErrors& errors,
                      size_t unlisted_unknown) {
    std::string body = "<h1>" + html_escape(form.title) + "</h1>\n";
    if (!form.description.empty()) body += "<p>" + html_escape(form.description) + "</p>\n";
    if (!errors.empty()) {
        // autofocus: without a script, the one way to move a keyboard or screen-reader user
        // to what went wrong (role=alert is not announced for content present at load).
        body += "<div class=\"summary\" role=\"alert\" tabindex=\"-1\" autofocus>\n<h2>Please "
                "correct "
                "the following</h2>\n<ul>\n";
        for (const auto& [name, message] : errors) {
            const FormField* field = nullptr;
            for (const FormField& f : form.fields)
                if (f.name == name) field = &f;
            if (!field) {  // about the submission as a whole, or no field of this form
                body += "<li>" + html_escape(name.empty() ? message : name + ": " + message) +
                        "</li>\n";
                continue;
            }
            body += "<li><a href=\"#" + html_escape(control_id(name)) + "\">" +
                    html_escape(field->label) + "</a>: " + html_escape(message) + "</li>\n";
        }
        if (unlisted_unknown)
            body += "<li>and " + html_escape(unlisted_unknown_text(unlisted_unknown)) + "</li>\n";
        body += "</ul>\n</div>\n";
    }
    bool any_required = std::any_of(form.fields.begin(), form.fields.end(),
                                    [](const FormField& f) { return f.required; });
    if (any_required)
        // Hidden from screen readers as a whole: without its '*' (hidden, as beside each
        // label) it read "Fields marked are required"; each field says "(required)" itself.
        body += "<p aria-hidden=\"true\">Fields marked * are required.</p>\n";
    // The submit waits for the end (form.wait), so the requester reads the outcome and the
    // outputs; a reload re-sends the page's key and reads them again.
    std::string action = "/api/v1/forms/" + form.name + "/submit";
    if (form.wait_ms) action += "?wait=" + format_duration_ms(form.wait_ms);
    body += "<form method=\"post\" action=\"" + html_escape(action) +
            "\" enctype=\"application/x-www-form-urlencoded\" accept-charset=\"utf-8\">\n";
    // A fresh key on every page shown, the 422 page included (its corrected values are
    // another request than the refused ones). Random, not a ULID: those of one millisecond
    // count up, and a key another requester could guess would let them file under it first
    // (the real submit then refused) or learn the execution it started.
    body += "<input type=\"hidden\" name=\"" + std::string(kSubmissionKeyField) + "\" value=\"" +
            crypto::hex_encode(crypto::random_bytes(16)) + "\">\n";
    for (const FormField& f : form.fields) {
        const Value* v = values.is_dict() ? values.dict_obj().find(f.name) : nullptr;
        if (!v && f.default_value) v = &*f.default_value;
        std::vector<const std::string*> mine;
        for (const auto& [name, message] : errors)
            if (name == f.name) mine.push_back(&message);
        body += field_html(f, v, mine);
    }
    body += "<button type=\"submit\">Submit</button>\n</form>\n";
    // A title that says what happened: the first thing a screen reader reads of a new page.
    return page(form, errors.empty() ? form.title : "Error: " + form.title, body);
}

namespace {

// What became of the request, in words: a requester does not read Ferry's status names.
std::string status_words(std::string_view status) {
    if (status == "succeeded") return "Your request was submitted and carried out.";
    if (status == "waiting") return "Your request was submitted and waits for an approval.";
    if (status == "failed")
        return "Your request was submitted, but it could not be carried out: the operators "
               "can see why in Ferry's history.";
    if (status == "cancelled") return "Your request was submitted, and then cancelled.";
    return "Your request was submitted; it is being carried out.";
}

}  // namespace

std::string result_page(const FormSpec& form, int status, const Value& answer, bool dry_run) {
    std::string body = "<h1>" + html_escape(form.title) + "</h1>\n";
    const Value* id = answer.is_dict() ? answer.dict_obj().find("id") : nullptr;
    bool started = status < 300 && id && id->is_string();
    const Value* state = answer.is_dict() ? answer.dict_obj().find("status") : nullptr;
    if (started) {
        std::string link = "/api/v1/executions/" + std::string(id->str());
        body += "<p role=\"status\">" +
                html_escape(status_words(state && state->is_string() ? state->str() : "")) +
                "</p>\n";
        if (dry_run)
            body += "<p><strong>Dry run:</strong> this server previews requests and sends "
                    "nothing, so nothing was filed.</p>\n";
        // What the workflow declares it returns (a change's number), once it has ended.
        const Value* outputs = answer.is_dict() ? answer.dict_obj().find("outputs") : nullptr;
        if (outputs && outputs->is_dict() && !outputs->dict_obj().items().empty()) {
            body += "<dl>\n";
            for (const auto& [k, v] : outputs->dict_obj().items())
                body += "<dt>" + html_escape(tmpl::to_str(k)) + "</dt><dd>" +
                        html_escape(v.is_string() ? std::string(v.str()) : to_json_text(v)) +
                        "</dd>\n";
            body += "</dl>\n";
        }
        body += "<p>Execution: <a href=\"" + html_escape(link) + "\">" + html_escape(id->str()) +
                "</a> (its details are shown to Ferry users: the browser asks for a token, as "
                "the password)</p>\n";
    } else {
        const Value* err = answer.is_dict() ? answer.dict_obj().find("error") : nullptr;
        const Value* msg = err && err->is_dict() ? err->dict_obj().find("message") : nullptr;
        body += "<p role=\"alert\">The request could not be started: " +
                html_escape(msg && msg->is_string() ? msg->str() : "unexpected answer") + "</p>\n";
    }
    body += "<p><a href=\"/forms/" + html_escape(form.name) + "\">Submit another request</a></p>\n";
    return page(form, (started ? "Submitted: " : "Not submitted: ") + form.title, body);
}

std::string refused_page(std::string_view form_name, std::string_view message, bool submitted) {
    FormSpec unnamed;
    unnamed.name = std::string(form_name);
    std::string title = submitted ? "Not submitted" : "Form not shown";
    std::string body = "<h1>" + title + "</h1>\n<p role=\"alert\">" +
                       (submitted ? "The request was not sent: " : "The form cannot be shown: ") +
                       html_escape(message) + "</p>\n";
    if (submitted)
        body += "<p><a href=\"/forms/" + html_escape(form_name) + "\">Back to the form</a></p>\n";
    return page(unnamed, title, body);
}

// A framed form is one a hostile page can trick a signed-in operator into submitting
// (same-origin, so the CSRF check passes); each page carries its own submission key.
HttpHeaders page_headers() {
    return {{"Content-Type", "text/html; charset=utf-8"},
            {"Cache-Control", "no-store"},
            {"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
                                        "form-action 'self'; frame-ancestors 'none'"},
            {"X-Frame-Options", "DENY"}};
}

}  // namespace ferry::engine::server
