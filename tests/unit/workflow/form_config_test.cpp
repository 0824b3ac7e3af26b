// ferry.yaml forms: and hooks: read into specs, every mistake at its place; form values
// converted to their field's type with the workflow inputs' rules.
#include "workflow/project_config.h"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace ferry;
using namespace ferry::workflow;
using tmpl::Value;

namespace {

std::string problems_of(const ConfigLoadResult& r) {
    std::string out;
    for (const auto& d : r.problems)
        out += d.describe() + "\n";
    return out;
}

FormField field(const char* type) {
    FormField f;
    f.name = "f";
    f.type = type;
    return f;
}

// A value converted as a submission's only field: with a budget of its own.
Result<Value> converted(const FormField& f, const Value& v) {
    PatternBudget budget;
    return convert_form_value(f, v, budget);
}

std::string error_of(const FormField& f, const Value& v) {
    Result<Value> r = converted(f, v);
    return r ? "" : r.error().message;
}

}  // namespace

TEST_CASE("forms: the contract's example and every field type", "[config][forms]") {
    auto r = load_project_config_text(R"(forms:
  change-request:
    title: Request a network change
    workflow: change-request
    public: true
    fields:
      - {name: device, label: Device, type: string, required: true, pattern: "^[a-z0-9-]+$"}
      - {name: window, label: Change window, type: datetime, required: true}
      - {name: risk, label: Risk, type: choice, choices: [low, medium, high], default: low}
      - {name: notes, type: text, max_length: 500, help: Anything else}
      - {name: hosts, type: integer, min: 1, max: 50, default: 3}
      - {name: ratio, type: number}
      - {name: urgent, type: boolean, default: false}
      - {name: teams, type: multi-choice, choices: [net, sec], max_length: 2}
      - {name: day, type: date}
      - {name: owner, type: email}
)",
                                      "ferry.yaml");
    INFO(problems_of(r));
    REQUIRE(r.ok());
    const FormSpec* f = r.config.form("change-request");
    REQUIRE(f);
    CHECK(f->is_public);
    CHECK(f->workflow == "change-request");
    REQUIRE(f->fields.size() == 10);
    CHECK(f->fields[0].required);
    CHECK(f->fields[2].default_value->str() == "low");
    CHECK(f->fields[3].label == "notes");  // the name when no label
    CHECK(f->fields[4].default_value->as_int() == 3);
    CHECK(f->fields[7].choices.size() == 2);
}

TEST_CASE("forms: problems with FILE:LINE:COL", "[config][forms]") {
    auto r = load_project_config_text(R"(forms:
  bad:
    titel: X
    workflow: "not a name"
    fields:
      - {name: a, type: strng}
      - {name: b, type: choice}
      - {name: c, type: integer, default: abc}
      - {name: d, type: string, min: 3}
      - {name: a, type: string}
      - {name: e, type: string, pattern: "(["}
  nowf:
    fields: []
)",
                                      "ferry.yaml");
    std::string p = problems_of(r);
    CHECK(p.find("ferry.yaml:3:5: unknown key 'titel' in form 'bad' (did you mean 'title'?)") !=
          std::string::npos);
    CHECK(p.find("ferry.yaml:4:15:") != std::string::npos);
    CHECK(p.find("unknown field type 'strng'") != std::string::npos);
    CHECK(p.find("did you mean 'string'") != std::string::npos);
    CHECK(p.find("a choice field needs 'choices'") != std::string::npos);
    CHECK(p.find("ferry.yaml:8:43: default must be a whole number") != std::string::npos);
    CHECK(p.find("min applies to number and integer fields, not string") != std::string::npos);
    CHECK(p.find("field 'a' is defined twice") != std::string::npos);
    CHECK(p.find("pattern is not a valid regular expression") != std::string::npos);
    CHECK(p.find("form 'nowf': 'workflow' is required") != std::string::npos);
}

