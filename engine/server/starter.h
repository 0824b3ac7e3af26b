// Starting an execution from a request (API, form, inbound hook), shared by every trigger:
// the answer (202) goes out only once the execution record is durable; an Idempotency-Key
// maps to one execution for good; ?wait= answers when the execution ends (200 with its
// outputs) or with 202 when it is still running at the limit.
#pragma once

#include "core/app.h"
#include "runtime/http_server.h"
#include "server/api.h"

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::engine::server {

struct StartRequest {
    std::string workflow;
    tmpl::Value inputs = tmpl::Value::dict();
    bool dry_run = false;
    std::string trigger = "api";  // api | form | hook | retry
    tmpl::Value trigger_info;     // recorded with the execution (retry: {"retry_of": ID})
    std::string idempotency_key;  // empty: none
    // A form submit without a token: its key as sent, which a release before such keys got
    // their own space ("form anonymous KEY") claimed as is. Such a claim is honoured when it
    // names an anonymous form submit too, so a retry across the upgrade files nothing twice.
    std::string anonymous_key_as_sent;
    // What a 422 idempotency_key_reused says instead of naming idempotency_key, which may be
    // one the server made ("form page ...", "form anonymous ..."): empty, the default.
    std::string key_reused_message;
    uint64_t wait_ms = 0;  // 0: answer 202 at once (after the commit)
    // Under wait_ms: answer 202 (status waiting) as soon as the execution waits for a
    // decision (only a person goes on from there), rather than at the end of the wait.
    bool answer_when_waiting = true;
    // Runs once the engine accepted the execution, before the commit that makes it durable:
    // writes staged here (a hook's replay marker) become durable with it, or not at all.
    std::function<void(const std::string& id)> on_started;
    // Rewrites every answer before it is sent (a form posted from a browser answers HTML).
    std::function<ServerResponse(ServerResponse)> present;
    // The caller learns only the outcome (summarized: a public form's requester, a
    // `verify: none` hook's sender, a form page): the answer under ?wait= is built without
    // the steps, and, without a present of its own, summarized.
    bool outcome_only = false;
};

// How deeply a request body may nest: room for the envelope around workflow inputs, which
// may nest workflow::kMaxInputDepth levels.
constexpr int kMaxBodyDepth = 256;

// A request body as a Value; Validation error with the position of a syntax error, for
// invalid UTF-8 and for nesting deeper than kMaxBodyDepth.
Result<tmpl::Value> parse_json_body(const std::string& body);

// What a caller who may not read executions (a public form's requester, the sender of a
// `verify: none` hook) learns of the one it started when it waits for the end: its id,
// status, whether it was a dry run, and the workflow's outputs (what it declares it
// returns: the ticket number). The execution itself (step inputs, vendor answers, error
// messages and tracebacks) is the viewer role's. A StartRequest::present.
ServerResponse summarized(ServerResponse r);

// A server started with --dry-run (ServerSettings::dry_run) starts every execution as a dry run.
void start_execution(Api& api, StartRequest request, Responder res);
// The answer to a hook's delivery sent again, which started execution_id: 202 with the id,
// its status and "idempotent_replay": true.
void answer_repeat(Api& api, const std::string& execution_id, Responder res);

// The JSON object body of a POST, with only the fields the endpoint reads (an empty body is
// an empty object); on anything else the call is answered (400, 422) and nullopt returned.
// `takes` ends the message that names an unknown field.
std::optional<tmpl::Value> object_body(Call& c, std::initializer_list<std::string_view> fields,
                                       const std::string& takes);

// For the OpenAPI document: the parameters of the routes that start an execution.
Api::ParamDoc wait_param();         // ?wait=
Api::ParamDoc idempotency_param();  // Idempotency-Key
// What a start answers: 202 once durable, 200 when ?wait= saw it end, 400, 422, 507.
std::vector<Api::ResponseDoc> start_responses();

}  // namespace ferry::engine::server
