// Requests through an integration: the step's ctx.http. Adds auth (OAuth2 tokens fetched
// on first use, cached, refreshed once on a 401), Standard Webhooks signatures (re-signed on
// every attempt), TLS settings; applies the rate limit, the circuit breaker and the retry
// policy (backoff with jitter, Retry-After); and records every attempt, redacted.
//
// One IntegrationClient per configured integration, shared by all executions of the
// process (the rate limit, breaker and token are per integration, not per step).
#pragma once

#include "runtime/http_client.h"
#include "runtime/integration/config.h"

#include <rapidjson/document.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace ferry {

// One Standard Webhooks signature entry, "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>",
// for a secret "whsec_<base64 key>" (the prefix is optional); nullopt for a malformed secret.
std::optional<std::string> standard_webhooks_signature(std::string_view secret, std::string_view id,
                                                       std::string_view timestamp,
                                                       std::string_view body);
// A Standard Webhooks secret's key signs as well as the secret does: its base64 text (after
// "whsec_") and its bytes are taught to the Redactor beside the whole value, which
// resolve_secret teaches.
void learn_webhook_key(std::string_view secret);

// How long an OAuth2 token answer's access token is cached for, in ms: its expires_in
// (seconds, a number or a decimal string, RFC 6749 5.1), an hour when absent or unreadable,
// 0 when not positive, at most a year. answer: the parsed JSON object.
uint64_t oauth_token_lifetime_ms(const rapidjson::Value& answer);

struct IntegrationRequest {
    HttpRequest http;                // url may be empty or relative: resolved against base_url
    std::optional<bool> idempotent;  // default: every method but POST and PATCH
    bool retry = true;               // false: one attempt only
    bool timeout_set = false;        // http.timeout_ms came from the caller, not the default
};

struct IntegrationOutcome {
    std::optional<HttpResponse> response;  // the final HTTP answer, any status
    Error error;                           // when there is no response
    bool ambiguous = false;                // the peer may have acted on a non-idempotent request
    bool circuit_open = false;             // refused without sending: the breaker is open
    int attempts = 0;
    // The final answer's Retry-After, in ms from when it came (a task that repeats an
    // ambiguous create waits that long, within ctx.integration.retry.max_retry_after_ms).
    std::optional<uint64_t> retry_after_ms;
    std::vector<std::string> attempt_records;  // JSON objects, redacted, bodies capped
};

class IntegrationClient {
  public:
    IntegrationClient(Loop& loop, HttpClient& http, IntegrationConfig config);
    ~IntegrationClient();  // drops what is in flight (their callbacks never run)
    IntegrationClient(const IntegrationClient&) = delete;
    IntegrationClient& operator=(const IntegrationClient&) = delete;

    const IntegrationConfig& config() const { return config_; }
    // text with the integration's own parts (its base URL and URL, which may hold a secret)
    // redacted and the rest as it is: what goes back to a task, whose own text run through
    // the Redactor would tell it which guesses are secrets.
    std::string redact_own_parts(std::string text) const;

    // Starts a request; done runs once on the loop (never inside send). Returns an id.
    uint64_t send(IntegrationRequest request, std::function<void(IntegrationOutcome)> done);
    // Abandons a request (its owner is gone: a cancelled or timed-out step): transfer and
    // timers stop, done never runs. Returns the records of the attempts it made, one for
    // the attempt in flight among them (its outcome unknown): a create cut short may have
    // made its ticket, and the history must show that it went out.
    std::vector<std::string> cancel(uint64_t id);

    // The request as it would be sent now (URL resolved, auth and signature headers added),
    // for dry runs: nothing is sent, no token is fetched, and headers carrying credentials
    // are shown as "[REDACTED]". Missing secrets are not an error here.
    Result<HttpRequest> preview(const IntegrationRequest& request);