TEST_CASE("forms: the page's wait, language and direction, and autocomplete tokens",
          "[config][forms]") {
    auto r = load_project_config_text(R"(forms:
  plain:
    workflow: w
  local:
    workflow: w
    wait: 30s
    lang: ar-EG
    dir: rtl
    fields:
      - {name: who, autocomplete: name}
      - {name: mail, type: email, autocomplete: "work email"}
  nowait:
    workflow: w
    wait: 0s
)",
                                      "ferry.yaml");
    INFO(problems_of(r));
    REQUIRE(r.ok());
    const auto& plain = r.config.form_specs.at(0);
    CHECK(plain.wait_ms == 10'000);  // the requester reads the outcome by default
    CHECK(plain.lang == "en");
    CHECK(plain.dir.empty());
    const auto& local = r.config.form_specs.at(1);
    CHECK(local.wait_ms == 30'000);
    CHECK(local.lang == "ar-EG");
    CHECK(local.dir == "rtl");
    CHECK(local.fields.at(0).autocomplete == "name");
    CHECK(local.fields.at(1).autocomplete == "work email");
    CHECK(r.config.form_specs.at(2).wait_ms == 0);

    auto bad = load_project_config_text(R"(forms:
  f:
    workflow: w
    wait: 6m
    lang: "en_US"
    dir: rlt
    fields:
      - {name: a, autocomplete: "Name\" onfocus=x"}
)",
                                        "ferry.yaml");
    std::string p = problems_of(bad);
    CHECK(p.find("ferry.yaml:4:11: wait must be at most 5m") != std::string::npos);
    CHECK(p.find("ferry.yaml:5:11: lang must be a language tag like 'en', 'de' or 'pt-BR', got "
                 "'en_US'") != std::string::npos);
    CHECK(p.find("ferry.yaml:6:10: dir must be one of ltr, rtl, auto, got 'rlt' (did you mean "
                 "'rtl'?)") != std::string::npos);
    CHECK(p.find("ferry.yaml:8:33: autocomplete must be HTML autocomplete tokens") !=
          std::string::npos);
}

TEST_CASE("forms: a pattern is refused where an input's would be", "[config][forms]") {
    // Submissions are checked without backtracking, as inputs are: a back-reference compiles
    // for std::regex but could never be checked, so every submission would be refused.
    auto r = load_project_config_text(R"(forms:
  f:
    workflow: w
    fields:
      - {name: code, type: string, pattern: '(a)\1'}
      - {name: ok, type: string, pattern: '^[A-Z]+-[0-9]+$'}
)",
                                      "ferry.yaml");
    std::string p = problems_of(r);
    CHECK(p.rfind("ferry.yaml:5:45: pattern is not a valid regular expression: back-references "
                  "(\\1) are not supported: values are matched without backtracking",
                  0) == 0);
    CHECK(std::count(p.begin(), p.end(), '\n') <= 1);
}

TEST_CASE("hooks: verify modes, secrets by reference, actions", "[config][hooks]") {
    auto r = load_project_config_text(R"(hooks:
  sn-callback:
    secret: "${env:SN_SECRET}"
    verify: standard-webhooks
    tolerance: 2m
    action: {start: incident-sync, input: event}
  gh:
    secrets: ["${env:OLD}", "${env:NEW}"]
    verify: hmac-sha256
    header: X-Hub-Signature-256
    action: {start: deploy}
  open:
    verify: none
    action: {resume: approval}
  cab:
    verify: none
    action: {resume: approval, workflows: [change-request, firewall]}
)",
                                      "ferry.yaml");
    INFO(problems_of(r));
    REQUIRE(r.ok());
    const HookSpec* sn = r.config.hook("sn-callback");
    REQUIRE(sn);
    CHECK(sn->tolerance_ms == 120000);
    CHECK(sn->start == "incident-sync");
    CHECK(sn->input == "event");
    CHECK(r.config.hook("gh")->secrets.size() == 2);
    CHECK(r.config.hook("gh")->header == "X-Hub-Signature-256");
    CHECK(r.config.hook("open")->resume == "approval");
    CHECK(r.config.hook("open")->resume_workflows.empty());
    CHECK(r.config.hook("cab")->resume_workflows ==
          std::vector<std::string>{"change-request", "firewall"});

    auto bad = load_project_config_text(R"(hooks:
  a:
    secret: literal-secret
    verify: hmac
    action: {start: x, resume: approval}
  b:
    action: {start: y}
  c:
    verify: none
    secret: "${env:X}"
    actoin: {start: z}
  d:
    verify: none
    action: {start: w, workflows: [w]}
  e:
    verify: none
    action: {resume: approval, workflows: []}
)",
                                        "ferry.yaml");
    std::string p = problems_of(bad);
    CHECK(p.find("ferry.yaml:3:13: secret must be a secret reference") != std::string::npos);
    CHECK(p.find("unknown verify 'hmac'") != std::string::npos);
    CHECK(p.find("exactly one of 'start: WORKFLOW' or 'resume: approval'") != std::string::npos);
    CHECK(p.find("hook 'b': verify standard-webhooks needs 'secret'") != std::string::npos);
    CHECK(p.find("a secret with verify: none would be ignored") != std::string::npos);
    CHECK(p.find("unknown key 'actoin' in hook 'c' (did you mean 'action'?)") != std::string::npos);
    CHECK(p.find("action.workflows goes with 'resume: approval'") != std::string::npos);
    CHECK(p.find("action.workflows must be a list of workflow names") != std::string::npos);
}

