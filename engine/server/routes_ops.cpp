// Operations endpoints: health, metrics, integrations, the dead-letter queue, and the
// OpenAPI document (server/openapi.cpp).
#include "core/dead_letters.h"
#include "core/values.h"
#include "runtime/http_text.h"
#include "runtime/ids.h"
#include "runtime/integration/secrets.h"
#include "runtime/timestamp.h"
#include "server/api.h"
#include "server/openapi.h"
#include "server/starter.h"

namespace ferry::engine::server {

namespace {

constexpr size_t kDlqPage = 100;

using tmpl::Value;

void integrations(Api& api, Call& c) {
    Value list = Value::list();
    for (const std::string& name : api.app().integrations.names()) {
        IntegrationClient* client = api.app().integrations.find(name);
        auto h = client->health();
        auto ms_or_none = [](uint64_t ms) { return ms ? str(rfc3339(ms)) : Value::none(); };
        double error_rate = h.requests ? double(h.failures) / double(h.requests) : 0.0;
        list.list_obj().items.push_back(
            dict_of({{"name", str(name)},
                     {"type", str(client->config().type)},
                     {"dry_run", Value::boolean(client->config().dry_run)},
                     {"breaker", str(h.breaker)},
                     {"disabled", h.disabled.empty() ? Value::none() : str(h.disabled)},
                     {"requests", Value::integer(int64_t(h.requests))},
                     {"failures", Value::integer(int64_t(h.failures))},
                     {"error_rate", Value::floating(error_rate)},
                     {"last_success", ms_or_none(h.last_success_unix_ms)},
                     {"last_failure", ms_or_none(h.last_failure_unix_ms)},
                     {"last_latency_ms", Value::floating(h.last_latency_ms)}}));
    }
    c.json(200, to_json_text(dict_of({{"integrations", list}})));
}

// A harmless request to the integration's base URL (or URL): reachability, TLS and auth.
void test_integration(Api& api, Call& c) {
    // A request that cannot be what the client meant sends nothing.
    if (!object_body(c, {}, "a test takes none")) return;
    IntegrationClient* client = api.app().integrations.find(c.params["name"]);
    if (!client) return c.error(404, "not_found", "no integration '" + c.params["name"] + "'");
    IntegrationRequest req;
    req.http.method = "GET";
    req.retry = false;
    auto res = std::make_shared<Responder>(std::move(c.res));
    client->send(std::move(req), [res](IntegrationOutcome o) {
        Value out = dict_of({{"reachable", Value::boolean(o.response.has_value())},
                             {"attempts", Value::integer(o.attempts)}});
        if (o.response) {
            out.dict_obj().set(str("status"), Value::integer(o.response->status));
            out.dict_obj().set(str("latency_ms"), Value::floating(o.response->duration_ms));
            const long status = o.response->status;
            if (status >= 300 && status < 400) {
                // A redirect says nothing of the credentials (a single sign-on page, http://
                // on an https-only instance): unknown, and where it points.
                out.dict_obj().set(str("authenticated"), Value::none());
                out.dict_obj().set(str("location"), str(redact(o.response->header("location"))));
            } else {
                out.dict_obj().set(str("authenticated"),
                                   Value::boolean(status != 401 && status != 403));
            }
        } else if (o.attempts == 0) {
            // Nothing was sent (a secret that cannot be resolved, an open breaker): whether
            // the vendor can be reached is not known, and the reason is the integration's.
            out.dict_obj().set(str("reachable"), Value::none());
            const std::string code =
                o.circuit_open ? "circuit_open" : std::string(to_string(o.error.kind));
            out.dict_obj().set(str("error"),
                               dict_of({{"code", str(code)}, {"message", str(o.error.message)}}));
        } else {
            // The contract's error shape, beside what the test found (as a replay's).
            out.dict_obj().set(str("error"), dict_of({{"code", str("unreachable")},
                                                      {"message", str(o.error.message)}}));
        }
        res->send(200, to_json_text(out), {{"Content-Type", "application/json"}});
    });
}

// A page at a time, oldest first: a receiver down for a weekend can leave tens of thousands
// of deliveries (each with its body) in the queue.
void dlq_list(Api& api, Call& c) {
    std::string cursor = c.req.query_param("cursor").value_or("");
    if (!cursor.empty() && !is_ulid(cursor))
        return c.error(400, "bad_request",
                       "cursor must be a dead letter's id (the next_cursor of a previous page)");
    std::optional<size_t> limit = c.page_limit(kDlqPage);
    if (!limit) return;
    auto entries = api.app().store->list_dlq(cursor, *limit);
    if (!entries) return c.error(500, "storage", entries.error().message);
    std::string out = "{\"dead_letters\":[";
    for (size_t i = 0; i < entries->size(); ++i) {
        if (i) out += ',';
        out += shown_dead_letter(entries.value()[i].json);
    }
    out += "],\"next_cursor\":";
    out += entries->size() == *limit ? quote(entries->back().key) : "null";
    c.json(200, out + "}");
}

void dlq_replay(Api& api, Call& c) {
    // Read before anything is delivered: a malformed request replays nothing.
    if (!object_body(c, {}, "a replay sends the dead letter as it was and takes none")) return;
    std::string id = c.params["id"];
    auto res = std::make_shared<Responder>(std::move(c.res));
    replay_dead_letter(api.app(), id, [res, id, &api](Result<ReplayResult> r) {
        if (!r) {
            int status = r.error().kind == ErrorKind::NotFound ? 404 : 422;
            res->send_error(status, status == 404 ? "not_found" : "invalid_request",
                            redact(r.error().message));
            return;
        }
        if (r->busy) {
            res->send_error(409, "conflict", r->error);
            return;
        }
        Value out = dict_of({{"id", str(id)},
                             {"replayed", Value::boolean(r->delivered)},
                             {"status", r->status ? Value::integer(r->status) : Value::none()},
                             {"attempts", Value::integer(r->attempts)}});
        // The contract's error shape, beside what the replay did.
        if (!r->delivered)
            out.dict_obj().set(str("error"), dict_of({{"code", str("replay_failed")},
                                                      {"message", str(r->error)}}));
        std::string body = to_json_text(out);
        int status = r->delivered ? 200 : 502;
        api.app().store->after_commit([res, status, body] {
            res->send(status, body, {{"Content-Type", "application/json"}});
        });
    });
}

// A delivery no one will replay (its receiver was retired, the event is moot): answered once
// its removal is durable.
void dlq_drop(Api& api, Call& c) {
    std::string id = c.params["id"];
    Result<DropResult> r = drop_dead_letter(api.app(), id);
    if (!r && r.error().kind == ErrorKind::NotFound)
        return c.error(404, "not_found", r.error().message);
    if (!r) return c.error(500, "storage", r.error().message);
    if (!r->dropped) return c.error(409, "conflict", r->busy);
    auto res = std::make_shared<Responder>(std::move(c.res));
    std::string body = to_json_text(dict_of({{"id", str(id)}, {"dropped", Value::boolean(true)}}));
    api.app().store->after_commit([res, body] {
        res->send(200, body, {{"Content-Type", "application/json"}});
    });
}

}  // namespace

void add_ops_routes(Api& api) {
    Api* a = &api;
    api.add("GET", "/healthz", Role::None, [](Call& c) { c.json(200, "{\"status\":\"ok\"}"); },
            {{}, "", {}, {{200, "serving", "", schema_ref("Health")}}});
    api.add("GET", "/api/v1/integrations", Role::Viewer, [a](Call& c) { integrations(*a, c); },
            {{}, "", {}, {{200, "each integration's health", "", schema_ref("IntegrationList")}}});
    api.add("POST", "/api/v1/integrations/{name}/test", Role::Operator,
            [a](Call& c) { test_integration(*a, c); },
            {{},
             "",
             {},
             {{200, "what one GET found (reachable: false with the error)", "",
               schema_ref("IntegrationTest")},
              {400, "", "", ""},
              {404, "", "", ""},
              {422, "", "", ""}}});
    api.add("GET", "/api/v1/dlq", Role::Viewer, [a](Call& c) { dlq_list(*a, c); },
            {{limit_param(kDlqPage), cursor_param("the dead letters after it")},
             "",
             {},
             {{200, "oldest first", "", schema_ref("DeadLetterList")}, {400, "", "", ""}}});
    api.add("POST", "/api/v1/dlq/{id}/replay", Role::Admin, [a](Call& c) { dlq_replay(*a, c); },
            {{},
             "",
             {},
             {{200, "delivered: the entry is removed", "", ""},
              {400, "", "", ""},
              {404, "", "", ""},
              {409, "", "", ""},
              {422, "", "", ""},
              {502, "the receiver failed again: the entry stays (error: replay_failed)", "", ""}}});
    api.add("DELETE", "/api/v1/dlq/{id}", Role::Admin, [a](Call& c) { dlq_drop(*a, c); },
            {{},
             "",
             {},
             {{200, "removed from the queue (durable)", "", ""},
              {404, "", "", ""},
              {409, "a replay of it is in flight: its answer decides", "", ""}}});
    api.add("GET", "/api/v1/openapi.json", Role::None,
            [a](Call& c) { c.json(200, to_json_text(openapi_document(*a))); });
}

}  // namespace ferry::engine::server
