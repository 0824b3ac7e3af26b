#include "runtime/integration/client.h"

#include "runtime/utf8.h"

#include "runtime/crypto.h"
#include "runtime/integration/secrets.h"
#include "runtime/json_writer.h"
#include "runtime/timestamp.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

namespace ferry {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool is_absolute_url(std::string_view u) {
    return u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0;
}

std::string join_url(const std::string& base, const std::string& path) {
    if (path.empty()) return base;
    std::string b = base;
    while (!b.empty() && b.back() == '/')
        b.pop_back();
    size_t start = 0;
    while (start < path.size() && path[start] == '/')
        ++start;
    return b + "/" + path.substr(start);
}

void set_header(HttpHeaders& headers, const std::string& name, std::string value) {
    std::string key = lower(name);
    for (auto& [k, v] : headers) {
        if (lower(k) == key) {
            v = std::move(value);
            return;
        }
    }
    headers.emplace_back(name, std::move(value));
}

std::string find_header(const HttpHeaders& headers, std::string_view name) {
    std::string key = lower(name);
    for (const auto& [k, v] : headers)
        if (lower(k) == key) return v;
    return {};
}

// "https://host:port" of a URL (scheme and authority, lower-cased), for comparing origins.
std::string origin_of(std::string_view url) {
    size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return {};
    size_t end = url.find_first_of("/?#", scheme_end + 3);
    std::string o = lower(url.substr(0, end == std::string_view::npos ? url.size() : end));
    size_t at = o.find('@', scheme_end + 3);
    if (at != std::string::npos) o = o.substr(0, scheme_end + 3) + o.substr(at + 1);
    return o;
}

// At most the first `cap` bytes of text, ending outside any secret: the record's own
// redaction finds secrets whole, and one cut in two would keep its first part.
std::string secret_safe_prefix(std::string_view text, size_t cap) {
    return std::string(text.substr(0, Redactor::instance().safe_cut(text, cap)));
}

// The first `cap` bytes of a body of `full_size` bytes (body may already be a prefix).
std::string capped(std::string_view body, size_t full_size, size_t cap) {
    if (full_size <= cap && body.size() == full_size) return std::string(body);
    std::string kept = secret_safe_prefix(body, cap);
    return kept + "...[" + std::to_string(full_size > kept.size() ? full_size - kept.size() : 0) +
           " more bytes]";
}

// A token's lifetime from its answer's expires_in (RFC 6749 5.1: seconds, a number; some
// servers send it as a string). Absent or unreadable: an hour. Capped at a year: 1e17
// seconds overflowed and made every request fetch a new token.
uint64_t token_lifetime_ms(const rapidjson::Document& doc) {
    constexpr double kYear = 365.0 * 24 * 3600;
    double seconds = 3600;
    if (doc.HasMember("expires_in")) {
        const rapidjson::Value& v = doc["expires_in"];
        if (v.IsNumber()) {
            seconds = v.GetDouble();
        } else if (v.IsString()) {
            // Digits only: strtod alone also reads "nan", "inf", hex and leading blanks.
            std::string text(v.GetString(), v.GetStringLength());
            const bool digits = !text.empty() && text.size() <= 12 &&
                                std::all_of(text.begin(), text.end(), ::isdigit);
            if (digits) seconds = std::strtod(text.c_str(), nullptr);
        }
    }
    if (std::isnan(seconds)) return 3600'000;
    if (!(seconds > 0)) return 0;  // expired already, as the server says
    return uint64_t(std::min(seconds, kYear) * 1000);
}

}  // namespace

std::optional<std::string> standard_webhooks_signature(std::string_view secret, std::string_view id,
                                                       std::string_view timestamp,
                                                       std::string_view body) {
    if (secret.rfind("whsec_", 0) == 0) secret.remove_prefix(6);
    std::optional<std::string> key = crypto::base64_decode(secret);
    if (!key || key->empty()) return std::nullopt;
    std::string text;
    text.reserve(id.size() + timestamp.size() + body.size() + 2);
    text.append(id).append(".").append(timestamp).append(".").append(body);
    return "v1," + crypto::base64_encode(crypto::hmac_sha256(*key, text));
}