TEST_CASE(
    "hooks: replay_window is for hmac-sha256 and more than 0s, tolerance for standard-webhooks",
    "[config][hooks]") {
    auto r = load_project_config_text(R"(hooks:
  gh:
    secret: "${env:GH}"
    verify: hmac-sha256
    replay_window: 10m
    action: {start: deploy}
)",
                                      "ferry.yaml");
    INFO(problems_of(r));
    REQUIRE(r.ok());
    CHECK(r.config.hook("gh")->replay_window_ms == 600000);
    auto bad = load_project_config_text(R"(hooks:
  sw:
    secret: "${env:SW}"
    replay_window: 10m
    action: {start: deploy}
  gh:
    secret: "${env:GH}"
    verify: hmac-sha256
    replay_window: 0s
    action: {start: deploy}
  gh2:
    secret: "${env:GH}"
    verify: hmac-sha256
    replay_window: often
    action: {start: deploy}
  gh3:
    secret: "${env:GH}"
    verify: hmac-sha256
    replay_window: ""
    action: {start: deploy}
  sw2:
    secret: "${env:SW}"
    tolerance: 500ms
    action: {start: deploy}
  gh4:
    secret: "${env:GH}"
    verify: hmac-sha256
    tolerance: 1s
    action: {start: deploy}
  open:
    verify: none
    tolerance: 1s
    action: {start: deploy}
)",
                                        "ferry.yaml");
    std::string p = problems_of(bad);
    INFO(p);
    CHECK(p.find("ferry.yaml:4:20: replay_window applies to verify: hmac-sha256") !=
          std::string::npos);
    CHECK(p.find("ferry.yaml:9:20: replay_window must be more than 0s") != std::string::npos);
    CHECK(p.find("ferry.yaml:14:20: replay_window: expected a duration") != std::string::npos);
    // Blank, it turned replay refusal off without a word; under a second it acted as 0s.
    CHECK(p.find("ferry.yaml:19:20: replay_window: expected a duration") != std::string::npos);
    CHECK(p.find("ferry.yaml:23:16: tolerance must be at least 1s") != std::string::npos);
    // Accepted, it checked nothing: hmac-sha256 signs no timestamp.
    CHECK(p.find("ferry.yaml:28:16: tolerance applies to verify: standard-webhooks (the "
                 "webhook-timestamp it signs); an hmac-sha256 hook refuses a repeated body "
                 "within its replay_window") != std::string::npos);
    CHECK(p.find("ferry.yaml:32:16: tolerance applies to verify: standard-webhooks (the "
                 "webhook-timestamp it signs)\n") != std::string::npos);
}

