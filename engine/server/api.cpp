#include "server/api.h"

#include "server/forms.h"

#include "core/values.h"
#include "runtime/crypto.h"
#include "runtime/duration.h"
#include "runtime/integration/client.h"
#include "runtime/integration/secrets.h"
#include "runtime/utf8.h"
#include "template/error.h"
#include "workflow/suggest.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <exception>
#include <strings.h>
#include <unordered_set>

namespace ferry::engine::server {

namespace {

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i < path.size()) {
        while (i < path.size() && path[i] == '/')
            ++i;
        size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        if (j > i) parts.emplace_back(path.substr(i, j - i));
        i = j;
    }
    return parts;
}

}  // namespace

std::string_view to_string(Role r) {
    switch (r) {
    case Role::None: return "none";
    case Role::Viewer: return "viewer";
    case Role::Operator: return "operator";
    case Role::Admin: return "admin";
    }
    return "none";
}

std::string quote(std::string_view s) {
    return to_json_text(tmpl::Value::string(std::string(s)));
}

Result<ServerSettings> read_server_settings(const workflow::ProjectConfig& config) {
    ServerSettings s;
    // server: was read and checked with ferry.yaml (workflow/project_config.cpp).
    if (config.server.listen) s.listen = *config.server.listen;
    if (config.server.max_body) s.max_body = size_t(*config.server.max_body);
    if (config.server.shutdown_grace_ms) s.shutdown_grace_ms = *config.server.shutdown_grace_ms;
    if (config.server.max_connections) s.max_connections = size_t(*config.server.max_connections);
    if (config.server.request_timeout_ms) s.request_timeout_ms = *config.server.request_timeout_ms;
    if (config.server.idle_timeout_ms) s.idle_timeout_ms = *config.server.idle_timeout_ms;
    // auth.tokens: checked with ferry.yaml (workflow/project_config.cpp); here only what a
    // secret reference holds is new.
    for (const workflow::AuthToken& t : config.auth_tokens) {
        Token tok;
        tok.name = t.name;
        tok.sha256 = t.sha256;
        tok.role = t.role == "admin"      ? Role::Admin
                   : t.role == "operator" ? Role::Operator
                                          : Role::Viewer;
        if (is_secret_reference(tok.sha256)) {
            // The digest may come from the environment or a file (a token created at install
            // time); without it the token is left out, not the server.
            Result<std::string> digest = resolve_secret(tok.sha256);
            if (!digest) {
                s.warnings.push_back("auth.tokens: token '" + tok.name +
                                     "' is disabled: " + digest.error().message);
                continue;
            }
            tok.sha256 = digest.value();
            if (tok.sha256.size() != 64 ||
                !std::all_of(tok.sha256.begin(), tok.sha256.end(), ::isxdigit)) {
                return make_error(ErrorKind::Validation,
                                  "auth.tokens: token '" + tok.name +
                                      "': its sha256 reference must hold the 64 hex digits of "
                                      "the token's SHA-256 (`printf %s TOKEN | sha256sum`)");
            }
        }
        std::transform(tok.sha256.begin(), tok.sha256.end(), tok.sha256.begin(), ::tolower);
        // One token, one role: the first entry would win, silently (a viewer entry added to
        // demote a token left it admin).
        for (const Token& other : s.tokens)
            if (other.sha256 == tok.sha256)
                return make_error(ErrorKind::Validation,
                                  "auth.tokens: '" + tok.name + "' has the same sha256 as '" +
                                      other.name + "' (one token, one role)");
        s.tokens.push_back(std::move(tok));
    }
    // A hook's secret is read at each delivery (a rotated file takes effect at once), so one
    // that cannot be read is no reason to refuse the start; but every delivery would be
    // answered 500 until it can, and only the sender would see it.
    for (const workflow::HookSpec& hook : config.hook_specs)
        for (const std::string& ref : hook.secrets) {
            Result<std::string> secret = resolve_secret(ref);
            if (!secret)
                s.warnings.push_back(
                    "hook '" + hook.name + "': " + secret.error().message +
                    (hook.secrets.size() > 1
                         ? "; deliveries are verified with its other secrets meanwhile, and "
                           "answered 500 secret_unavailable if none can be read"
                         : "; every delivery is answered 500 secret_unavailable until it can "
                           "be read"));
            else if (hook.verify == "standard-webhooks" &&
                     !standard_webhooks_signature(secret.value(), "id", "0", ""))
                s.warnings.push_back("hook '" + hook.name + "': " + ref +
                                     " is not a Standard Webhooks secret (whsec_ and base64); "
                                     "every delivery is answered 500 bad_secret until it is");
        }
    return s;
}

