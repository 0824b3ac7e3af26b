// ferry.http.request{integration = NAME, ...}: a request through a configured integration
// (auth, retries, rate limit, circuit breaker; runtime/integration/client.h). The task parks
// until the whole exchange (every retry included) is over; each attempt is recorded on the
// task for its step's history. With preview = true nothing is sent: the request as it would
// go out (credentials redacted) comes back at once, for dry runs.
#include "runtime/http_text.h"
#include "runtime/integration/registry.h"
#include "runtime/integration/secrets.h"
#include "runtime/json_lua.h"
#include "runtime/lua_api/task_api.h"
#include "runtime/scheduler.h"
#include "runtime/timestamp.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace ferry::lua_api {

namespace {

constexpr const char* kRegistryKey = "ferry.integrations";

IntegrationRegistry* registry(lua_State* L) {
    lua_getfield(L, LUA_REGISTRYINDEX, kRegistryKey);
    auto* r = static_cast<IntegrationRegistry*>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    return r;
}

struct IntegrationOp final : PendingOp {
    IntegrationClient* client;
    Task* task;
    uint64_t request = 0;
    IntegrationOp(IntegrationClient* c, Task* t) : client(c), task(t) {}
    void cancel() override {
        // The attempts made so far stay on the step's record, the one cut short included.
        if (request)
            for (std::string& record : client->cancel(request))
                task->record("http", std::move(record));
        request = 0;
    }
    const char* what() const override { return "http"; }
};

// [-0, +1] {method, url, headers, body}; a JSON body is shown as the value it encodes.
// Only what the integration added is redacted (its base URL, its default headers; its
// credential headers replaced whole): text the task supplied goes back as it came. Run
// through the Redactor, it told the task whether a guess was a secret of ferry.yaml, and
// with "prefix..." one character at a time.
void push_preview(lua_State* L, const HttpRequest& given, const HttpRequest& req,
                  const IntegrationClient& client) {
    lua_createtable(L, 0, 4);
    lua_pushstring(L, req.method.c_str());
    lua_setfield(L, -2, "method");
    std::string url = url_without_password(client.redact_own_parts(req.url));
    lua_pushlstring(L, url.data(), url.size());
    lua_setfield(L, -2, "url");
    lua_newtable(L);
    for (const auto& [name, value] : req.headers) {
        bool from_task =
            std::any_of(given.headers.begin(), given.headers.end(),
                        [&](const auto& h) { return iequals(h.first, name) && h.second == value; });
        std::string shown = client.carries_credentials(name) ? std::string(kRedacted)
                            : from_task                      ? value
                                                             : redact(value);
        lua_pushlstring(L, shown.data(), shown.size());
        lua_setfield(L, -2, name.c_str());
    }
    lua_setfield(L, -2, "headers");
    const std::string& body = req.body;
    rapidjson::Document doc;
    bool is_json = false;
    for (const auto& [name, value] : req.headers) {
        if (iequals(name, "content-type") && value.find("json") != std::string::npos)
            is_json = true;
    }
    if (is_json && !body.empty()) {
        doc.Parse(body.data(), body.size());
        is_json = !doc.HasParseError();
    }
    if (is_json && !body.empty()) {
        json_lua::push(L, doc);
    } else if (body.empty()) {
        lua_pushnil(L);
    } else {
        lua_pushlstring(L, body.data(), body.size());
    }
    lua_setfield(L, -2, "body");
}

}  // namespace

void set_integrations(lua_State* L, IntegrationRegistry* r) {
    lua_pushlightuserdata(L, r);
    lua_setfield(L, LUA_REGISTRYINDEX, kRegistryKey);
}

