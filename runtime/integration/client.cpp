// Requests through an integration: URL and headers resolved, rate limit, circuit breaker,
// retries with backoff and Retry-After, and the attempt records. Credentials and
// signatures: client_auth.cpp.
#include "runtime/integration/client.h"

#include "runtime/http_text.h"
#include "runtime/integration/secrets.h"
#include "runtime/json_writer.h"
#include "runtime/timestamp.h"
#include "runtime/utf8.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace ferry {

namespace {

// "https://host:port" of a URL (scheme and authority, lower-cased), for comparing origins.
std::string origin_of(std::string_view url) {
    size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return {};
    size_t end = url.find_first_of("/?#", scheme_end + 3);
    std::string o = ascii_lower(url.substr(0, end == std::string_view::npos ? url.size() : end));
    size_t at = o.find('@', scheme_end + 3);
    if (at != std::string::npos) o = o.substr(0, scheme_end + 3) + o.substr(at + 1);
    return o;
}

// "host:port" of a URL as written (lower-cased, without user info).
std::string authority_of(std::string_view url) {
    std::string o = origin_of(url);
    size_t scheme_end = o.find("://");
    return scheme_end == std::string::npos ? std::string() : o.substr(scheme_end + 3);
}

// At most the first `cap` bytes of text, ending outside any secret (the record's own
// redaction finds secrets whole, and one cut in two would keep its first part) and between
// characters (a body Ferry wrote as UTF-8 is not recorded with U+FFFD at the cut).
std::string secret_safe_prefix(std::string_view text, size_t cap) {
    return std::string(text.substr(0, Redactor::instance().safe_cut(text, utf8_cut(text, cap))));
}

// The first `cap` bytes of a body of `full_size` bytes (body may already be a prefix).
std::string capped(std::string_view body, size_t full_size, size_t cap) {
    if (full_size <= cap && body.size() == full_size) return std::string(body);
    std::string kept = secret_safe_prefix(body, cap);
    return kept + "...[" + std::to_string(full_size > kept.size() ? full_size - kept.size() : 0) +
           " more bytes]";
}

}  // namespace

struct IntegrationClient::Op {
    uint64_t id = 0;
    IntegrationRequest req;
    std::function<void(IntegrationOutcome)> done;
    IntegrationOutcome out;
    bool idempotent = true;
    int tries = 0;                  // attempts counted by the retry policy
    int token_tries = 0;            // OAuth2 token requests that failed transiently
    bool token_refreshed = false;   // a 401 refreshes the OAuth token once per request
    uint64_t sent_token_fetch = 0;  // which OAuth token fetch its last attempt carried
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

std::vector<std::string> IntegrationClient::cancel(uint64_t id) {
    auto it = std::find_if(ops_.begin(), ops_.end(), [id](auto& op) { return op->id == id; });
    if (it == ops_.end()) return {};
    std::shared_ptr<Op> op = *it;
    ops_.erase(it);
    op->over = true;
    op->timer.reset();
    if (op->transfer) {
        http_.cancel(op->transfer);
        op->out.attempt_records.push_back(record_attempt(
            *op, op->sent,
            make_error(ErrorKind::Cancelled,
                       "cut short by the step's end (cancelled or timed out) before an answer "
                       "came: whether the request reached the service is not known"),
            std::nullopt, std::nullopt));
    }
    op->transfer = 0;
    return std::move(op->out.attempt_records);
}

void IntegrationClient::step(const std::shared_ptr<Op>& op) {
    if (op->over) return;
    // The last guard of `dry_run: true`: whatever asks (a task, the API's integration test),
    // nothing goes out, an OAuth token fetch included. Callers that honour it preview first.
    if (config_.dry_run) {
        op->out.error = make_error(ErrorKind::Validation,
                                   "integration '" + config_.name +
                                       "' has dry_run: true in ferry.yaml: nothing was sent");
        finish(op);
        return;
    }
    if (!gone_.empty()) {
        op->out.error = make_error(ErrorKind::Http4xx, "integration '" + config_.name +
                                                           "': " + gone_ + "; nothing sent");
        finish(op);
        return;
    }
    uint64_t now = loop_.now_ms();
    uint64_t retry_in = 0;
    // An open breaker refuses before the rate limit is asked: failing fast is at once, and
    // a request that is not sent neither waits for a token nor spends one.
    const bool refused = breaker_.refusing(now, &retry_in);
    if (!refused) {
        if (uint64_t wait = bucket_.take(now)) {
            op->timer = loop_.timer(wait, [this, op] { step(op); });
            return;
        }
    }
    if (refused || !breaker_.allow(now, &retry_in)) {
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
    op->sent_token_fetch = token_fetches_;
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
        op->out.attempt_records.push_back(
            record_attempt(*op, op->sent, res, info.duration_ms, 0));  // sent again at once
        // Fetched again before the next request, unless another request's 401 already
        // did: each request in flight with the revoked token refreshed it once more (20
        // requests, 16 fetches), and an identity provider that keeps only the newest token
        // valid then refused most of the resends.
        if (op->sent_token_fetch == token_fetches_) token_expires_ms_ = 0;
        --op->tries;  // not a failure of the service: the retry budget is kept
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
        config_.type == "webhook" && !header_value(op->req.http.headers, "webhook-id").empty();
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
            op->out.attempt_records.push_back(
                record_attempt(*op, op->sent, res, info.duration_ms, delay));
            if (res)
                op->retried_answer = std::move(res.value());
            else
                op->retried_answer.reset();
            op->timer = loop_.timer(delay, [this, op] { step(op); });
            return;
        }
    }
    op->out.attempt_records.push_back(
        record_attempt(*op, op->sent, res, info.duration_ms, std::nullopt));
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
        e.message = "integration '" + config_.name + "': " + redact_own_parts(e.message);
        op->out.error = std::move(e);
    }
    finish(op);
}