void Call::refused(const Engine::DecideResult& r) {
    using Refusal = Engine::DecideResult::Refusal;
    switch (r.refusal) {
    case Refusal::NotRunningHere:
    case Refusal::NoSuchStep: return error(404, "not_found", r.message);
    case Refusal::NotAnApprover: return error(403, "forbidden", r.message);
    case Refusal::NotWaiting:
    case Refusal::None: return error(409, "conflict", r.message);
    case Refusal::Failed: return error(500, "storage", r.message);
    }
}

void Call::json(int status, std::string body) {
    res.send(status, std::move(body), {{"Content-Type", "application/json"}});
}

std::optional<size_t> Call::page_limit(size_t fallback) {
    auto l = req.query_param("limit");
    if (!l) return fallback;
    // Digits only: strtol took " 2", "+3" and "1" before a NUL ("1%00garbage") as numbers.
    size_t n = 0;
    auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), n);
    if (ec != std::errc() || end != l->data() + l->size() || n < 1 || n > kMaxPage) {
        error(400, "bad_request", "limit must be an integer from 1 to " + std::to_string(kMaxPage));
        return std::nullopt;
    }
    return n;
}

ParamDoc limit_param(size_t fallback) {
    return {"limit", "query", "integer", "at most this many (" + std::to_string(fallback) + ")",
            R"({"minimum": 1, "maximum": )" + std::to_string(Call::kMaxPage) + "}"};
}

ParamDoc cursor_param(const std::string& after) {
    return {"cursor", "query", "string", "the next_cursor of the previous page: " + after};
}

void Call::error(int status, std::string_view code, std::string_view message, HttpHeaders extra) {
    // Messages name what the request named (a workflow, an id, a key): a secret pasted
    // there is not repeated back.
    ServerResponse answer;
    answer.status = status;
    if (answer_with_page == Page::None) {
        answer.headers = {{"Content-Type", "application/json"}};
        answer.body = error_json(code, redact(message));
    } else {
        answer.headers = page_headers();
        auto name = params.find("name");
        answer.body = refused_page(name != params.end() ? name->second : "", redact(message),
                                   answer_with_page == Page::Submit);
    }
    for (auto& h : extra)
        answer.headers.push_back(std::move(h));
    if (refusal_before_body)
        *refusal_before_body = std::move(answer);
    else
        res.send(std::move(answer));
}

bool media_type_is(const std::string& header, const char* type) {
    size_t n = std::strlen(type);
    return header.size() >= n && strncasecmp(header.c_str(), type, n) == 0 &&
           (header.size() == n || header[n] == ';' || header[n] == ' ');
}

namespace {

bool accepts_html(const ServerRequest& req) {
    return req.header("accept").find("text/html") != std::string::npos;
}

}  // namespace

bool wants_page(const ServerRequest& req) {
    return media_type_is(req.header("content-type"), "application/x-www-form-urlencoded") &&
           accepts_html(req);
}

Api::Api(App& app, ServerSettings settings, ServerLog& log)
    : rate_limits(log), app_(app), settings_(std::move(settings)), log_(log),
      store_room_(*app.store) {}

void Api::add(std::string method, std::string pattern, Role role, Handler handler, RouteDoc doc) {
    Route r{std::move(method),   pattern,        role, std::move(handler),
            split_path(pattern), std::move(doc), {}};
    routes_.push_back(std::move(r));
}

void Api::add_resource_guarded(std::string method, std::string pattern, std::string role_note,
                               Handler handler, RouteDoc doc) {
    const bool post = method == "POST";
    add(std::move(method), std::move(pattern), Role::None, std::move(handler), std::move(doc));
    routes_.back().role_note = std::move(role_note);
    routes_.back().browser_post = post;
}