TEST_CASE("form values: conversion from text and JSON", "[forms]") {
    CHECK(converted(field("integer"), Value::string(" 42 ")).value().as_int() == 42);
    CHECK(converted(field("integer"), Value::floating(7.0)).value().is_int());
    CHECK(error_of(field("integer"), Value::string("4.5")) == "must be a whole number");
    CHECK(converted(field("number"), Value::string("4.5")).value().as_float() == 4.5);
    // "+5" is the integer 5, as "5" is; an underflow is 0, as in a JSON body.
    CHECK(converted(field("number"), Value::string("+5")).value().is_int());
    CHECK(converted(field("integer"), Value::string("+5")).value().as_int() == 5);
    CHECK(converted(field("number"), Value::string("1e-400")).value().as_float() == 0);
    CHECK(error_of(field("number"), Value::string("1e400")) == "must be a number");
    CHECK(error_of(field("number"), Value::string("+-5")) == "must be a number");
    CHECK(error_of(field("number"), Value::string("++5")) == "must be a number");
    CHECK(error_of(field("number"), Value::string("nan")) == "must be a number");
    CHECK(error_of(field("number"), Value::boolean(true)) == "must be a number");
    CHECK(converted(field("boolean"), Value::string("on")).value().as_bool());
    CHECK(!converted(field("boolean"), Value::string("false")).value().as_bool());
    CHECK(error_of(field("boolean"), Value::string("maybe")) == "must be true or false");
    CHECK(converted(field("date"), Value::string("2024-02-29")).value().str() == "2024-02-29");
    CHECK(!error_of(field("date"), Value::string("2023-02-29")).empty());
    CHECK(converted(field("datetime"), Value::string("2026-01-31T14:30")).value().str() ==
          "2026-01-31T14:30:00Z");
    CHECK(
        converted(field("datetime"), Value::string("2026-01-31T14:30:05.5+01:00")).value().str() ==
        "2026-01-31T14:30:05.5+01:00");
    CHECK(!error_of(field("datetime"), Value::string("2026-01-31T25:00")).empty());
    // No second 60: a leap second only at 23:59:60 UTC, refused downstream anyway.
    CHECK(!error_of(field("datetime"), Value::string("2026-03-01T22:00:60Z")).empty());
    CHECK(error_of(field("datetime"), Value::string("2026-03-01T22:00:59Z")).empty());
    // A whole number too large is said to be so, not "not whole".
    CHECK(error_of(field("integer"), Value::string("100000000000000000000")) ==
          "is too large for a whole number");
    CHECK(error_of(field("integer"), Value::floating(1e20)) == "is too large for a whole number");
    CHECK(error_of(field("integer"), Value::string("1.5")) == "must be a whole number");
    CHECK(converted(field("email"), Value::string("a@b.example")).value().str() == "a@b.example");
    CHECK(!error_of(field("email"), Value::string("not-an-email")).empty());
    // No address holds a control character (a NUL, a terminal's ESC sequence, DEL, C1).
    for (std::string bad : {std::string("\0@b.example", 11), std::string("a@\x1b[31m.example"),
                            std::string("\x7f@b.example"), std::string("a\xc2\x85@b.example"),
                            std::string("a\tb@c.example")})
        CHECK(error_of(field("email"), Value::string(bad)) ==
              "must be an email address like name@example.com");
    CHECK(converted(field("email"), Value::string("j\xc3\xb6rg@b\xc3\xbc"
                                                  "cher.example"))
              .ok());
}

TEST_CASE("form values: rules shared with workflow inputs", "[forms]") {
    FormField n = field("integer");
    n.min = 1;
    n.max = 10;
    CHECK(error_of(n, Value::integer(11)) == "11 is greater than the maximum 10");
    FormField s = field("string");
    s.pattern = "^[a-z]+$";
    s.max_length = 3;
    CHECK(error_of(s, Value::string("abc")).empty());
    CHECK(error_of(s, Value::string("ABCD")).find("does not match the pattern") !=
          std::string::npos);
    CHECK(error_of(s, Value::string("ABCD")).find("long; the maximum is 3") != std::string::npos);
    FormField c = field("choice");
    c.choices = {"low", "high"};
    CHECK(error_of(c, Value::string("mid")) == "'mid' is not one of the choices (low, high)");
    FormField m = field("multi-choice");
    m.choices = {"a", "b", "c"};
    m.max_length = 2;
    Result<Value> one = converted(m, Value::string("a"));
    REQUIRE(one);
    CHECK(one.value().list_obj().items.size() == 1);
    CHECK(error_of(m, Value::list({Value::string("a"), Value::string("b"), Value::string("c")}))
              .find("items; the maximum is 2") != std::string::npos);
    CHECK(error_of(m, Value::list({Value::string("z")})).find("not one of the choices") !=
          std::string::npos);
}

TEST_CASE("schedules: overlap allow (default) or skip", "[config][schedules]") {
    auto r = load_project_config_text(R"(schedules:
  - {name: a, workflow: w, every: 30m}
  - {name: b, workflow: w, every: 30m, overlap: skip}
  - {name: c, workflow: w, every: 30m, overlap: never}
)",
                                      "ferry.yaml");
    REQUIRE(r.config.schedule_entries.size() == 3);
    CHECK_FALSE(r.config.schedule_entries[0].skip_overlap);
    CHECK(r.config.schedule_entries[1].skip_overlap);
    CHECK(problems_of(r) == "ferry.yaml:4:49: overlap must be allow or skip, got 'never'\n");
}