struct IntegrationClient::Op {
    uint64_t id = 0;
    IntegrationRequest req;
    std::function<void(IntegrationOutcome)> done;
    IntegrationOutcome out;
    bool idempotent = true;
    int tries = 0;                 // attempts counted by the retry policy
    int token_tries = 0;           // OAuth2 token requests that failed transiently
    bool token_refreshed = false;  // a 401 refreshes the OAuth token once per request
    uint64_t transfer = 0;
    HttpRequest sent;           // the last attempt, for its record (body: a prefix)
    size_t sent_body_size = 0;  // the whole body's size
    std::unique_ptr<Loop::Timer> timer;
    bool over = false;
    bool starting = false;  // inside send(): an outcome must wait for the next turn
    // The answer of an attempt that is being retried: what the caller gets if the circuit
    // breaker stops the retries.
    std::optional<HttpResponse> retried_answer;
};

IntegrationClient::IntegrationClient(Loop& loop, HttpClient& http, IntegrationConfig config)
    : loop_(loop), http_(http), config_(std::move(config)),
      bucket_(config_.rate_per_second,
              config_.rate_burst > 0 ? config_.rate_burst : config_.rate_per_second),
      breaker_(config_.breaker_failures, config_.breaker_reset_ms), rng_(std::random_device{}()) {}

IntegrationClient::~IntegrationClient() {
    for (auto& op : ops_) {
        op->over = true;
        op->timer.reset();
        if (op->transfer) http_.cancel(op->transfer);
    }
    *alive_ = false;
    if (token_transfer_) http_.cancel(token_transfer_);
}

uint64_t IntegrationClient::send(IntegrationRequest request,
                                 std::function<void(IntegrationOutcome)> done) {
    auto op = std::make_shared<Op>();
    op->id = next_id_++;
    std::string method = request.http.method;
    op->idempotent = request.idempotent.value_or(method != "POST" && method != "PATCH");
    op->req = std::move(request);
    op->done = std::move(done);
    ops_.push_back(op);
    // Started now, not from a timer on the next loop iteration: under load every iteration
    // waits for a group commit, so a deferred start made each request one fsync slower.
    // The outcome still always arrives asynchronously (finish defers while this runs), so
    // the caller has parked before it.
    op->starting = true;
    step(op);
    op->starting = false;
    return op->id;
}

void IntegrationClient::cancel(uint64_t id) {
    auto it = std::find_if(ops_.begin(), ops_.end(), [id](auto& op) { return op->id == id; });
    if (it == ops_.end()) return;
    std::shared_ptr<Op> op = *it;
    ops_.erase(it);
    op->over = true;
    op->timer.reset();
    if (op->transfer) http_.cancel(op->transfer);
    op->transfer = 0;
}

void IntegrationClient::step(const std::shared_ptr<Op>& op) {
    if (op->over) return;
    if (!gone_.empty()) {
        op->out.error = make_error(ErrorKind::Http4xx, "integration '" + config_.name +
                                                           "': " + gone_ + "; nothing sent");
        finish(op);
        return;
    }
    uint64_t now = loop_.now_ms();
    if (uint64_t wait = bucket_.take(now)) {
        op->timer = loop_.timer(wait, [this, op] { step(op); });
        return;
    }
    uint64_t retry_in = 0;
    if (!breaker_.allow(now, &retry_in)) {
        if (op->retried_answer) {
            // The breaker opened between this request's own retries: the caller gets the
            // vendor's last answer (a 503, say) rather than an error that hides it.
            op->out.response = std::move(*op->retried_answer);
            finish(op);
            return;
        }
        op->out.circuit_open = true;
        op->out.error = make_error(
            ErrorKind::Network, "integration '" + config_.name + "': circuit breaker open after " +
                                    std::to_string(breaker_.consecutive_failures()) +
                                    " consecutive failures; nothing sent (next probe in " +
                                    std::to_string((retry_in + 999) / 1000) + "s)");
        finish(op);
        return;
    }
    bool needs_token =
        config_.auth.type == "oauth2" && (access_token_.empty() || now >= token_expires_ms_);
    if (needs_token) {
        fetch_token([this, op](Status s, const TokenFailure& failure) {
            if (op->over) return;
            if (!s) {
                if (retry_after_token_failure(op, failure)) return;
                op->out.error = s.error();
                finish(op);
                return;
            }
            send_attempt(op);
        });
        return;
    }
    send_attempt(op);
}

