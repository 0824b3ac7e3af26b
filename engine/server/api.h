// The REST API of `ferry serve` (CONTRACT.md section 6): a router over runtime/http_server
// with bearer-token roles (viewer < operator < admin), JSON answers and errors in the
// contract's shape {"error": {"code", "message"}}. Route families live in their own files
// (routes_*.cpp) and register themselves through add().
#pragma once

#include "core/app.h"
#include "runtime/http_server.h"
#include "server/rate_limits.h"
#include "server/server_log.h"
#include "server/store_room.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ferry::engine::server {

enum class Role { None = 0, Viewer = 1, Operator = 2, Admin = 3 };
std::string_view to_string(Role r);

struct Token {
    std::string name;
    std::string sha256;  // hex of the token
    Role role = Role::Viewer;
};

struct ServerSettings {
    std::string listen = "127.0.0.1:8080";
    size_t max_body = 1 << 20;
    std::vector<Token> tokens;
    bool dry_run = false;  // `ferry serve --dry-run`: every execution it starts is a dry run
    // server.shutdown_grace: how long SIGTERM waits for running executions before exiting
    // (what is left stays durable and resumes at the next start).
    uint64_t shutdown_grace_ms = 10000;
    // server.max_connections, request_timeout, idle_timeout (runtime/http_server.h defaults).
    size_t max_connections = 1024;
    uint64_t request_timeout_ms = 10000;
    uint64_t idle_timeout_ms = 5000;
    // Tokens left out at start (their sha256 reference did not resolve), for stderr.
    std::vector<std::string> warnings;
};

// server: and auth: of ferry.yaml; problems name the field.
Result<ServerSettings> read_server_settings(const workflow::ProjectConfig& config);

// 401 challenges (RFC 9110, WWW-Authenticate): the API takes bearer tokens; form pages ask a
// browser for Basic credentials instead, whose password is the token (Api::authenticate).
inline const std::pair<std::string, std::string> kBearerChallenge{"WWW-Authenticate",
                                                                  "Bearer realm=\"ferry\""};
inline const std::pair<std::string, std::string> kBasicChallenge{
    "WWW-Authenticate", "Basic realm=\"ferry\", charset=\"UTF-8\""};

// One request being answered.
struct Call {
    ServerRequest& req;
    Responder res;
    std::map<std::string, std::string> params;  // {name} parts of the route
    Role role = Role::None;
    std::string caller;  // the token's name, or "anonymous"
    // A browser posting a form's page (wants_page) or opening one: errors are answered as a
    // page, not JSON.
    enum class Page { None, Submit, Form };
    Page answer_with_page = Page::None;
    // Set while the head alone is checked (Api::answer_before_body): error() keeps its
    // answer here instead of sending it.
    std::optional<ServerResponse>* refusal_before_body = nullptr;
    // ?wait= of a route that reads it, in ms (0: none), read by Api::admit with the rest of
    // the head, which answers a bad value 400.
    uint64_t wait_ms = 0;

    void json(int status, std::string body);
    void error(int status, std::string_view code, std::string_view message, HttpHeaders extra = {});
    // A refused approval decision: 404 (no such execution or step here), 409 (not waiting),
    // 403 (the caller is not among the step's approvers).
    void refused(const Engine::DecideResult& r);
    // A page's size from `?limit=` (fallback when absent); nullopt, with the 400 answered,
    // when it is not an integer from 1 to kMaxPage.
    static constexpr size_t kMaxPage = 1000;
    std::optional<size_t> page_limit(size_t fallback);
};

// What is wrong with an Idempotency-Key (empty, over 255 bytes, not UTF-8), or "".
std::string idempotency_key_problem(std::string_view key);
// ?wait=DURATION in milliseconds, at most 5 minutes; an error ("wait: ...") when it is no
// duration.
Result<uint64_t> wait_ms(std::string_view value);

// Whether a Content-Type header names this media type (any parameters after it).
bool media_type_is(const std::string& header, const char* type);
// A browser posting a form's page: urlencoded, and it accepts HTML (an API client sending
// urlencoded gets JSON).
bool wants_page(const ServerRequest& req);

// What an operation reads besides its path, for /api/v1/openapi.json: written where the
// route is added, next to the handler that reads it.
struct ParamDoc {
    std::string name;
    std::string in;    // query | header
    std::string type;  // string | integer
    std::string description;
    std::string schema = {};  // JSON Schema text of the bounds it is held to ({"minimum": 1})
};
// One documented answer. An error status (400 and up) with no content_type of its own
// is the contract's error shape.
struct ResponseDoc {
    int status = 200;
    std::string description;
    std::string content_type;  // empty: application/json
    std::string schema;        // JSON Schema text of the body; empty: not described
};
struct RouteDoc {
    std::vector<ParamDoc> params;
    std::string body_schema;  // JSON Schema text of the JSON body; empty: no body
    // Besides JSON, the body media types the route takes with the same schema.
    std::vector<std::string> other_body_types = {};
    // Empty: 200, plus for a route that starts an execution what a start answers.
    std::vector<ResponseDoc> responses = {};
};
// For the OpenAPI document: a listing's ?limit= (as Call::page_limit reads it) and ?cursor=
// (`after`: what a page's next_cursor continues with).
ParamDoc limit_param(size_t fallback);
ParamDoc cursor_param(const std::string& after);