TEST_CASE("forms and hooks: rate_limit is a token bucket as an integration's, checked at its place",
          "[config][forms]") {
    auto r = load_project_config_text(R"(forms:
  open:
    workflow: w
    public: true
    rate_limit: {per_second: 0.5, burst: 10}
    fields: []
  unlimited: {workflow: w, fields: []}
hooks:
  alerts: {verify: none, action: {start: w}, rate_limit: {per_second: 5}}
)",
                                      "ferry.yaml");
    INFO(problems_of(r));
    REQUIRE(r.ok());
    CHECK(r.config.hook("alerts")->rate_per_second == 5);
    CHECK(r.config.hook("alerts")->rate_burst == 0);  // the bucket holds at least 1
    CHECK(r.config.form("open")->rate_per_second == 0.5);
    CHECK(r.config.form("open")->rate_burst == 10);
    CHECK(r.config.form("unlimited")->rate_per_second == 0);
    auto bad = load_project_config_text(R"(forms:
  a: {workflow: w, fields: [], rate_limit: {burst: 3}}
  b: {workflow: w, fields: [], rate_limit: {per_second: 0, burst: 0}}
  c: {workflow: w, fields: [], rate_limit: {per_second: 1, per_minute: 2}}
  d: {workflow: w, fields: [], rate_limit: 5}
)",
                                        "ferry.yaml");
    CHECK(problems_of(bad) ==
          "ferry.yaml:2:44: rate_limit needs per_second (burst defaults to 1)\n"
          "ferry.yaml:3:57: rate_limit.per_second must be at least 0.001\n"
          "ferry.yaml:3:67: rate_limit.burst must be at least 1\n"
          "ferry.yaml:4:60: unknown key 'per_minute' in rate_limit of form 'c'\n"
          "ferry.yaml:5:44: rate_limit must be a mapping, got an integer (5)\n");
}

TEST_CASE("forms and hooks: client_rate_limit is a bucket per client, read as rate_limit is",
          "[config][forms]") {
    auto r = load_project_config_text(R"(server:
  trusted_proxies: [127.0.0.1, "10.0.0.0/8", "::1"]
forms:
  open:
    workflow: w
    public: true
    rate_limit: {per_second: 1, burst: 30}
    client_rate_limit: {per_second: 0.1, burst: 3}
    fields: []
hooks:
  alerts: {verify: none, action: {start: w}, client_rate_limit: {per_second: 2}}
)",
                                      "ferry.yaml");
    INFO(problems_of(r));
    REQUIRE(r.ok());
    CHECK(r.config.form("open")->client_rate_per_second == 0.1);
    CHECK(r.config.form("open")->client_rate_burst == 3);
    CHECK(r.config.form("open")->rate_per_second == 1);
    CHECK(r.config.hook("alerts")->client_rate_per_second == 2);
    CHECK(r.config.hook("alerts")->rate_per_second == 0);
    REQUIRE(r.config.server.trusted_proxies.size() == 3);
    CHECK(r.config.server.trusted_proxies[1].contains(*parse_ip("10.20.30.40")));
    auto bad = load_project_config_text(R"(server:
  trusted_proxies: [127.0.0.1, "10.0.0.1/8", proxy.local, ""]
forms:
  a: {workflow: w, fields: [], client_rate_limit: {burst: 3}}
  b: {workflow: w, fields: [], client_rate_limit: {per_second: 1, per: ip}}
)",
                                        "ferry.yaml");
    CHECK(problems_of(bad) ==
          "ferry.yaml:2:32: server.trusted_proxies: '10.0.0.1/8' has address bits set past its "
          "/8 (the range starts at 10.0.0.0/8)\n"
          "ferry.yaml:2:46: server.trusted_proxies: 'proxy.local' is not an IP address or a CIDR "
          "range (10.0.0.0/8, 2001:db8::/32)\n"
          "ferry.yaml:2:59: a server.trusted_proxies entry must not be empty\n"
          "ferry.yaml:4:51: client_rate_limit needs per_second (burst defaults to 1)\n"
          "ferry.yaml:5:67: unknown key 'per' in client_rate_limit of form 'b' (did you mean "
          "'per_second'?)\n");
    CHECK(problems_of(
              load_project_config_text("server: {trusted_proxies: 127.0.0.1}\n", "ferry.yaml")) ==
          "ferry.yaml:1:27: server.trusted_proxies must be a list of addresses and CIDR ranges, "
          "got '127.0.0.1'\n");
}