    // Resolves the integration's secret references (those that resolve) and teaches them,
    // with the forms a request derives from them, to the Redactor: done when the
    // configuration loads, so that a value recorded before the first request (a step's
    // input, another system's answer) is redacted too, in every process.
    void learn_secrets_for_redaction();
    // Whether a header carries credentials (shown as "[REDACTED]" in records and previews):
    // the usual ones and the header of this integration's api_key auth.
    bool carries_credentials(std::string_view header) const;
    // Whether url is on one of the integration's own origins (base_url, url, token_url):
    // credentials and signatures go only there.
    bool owns_url(std::string_view url) const;

    // Health, for the API and metrics.
    struct Health {
        uint64_t requests = 0, failures = 0;
        uint64_t last_success_unix_ms = 0, last_failure_unix_ms = 0;
        double last_latency_ms = 0;
        std::string breaker;   // closed | open | half_open
        std::string disabled;  // why deliveries are refused (a webhook's 410 Gone), or ""
    };
    Health health() const;
    // A webhook endpoint that answered 410 Gone is disabled in this process: requests are
    // refused without sending until this (an operator's replay) or a restart enables it.
    void enable() { gone_.clear(); }

  private:
    struct Op;
    void step(const std::shared_ptr<Op>& op);
    void send_attempt(const std::shared_ptr<Op>& op);
    void on_attempt(const std::shared_ptr<Op>& op, Result<HttpResponse> res,
                    const HttpTransferInfo& info);
    void finish(const std::shared_ptr<Op>& op);
    // Why a token request failed, beyond its error: whether it may pass (a 5xx, a 429, a
    // network error or a timeout) and the answer's Retry-After.
    struct TokenFailure {
        bool transient = false;
        std::optional<uint64_t> retry_after_ms;
    };
    using TokenWaiter = std::function<void(Status, const TokenFailure&)>;
    void fetch_token(TokenWaiter then);
    // After a transient token failure: waits as the retry policy says and goes again, while
    // the request's budget (retry.max_attempts token requests) lasts. False: give up.
    bool retry_after_token_failure(const std::shared_ptr<Op>& op, const TokenFailure& f);
    // The wait before a retry: Retry-After when the answer has one (plus upward jitter),
    // else the backoff. nullopt when Retry-After is longer than max_retry_after.
    std::optional<uint64_t> retry_delay_ms(int next_attempt, std::optional<uint64_t> retry_after);
    Result<HttpRequest> build(const IntegrationRequest& req, bool for_preview);
    Status apply_auth(HttpRequest& out, bool for_preview);
    Status sign_webhook(HttpRequest& out, bool for_preview);
    // One attempt's record. duration_ms: how long it took, answered or not (nullopt: cut
    // short, not known); retry_in_ms: set when another attempt follows, 0 included.
    std::string record_attempt(const Op& op, const HttpRequest& sent,
                               const Result<HttpResponse>& res, std::optional<double> duration_ms,
                               std::optional<uint64_t> retry_in_ms) const;

    Loop& loop_;
    HttpClient& http_;
    IntegrationConfig config_;
    TokenBucket bucket_;
    CircuitBreaker breaker_;
    std::mt19937_64 rng_;
    uint64_t next_id_ = 1;
    std::vector<std::shared_ptr<Op>> ops_;  // in flight, for cancel()
    // OAuth2: the cached token and the requests waiting for a fetch in flight.
    std::string access_token_;
    // The tokens still redacted, oldest first (Redactor::remove takes back the oldest).
    static constexpr size_t kKeptTokens = 64;
    std::deque<std::string> held_tokens_;
    uint64_t token_expires_ms_ = 0;  // loop clock
    uint64_t token_fetches_ = 0;     // successful fetches: which token a request was sent with
    bool token_fetching_ = false;
    uint64_t token_transfer_ = 0;
    std::vector<TokenWaiter> token_waiters_;
    std::string gone_;  // set when a webhook endpoint answered 410 Gone (Health::disabled)
    Health health_;
    // Callbacks that may outlive the client (HttpClient reports cancellations late) check it.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace ferry