int integration_request(lua_State* L, const char* name) {
    IntegrationRegistry* reg = registry(L);
    IntegrationClient* client = reg ? reg->find(name) : nullptr;
    if (!client) {
        return luaL_error(L, "ferry.http.request: unknown integration '%s' (not in ferry.yaml)",
                          name);
    }
    IntegrationRequest req;
    req.timeout_set = read_http_request(L, 1, req.http, false);
    lua_getfield(L, 1, "idempotent");
    check_request_field(L, "idempotent", LUA_TBOOLEAN);
    if (lua_isboolean(L, -1)) req.idempotent = lua_toboolean(L, -1) != 0;
    lua_getfield(L, 1, "retry");
    check_request_field(L, "retry", LUA_TBOOLEAN);
    if (lua_isboolean(L, -1)) req.retry = lua_toboolean(L, -1) != 0;
    lua_getfield(L, 1, "preview");
    check_request_field(L, "preview", LUA_TBOOLEAN);
    bool preview = lua_toboolean(L, -1) != 0;
    lua_pop(L, 3);

    // An integration with `dry_run: true` sends nothing, whoever asks: a task naming it
    // (ferry.http.request{integration = ...}) sent live requests, credentials and all,
    // through the integration an operator had marked to touch nothing.
    const bool dry = !preview && client->config().dry_run;
    if (preview || dry) {
        Result<HttpRequest> built = client->preview(req);
        if (!built) {
            lua_pushnil(L);
            push_error_table(L, built.error());
            return 2;
        }
        push_preview(L, req.http, built.value(), *client);
        if (!dry) return 1;
        const int preview_at = lua_gettop(L);
        lua_pushnil(L);
        lua_createtable(L, 0, 4);
        lua_pushliteral(L, "dry_run");
        lua_setfield(L, -2, "kind");
        lua_pushfstring(L, "integration '%s' has dry_run: true in ferry.yaml: nothing was sent",
                        name);
        lua_setfield(L, -2, "message");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "retryable");
        lua_pushvalue(L, preview_at);
        lua_setfield(L, -2, "data");
        return 2;
    }

    Task* task = Scheduler::current(L, "HTTP (ctx.http, ferry.http.request)");
    Scheduler* sched = Scheduler::of(L);
    auto op = std::make_unique<IntegrationOp>(client, task);
    IntegrationOp* raw = op.get();
    task->park(std::move(op));
    // When the task is cancelled its op cancels the request (keeping its records) and this
    // never runs.
    raw->request = client->send(std::move(req), [sched, task](IntegrationOutcome out) {
        for (std::string& record : out.attempt_records)
            task->record("http", std::move(record));
        // Clamped: "9999999999" reads as the largest wait there is.
        constexpr uint64_t kFarAhead = uint64_t(1) << 40;  // ms: 35 years
        task->set_retry_not_before(
            out.retry_after_ms ? now_unix_ms() + std::min(*out.retry_after_ms, kFarAhead) : 0);
        auto shared = std::make_shared<IntegrationOutcome>(std::move(out));
        sched->complete(task, [shared](lua_State* co) {
            const IntegrationOutcome& o = *shared;
            if (o.response) {
                push_http_response(co, *o.response);
                lua_pushinteger(co, o.attempts);
                lua_setfield(co, -2, "attempts");
                lua_pushboolean(co, o.ambiguous);
                lua_setfield(co, -2, "ambiguous");
                if (o.retry_after_ms) {
                    lua_pushinteger(co, lua_Integer(std::min<uint64_t>(*o.retry_after_ms,
                                                                       uint64_t(INT64_MAX))));
                    lua_setfield(co, -2, "retry_after_ms");
                }
                return 1;
            }
            lua_pushnil(co);
            push_error_table(co, o.error);
            if (o.circuit_open) {
                lua_pushliteral(co, "circuit_open");
                lua_setfield(co, -2, "kind");
            }
            lua_pushboolean(co, o.ambiguous);
            lua_setfield(co, -2, "ambiguous");
            lua_pushinteger(co, o.attempts);
            lua_setfield(co, -2, "attempts");
            return 2;
        });
    });
    return kParked;
}

}  // namespace ferry::lua_api