namespace {

bool host_of_origin_is(std::string_view origin, std::string_view host) {
    for (std::string_view scheme : {"http://", "https://"}) {
        if (origin.substr(0, scheme.size()) == scheme && origin.substr(scheme.size()) == host &&
            !host.empty())
            return true;
    }
    return false;
}

// A browser sends saved Basic credentials with requests that other sites' pages make, so a
// write they authenticate must come from Ferry's own pages. Clients that are not browsers
// send neither header and are not affected.
bool cross_site(const ServerRequest& req) {
    std::string site = req.header("sec-fetch-site");
    if (!site.empty()) return site != "same-origin" && site != "none";
    std::string origin = req.header("origin");
    if (origin.empty()) return false;
    // Behind a reverse proxy the Host the server sees may be the proxy's upstream name.
    return !host_of_origin_is(origin, req.header("host")) &&
           !host_of_origin_is(origin, req.header("x-forwarded-host"));
}

}  // namespace

void Api::add_pending(std::weak_ptr<PendingAnswer> pending) {
    // Answered ones are dropped as new ones come, so the list stays as long as the waits.
    std::erase_if(pending_, [](const std::weak_ptr<PendingAnswer>& p) { return p.expired(); });
    pending_.push_back(std::move(pending));
}

namespace {

using AnswersByExecution =
    std::unordered_map<std::string, std::vector<std::weak_ptr<Api::PendingAnswer>>>;

void remember(AnswersByExecution& answers, const std::string& execution_id,
              std::weak_ptr<Api::PendingAnswer> pending) {
    auto& waiting = answers[execution_id];
    std::erase_if(waiting, [](const auto& p) { return p.expired(); });
    waiting.push_back(std::move(pending));
}

// The answers waiting for execution_id, taken out of answers (each told once).
std::vector<std::shared_ptr<Api::PendingAnswer>> take(AnswersByExecution& answers,
                                                      const std::string& execution_id) {
    std::vector<std::shared_ptr<Api::PendingAnswer>> out;
    auto it = answers.find(execution_id);
    if (it == answers.end()) return out;
    for (const auto& weak : it->second)
        if (auto pending = weak.lock()) out.push_back(std::move(pending));
    answers.erase(it);
    return out;
}

}  // namespace

void Api::on_execution_end(const std::string& execution_id, std::weak_ptr<PendingAnswer> pending) {
    remember(end_answers_, execution_id, std::move(pending));
}

void Api::execution_ended(const std::string& execution_id) {
    waiting_answers_.erase(execution_id);  // no decision to wait for any more
    for (const auto& pending : take(end_answers_, execution_id))
        pending->execution_ended();
}

void Api::on_execution_waiting(const std::string& execution_id,
                               std::weak_ptr<PendingAnswer> pending) {
    remember(waiting_answers_, execution_id, std::move(pending));
}

void Api::execution_waiting(const std::string& execution_id) {
    for (const auto& pending : take(waiting_answers_, execution_id))
        pending->execution_waiting();
}

void Api::answer_pending() {
    auto pending = std::move(pending_);
    for (const auto& weak : pending)
        if (auto p = weak.lock()) p->answer_now();
}

Role Api::authenticate(const ServerRequest& req, std::string* caller, bool* basic) const {
    *caller = "anonymous";
    *basic = false;
    std::string auth = req.header("authorization");
    std::string token;
    // RFC 9110: the scheme, then one or more spaces.
    auto credentials = [&](size_t scheme) {
        const size_t at = auth.find_first_not_of(' ', scheme);
        return std::string_view(auth).substr(at == std::string::npos ? auth.size() : at);
    };
    if (auth.size() > 7 && strncasecmp(auth.c_str(), "Bearer ", 7) == 0) {
        token = credentials(7);
    } else if (auth.size() > 6 && strncasecmp(auth.c_str(), "Basic ", 6) == 0) {
        // A browser cannot send a bearer token; it asks for a user name and password when
        // a form answers 401 with a Basic challenge. The password is the token; the user
        // name is not checked (the token's own name is the caller).
        std::optional<std::string> pair = crypto::base64_decode(credentials(6));
        size_t colon = pair ? pair->find(':') : std::string::npos;
        if (colon == std::string::npos) return Role::None;
        token = pair->substr(colon + 1);
        *basic = true;
    } else {
        return Role::None;
    }
    std::string digest = crypto::sha256_hex(token);
    for (const Token& t : settings_.tokens) {
        if (crypto::constant_time_equals(digest, t.sha256)) {
            *caller = t.name;
            return t.role;
        }
    }
    return Role::None;
}

