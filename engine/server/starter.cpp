#include "server/starter.h"

#include "runtime/json_repeats.h"

#include "core/history.h"
#include "core/values.h"
#include "runtime/crypto.h"
#include "runtime/integration/secrets.h"
#include "runtime/json_members.h"
#include "runtime/utf8.h"
#include "server/claims.h"
#include "server/openapi.h"
#include "template/environment.h"
#include "workflow/loader.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <optional>

namespace ferry::engine::server {

namespace {

using tmpl::Value;

// What a 202 says of the execution: its status, and whether it sends nothing (a server
// started with --dry-run runs every start dry, whatever the request asked: a client that
// repeats its request once the credentials are there must be told its first one sent nothing).
struct Accepted {
    std::string status;
    bool dry_run = false;
};

std::string accepted_body(const std::string& id, const Accepted& state, bool replay) {
    return "{\"id\":" + to_json_text(str(id)) + ",\"status\":" + to_json_text(str(state.status)) +
           ",\"dry_run\":" + (state.dry_run ? "true" : "false") +
           (replay ? ",\"idempotent_replay\":true}" : "}");
}

// The execution's state from its stored record; "pending" until there is one.
Accepted stored_state(App& app, const std::string& id) {
    Accepted out{"pending", false};
    auto rec = app.store->get_execution(id);
    if (!rec || !rec.value()) return out;
    try {
        const Value v = tmpl::value_from_json(*rec.value());
        if (const Value* status = dict_get(v, "status"); status && status->is_string())
            out.status = std::string(status->str());
        const Value* dry = dict_get(v, "dry_run");
        out.dry_run = dry && dry->is_bool() && dry->as_bool();
    } catch (const tmpl::TemplateError&) {  // a damaged record: what the 202 can say
    }
    return out;
}

// Every answer goes through here so a trigger can present it its own way (HTML for forms).
using Present = std::function<ServerResponse(ServerResponse)>;

void reply(Responder& res, const Present& present, int status, std::string body,
           HttpHeaders headers = {{"Content-Type", "application/json"}}) {
    ServerResponse r{status, std::move(headers), std::move(body)};
    res.send(present ? present(std::move(r)) : std::move(r));
}

void reply_error(Responder& res, const Present& present, int status, std::string_view code,
                 std::string_view message) {
    reply(res, present, status, error_json(code, redact(message)));  // as Call::error does
}

// The finished execution as stored (compact, without attempts), or a 500 when the store
// cannot be read.
// A repeat's (replay) says so, as its 202 would: `"idempotent_replay": true` first.
void reply_stored(App& app, Responder& res, const Present& present, const std::string& id,
                  bool replay = false) {
    Result<std::string> json = execution_json(*app.store, id, false);
    if (!json) return reply_error(res, present, 500, "storage", json.error().message);
    std::string body = std::move(json).value();
    if (replay && body.starts_with("{")) body.insert(1, "\"idempotent_replay\":true,");
    reply(res, present, 200, std::move(body));
}

// A waiting client: answered once, by the end of the execution, by the wait limit, or at
// shutdown (202 with the status then: the execution is durable and resumes at the next start).
struct Waiter : Api::PendingAnswer, std::enable_shared_from_this<Waiter> {
    App* app = nullptr;
    Responder res;
    Present present;
    std::string execution_id;  // once started
    std::unique_ptr<Loop::Timer> timer;
    bool done = false;
    bool replay = false;        // a repeat of the request that started it (its Idempotency-Key)
    bool outcome_only = false;  // StartRequest::outcome_only
    bool dry_run = false;       // the execution's, once known