void IntegrationClient::send_attempt(const std::shared_ptr<Op>& op) {
    Result<HttpRequest> built = build(op->req, false);
    if (!built) {
        op->out.error = built.error();
        finish(op);
        return;
    }
    ++op->tries;
    ++op->out.attempts;
    ++health_.requests;
    // Only the prefix a record may keep is copied; the body goes to the wire uncopied.
    std::string body = std::move(built.value().body);
    op->sent_body_size = body.size();
    built.value().body.clear();
    op->sent = built.value();
    op->sent.body = body.size() <= config_.max_logged_body
                        ? body
                        : secret_safe_prefix(body, config_.max_logged_body);
    built.value().body = std::move(body);
    op->transfer = http_.send(std::move(built.value()),
                              [this, op](Result<HttpResponse> res, const HttpTransferInfo& info) {
                                  on_attempt(op, std::move(res), info);
                              });
}

void IntegrationClient::on_attempt(const std::shared_ptr<Op>& op, Result<HttpResponse> res,
                                   const HttpTransferInfo& info) {
    op->transfer = 0;
    if (op->over) return;
    if (!res && res.error().kind == ErrorKind::Cancelled) return;
    long status = res ? res.value().status : 0;
    uint64_t now_unix = now_unix_ms();
    if (res) health_.last_latency_ms = res.value().duration_ms;

    // An expired or revoked OAuth token: fetch a new one and send again, once.
    if (status == 401 && config_.auth.type == "oauth2" && !op->token_refreshed) {
        op->token_refreshed = true;
        op->out.attempt_records.push_back(record_attempt(*op, op->sent, res, 0));
        token_expires_ms_ = 0;  // fetched again before the next request
        --op->tries;            // not a failure of the service: the retry budget is kept
        breaker_.on_success();
        step(op);
        return;
    }

    bool failure = status >= 500 || (status == 0 && (res.error().kind == ErrorKind::Network ||
                                                     res.error().kind == ErrorKind::Timeout));
    if (failure) {
        ++health_.failures;
        health_.last_failure_unix_ms = now_unix;
        breaker_.on_failure(loop_.now_ms());
    } else if (status > 0 && status != 429) {
        health_.last_success_unix_ms = now_unix;
        breaker_.on_success();
    } else if (status == 429) {
        breaker_.on_success();  // the service is up, only busy: a probe has its answer
    }

    AttemptFacts facts;
    facts.status = status;
    facts.error = res ? ErrorKind::Internal : res.error().kind;
    facts.request_sent = info.request_sent;
    facts.idempotent = op->idempotent;
    // A Standard Webhooks delivery (it carries its webhook-id), not any request through a
    // webhook integration (an http.request GET /status answered 410 retired the endpoint).
    const bool delivery =
        config_.type == "webhook" && !find_header(op->req.http.headers, "webhook-id").empty();
    facts.webhook_delivery = delivery;
    AttemptVerdict verdict = judge_attempt(facts);
    // Any answer that is not a success may say when to come back (429, 502, 503, 504 do);
    // a 2xx, the usual case, is not searched for it.
    std::optional<uint64_t> retry_after;
    if (res && status >= 300)
        retry_after = parse_retry_after_ms(res.value().header("retry-after"), now_unix);

    if (verdict == AttemptVerdict::Retry && op->req.retry &&
        op->tries < config_.retry.max_attempts) {
        std::optional<uint64_t> wait = retry_delay_ms(op->tries + 1, retry_after);
        if (!wait) {
            verdict = AttemptVerdict::Done;  // longer than we may wait: the caller decides
        } else {
            uint64_t delay = *wait;
            op->out.attempt_records.push_back(record_attempt(*op, op->sent, res, delay));
            if (res)
                op->retried_answer = std::move(res.value());
            else
                op->retried_answer.reset();
            op->timer = loop_.timer(delay, [this, op] { step(op); });
            return;
        }
    }
    op->out.attempt_records.push_back(record_attempt(*op, op->sent, res, 0));
    if (verdict == AttemptVerdict::Ambiguous) op->out.ambiguous = true;
    op->out.retry_after_ms = retry_after;
    if (status == 410 && delivery) {
        // Standard Webhooks: 410 Gone retires the endpoint. Later deliveries are refused
        // here (and dead-lettered by webhook.emit) instead of going to it again.
        gone_ = "the endpoint answered 410 Gone at " + rfc3339(int64_t(now_unix)) +
                ": deliveries from this process are disabled until a dead letter is replayed "
                "through it (POST /api/v1/dlq/ID/replay) or it restarts";
    }
    if (res) {
        op->out.response = std::move(res.value());
    } else {
        Error e = res.error();
        e.message = redact("integration '" + config_.name + "': " + e.message);
        op->out.error = std::move(e);
    }
    finish(op);
}

