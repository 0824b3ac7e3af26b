// ferry.yaml (CONTRACT.md section 5): integrations, and the server, auth, forms, schedules
// and hooks sections. Loaded and validated like a workflow file: every problem reported as
// FILE:LINE:COL, unknown keys with a "did you mean", secrets only by reference.
#pragma once

#include "runtime/integration/config.h"
#include "runtime/ip_addresses.h"
#include "template/value.h"
#include "workflow/cron.h"
#include "workflow/loader.h"
#include "workflow/patterns.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ferry::workflow {

struct IntegrationEntry {
    IntegrationConfig config;  // public_json left empty: see settings
    tmpl::Value settings;      // what tasks may see as ctx.integration (no secrets)
    Mark mark;
    // Files it names that cannot be used as they are now (TLS files: missing, not PEM).
    std::vector<Diagnostic> file_problems;
};

// `events:` in ferry.yaml: execution and step events sent as signed webhooks (to a SIEM).
struct EventSubscription {
    std::string integration;             // a webhook integration
    std::vector<std::string> types;      // empty: every event type
    std::vector<std::string> workflows;  // empty: every workflow
    Mark mark;
};

// One entry of `schedules:`: a workflow started every DURATION or on a cron expression.
struct ScheduleEntry {
    std::string name;
    std::string workflow;
    uint64_t every_ms = 0;  // 0: cron
    std::string every;      // as written ("30m")
    std::string cron;       // the expression as written
    std::string timezone;   // as written; empty: UTC (cron_spec.zone is the zone found)
    CronSpec cron_spec;
    tmpl::Value inputs = tmpl::Value::dict();
    std::map<std::string, Mark> input_marks;  // each key of `inputs`, for problems with it
    bool catch_up = true;                     // one run after downtime that missed a due time
    bool enabled = true;
    // A due time while the previous run is still going: start another ("allow") or skip it.
    bool skip_overlap = false;
    Mark mark;
};

// `forms:` in ferry.yaml: a request form that starts a workflow with its fields as inputs.
struct FormField {
    std::string name;
    std::string label;            // defaults to the name
    std::string type = "string";  // one of form_field_types()
    bool required = false;
    std::string pattern;             // strings: ECMAScript regex searched (anchor with ^ $)
    std::optional<double> min, max;  // number, integer
    std::optional<int64_t> min_length, max_length;  // strings: characters; multi-choice: items
    std::optional<tmpl::Value> default_value;       // already converted to the field's type
    std::vector<std::string> choices;               // choice, multi-choice
    std::string help;
    std::string autocomplete;  // the HTML token(s) naming what the field asks for ("email")
    Mark mark;
};

// `server:`, read and checked at load (problems at FILE:LINE:COL); what is not set keeps the
// server's defaults (engine/server/api.h ServerSettings).
struct ServerConfig {
    std::optional<std::string> listen;  // HOST:PORT
    std::optional<uint64_t> max_body;   // bytes, more than 0
    std::optional<uint64_t> shutdown_grace_ms;
    std::optional<uint64_t> max_connections;     // open at once; more are answered 503
    std::optional<uint64_t> request_timeout_ms;  // a request's head and body must arrive within
    std::optional<uint64_t> idle_timeout_ms;     // an idle keep-alive connection is closed
    // The reverse proxies in front of the server: a call from one of them comes from the
    // client its X-Forwarded-For names (client_rate_limit keys on it).
    std::vector<AddressRange> trusted_proxies;
};

struct StoreConfig {
    // The LMDB map: the most history the data folder can hold (store.h has the default).
    std::optional<uint64_t> map_size;
    // `ferry serve` prunes executions that ended and were created longer ago than this.
    std::optional<uint64_t> keep_ms;
};

// `auth.tokens:` in ferry.yaml: who may call the API, by the SHA-256 of a bearer token.
struct AuthToken {
    std::string name;
    std::string sha256;  // 64 hex digits, or a secret reference resolved when serving
    std::string role;    // viewer | operator | admin
    Mark mark;
};

struct FormSpec {
    std::string name;
    std::string title;  // defaults to the name
    std::string description;
    std::string workflow;
    bool is_public = false;  // false: submitting needs an operator token
    // How long the page's submit waits for the execution's end, so the requester reads
    // the outcome and the outputs (a change's number) instead of "being carried out".
    uint64_t wait_ms = 10'000;
    std::string lang = "en";  // the page's language (BCP 47), for screen readers' voices
    std::string dir;          // ltr | rtl | auto; empty: the browser's default (ltr)
    // rate_limit: every submit (valid or not, any caller) takes a token; 0: unlimited.
    double rate_per_second = 0;
    double rate_burst = 0;
    // client_rate_limit: the same, a bucket per client address; 0: unlimited.
    double client_rate_per_second = 0;
    double client_rate_burst = 0;
    std::vector<FormField> fields;
    Mark mark, workflow_mark;
};