    void answer_accepted() {
        if (done) return;
        done = true;
        timer.reset();
        reply(res, present, 202,
              accepted_body(execution_id, stored_state(*app, execution_id), replay),
              {{"Content-Type", "application/json"},
               {"Location", "/api/v1/executions/" + execution_id}});
    }
    void answer_now() override {
        if (!execution_id.empty()) answer_accepted();
    }
    // It waits for a decision: said once what made it so is durable (a 202 promises that).
    void execution_waiting() override {
        if (done) return;
        std::weak_ptr<Waiter> self = weak_from_this();
        app->store->after_commit([self] {
            auto w = self.lock();
            if (!w || w->done) return;
            w->done = true;
            w->timer.reset();
            reply(w->res, w->present, 202,
                  accepted_body(w->execution_id, {"waiting", w->dry_run}, w->replay),
                  {{"Content-Type", "application/json"},
                   {"Location", "/api/v1/executions/" + w->execution_id}});
        });
    }
    // A repeat's wait (reply_repeat): the execution it names has ended.
    void execution_ended() override {
        if (done) return;
        done = true;
        timer.reset();
        reply_stored(*app, res, present, execution_id, replay);
    }
};

// A repeat of a request (its Idempotency-Key): the same execution. Under ?wait= it waits as
// the first call did while the execution runs in this process (a client whose first call
// timed out at a proxy sends exactly this); one that runs elsewhere or waits for a decision
// parked by `ferry run` is answered 202 with its status at once.
void reply_repeat(Api* api, App& app, Responder res, const Present& present, const std::string& id,
                  uint64_t wait_ms, bool answer_when_waiting = false) {
    res.annotate("execution_id", id);
    const Accepted state = stored_state(app, id);
    const std::string& status = state.status;
    if (execution_ended(status) && wait_ms) return reply_stored(app, res, present, id, true);
    if (api && wait_ms && app.engine->runs(id) && !(answer_when_waiting && status == "waiting")) {
        auto waiter = std::make_shared<Waiter>();
        waiter->app = &app;
        waiter->res = std::move(res);
        waiter->present = present;
        waiter->execution_id = id;
        waiter->replay = true;
        waiter->dry_run = state.dry_run;
        // The timer holds the waiter until it is answered (the lists below hold it weakly).
        waiter->timer = app.loop.timer(wait_ms, [waiter] { waiter->answer_accepted(); });
        api->add_pending(waiter);
        api->on_execution_end(id, waiter);
        if (answer_when_waiting) api->on_execution_waiting(id, waiter);
        return;
    }
    reply(res, present, 202, accepted_body(id, state, true),
          {{"Content-Type", "application/json"}, {"Location", "/api/v1/executions/" + id}});
}

void answer_finished(App& app, const std::shared_ptr<Waiter>& w, const ExecutionSummary& s) {
    if (w->done) return;
    w->done = true;
    w->timer.reset();
    // The records as the engine wrote them (StartOptions::keep_records), not read back;
    // without the steps when only the outcome is shown (a hook on the serve benchmark's path
    // parsed them back to drop them).
    static const std::vector<store::KeyedJson> kNoSteps;
    if (s.records)
        return reply(w->res, w->present, 200,
                     execution_json(s.records->execution,
                                    w->outcome_only ? kNoSteps : s.records->steps,
                                    s.records->execution_shown));
    reply_stored(app, w->res, w->present, s.id);
}

}  // namespace

namespace {

// Bounded recursion: stops one level past the limit.
bool nested_deeper_than(const rapidjson::Value& v, int limit) {
    if (!v.IsArray() && !v.IsObject()) return false;
    if (limit == 0) return true;
    if (v.IsObject()) {
        for (const auto& m : v.GetObject())
            if (nested_deeper_than(m.value, limit - 1)) return true;
        return false;
    }
    for (const auto& item : v.GetArray())
        if (nested_deeper_than(item, limit - 1)) return true;
    return false;
}

}  // namespace

Result<Value> parse_json_body(const std::string& body) {
    // Iterative, so that no nesting reaches the C++ stack; strings must be UTF-8, as every
    // answer, record and log line that may repeat them is.
    constexpr unsigned kFlags = rapidjson::kParseIterativeFlag |
                                rapidjson::kParseValidateEncodingFlag |
                                rapidjson::kParseFullPrecisionFlag;
    rapidjson::Document doc;
    JsonParse parsed = parse_json_noting_repeats<kFlags>(doc, body);
    if (parsed.syntax.IsError())
        return make_error(ErrorKind::Validation, syntax_problem_at_byte(parsed.syntax));
    if (size_t at = lone_low_surrogate_escape_at(body); at != std::string::npos) {
        return make_error(ErrorKind::Validation, "invalid JSON at byte " + std::to_string(at) +
                                                     ": a low surrogate escape without a high one");
    }
    if (nested_deeper_than(doc, kMaxBodyDepth)) {
        return make_error(ErrorKind::Validation, "the JSON body nests deeper than " +
                                                     std::to_string(kMaxBodyDepth) + " levels");
    }
    // Readers disagree on which of two equal keys wins (runtime/json_repeats.h): neither does.
    if (parsed.repeated) {
        return make_error(ErrorKind::Validation,
                          "the JSON body has the key " + quote(parsed.repeated->key) +
                              " twice in one object " + repeat_places_in_bytes(*parsed.repeated));
    }
    return from_rapidjson(doc);
}

namespace {

// JSON text with every object's keys sorted: the same request written in another order is
// the same request.
void write_canonical(const Value& v, std::string& out) {
    if (v.is_dict()) {
        std::vector<std::pair<std::string, const Value*>> items;
        for (const auto& [k, item] : v.dict_obj().items())
            items.emplace_back(k.is_string() ? std::string(k.str()) : tmpl::to_str(k), &item);
        std::sort(items.begin(), items.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        out += '{';
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += ',';
            out += to_json_text(str(items[i].first));
            out += ':';
            write_canonical(*items[i].second, out);
        }
        out += '}';
    } else if (v.is_sequence()) {
        out += '[';
        const auto& items = v.list_obj().items;
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += ',';
            write_canonical(items[i], out);
        }
        out += ']';
    } else {
        out += to_json_text(v);
    }
}

// What an Idempotency-Key promises to repeat: the inputs and the dry-run flag.
// Whether the stored execution was started by a form submit without a token: only such
// a claim may answer another one (an operator's start would tell its outputs). Releases
// before trigger_info.token recorded no token: a submit of a form that is not public had
// one, whatever the record says.
bool anonymous_form_submit(App& app, const std::string& id) {
    auto record = app.store->get_execution(id);
    if (!record || !record.value()) return false;
    Result<Value> doc = parse_json_body(*record.value());
    if (!doc || !doc.value().is_dict()) return false;
    const Value* trigger = doc.value().dict_obj().find("trigger");
    const Value* info = doc.value().dict_obj().find("trigger_info");
    if (!trigger || !trigger->is_string() || trigger->str() != "form" || !info ||
        !info->is_dict() || info->dict_obj().find("token"))
        return false;
    const Value* form = info->dict_obj().find("form");
    const workflow::FormSpec* spec =
        form && form->is_string() ? app.config.form(std::string(form->str())) : nullptr;
    return spec && spec->is_public;
}

std::string request_fingerprint(const StartRequest& r) {
    std::string text = r.dry_run ? "dry\n" : "live\n";
    write_canonical(r.inputs, text);
    return crypto::sha256_hex(text);
}

}  // namespace