// The message goes back to the task: only the integration's own parts (its URL, which may
// hold a secret) go through the Redactor. Run through it whole, the task's own path and
// query in it told the task whether a guess was a secret of ferry.yaml. Records and logs
// are redacted as they are written, whatever they quote.
std::string IntegrationClient::redact_own_parts(std::string text) const {
    for (const std::string* part : {&config_.base_url, &config_.url}) {
        if (part->empty()) continue;
        std::string shown = redact(*part);
        if (shown == *part) continue;
        for (size_t at = text.find(*part); at != std::string::npos;
             at = text.find(*part, at + shown.size()))
            text.replace(at, part->size(), shown);
    }
    return text;
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
    Result<HttpRequest> built = build(request, true);
    if (built)
        if (Status sendable = check_request(built.value()); !sendable) return sendable.error();
    return built;
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
    } else if (!is_http_url(out.url)) {
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
    if (header_value(out.headers, "accept").empty())
        set_header(out.headers, "Accept", "application/json");
    // Credentials and signatures go only to the integration's own origins: an absolute URL
    // elsewhere (a link found in a response, say) gets a plain request, and so does one
    // whose own Host names another virtual host than its URL's (a value passed on from a
    // caller would otherwise take the credentials to another site on the same address).
    if (!owns_url(out.url)) return out;
    if (std::string host = header_value(out.headers, "host");
        !host.empty() && ascii_lower(host) != authority_of(out.url))
        return out;
    for (const auto& [name, value] : config_.headers)
        if (header_value(out.headers, name).empty()) set_header(out.headers, name, value);
    if (Status s = apply_auth(out, for_preview); !s) return s.error();
    if (Status s = sign_webhook(out, for_preview); !s) return s.error();
    return out;
}

std::string IntegrationClient::record_attempt(const Op& op, const HttpRequest& sent,
                                              const Result<HttpResponse>& res,
                                              std::optional<double> duration_ms,
                                              std::optional<uint64_t> retry_in_ms) const {
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
    str(url_without_password(sent.url));
    str("request");
    w.StartObject();
    str("headers");
    headers(sent.headers);
    str("body");
    str(capped(sent.body, op.sent_body_size, cap));
    w.EndObject();
    if (res) {
        str("status");
        w.Int64(res.value().status);
    }
    // A timeout's or a lost connection's time is what an operator looks at first.
    if (duration_ms) {
        str("duration_ms");
        w.Double(*duration_ms);
    }
    if (res) {
        const HttpResponse& r = res.value();
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
        w.Uint64(*retry_in_ms);
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
    return is_credential_header(header) || iequals(header, config_.auth.header);
}

IntegrationClient::Health IntegrationClient::health() const {
    Health h = health_;
    h.breaker = std::string(to_string(breaker_.state(loop_.now_ms())));
    h.disabled = gone_;
    return h;
}

}  // namespace ferry