class Api {
  public:
    using Handler = std::function<void(Call&)>;
    Api(App& app, ServerSettings settings, ServerLog& log);

    using ParamDoc = server::ParamDoc;
    using ResponseDoc = server::ResponseDoc;
    using RouteDoc = server::RouteDoc;

    // pattern: "/api/v1/executions/{id}"; a request below `role` gets 401/403.
    void add(std::string method, std::string pattern, Role role, Handler handler,
             RouteDoc doc = {});
    // A route whose role depends on the resource (a form is public or not): open itself,
    // the handler decides; role_note says how, for OpenAPI (x-ferry-role-note).
    void add_resource_guarded(std::string method, std::string pattern, std::string role_note,
                              Handler handler, RouteDoc doc = {});
    void handle(ServerRequest& req, Responder res);
    // For a request that waits for 100 Continue (ServerOptions::answer_before_body): its
    // refusal from the head alone (no such endpoint or method, missing or weak credentials,
    // a bad query), or nothing, and the body may come. handle() checks the same again.
    std::optional<ServerResponse> answer_before_body(ServerRequest& head);
    // For the HTTP server's own refusals (ServerOptions::refusal_answer): a form page's
    // browser post refused before a handler could read it (413, a body too large) gets the
    // page a handler's refusal gives; anything else keeps the JSON error.
    std::optional<ServerResponse> refusal_answer(const ServerRequest& req,
                                                 std::string_view message) const;

    App& app() { return app_; }
    ServerLog& log() { return log_; }
    const ServerSettings& settings() const { return settings_; }
    // Asked before anything starts a new execution (the API, forms, hooks, schedules).
    StoreRoom& store_room() { return store_room_; }
    // The routes, for the OpenAPI document and 405 answers.
    struct Route {
        std::string method;
        std::string pattern;
        Role role;
        Handler handler;
        std::vector<std::string> parts;
        RouteDoc doc;
        std::string role_note;  // add_resource_guarded
        // The HTML form's own POST: the only write that takes the token as a Basic
        // password (what a browser sends by itself), and only from the same origin.
        bool browser_post = false;
    };
    const std::vector<Route>& routes() const { return routes_; }

    // Counters for /metrics that only the API sees.
    std::map<std::string, uint64_t> http_requests;  // "METHOD status" -> count
    // Forms' and hooks' rate_limit buckets (the routes admit calls; /metrics reads them).
    RateLimits rate_limits;

    // A request that answers later (?wait=): at shutdown it answers at once with what it
    // has, instead of holding the process until its wait ends.
    class PendingAnswer {
      public:
        virtual ~PendingAnswer() = default;
        virtual void answer_now() = 0;
        // The execution it waits for has ended (see on_execution_end).
        virtual void execution_ended() {}
        // The execution waits for a decision (see on_execution_waiting).
        virtual void execution_waiting() {}
    };
    void add_pending(std::weak_ptr<PendingAnswer> pending);
    void answer_pending();
    // Tells pending when the execution ends in this process (its final record durable), for
    // callers that did not start it (a repeated Idempotency-Key under ?wait=). Held weakly:
    // one answered by its wait limit is gone with its request, not kept until the end.
    void on_execution_end(const std::string& execution_id, std::weak_ptr<PendingAnswer> pending);
    void execution_ended(const std::string& execution_id);
    // The same for an execution that comes to wait for a decision (an approval): a person's
    // answer takes longer than any ?wait, and a requester at a form page need not wait it out.
    void on_execution_waiting(const std::string& execution_id,
                              std::weak_ptr<PendingAnswer> pending);
    void execution_waiting(const std::string& execution_id);

  private:
    Role authenticate(const ServerRequest& req, std::string* caller, bool* basic) const;
    // The route for the request's method and path (its parameters in *params), or nullptr;
    // *allowed gets the methods the path takes, for a 405.
    const Route* find_route(const ServerRequest& req, std::map<std::string, std::string>* params,
                            std::vector<std::string>* allowed) const;
    // Routes call.req and checks what its head says (the caller's rights, the query): the
    // route to run, or nullptr with the refusal answered (or kept, before the body).
    const Route* admit(Call& call);

    App& app_;
    ServerSettings settings_;
    ServerLog& log_;
    StoreRoom store_room_;
    std::vector<Route> routes_;
    std::vector<std::weak_ptr<PendingAnswer>> pending_;
    std::unordered_map<std::string, std::vector<std::weak_ptr<PendingAnswer>>> end_answers_;
    std::unordered_map<std::string, std::vector<std::weak_ptr<PendingAnswer>>> waiting_answers_;
};

// Route families.
void add_execution_routes(Api& api);
void add_ops_routes(Api& api);
void add_form_routes(Api& api);  // routes_forms.cpp
void add_hook_routes(Api& api);  // routes_hooks.cpp

// JSON text of a string (quoted, escaped).
std::string quote(std::string_view s);

}  // namespace ferry::engine::server
