// Request forms over HTTP: the list, the JSON Schema, the HTML page and the submit that
// starts the form's workflow (trigger "form"). A public form needs no token; any other needs
// a viewer to be seen and an operator to be submitted. The routes are registered without a
// role so this file can decide per form.
#include "core/values.h"
#include "runtime/duration.h"
#include "runtime/integration/secrets.h"
#include "runtime/utf8.h"
#include "server/api.h"
#include "server/forms.h"
#include "server/openapi.h"
#include "server/starter.h"

#include <algorithm>
#include <string_view>

namespace ferry::engine::server {

namespace {

// A form page posted again with other values (the back button, then edits): that request
// was filed; a new one starts from a new page. For the page and for a program alike.
constexpr const char* kPageSubmittedAgain =
    "this page was submitted already, with other values; open the form again to file another "
    "request";

using tmpl::Value;
using workflow::FormSpec;

// What a refused submission echoes (the page refills its fields, messages quote values and
// name unknown fields): a secret the server resolves, pasted into a field, is not repeated
// back, as the API's own errors do not repeat it.
void redact_echo(Value& submitted, FieldErrors& errors) {
    const Redactor& redactor = Redactor::instance();
    if (redactor.empty()) return;
    // Two names that both redact to "[REDACTED]" are one key twice, which the parser
    // refuses: then nothing is refilled rather than the values as sent.
    Result<Value> redacted = parse_json_body(redactor.redact_json(to_json_text(submitted)));
    submitted = redacted ? std::move(redacted.value()) : Value::dict();
    for (auto& [name, message] : errors) {
        name = redactor.redact(name);
        message = redactor.redact(message);
    }
}

// What a caller without a valid token is told of a form that is not public, and of a name
// no form has: the same, so that the two cannot be told apart.
std::string no_token_message(const Call& c) {
    return c.req.header("authorization").empty()
               ? "this form needs a token: a bearer token, or the password of Basic "
                 "authentication"
               : "the token is not valid";
}

bool allowed(Call& c, const FormSpec& form, Role needed) {
    if (form.is_public || c.role >= needed) return true;
    if (c.role == Role::None)
        // A Basic challenge: a browser then asks for the token (as the password) itself;
        // after the Bearer one, which a program sends (as every other 401 on a read).
        // The same words as for a name no form has (find_form): no role named.
        c.error(401, "unauthorized", no_token_message(c), {kBearerChallenge, kBasicChallenge});
    else
        c.error(403, "forbidden",
                "role " + std::string(to_string(c.role)) + " may not do this; it needs " +
                    std::string(to_string(needed)));
    return false;
}

// The form named in the path, or an answer and nullptr: 404, but to a caller without a
// token the 401 a protected form gets (the listing hides those from it, names included,
// and a 404 beside a 401 told which names exist).
const FormSpec* find_form(Api& api, Call& c) {
    const FormSpec* form = api.app().config.form(c.params["name"]);
    if (form) return form;
    // Without tokens in ferry.yaml no sign-in could pass: a 401 there only misled.
    if (c.role == Role::None && !api.app().config.auth_tokens.empty())
        c.error(401, "unauthorized", no_token_message(c), {kBearerChallenge, kBasicChallenge});
    else
        c.error(404, "not_found", "no form '" + c.params["name"] + "'");
    return nullptr;
}

void html(Call& c, int status, const std::string& body) {
    c.res.send(status, body, page_headers());
}

// The workflow's own input rules (an enum, a length) are checked when the execution
// starts, after the form's: their problems ("input 'NAME': ..." lines) go beside the
// fields they name, so the person corrects them in the form as filled in.
FieldErrors input_problems_by_field(const FormSpec& form, const std::string& message) {
    FieldErrors errors;
    size_t at = 0;
    while (at < message.size()) {
        size_t end = message.find('\n', at);
        if (end == std::string::npos) end = message.size();
        std::string_view line(message.data() + at, end - at);
        at = end + 1;
        std::string field;
        std::string_view text = line;
        if (auto named = workflow::named_input_problem(line)) {
            field = std::move(named->input);
            text = named->text;
        }
        bool known = std::any_of(form.fields.begin(), form.fields.end(),
                                 [&](const auto& f) { return f.name == field; });
        if (known)
            errors.emplace_back(field, std::string(text));
        else
            errors.emplace_back("", std::string(line));
    }
    return errors;
}

void list_forms(Api& api, Call& c) {
    Value items = Value::list();
    for (const FormSpec& f : api.app().config.form_specs) {
        if (!f.is_public && c.role < Role::Viewer) continue;  // not even its name
        items.list_obj().items.push_back(dict_of({{"name", str(f.name)},
                                                  {"title", str(f.title)},
                                                  {"description", str(f.description)},
                                                  {"public", Value::boolean(f.is_public)}}));
    }
    c.json(200, to_json_text(dict_of({{"forms", items}})));
}

void get_schema(Api& api, Call& c) {
    const FormSpec* form = find_form(api, c);
    if (!form || !allowed(c, *form, Role::Viewer)) return;
    c.res.send(200, to_json_text(form_schema(*form)),
               {{"Content-Type", "application/schema+json"}});
}

void get_page(Api& api, Call& c) {
    const FormSpec* form = find_form(api, c);
    if (!form || !allowed(c, *form, Role::Viewer)) return;
    html(c, 200, form_page(*form, Value::dict(), {}));
}

void submit(Api& api, Call& c) {
    const FormSpec* form = find_form(api, c);
    if (!form || !allowed(c, *form, Role::Operator)) return;
    // Before the body is parsed: a flood costs as little as can be.
    if (!api.rate_limits.admit(c, "form", form->name, {"submission", "submissions"},
                               {form->rate_per_second, form->rate_burst,
                                form->client_rate_per_second, form->client_rate_burst},
                               api.app().config.server.trusted_proxies, api.app().loop.now_ms()))
        return;
    bool urlencoded =
        media_type_is(c.req.header("content-type"), "application/x-www-form-urlencoded");
    // A browser posting the page wants a page back; an API client gets JSON either way.
    bool browser = wants_page(c.req);
    Value submitted = Value::dict();
    std::vector<std::string> repeated;  // urlencoded single-valued fields given twice
    std::string page_key;               // the form page's own key (kSubmissionKeyField)
    if (media_type_is(c.req.header("content-type"), "multipart/form-data"))
        return c.error(415, "unsupported_media_type",
                       "a form is submitted as JSON or application/x-www-form-urlencoded "
                       "(the form page posts the latter), not multipart/form-data");
    if (urlencoded && !browser && c.req.body.starts_with('{') && parse_json_body(c.req.body)) {
        // `curl -d '{"a": 1}'` sends JSON labelled urlencoded: its one "field" was the
        // whole text, a 422 that did not say why.
        return c.error(415, "unsupported_media_type",
                       "the body is JSON, but its Content-Type says "
                       "application/x-www-form-urlencoded (curl -d's default): send it with "
                       "Content-Type: application/json");
    }
    if (urlencoded) {
        // Decoded values are echoed in the 422 page and stored: they must be text.
        if (invalid_utf8_at(percent_decode(c.req.body, true)) != std::string::npos)
            return c.error(400, "bad_request", "the form body is not UTF-8 once decoded");
        UrlencodedSubmission sent = urlencoded_submission(*form, c.req.body);
        submitted = std::move(sent.values);
        repeated = std::move(sent.repeated);
        page_key = std::move(sent.page_key);
    } else if (!c.req.body.empty()) {
        Result<Value> parsed = parse_json_body(c.req.body);
        if (!parsed) return c.error(400, "bad_json", parsed.error().message);
        submitted = parsed.value();
        if (!submitted.is_dict())
            return c.error(400, "bad_request", "the body must be a JSON object of field values");
    }
    FormOutcome outcome = check_submission(*form, submitted, repeated);
    if (!outcome.ok()) {
        redact_echo(submitted, outcome.errors);
        if (browser)
            return html(c, 422,
                        form_page(*form, submitted, outcome.errors, outcome.unlisted_unknown));
        // The first message for each name.
        Value fields = Value::dict();
        for (const auto& [name, message] : outcome.errors)
            if (!fields.dict_obj().find(name))
                fields.dict_obj().append_new(str(name), str(message));
        size_t n = outcome.errors.size() + outcome.unlisted_unknown;
        std::string message =
            std::to_string(n) + (n == 1 ? " field needs" : " fields need") + " correcting";
        if (outcome.unlisted_unknown)
            message += " (" + unlisted_unknown_text(outcome.unlisted_unknown) + ", not listed)";
        Value error = dict_of({{"code", str("invalid_form")}, {"message", str(message)}});
        if (outcome.unlisted_unknown)
            error.dict_obj().set(str("unlisted"),
                                 Value::integer(int64_t(outcome.unlisted_unknown)));
        error.dict_obj().set(str("fields"), fields);
        return c.json(422, to_json_text(dict_of({{"error", error}})));
    }
    StartRequest sr;
    sr.workflow = form->workflow;
    sr.inputs = outcome.inputs;
    sr.trigger = "form";
    // Which form and who sent it (a protected form's token), once logs rotate.
    sr.trigger_info = dict_of({{"form", str(form->name)}});
    if (c.role != Role::None) sr.trigger_info.dict_obj().set(str("token"), str(c.caller));
    sr.idempotency_key = c.req.header("idempotency-key");
    // A caller without a token keeps its keys to itself: in the key space of the API and
    // the hooks it could claim a key an operator's start will use (which then got 422), or
    // learn another start's execution and outputs.
    if (!sr.idempotency_key.empty() && c.role == Role::None) {
        sr.anonymous_key_as_sent = sr.idempotency_key;
        sr.idempotency_key = "form anonymous " + sr.idempotency_key;
        sr.key_reused_message = "Idempotency-Key '" + sr.anonymous_key_as_sent +
                                "' was used for a submission with other values; use a new "
                                "key for new values";
    }
    if (sr.idempotency_key.empty() && !page_key.empty()) {
        sr.idempotency_key = "form page " + page_key;
        sr.key_reused_message = kPageSubmittedAgain;
    }
    sr.wait_ms = c.wait_ms;
    // The page shows the outcome only, for a caller without a viewer token as for one with.
    sr.outcome_only = c.role < Role::Viewer || browser;
    if (browser) {
        FormSpec copy = *form;  // the config outlives requests, but keep the answer self-contained
        const bool dry_run = api.settings().dry_run;
        // The page shows an execution's id, status and outputs only: for a caller without
        // a viewer token as for one with, so the answer is not summarized first.
        sr.present = [copy, submitted, dry_run](ServerResponse r) {
            Value answer = Value::dict();
            if (Result<Value> parsed = parse_json_body(r.body)) answer = parsed.value();
            const Value* err = answer.is_dict() ? answer.dict_obj().find("error") : nullptr;
            const Value* code = err && err->is_dict() ? err->dict_obj().find("code") : nullptr;
            const Value* msg = err && err->is_dict() ? err->dict_obj().find("message") : nullptr;
            if (r.status == 422 && code && code->is_string() && code->str() == "invalid_inputs" &&
                msg && msg->is_string())
                r.body = form_page(copy, submitted,
                                   input_problems_by_field(copy, std::string(msg->str())));
            else if (code && code->is_string() && code->str() == "idempotency_key_reused")
                // The page's key, sent again with other values (the back button, then
                // edits): that request was filed; a new one starts from a new page.
                r.body = result_page(
                    copy, r.status,
                    dict_of({{"error", dict_of({{"message", str(kPageSubmittedAgain)}})}}),
                    dry_run);
            else
                r.body = result_page(copy, r.status, answer, dry_run);
            r.headers = page_headers();
            return r;
        };
    }
    start_execution(api, std::move(sr), std::move(c.res));
}

// A start's answers, and what a form adds: 422 invalid_form, 415 for multipart, HTML
// pages for a browser, 401/403 for a protected form.
std::vector<Api::ResponseDoc> submit_responses() {
    std::vector<Api::ResponseDoc> out = start_responses();
    out[0].description =
        "?wait=: the execution, ended in time (to an anonymous submitter of a public form: its "
        "id, status, dry_run and outputs only)";
    out[0].schema = R"({"anyOf": [{"$ref": "#/components/schemas/Execution"},)"
                    R"( {"$ref": "#/components/schemas/ExecutionOutcome"}]})";
    out.push_back({401, "", "", ""});
    out.push_back({403, "", "", ""});
    out.push_back({404, "", "", ""});
    out.push_back({415, "", "", ""});
    out.push_back(
        {429, "over the form's rate_limit or client_rate_limit; Retry-After says when to try again",
         "", ""});
    return out;
}

}  // namespace

void add_form_routes(Api& api) {
    Api* a = &api;
    // A form is public (no token) or not (viewer to read it, operator to submit).
    const std::string read_note = "none for a public form, else viewer";
    // Open, but a viewer token shows more: the public forms without one, all with one.
    api.add_resource_guarded(
        "GET", "/api/v1/forms", "none; without a viewer token only public forms are listed",
        [a](Call& c) { list_forms(*a, c); },
        {{}, "", {}, {{200, "the forms the caller may see", "", schema_ref("FormList")}}});
    api.add_resource_guarded("GET", "/api/v1/forms/{name}", read_note,
                             [a](Call& c) { get_schema(*a, c); },
                             {{},
                              "",
                              {},
                              {{200, "the form as JSON Schema", "application/schema+json", ""},
                               {401, "", "", ""},
                               {403, "", "", ""},
                               {404, "", "", ""}}});
    api.add_resource_guarded("GET", "/forms/{name}", read_note, [a](Call& c) { get_page(*a, c); },
                             {{},
                              "",
                              {},
                              {{200, "the form's page", "text/html", ""},
                               {401, "", "", ""},
                               {403, "", "", ""},
                               {404, "", "", ""}}});
    api.add_resource_guarded("POST", "/api/v1/forms/{name}/submit",
                             "none for a public form, else operator",
                             [a](Call& c) { submit(*a, c); },
                             {{wait_param(), idempotency_param()},
                              R"({"type": "object", "description": "field name -> value; )"
                              R"(GET /api/v1/forms/{name} is its schema"})",
                              {"application/x-www-form-urlencoded"},
                              submit_responses()});
}

}  // namespace ferry::engine::server