namespace {

// Why credentials sent were not taken, for the 401: a scheme other than Bearer and Basic
// ("Token X") or Basic without a password was told "the bearer token is not valid".
std::string refused_credentials(const std::string& auth) {
    // `Bearer $TOKEN` with TOKEN unset arrives as "Bearer" (trailing blanks are not kept).
    if (iequals(auth, "Bearer") || iequals(auth, "Basic"))
        return "the Authorization header holds no credentials after " + auth +
               " (an empty variable in `" + auth + " $TOKEN`?)";
    if (strncasecmp(auth.c_str(), "Bearer ", 7) == 0) return "the bearer token is not valid";
    if (strncasecmp(auth.c_str(), "Basic ", 6) != 0)
        return "the Authorization header's scheme is neither Bearer nor Basic (send "
               "Authorization: Bearer TOKEN)";
    return "the Basic credentials are not valid (the password is the token: NAME:TOKEN in "
           "base64)";
}

// Whether the route reads this parameter `in` the query or a header (its documented ones).
bool reads(const Api::Route& route, std::string_view in, std::string_view name) {
    return std::any_of(route.doc.params.begin(), route.doc.params.end(),
                       [&](const ParamDoc& p) { return p.in == in && p.name == name; });
}

// A query parameter the API route does not read: a typo (`?staus=failed`) would otherwise
// answer as if no filter had been asked for. Only under /api/v1/: a form's page or a hook
// may be reached by links and senders that add their own (`?utm_source=`).
std::string unknown_query_parameter(const Api::Route& route, const ServerRequest& req) {
    if (req.query.empty() || !route.pattern.starts_with("/api/v1/")) return {};
    for (const auto& [name, value] : req.query) {
        if (reads(route, "query", name)) continue;
        std::vector<std::string> known;
        for (const ParamDoc& p : route.doc.params)
            if (p.in == "query") known.push_back(p.name);
        std::string shown = name.size() > 64 ? name.substr(0, 64) + "..." : name;
        std::string takes;
        for (const std::string& k : known)
            takes += (takes.empty() ? "" : ", ") + k;
        return "unknown query parameter '" + shown + "'" + workflow::did_you_mean(name, known) +
               (known.empty() ? "; " + route.method + " " + route.pattern + " takes none"
                              : "; it takes " + takes);
    }
    return {};
}

}  // namespace

const Api::Route* Api::find_route(const ServerRequest& req,
                                  std::map<std::string, std::string>* params,
                                  std::vector<std::string>* allowed) const {
    // An empty segment ("//api///v1", or a trailing "/") is no endpoint: a proxy in front
    // that allows or denies by path matches the path as written (an exact-path deny of
    // .../cancel let .../cancel/ through).
    if (req.path.find("//") != std::string::npos || (req.path.size() > 1 && req.path.back() == '/'))
        return nullptr;
    std::vector<std::string> parts = split_path(req.path);
    for (const Route& r : routes_) {
        if (r.parts.size() != parts.size()) continue;
        std::map<std::string, std::string> p;
        bool ok = true;
        for (size_t i = 0; i < parts.size() && ok; ++i) {
            const std::string& want = r.parts[i];
            if (want.size() > 2 && want.front() == '{' && want.back() == '}')
                p[want.substr(1, want.size() - 2)] = parts[i];
            else
                ok = want == parts[i];
        }
        if (!ok) continue;
        if (allowed) {
            allowed->push_back(r.method);
            if (r.method == "GET") allowed->push_back("HEAD");
        }
        if (r.method == req.method || (req.method == "HEAD" && r.method == "GET")) {
            *params = std::move(p);
            return &r;
        }
    }
    return nullptr;
}