std::optional<uint64_t> IntegrationClient::retry_delay_ms(int next_attempt,
                                                          std::optional<uint64_t> retry_after) {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    if (!retry_after) return backoff_delay_ms(config_.retry, next_attempt, unit(rng_));
    if (*retry_after > config_.retry.max_retry_after_ms) return std::nullopt;
    // Never earlier than asked, and spread upward (at most 5 s) so that clients throttled
    // together do not all come back in the same second.
    double spread = std::min(double(*retry_after) * config_.retry.jitter, 5000.0);
    return *retry_after + uint64_t(spread * unit(rng_));
}

bool IntegrationClient::retry_after_token_failure(const std::shared_ptr<Op>& op,
                                                  const TokenFailure& f) {
    if (!f.transient || !op->req.retry) return false;
    if (++op->token_tries >= config_.retry.max_attempts) return false;
    std::optional<uint64_t> delay = retry_delay_ms(op->token_tries + 1, f.retry_after_ms);
    if (!delay) return false;
    op->timer = loop_.timer(*delay, [this, op] { step(op); });
    return true;
}

void IntegrationClient::finish(const std::shared_ptr<Op>& op) {
    if (op->over) return;
    if (op->starting) {  // failed before anything was sent, still inside send()
        op->timer = loop_.timer(0, [this, op] { finish(op); });
        return;
    }
    op->over = true;
    op->timer.reset();
    auto it = std::find(ops_.begin(), ops_.end(), op);
    if (it != ops_.end()) ops_.erase(it);
    auto done = std::move(op->done);
    if (done) done(std::move(op->out));
}

Result<HttpRequest> IntegrationClient::preview(const IntegrationRequest& request) {
    return build(request, true);
}

Result<HttpRequest> IntegrationClient::build(const IntegrationRequest& req, bool for_preview) {
    HttpRequest out = req.http;
    if (out.url.empty()) {
        out.url = !config_.url.empty() ? config_.url : config_.base_url;
        if (out.url.empty()) {
            return make_error(ErrorKind::Validation, "integration '" + config_.name +
                                                         "' has no url or base_url: give the "
                                                         "request a full url");
        }
    } else if (!is_absolute_url(out.url)) {
        const std::string& base = !config_.base_url.empty() ? config_.base_url : config_.url;
        if (base.empty()) {
            return make_error(ErrorKind::Validation,
                              "integration '" + config_.name +
                                  "' has no base_url for the relative path '" + out.url + "'");
        }
        out.url = join_url(base, out.url);
    }
    if (!req.timeout_set) out.timeout_ms = config_.timeout_ms;
    std::string method = out.method;
    out.never_resend = !req.idempotent.value_or(method != "POST" && method != "PATCH");
    out.verify_tls = out.verify_tls && config_.tls.verify;
    if (out.ca_file.empty()) out.ca_file = config_.tls.ca_file;
    if (out.client_cert.empty()) out.client_cert = config_.tls.client_cert;
    if (out.client_key.empty()) out.client_key = config_.tls.client_key;
    if (find_header(out.headers, "accept").empty())
        set_header(out.headers, "Accept", "application/json");
    // Credentials and signatures go only to the integration's own origins: an absolute URL
    // elsewhere (a link found in a response, say) gets a plain request.
    if (!owns_url(out.url)) return out;
    if (Status s = apply_auth(out, for_preview); !s) return s.error();
    if (Status s = sign_webhook(out, for_preview); !s) return s.error();
    return out;
}

