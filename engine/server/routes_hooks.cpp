// POST /hooks/{name}: inbound webhooks. No bearer token: the signature is the authentication
// (verify: none is an explicit opt-out in ferry.yaml). A verified delivery starts the hook's
// workflow (trigger "hook") with the payload as its inputs; ?wait= makes it synchronous.
//
// Replays: a Standard Webhooks delivery's webhook-id (or, for an hmac-sha256 hook with a
// replay_window, its signature) is remembered in the store ("hookid:NAME:ID" -> receipt
// time, committed with the execution it started), and a second delivery with the same id is
// answered 409. Only ids inside the hook's replay window matter (for Standard Webhooks twice
// the tolerance: an older capture fails the timestamp check anyway); older ones are swept.
#include "core/history.h"
#include "core/values.h"
#include "runtime/duration.h"
#include "runtime/http_text.h"
#include "runtime/integration/secrets.h"
#include "runtime/timestamp.h"
#include "runtime/utf8.h"
#include "server/api.h"
#include "server/claims.h"
#include "server/hooks.h"
#include "server/starter.h"
#include "workflow/suggest.h"

#include <algorithm>
#include <map>

namespace ferry::engine::server {

namespace {

using tmpl::Value;
using workflow::HookSpec;

constexpr uint64_t kSweepEveryMs = 60'000;

// A Standard Webhooks id must outlive every replay the timestamp check still lets through:
// that check compares whole seconds, so a delivery stamped at the far edge of the tolerance
// passes up to a second past twice the tolerance from its first receipt.
uint64_t replay_window_ms(const HookSpec& hook) {
    return hook.verify == "hmac-sha256" ? hook.replay_window_ms : 2 * hook.tolerance_ms + 1000;
}

void sweep(App& app, const HookSpec& hook, uint64_t now_ms) {
    static std::map<std::string, uint64_t> last;
    uint64_t& at = last[hook.name];
    if (now_ms - at < kSweepEveryMs) return;
    at = now_ms;
    auto entries = app.store->scan_kv("hookid:" + hook.name + ":");
    if (!entries) return;
    for (const auto& e : entries.value()) {
        // Claimed again since it was committed (a delivery just now, maybe this request's
        // own): the erase would be applied after that claim and forget the delivery, whose
        // resend would then start a second execution.
        if (claim_pending(e.key)) continue;
        uint64_t seen = std::strtoull(e.json.c_str(), nullptr, 10);
        if (now_ms - seen > replay_window_ms(hook)) app.store->erase_kv(e.key);
    }
}

// action: {resume: approval}: the payload decides a waiting approval step, e.g. a
// ServiceNow business rule calling back when a change is approved:
// {"execution_id": "...", "step": "approve", "decision": "approved" | "rejected",
//  "comment": "...", "by": "..."}.
void resume_approval(App& app, Call& c, const HookSpec& hook, const Value& payload,
                     const std::string& replay_key, uint64_t now_ms) {
    auto text = [&](const char* key) { return dict_text(payload, key); };
    // A misspelt key was dropped: `comentt` recorded the decision without its comment.
    static const std::vector<std::string> kFields = {"execution_id", "step", "decision", "comment",
                                                     "by"};
    if (payload.is_dict())
        for (const auto& [k, v] : payload.dict_obj().items()) {
            const std::string key = tmpl::to_str(k);
            if (std::find(kFields.begin(), kFields.end(), key) == kFields.end())
                return c.error(422, "invalid_payload",
                               "unknown field '" + key +
                                   "' in an approval callback: it takes execution_id, step, "
                                   "decision, comment and by" +
                                   workflow::did_you_mean(key, kFields));
        }
    for (const char* key : {"by", "comment"}) {
        const Value* v = payload.is_dict() ? payload.dict_obj().find(key) : nullptr;
        if (v && !v->is_none() && !v->is_string())
            return c.error(422, "invalid_payload", "'" + std::string(key) + "' must be a string");
    }
    std::string id = text("execution_id"), step = text("step"), decision = text("decision");
    if (id.empty() || step.empty() || (decision != "approved" && decision != "rejected")) {
        return c.error(422, "invalid_payload",
                       "an approval callback needs execution_id, step and decision "
                       "(approved or rejected)");
    }
    // A hook scoped to some workflows decides only their approvals: a sender's secret
    // (or a `verify: none` hook) is not a key to every approval of the server.
    if (!hook.resume_workflows.empty()) {
        std::string workflow = stored_text(*app.store, id, "workflow");
        if (workflow.empty()) return c.error(404, "not_found", "no execution '" + id + "'");
        if (std::find(hook.resume_workflows.begin(), hook.resume_workflows.end(), workflow) ==
            hook.resume_workflows.end())
            return c.error(403, "forbidden",
                           "hook '" + hook.name + "' may not decide approvals of workflow '" +
                               workflow + "'");
    }
    // The access line names the execution decided, as the API's decisions' do (an audit
    // selects them by it).
    c.res.annotate("execution_id", id);
    std::string by = text("by").empty() ? "hook:" + hook.name : text("by");
    Engine::DecideResult s =
        app.engine->decide(id, step, decision, by, text("comment"), "hook:" + hook.name);
    if (!s.ok()) return c.refused(s);
    if (!replay_key.empty()) {
        claim(*app.store, replay_key, std::to_string(now_ms));
        sweep(app, hook, now_ms);  // as starts do: the ids of callbacks piled up for good
    }
    // A sender's `by` is stored redacted; the answer repeats it as stored.
    std::string body =
        Redactor::instance().redact_json(to_json_text(dict_of({{"execution_id", str(id)},
                                                               {"step", str(step)},
                                                               {"decision", str(decision)},
                                                               {"by", str(by)},
                                                               {"comment", str(text("comment"))}})));
    auto res = std::make_shared<Responder>(std::move(c.res));
    app.store->after_commit([res, body] {
        res->send(200, body, {{"Content-Type", "application/json"}});
    });
}

void receive(Api& api, Call& c) {
    App& app = api.app();
    const HookSpec* hook = app.config.hook(c.params["name"]);
    if (!hook) return c.error(404, "not_found", "no hook '" + c.params["name"] + "'");
    // Verified with every secret that resolves: during a rotation (`secrets: [old, new]`)
    // the old one leaves the environment first, and the new one must go on verifying. Only
    // when none does is the delivery refused.
    std::vector<std::string> secrets;
    std::string unresolved;
    for (const std::string& ref : hook->secrets) {
        Result<std::string> s = resolve_secret(ref);
        if (s)
            secrets.push_back(s.value());
        else if (unresolved.empty())
            unresolved = redact(s.error().message);
    }
    if (secrets.empty() && !hook->secrets.empty()) {
        // The caller may be anyone: which variable or file holds the secret is for the
        // server's log (the reference, never a value), not for the answer.
        api.log().error("hook '" + hook->name + "': " + unresolved,
                        {{"hook", hook->name}, {"request_id", c.req.id}});
        return c.error(500, "secret_unavailable",
                       "hook '" + hook->name +
                           "': its secret cannot be resolved (the server's log says why)");
    }
    for (const std::string& name : signature_headers(*hook)) {
        auto named = [&](const auto& h) { return iequals(h.first, name); };
        if (std::count_if(c.req.headers.begin(), c.req.headers.end(), named) > 1)
            return c.error(400, "bad_request", "the request has more than one " + name + " header");
    }
    uint64_t now_ms = now_unix_ms();
    HookCheck check = verify_hook(
        *hook, secrets, [&](std::string_view name) { return c.req.header(name); }, c.req.body,
        int64_t(now_ms / 1000));
    if (!check.ok()) {
        // The sender sees a 500 it cannot mend: the operator is told where they look.
        if (check.code == "bad_secret")
            api.log().error(check.message, {{"hook", hook->name}, {"request_id", c.req.id}});
        return c.error(check.status, check.code, check.message);
    }

    std::string replay_key;
    if (!check.replay_id.empty()) {
        if (check.replay_id.size() > 255)
            return c.error(400, "bad_request", "webhook-id is longer than 255 bytes");
        // Repeated in the 409 answer and log lines, which are JSON.
        if (invalid_utf8_at(check.replay_id) != std::string::npos)
            return c.error(400, "bad_request", "webhook-id is not valid UTF-8");
        replay_key = "hookid:" + hook->name + ":" + check.replay_id;
        // Claimed ids count from the moment they are staged: a replay inside the same commit
        // window must see them too.
        auto seen = claimed(*app.store, replay_key);
        bool fresh_entry =
            seen && seen.value() &&
            now_ms - std::strtoull(seen.value()->c_str(), nullptr, 10) <= replay_window_ms(*hook);
        // A Standard Webhooks sender sends a message again under the same webhook-id when
        // it saw no answer (a ?wait= that outlasted its timeout, a lost 202): a 409 read as
        // a failed delivery, retried until the sender gave up or disabled the endpoint. The
        // repeat gets the execution the first delivery started, as an Idempotency-Key
        // repeat does; nothing starts twice.
        if (fresh_entry && hook->verify != "hmac-sha256" && hook->resume.empty()) {
            const std::string& entry = *seen.value();
            // Never the execution's record, even under ?wait=: a replay of a captured
            // delivery passes the signature checks, and must learn nothing but the id.
            if (size_t space = entry.find(' '); space != std::string::npos) {
                auto held = std::make_shared<Responder>(std::move(c.res));
                return when_claim_durable(
                    *app.store, replay_key,
                    [&api, held, id = entry.substr(space + 1), replay = check.replay_id] {
                        // Pruned since: the repeat was answered "pending" of an execution
                        // no one could read. Still a repeat: nothing starts again.
                        if (stored_status(*api.app().store, id).empty()) {
                            held->send_error(409, "replayed",
                                             redact("webhook-id '" + replay +
                                                    "' was already delivered; its execution " +
                                                    id + " has been pruned since"));
                            return;
                        }
                        answer_repeat(api, id, std::move(*held));
                    });
            }
        }
        if (fresh_entry) {
            // The signature is not repeated in the answer: it names the payload, nothing more.
            // A 409 is final to the sender: only once the first delivery is durable.
            auto held = std::make_shared<Responder>(std::move(c.res));
            std::string message =
                hook->verify == "hmac-sha256"
                    ? "this payload with this signature was already delivered in the last " +
                          format_duration_ms(hook->replay_window_ms)
                    : "webhook-id '" + check.replay_id + "' was already delivered";
            return when_claim_durable(*app.store, replay_key, [held, message] {
                held->send_error(409, "replayed", redact(message));
            });
        }
    }

    // After the signature (a forged call takes nothing from the sender's allowance) and the
    // repeats (a delivery sent again learns what became of it), before anything is read.
    if (!api.rate_limits.admit(c, "hook", hook->name, {"delivery", "deliveries"},
                               {hook->rate_per_second, hook->rate_burst,
                                hook->client_rate_per_second, hook->client_rate_burst},
                               app.config.server.trusted_proxies, app.loop.now_ms()))
        return;
    Value payload = Value::dict();
    if (!c.req.body.empty()) {
        Result<Value> parsed = parse_json_body(c.req.body);
        if (!parsed) return c.error(400, "bad_json", parsed.error().message);
        payload = parsed.value();
    }
    // ?wait= is a start's; a resume hook answers when the decision is durable (a bad value
    // was refused on both by Api::admit).
    const uint64_t wait_ms = c.wait_ms;
    if (!hook->resume.empty()) return resume_approval(app, c, *hook, payload, replay_key, now_ms);
    StartRequest sr;
    sr.workflow = hook->start;
    sr.trigger = "hook";
    // Which hook (several may start one workflow) and which message, once logs rotate.
    sr.trigger_info = dict_of({{"hook", str(hook->name)}});
    if (!check.replay_id.empty() && hook->verify != "hmac-sha256")
        sr.trigger_info.dict_obj().set(str("webhook_id"), str(check.replay_id));
    if (!hook->input.empty()) {
        sr.inputs = dict_of({{hook->input.c_str(), payload}});
    } else if (payload.is_dict()) {
        sr.inputs = payload;
    } else {
        return c.error(422, "invalid_payload",
                       "the payload must be a JSON object (its keys are the workflow's inputs); "
                       "set action.input to pass any payload as one input");
    }
    sr.idempotency_key = c.req.header("idempotency-key");
    sr.wait_ms = wait_ms;
    // Anyone who reaches an unverified hook may start it: under ?wait= they learn what a
    // public form's requester does, not the execution (its steps, the vendors' answers).
    sr.outcome_only = hook->verify == "none";
    if (!replay_key.empty()) {
        App* a = &app;
        // Staged with the execution: the id counts as delivered exactly when the execution is
        // durable, so a delivery that failed before that can be retried by the sender.
        sr.on_started = [a, replay_key, now_ms](const std::string& id) {
            claim(*a->store, replay_key, std::to_string(now_ms) + " " + id);  // "TIME ID"
        };
        sweep(app, *hook, now_ms);
    }
    start_execution(api, std::move(sr), std::move(c.res));
}

// A start's answers, and a hook's own: 401 for a signature, 409 for a replay; a resume
// hook answers 200 with the decision, or 403/404/409 as the approve endpoint does.
std::vector<Api::ResponseDoc> hook_responses() {
    std::vector<Api::ResponseDoc> out = start_responses();
    out[0].description =
        "?wait=: the execution, ended in time (a verify: none hook: its id, status, dry_run and "
        "outputs only); a resume hook: the decision";
    out[0].schema = R"({"anyOf": [{"$ref": "#/components/schemas/Execution"},)"
                    R"( {"$ref": "#/components/schemas/ExecutionOutcome"},)"
                    R"( {"$ref": "#/components/schemas/HookDecision"}]})";
    for (int status : {401, 403, 404, 409})
        out.push_back({status, "", "", ""});
    out.push_back(
        {429, "over the hook's rate_limit or client_rate_limit; Retry-After says when to try again",
         "", ""});
    out.push_back({500, "secret_unavailable: the hook's secret cannot be read", "", ""});
    return out;
}

}  // namespace

void add_hook_routes(Api& api) {
    Api* a = &api;
    api.add("POST", "/hooks/{name}", Role::None, [a](Call& c) { receive(*a, c); },
            {{wait_param(),
              idempotency_param(),
              {"webhook-id", "header", "string", "Standard Webhooks: the message id",
               R"({"minLength": 1, "maxLength": 255})"},
              {"webhook-timestamp", "header", "string", "Standard Webhooks: Unix seconds"},
              {"webhook-signature", "header", "string",
               "Standard Webhooks: v1,BASE64 HMAC-SHA256 signatures"},
              {"X-Signature", "header", "string",
               "verify: hmac-sha256: the hex HMAC-SHA256 of the body, bare or sha256=HEX (in "
               "the hook's configured `header`, X-Signature by default)"}},
             R"({"description": "the sender's JSON payload: the workflow's inputs, or )"
             R"(the one input named by the hook's `input`; for a resume hook )"
             R"({execution_id, step, decision, by, comment}"})",
             {},
             hook_responses()});
}

}  // namespace ferry::engine::server