std::optional<ServerResponse> Api::refusal_answer(const ServerRequest& req,
                                                  std::string_view message) const {
    std::map<std::string, std::string> params;
    const Route* route = find_route(req, &params, nullptr);
    if (!route || !route->browser_post || !wants_page(req)) return std::nullopt;
    return ServerResponse{0, page_headers(), refused_page(params["name"], redact(message), true)};
}

std::optional<ServerResponse> Api::answer_before_body(ServerRequest& head) {
    std::optional<ServerResponse> refusal;
    Call call{head, Responder(), {}, Role::None, "anonymous"};
    call.refusal_before_body = &refusal;
    admit(call);
    return refusal;
}

void Api::handle(ServerRequest& req, Responder res) {
    Call call{req, std::move(res), {}, Role::None, "anonymous"};
    const Route* match = admit(call);
    if (!match) return;
    // The last line of defence of "the process never crashes on input": a handler that
    // throws answers 500 (its Responder, dropped, says so) and the server keeps serving.
    try {
        match->handler(call);
    } catch (const tmpl::TemplateError& e) {
        // A record that no longer parses: said as the CLI says it, not as a bare 500.
        log_.error(req.method + " " + req.path + " failed: " + e.what(),
                   {{"request_id", req.id}, {"method", req.method}, {"path", req.path}});
        if (!call.res.answered())
            call.error(500, "storage",
                       std::string("a value could not be read: ") + e.what() +
                           " (a damaged record in the data folder? see 'A data directory Ferry "
                           "cannot read' in docs/operations.md)");
    } catch (const std::exception& e) {
        log_.error(req.method + " " + req.path + " failed: " + e.what(),
                   {{"request_id", req.id}, {"method", req.method}, {"path", req.path}});
    }
}