// A dry run sends no credential, but the task and the records may still meet one (an
// input that carries a token, a response of another step): the secrets that resolve are
// taught to the Redactor as a live request would, so a dry run redacts what a live run
// does. One that does not resolve (no credentials where dry runs are the point) is no
// error here.
void IntegrationClient::learn_secrets_for_redaction() {
    const IntegrationAuth& a = config_.auth;
    std::optional<std::string> user, password, client_secret;
    for (const std::string* ref :
         {&a.username, &a.password, &a.token, &a.value, &a.client_secret}) {
        if (!is_secret_reference(*ref)) continue;
        Result<std::string> v = resolve_secret(*ref);  // adds it to the Redactor
        if (!v) continue;
        if (ref == &a.username) user = v.value();
        if (ref == &a.password) password = v.value();
        if (ref == &a.client_secret) client_secret = v.value();
    }
    if (!is_secret_reference(a.client_secret) && !a.client_secret.empty())
        client_secret = a.client_secret;  // a literal: fetch_token redacts its encoding too
    // What a live request derives from them, as apply_auth and fetch_token add it.
    if (a.type == "basic" && password)
        Redactor::instance().add(
            crypto::base64_encode(user.value_or(a.username) + ":" + *password));
    if (a.type == "oauth2" && client_secret) Redactor::instance().add(url_encode(*client_secret));
    for (const std::string& ref : config_.webhook_secrets)
        if (is_secret_reference(ref)) (void)resolve_secret(ref);
}

Status IntegrationClient::apply_auth(HttpRequest& out, bool for_preview) {
    const IntegrationAuth& a = config_.auth;
    auto secret = [&](const std::string& ref, const char* field) -> Result<std::string> {
        Result<std::string> v = resolve_secret(ref);
        if (!v) {
            return make_error(v.error().kind, "integration '" + config_.name + "': auth." + field +
                                                  ": " + v.error().message);
        }
        // Every auth value goes into a header. A trailing newline (echo > file, a variable
        // set from a heredoc) is the usual cause; name the reference, never the value.
        if (v.value().find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
            return make_error(ErrorKind::Validation,
                              "integration '" + config_.name + "': auth." + field + ": " +
                                  (is_secret_reference(ref) ? ref : std::string("the value")) +
                                  " contains a line break or NUL, which an HTTP header cannot "
                                  "carry (a trailing newline?)");
        }
        return v;
    };
    if (a.type == "none" || a.type.empty()) return ok_status();
    if (for_preview) {
        std::string header = a.type == "api_key" ? a.header : "Authorization";
        set_header(out.headers, header, std::string(kRedacted));
        learn_secrets_for_redaction();
        return ok_status();
    }
    if (a.type == "basic") {
        Result<std::string> user = secret(a.username, "username");  // a literal, or kept elsewhere
        if (!user) return user.error();
        Result<std::string> pw = secret(a.password, "password");
        if (!pw) return pw.error();
        std::string encoded = crypto::base64_encode(user.value() + ":" + pw.value());
        Redactor::instance().add(encoded);
        set_header(out.headers, "Authorization", "Basic " + encoded);
    } else if (a.type == "bearer" || a.type == "splunk") {
        Result<std::string> tok = secret(a.token, "token");
        if (!tok) return tok.error();
        set_header(out.headers, "Authorization",
                   (a.type == "bearer" ? "Bearer " : "Splunk ") + tok.value());
    } else if (a.type == "api_key") {
        Result<std::string> v = secret(a.value, "value");
        if (!v) return v.error();
        set_header(out.headers, a.header, v.value());
    } else if (a.type == "oauth2") {
        set_header(out.headers, "Authorization", "Bearer " + access_token_);
    }
    return ok_status();
}

Status IntegrationClient::sign_webhook(HttpRequest& out, bool for_preview) {
    std::string id = find_header(out.headers, "webhook-id");
    if (config_.webhook_secrets.empty() || id.empty()) return ok_status();
    if (id.find('.') != std::string::npos) {
        return make_error(ErrorKind::Validation, "webhook-id '" + id + "' must not contain '.'");
    }
    std::string ts = std::to_string(now_unix_ms() / 1000);
    std::string signatures;
    for (const std::string& ref : config_.webhook_secrets) {
        Result<std::string> secret = resolve_secret(ref);
        if (!secret) {
            if (for_preview) {
                signatures = "v1,[computed when sent]";
                break;
            }
            return make_error(secret.error().kind, "integration '" + config_.name +
                                                       "': secret: " + secret.error().message);
        }
        std::optional<std::string> signature =
            standard_webhooks_signature(secret.value(), id, ts, out.body);
        if (!signature) {
            return make_error(ErrorKind::Validation,
                              "integration '" + config_.name +
                                  "': a webhook secret must be whsec_ followed by base64");
        }
        if (!signatures.empty()) signatures += ' ';
        signatures += *signature;
    }
    // A preview is kept in history: a valid signature there could be replayed to the
    // receiver (within its tolerance) as an event that was never sent. The secrets were
    // still checked above, so a preview reports a missing or malformed one.
    if (for_preview) signatures = "v1,[computed when sent]";
    set_header(out.headers, "webhook-timestamp", ts);
    set_header(out.headers, "webhook-signature", signatures);
    return ok_status();
}