void answer_repeat(Api& api, const std::string& execution_id, Responder res) {
    reply_repeat(nullptr, api.app(), std::move(res), nullptr, execution_id, 0);
}

void start_execution(Api& api, StartRequest request, Responder res) {
    // Every answer of such a caller, a repeat's and an error's too.
    if (request.outcome_only && !request.present) request.present = summarized;
    App& app = api.app();
    std::string idem_key, fingerprint;
    if (!request.idempotency_key.empty()) {
        // The header was checked before the body (Api::admit); a form page's own key, and
        // the key as an anonymous caller sent it (not with the prefix that keeps it apart).
        const std::string& sent = request.anonymous_key_as_sent.empty()
                                      ? request.idempotency_key
                                      : request.anonymous_key_as_sent;
        if (std::string problem = idempotency_key_problem(sent); !problem.empty()) {
            reply_error(res, request.present, 400, "bad_request", problem);
            return;
        }
        // One key, one execution of the workflow, whichever way it was started (the API,
        // a form, a hook): a client that retries through another door gets the same one.
        idem_key = std::string(kIdempotencyClaims) +
                   crypto::sha256_hex(request.workflow + "\n" + request.idempotency_key);
        // A second request with the key, even inside the first one's commit window, finds
        // the first one's execution instead of starting another. Claims made before keys
        // stopped naming the trigger are still honoured.
        auto seen = claimed(*app.store, idem_key);
        if (seen && !seen.value()) {
            std::string legacy = std::string(kIdempotencyClaims) +
                                 crypto::sha256_hex(request.trigger + "\n" + request.workflow +
                                                    "\n" + request.idempotency_key);
            auto old = claimed(*app.store, legacy);
            if (old && old.value()) seen = std::move(old);
        }
        if (seen && !seen.value() && !request.anonymous_key_as_sent.empty()) {
            std::string before =
                std::string(kIdempotencyClaims) +
                crypto::sha256_hex(request.workflow + "\n" + request.anonymous_key_as_sent);
            auto old = claimed(*app.store, before);
            if (old && old.value() &&
                anonymous_form_submit(app, std::string(claimed_execution(*old.value()))))
                seen = std::move(old);
        }
        std::optional<std::string> known;
        if (seen && seen.value() && !claim_outlived_execution(*app.store, idem_key, *seen.value()))
            known = *seen.value();
        fingerprint = request_fingerprint(request);
        if (known) {
            // "ID FINGERPRINT"; a bare ID was claimed before requests were fingerprinted.
            std::string id(claimed_execution(*known));
            size_t space = known->find(' ');
            if (space != std::string::npos && known->substr(space + 1) != fingerprint) {
                // The draft standard's answer: the key was reused for another request, which
                // a silent replay would drop without the client noticing.
                reply_error(res, request.present, 422, "idempotency_key_reused",
                            !request.key_reused_message.empty()
                                ? request.key_reused_message
                                : "Idempotency-Key '" + request.idempotency_key +
                                      "' was used for execution " + id +
                                      " with a different request; use a new key for new inputs");
                return;
            }
            auto held = std::make_shared<Responder>(std::move(res));
            when_claim_durable(*app.store, idem_key,
                               [api = &api, a = &app, held, present = request.present, id,
                                wait = request.wait_ms, at_decision = request.answer_when_waiting] {
                                   reply_repeat(api, *a, std::move(*held), present, id, wait,
                                                at_decision);
                               });
            return;
        }
    }
    // After the replay above: a repeat of a request that started still finds its execution.
    if (std::string full = api.store_room().refusal(app.loop.now_ms()); !full.empty()) {
        reply_error(res, request.present, 507, "store_full", full);
        return;
    }
    auto wf = app.load_workflow(request.workflow);
    if (!wf) {
        if (wf.error().kind == ErrorKind::NotFound)
            reply_error(res, request.present, 404, "not_found", wf.error().message);
        else
            reply_error(res, request.present, 422, "invalid_workflow",
                        app.project.without_folder(wf.error().message));
        return;
    }
    Result<Value> inputs = workflow::resolve_inputs(*wf.value(), request.inputs);
    if (!inputs) {
        reply_error(res, request.present, 422, "invalid_inputs", inputs.error().message);
        return;
    }
    auto waiter = std::make_shared<Waiter>();
    waiter->app = &app;
    waiter->res = std::move(res);
    waiter->present = request.present;
    waiter->outcome_only = request.outcome_only;
    StartOptions opts;
    opts.dry_run = request.dry_run || api.settings().dry_run;
    opts.trigger = request.trigger;
    // The request that started it, so its access log line and the execution find each other.
    opts.trigger_info = request.trigger_info.is_dict() ? request.trigger_info : tmpl::Value::dict();
    opts.trigger_info.dict_obj().set(str("request_id"), str(waiter->res.request().id));
    App* a = &app;
    std::shared_ptr<std::string> exec_id = std::make_shared<std::string>();
    bool wait = request.wait_ms > 0;
    opts.keep_records = wait;
    // The engine reports the end once the final record is durable: answer at once.
    auto started = app.engine->start(wf.value(), inputs.value(), opts,
                                     [a, waiter, wait](const ExecutionSummary& s) {
                                         if (wait) answer_finished(*a, waiter, s);
                                     });
    if (!started) {
        // Bad inputs are the client's to fix; the store or a lock failing is the server's.
        if (started.error().kind == ErrorKind::Storage)
            reply_error(waiter->res, waiter->present, 503, "storage", started.error().message);
        else
            reply_error(waiter->res, waiter->present, 422, "invalid_request",
                        started.error().message);
        return;
    }
    *exec_id = started.value();
    waiter->execution_id = *exec_id;
    waiter->dry_run = opts.dry_run;
    if (wait && request.answer_when_waiting) api.on_execution_waiting(*exec_id, waiter);
    waiter->res.annotate("execution_id", *exec_id);
    if (request.on_started) request.on_started(*exec_id);
    if (!idem_key.empty()) {
        claim(*app.store, idem_key, *exec_id + " " + fingerprint);
    }
    Api* api_ptr = &api;
    app.store->after_commit([a, api = api_ptr, waiter, exec_id, wait, limit = request.wait_ms] {
        if (waiter->done) return;
        if (!wait) {
            waiter->done = true;
            reply(waiter->res, waiter->present, 202,
                  accepted_body(*exec_id, {"running", waiter->dry_run}, false),
                  {{"Content-Type", "application/json"},
                   {"Location", "/api/v1/executions/" + *exec_id}});
            return;
        }
        waiter->timer = a->loop.timer(limit, [waiter] { waiter->answer_accepted(); });
        api->add_pending(waiter);
    });
}