const Api::Route* Api::admit(Call& call) {
    const ServerRequest& req = call.req;
    std::vector<std::string> allowed;  // the path's methods, for a 405's Allow header
    const Route* match = find_route(req, &call.params, &allowed);
    if (!match) {
        if (!allowed.empty()) {
            std::string allow;
            for (const std::string& m : allowed)
                allow += (allow.empty() ? "" : ", ") + m;
            call.error(405, "method_not_allowed", req.method + " is not allowed on " + req.path,
                       {{"Allow", allow}});
        } else
            call.error(404, "not_found", "no such endpoint: " + req.path);
        return nullptr;
    }
    if (match->browser_post && wants_page(req))
        call.answer_with_page = Call::Page::Submit;
    else if (match->pattern == "/forms/{name}" && accepts_html(req))
        call.answer_with_page = Call::Page::Form;
    // Every parameter the route reads is read as one value: given twice, readers (a proxy, a
    // cache, this server) may disagree on which counts, as for a repeated Last-Event-ID.
    // Others are not this server's (a link's ?utm_source= on a form's page, a sender's own
    // on a hook), and under /api/v1/ refused as unknown below.
    if (req.query.size() > 1) {
        std::unordered_set<std::string_view> seen;
        for (const auto& [name, value] : req.query) {
            if (!reads(*match, "query", name) || seen.insert(name).second) continue;
            call.error(400, "bad_request",
                       "query parameter '" + name + "' is given more than once");
            return nullptr;
        }
    }
    bool basic = false;
    call.role = authenticate(req, &call.caller, &basic);
    // The access log says who asked (an audit of decisions and cancels needs it) and which
    // execution a route acts on, so one jq selects a decision with the execution's events.
    // A retry's line names the execution it starts (starter.cpp), not the one retried.
    if (call.role != Role::None) call.res.annotate("token", call.caller);
    if (auto id = call.params.find("id"); id != call.params.end() &&
                                          match->pattern.starts_with("/api/v1/executions/") &&
                                          !match->pattern.ends_with("/retry"))
        call.res.annotate("execution_id", id->second);
    const bool reading = req.method == "GET" || req.method == "HEAD";
    // A route open to all (an inbound hook: its signature is its authentication) ignores
    // credentials: a sender configured with Basic auth (a ServiceNow REST message) must
    // still be heard.
    const bool reads_credentials = match->browser_post || match->role != Role::None;
    if (basic && !reading && reads_credentials && !match->browser_post) {
        call.error(401, "unauthorized",
                   "Basic authentication is accepted by the request forms and for reading; "
                   "send the token as a bearer token (Authorization: Bearer ...)",
                   {kBearerChallenge});
        return nullptr;
    }
    // Credentials given where none are needed (a public form) are still checked: a portal
    // with a mistyped token was served as anonymous, and lost its name in trigger_info and
    // its own Idempotency-Key space. Not Basic, which a browser sends by itself and may
    // hold from before a token was replaced: a public form takes that visitor as anyone.
    if (match->browser_post && call.role == Role::None && !basic &&
        !req.header("authorization").empty()) {
        call.error(401, "unauthorized", refused_credentials(req.header("authorization")),
                   {kBearerChallenge});
        return nullptr;
    }
    // A form's submit from another site's page, with the browser's saved credentials or
    // none: a public form needs none, so any page a visitor opens could file requests
    // through their browser (an intranet portal's form, the quick start's on 127.0.0.1).
    // A bearer token is no browser's ambient credential: no page can make one be sent.
    if (!reading && match->browser_post && (basic || call.role == Role::None) && cross_site(req)) {
        call.error(403, "forbidden",
                   "a form submitted from another site's page is refused; submit it from this "
                   "server's form page, or from a program (which sends no Origin)");
        return nullptr;
    }
    if (call.role < match->role) {
        // Reading accepts Basic too, so a browser (which cannot answer a Bearer challenge)
        // is offered one: the link a form's result page gives opens with a sign-in prompt.
        std::vector<std::pair<std::string, std::string>> challenges{kBearerChallenge};
        if (reading) challenges.push_back(kBasicChallenge);
        if (call.role == Role::None && !req.header("authorization").empty())
            call.error(401, "unauthorized", refused_credentials(req.header("authorization")),
                       challenges);
        else if (call.role == Role::None)
            call.error(401, "unauthorized",
                       "this endpoint needs a bearer token (role " +
                           std::string(to_string(match->role)) + " or above)",
                       challenges);
        else
            call.error(403, "forbidden",
                       "role " + std::string(to_string(call.role)) + " may not do this; it needs " +
                           std::string(to_string(match->role)));
        return nullptr;
    }
    // Told only to a caller the endpoint would answer.
    if (std::string unknown = unknown_query_parameter(*match, req); !unknown.empty()) {
        call.error(400, "bad_request", unknown);
        return nullptr;
    }
    // Checked here, before an `Expect: 100-continue` body is asked for: what the head
    // alone decides is not answered after the body was sent for nothing. An empty key is
    // refused by every route (it read as none); the rest only by those that take a key.
    if (req.has_header("idempotency-key")) {
        const std::string& key = req.header("idempotency-key");
        if (std::string problem = idempotency_key_problem(key);
            !problem.empty() && (key.empty() || reads(*match, "header", "Idempotency-Key"))) {
            call.error(400, "bad_request", problem);
            return nullptr;
        }
    }
    if (std::optional<std::string> wait = req.query_param("wait");
        wait && reads(*match, "query", "wait")) {
        Result<uint64_t> ms = wait_ms(*wait);
        if (!ms) {
            call.error(400, "bad_request", ms.error().message);
            return nullptr;
        }
        call.wait_ms = ms.value();
    }
    return match;
}

Result<uint64_t> wait_ms(std::string_view value) {
    Result<uint64_t> ms = parse_duration_ms(value);
    if (!ms) return make_error(ErrorKind::Validation, "wait: " + ms.error().message);
    return std::min<uint64_t>(ms.value(), 300'000);
}

std::string idempotency_key_problem(std::string_view key) {
    // An empty key read as none: each repeat of the request started another execution,
    // which is what the header was sent to prevent.
    if (key.empty()) return "Idempotency-Key is empty: send a key (at most 255 bytes) or no header";
    if (key.size() > 255) return "Idempotency-Key is longer than 255 bytes";
    // Repeated in answers and log lines, which are JSON: UTF-8 only.
    if (invalid_utf8_at(key) != std::string_view::npos) return "Idempotency-Key is not valid UTF-8";
    return {};
}

}  // namespace ferry::engine::server