void IntegrationClient::fetch_token(TokenWaiter then) {
    token_waiters_.push_back(std::move(then));
    if (token_fetching_) return;
    token_fetching_ = true;
    const IntegrationAuth& a = config_.auth;
    auto fail_all = [this](Error e, TokenFailure failure = {}) {
        token_fetching_ = false;
        auto waiters = std::move(token_waiters_);
        token_waiters_.clear();
        for (auto& w : waiters)
            w(e, failure);
    };
    // The token endpoint itself failed: one failure of the service, however many requests
    // waited for the fetch (each counting it opened the breaker on a single 503).
    auto endpoint_failed = [this, fail_all](Error e, TokenFailure failure) {
        breaker_.on_failure(loop_.now_ms());
        fail_all(std::move(e), failure);
    };
    Result<std::string> client_secret = resolve_secret(a.client_secret);
    if (!client_secret) {
        fail_all(make_error(client_secret.error().kind,
                            "integration '" + config_.name +
                                "': auth.client_secret: " + client_secret.error().message));
        return;
    }
    Result<std::string> client_id = resolve_secret(a.client_id);  // a literal, or kept elsewhere
    if (!client_id) {
        fail_all(make_error(client_id.error().kind,
                            "integration '" + config_.name +
                                "': auth.client_id: " + client_id.error().message));
        return;
    }
    HttpRequest req;
    req.method = "POST";
    req.url = is_absolute_url(a.token_url) ? a.token_url : join_url(config_.base_url, a.token_url);
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                   {"Accept", "application/json"}};
    req.body = "grant_type=client_credentials&client_id=" + url_encode(client_id.value()) +
               "&client_secret=" + url_encode(client_secret.value());
    Redactor::instance().add(url_encode(client_secret.value()));
    if (!a.scope.empty()) req.body += "&scope=" + url_encode(a.scope);
    req.timeout_ms = config_.timeout_ms;
    req.verify_tls = config_.tls.verify;
    req.ca_file = config_.tls.ca_file;
    req.client_cert = config_.tls.client_cert;
    req.client_key = config_.tls.client_key;
    std::string where = req.url;
    token_transfer_ = http_.send(std::move(req), [this, alive = alive_, endpoint_failed,
                                                  where](Result<HttpResponse> res,
                                                         const HttpTransferInfo&) {
        if (!*alive) return;
        token_transfer_ = 0;
        if (!res) {
            if (res.error().kind == ErrorKind::Cancelled) return;
            TokenFailure failure;
            failure.transient =
                res.error().kind == ErrorKind::Network || res.error().kind == ErrorKind::Timeout;
            endpoint_failed(
                make_error(res.error().kind, "integration '" + config_.name +
                                                 "': OAuth2 token request to " + where +
                                                 " failed: " + redact(res.error().message)),
                failure);
            return;
        }
        const HttpResponse& r = res.value();
        rapidjson::Document doc;
        doc.Parse(r.body.data(), r.body.size());
        bool json_ok = !doc.HasParseError() && doc.IsObject();
        // An empty token would go out as a bare "Bearer", a 401 and a fetch per request.
        bool has_token = json_ok && doc.HasMember("access_token") &&
                         doc["access_token"].IsString() &&
                         doc["access_token"].GetStringLength() > 0;
        if (r.status != 200 || !has_token) {
            std::string why = "HTTP " + std::to_string(r.status);
            if (r.status == 200 && !json_ok)
                why += ": the answer is not a JSON object (a login page or a proxy?)";
            else if (r.status == 200)
                why += doc.HasMember("access_token") && doc["access_token"].IsString()
                           ? ": the answer's access_token is empty"
                           : ": the answer has no access_token";
            if (json_ok) {
                for (const char* field : {"error", "error_description"}) {
                    if (doc.HasMember(field) && doc[field].IsString())
                        why += std::string(" ") + field + "=" + doc[field].GetString();
                }
            }
            TokenFailure failure;
            failure.transient = r.status >= 500 || r.status == 429;
            failure.retry_after_ms = parse_retry_after_ms(r.header("retry-after"), now_unix_ms());
            endpoint_failed(make_error(r.status >= 500 ? ErrorKind::Http5xx : ErrorKind::Http4xx,
                                       "integration '" + config_.name +
                                           "': OAuth2 token request to " + where +
                                           " failed: " + redact(why)),
                            failure);
            return;
        }
        std::string fetched(doc["access_token"].GetString(), doc["access_token"].GetStringLength());
        if (fetched != access_token_) {
            // Tokens stay redacted while an execution may still hold one in a value (an
            // answer echoing it, recorded later): the last kKeptTokens of them. Older ones are
            // retired, or a token rotating every few minutes would add a secret to search for
            // to every text, for as long as the server runs.
            Redactor::instance().add(fetched);
            held_tokens_.push_back(fetched);
            if (held_tokens_.size() > kKeptTokens) {
                Redactor::instance().remove(held_tokens_.front());
                held_tokens_.pop_front();
            }
            access_token_ = std::move(fetched);
        }
        uint64_t lifetime_ms = token_lifetime_ms(doc);
        // Refresh shortly before expiry: a minute early, or a tenth of a short lifetime.
        uint64_t margin = std::min<uint64_t>(60'000, lifetime_ms / 10);
        token_expires_ms_ = loop_.now_ms() + lifetime_ms - margin;
        token_fetching_ = false;
        auto waiters = std::move(token_waiters_);
        token_waiters_.clear();
        for (auto& w : waiters)
            w(ok_status(), TokenFailure{});
    });
}

