// Fuzz target: the small parsers that take text from outside. The first byte picks one,
// the rest is its input: cron fields, durations, sizes and timestamps (ferry.yaml, query
// strings), query strings, form submissions (a public form takes them from anyone),
// inbound hook signatures (checked before anything else of a request), base64 and hex,
// and the step references of an expression.
#include "runtime/crypto.h"
#include "runtime/duration.h"
#include "runtime/http_server.h"
#include "runtime/timestamp.h"
#include "server/forms.h"
#include "server/hooks.h"
#include "template/environment.h"
#include "workflow/cron.h"
#include "workflow/loader.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace ferry;

namespace {

// Splits text at newlines into at most n parts (the last keeps the rest).
std::vector<std::string> parts(std::string_view text, size_t n) {
    std::vector<std::string> out;
    while (out.size() + 1 < n) {
        size_t nl = text.find('\n');
        if (nl == std::string_view::npos) break;
        out.emplace_back(text.substr(0, nl));
        text.remove_prefix(nl + 1);
    }
    out.emplace_back(text);
    out.resize(n);
    return out;
}

workflow::FormSpec every_field_form() {
    workflow::FormSpec form;
    form.name = "request";
    form.workflow = "wf";
    auto field = [&](const char* name, const char* type) -> workflow::FormField& {
        workflow::FormField f;
        f.name = name;
        f.type = type;
        form.fields.push_back(std::move(f));
        return form.fields.back();
    };
    field("title", "string").required = true;
    form.fields.back().pattern = "^[A-Za-z ]+$";
    form.fields.back().max_length = 40;
    field("body", "text").min_length = 2;
    field("n", "number").min = -1.5;
    form.fields.back().max = 1e6;
    field("i", "integer").max = 10;
    field("ok", "boolean");
    field("pick", "choice").choices = {"a", "b", "Zürich"};
    field("many", "multi-choice").choices = {"x", "y", "z"};
    form.fields.back().max_length = 2;
    field("day", "date");
    field("at", "datetime");
    field("mail", "email");
    return form;
}

void cron(std::string_view text) {
    auto spec = workflow::parse_cron(text);
    if (!spec) return;
    uint64_t t = 1'767'225'600'000;  // 2026-01-01
    for (int i = 0; i < 3; ++i) {
        auto next = workflow::cron_next(spec.value(), t);
        if (!next) break;
        t = *next;
    }
}

void scalars(std::string_view text) {
    (void)parse_duration_ms(text);
    (void)parse_size_bytes(text);
    if (auto ms = parse_rfc3339_ms(text)) (void)rfc3339(ms.value());
}

void query(std::string_view text) {
    (void)percent_decode(text, false);
    for (auto& [k, v] : parse_query(text))
        (void)k.size();
}

void form(std::string_view text, bool as_json) {
    static const workflow::FormSpec spec = every_field_form();
    if (as_json) {
        tmpl::Value submitted;
        try {
            submitted = tmpl::value_from_json(text);
        } catch (const tmpl::TemplateError&) {
            return;
        }
        if (submitted.is_dict()) (void)engine::server::check_submission(spec, submitted);
        return;
    }
    auto sub = engine::server::urlencoded_submission(spec, std::string(text));
    auto outcome = engine::server::check_submission(spec, sub.values, sub.repeated);
    (void)engine::server::form_page(spec, sub.values, outcome.errors);
}

void hook(std::string_view text, bool standard) {
    workflow::HookSpec spec;
    spec.name = "h";
    spec.verify = standard ? "standard-webhooks" : "hmac-sha256";
    spec.replay_window_ms = 60'000;
    auto p = parts(text, 4);
    std::vector<std::string> secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "plain-secret"};
    auto header = [&](std::string_view name) -> std::string {
        if (name == "webhook-id") return p[0];
        if (name == "webhook-timestamp") return p[1];
        return p[2];  // webhook-signature, or the hmac header
    };
    (void)engine::server::verify_hook(spec, secrets, header, p[3], 1'614'265'330);
}

void codecs(std::string_view text) {
    (void)crypto::base64_decode(text);
    (void)crypto::hex_decode(text);
}

void references(std::string_view text) {
    (void)workflow::referenced_steps(std::string(text), workflow::Mark{});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 9) {
    case 0: cron(text); break;
    case 1: scalars(text); break;
    case 2: query(text); break;
    case 3: form(text, false); break;
    case 4: form(text, true); break;
    case 5: hook(text, true); break;
    case 6: hook(text, false); break;
    case 7: codecs(text); break;
    case 8: references(text); break;
    }
    return 0;
}