// `hooks:` in ferry.yaml: an inbound webhook, verified, that starts a workflow.
struct HookSpec {
    std::string name;
    std::vector<std::string> secrets;          // references, resolved at use; every one is tried
    std::string verify = "standard-webhooks";  // standard-webhooks | hmac-sha256 | none
    std::string header = "X-Signature";        // hmac-sha256: where the signature is
    uint64_t tolerance_ms = 5 * 60 * 1000;     // standard-webhooks: timestamp skew allowed
    // hmac-sha256: a signature accepted within this window is refused again (409 replayed);
    // 0: off. Standard Webhooks refuses replayed ids within twice the tolerance by itself.
    uint64_t replay_window_ms = 0;
    // rate_limit: every verified delivery that is not a repeat takes a token; 0: unlimited.
    double rate_per_second = 0;
    double rate_burst = 0;
    double client_rate_per_second = 0;  // client_rate_limit: the same, per client address
    double client_rate_burst = 0;
    std::string start;   // the workflow to start; empty for resume
    std::string input;   // non-empty: the whole payload becomes this one input
    std::string resume;  // "approval": the payload decides a waiting approval step
    // resume: the workflows whose approvals this hook may decide; empty: any.
    std::vector<std::string> resume_workflows;
    Mark mark, workflow_mark;
};

const std::vector<std::string>& form_field_types();

// A submitted value converted to the field's type and checked against its rules. Accepts
// JSON values and the text an HTML form sends ("3", "on", "2026-01-31T10:00"); datetimes
// without an offset are taken as UTC and come back as RFC 3339. Errors are one sentence
// for the person filling the form (Validation). Its pattern check spends from budget.
Result<tmpl::Value> convert_form_value(const FormField& field, const tmpl::Value& given,
                                       PatternBudget& budget);
// A datetime field's text as convert_form_value reads it (RFC 3339, seconds optional, or a
// datetime-local value taken as UTC) in RFC 3339 with seconds; "" when it is not one.
std::string normalize_datetime(std::string_view text);

// The event types the engine emits, for `events:` and the API.
const std::vector<std::string>& engine_event_types();
// The integration types of ferry.yaml (servicenow, jira, splunk_hec, webhook, http): what
// an integration's `type` and a task's `integrations` list may name.
const std::vector<std::string>& integration_types();

struct ProjectConfig {
    std::string file;  // as shown in messages; empty: no ferry.yaml
    std::vector<IntegrationEntry> integrations;
    std::vector<EventSubscription> events;
    std::vector<ScheduleEntry> schedule_entries;  // `schedules:`, validated
    std::vector<FormSpec> form_specs;
    std::vector<HookSpec> hook_specs;
    std::vector<AuthToken> auth_tokens;
    ServerConfig server;
    StoreConfig store;
    // Sections the server reads (issue 5), kept as values after their shape is checked.
    tmpl::Value forms, schedules, hooks;

    const IntegrationEntry* integration(const std::string& name) const;
    const FormSpec* form(const std::string& name) const;
    const HookSpec* hook(const std::string& name) const;
};

struct ConfigLoadResult {
    ProjectConfig config;
    std::vector<Diagnostic> problems;
    // False when the text could not be read as YAML (not UTF-8, a syntax error): config
    // then holds nothing of it, where after other problems it holds what was readable.
    bool read_whole = true;
    bool ok() const { return problems.empty(); }
    // The integrations' file_problems, in order: `ferry validate` fails on them; everything
    // else only warns (a dry run sends nothing, a step may use another integration, and the
    // file may be in place by the first request, which then reads it).
    std::vector<Diagnostic> file_problems() const;
};

ConfigLoadResult load_project_config_text(const std::string& text, const std::string& file);

// "HOST:PORT" (an IPv6 host in brackets) split; false unless the port is a number up to
// 65535 and the host is not empty. The host may be a name, resolved when the server starts.
bool split_listen(const std::string& text, std::string& host, uint16_t& port);

// ferry.yaml against the workflows it names (project_checks.cpp): a form's fields must be
// inputs of its workflow, of a type they take, and cover every required input without a
// default; a schedule's inputs must resolve. Problems at the field's or entry's place.
std::vector<Diagnostic> check_form_inputs(const FormSpec& form, const Workflow& wf);
std::vector<Diagnostic> check_schedule_inputs(const ScheduleEntry& schedule, const Workflow& wf);

}  // namespace ferry::workflow