std::string IntegrationClient::record_attempt(const Op& op, const HttpRequest& sent,
                                              const Result<HttpResponse>& res,
                                              uint64_t retry_in_ms) const {
    bool answered = res && res.value().status >= 200 && res.value().status < 400;
    size_t cap = answered ? config_.max_logged_body_answered : config_.max_logged_body;
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    // Everything here is the peer's or a task's bytes, and a cap may cut a character in
    // two; the record is JSON, so what is not UTF-8 is written as U+FFFD.
    auto str = [&](std::string_view s) {
        if (invalid_utf8_at(s) == std::string_view::npos) {
            w.String(s.data(), rapidjson::SizeType(s.size()));
        } else {
            std::string valid = to_valid_utf8(s);
            w.String(valid.data(), rapidjson::SizeType(valid.size()));
        }
    };
    auto headers = [&](const HttpHeaders& hs) {
        w.StartObject();
        for (const auto& [k, v] : hs) {
            str(k);
            str(carries_credentials(k) ? std::string(kRedacted) : v);
        }
        w.EndObject();
    };
    w.StartObject();
    str("attempt");
    w.Int(op.out.attempts);
    str("integration");
    str(config_.name);
    str("method");
    str(sent.method);
    str("url");
    str(sent.url);
    str("request");
    w.StartObject();
    str("headers");
    headers(sent.headers);
    str("body");
    str(capped(sent.body, op.sent_body_size, cap));
    w.EndObject();
    if (res) {
        const HttpResponse& r = res.value();
        str("status");
        w.Int64(r.status);
        str("duration_ms");
        w.Double(r.duration_ms);
        str("response");
        w.StartObject();
        str("headers");
        headers(r.headers);
        str("body");
        str(capped(r.body, r.body.size(), cap));
        w.EndObject();
    } else {
        str("error");
        w.StartObject();
        str("kind");
        str(to_string(res.error().kind));
        str("message");
        str(res.error().message);
        w.EndObject();
    }
    if (retry_in_ms) {
        str("retry_in_ms");
        w.Uint64(retry_in_ms);
    }
    w.EndObject();
    return Redactor::instance().redact_json(std::string_view(buf.GetString(), buf.GetSize()));
}

bool IntegrationClient::owns_url(std::string_view url) const {
    std::string origin = origin_of(url);
    return !origin.empty() &&
           (origin == origin_of(config_.base_url) || origin == origin_of(config_.url) ||
            origin == origin_of(config_.auth.token_url));
}

bool IntegrationClient::carries_credentials(std::string_view header) const {
    return is_credential_header(header) || lower(header) == lower(config_.auth.header);
}

IntegrationClient::Health IntegrationClient::health() const {
    Health h = health_;
    h.breaker = std::string(to_string(breaker_.state(loop_.now_ms())));
    h.disabled = gone_;
    return h;
}

}  // namespace ferry