std::optional<Value> object_body(Call& c, std::initializer_list<std::string_view> fields,
                                 const std::string& takes) {
    if (c.req.body.empty()) return Value::dict();
    Result<Value> parsed = parse_json_body(c.req.body);
    if (!parsed) {
        c.error(400, "bad_json", parsed.error().message);
        return std::nullopt;
    }
    if (!parsed->is_dict()) {
        c.error(400, "bad_request", "the body must be a JSON object");
        return std::nullopt;
    }
    for (const auto& [key, value] : parsed->dict_obj().items()) {
        std::string k = tmpl::to_str(key);
        if (std::find(fields.begin(), fields.end(), k) == fields.end()) {
            c.error(422, "invalid_request", "unknown field '" + k + "' in the body: " + takes);
            return std::nullopt;
        }
    }
    return parsed.value();
}

Api::ParamDoc wait_param() {
    return {"wait", "query", "string",
            "a duration (30s, 2m; at most 5m): answer 200 with the finished execution and its "
            "outputs, or 202 if it is still running then"};
}

// What a start answers (POST .../executions, a form's submit, a hook, a retry): 202 once
// the execution is durable, 200 with it when ?wait= saw it end.
std::vector<Api::ResponseDoc> start_responses() {
    return {{200,
             "?wait=: the execution, ended in time, with its outputs (its steps without "
             "their attempts: GET /api/v1/executions/{id} has them)",
             "", schema_ref("Execution")},
            {202, "Accepted: the execution is recorded durably", "", schema_ref("Accepted")},
            {400, "", "", ""},
            {404, "no such workflow", "", ""},
            {413, "the body is larger than server.max_body", "", ""},
            {422, "", "", ""},
            {503, "the server cannot record executions (its data folder or locks)", "", ""},
            {507, "the store is full: no new execution", "", ""}};
}

Api::ParamDoc idempotency_param() {
    return {"Idempotency-Key", "header", "string",
            "the same key always gives the same execution (a repeat starts nothing)",
            R"({"minLength": 1, "maxLength": 255})"};
}

ServerResponse summarized(ServerResponse r) {
    if (r.status != 200) return r;
    // The answer is Ferry's own compact JSON, scrubbed and valid UTF-8 already: its members
    // are spliced as they lie (parsing it into values and writing them again was 6 % of a
    // `verify: none` hook's request on the serve benchmark).
    static constexpr const char* kOutcome[] = {"idempotent_replay", "id", "status", "dry_run",
                                               "outputs"};
    std::optional<JsonMembers> members = json_members(r.body);
    if (!members) return r;
    r.body = json_object_of(*members, kOutcome);
    return r;
}

}  // namespace ferry::engine::server
