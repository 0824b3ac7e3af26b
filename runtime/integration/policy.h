// The policies an integration applies around each request, as plain state machines over a
// clock the caller passes in (milliseconds), so they are tested without sleeping:
// retry decisions and backoff, Retry-After, a token-bucket rate limit, a circuit breaker.
#pragma once

#include "runtime/error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

struct RetryPolicy {
    int max_attempts = 3;              // including the first
    uint64_t initial_delay_ms = 1000;  // 1s, 2s, 4s... (exponential, doubled each time)
    uint64_t max_delay_ms = 30000;
    uint64_t max_retry_after_ms = 120000;  // a longer Retry-After ends the retries
    double jitter = 0.2;                   // +-20% on each delay, so clients spread out
};

// The delay before attempt `next_attempt` (2 for the first retry): exponential, capped,
// with jitter from random01 in [0, 1).
uint64_t backoff_delay_ms(const RetryPolicy& p, int next_attempt, double random01);

// Retry-After as delay-seconds or an HTTP-date (RFC 9110 10.2.3), in ms from now_unix_ms;
// nullopt when absent or unparsable. A date in the past is 0.
std::optional<uint64_t> parse_retry_after_ms(std::string_view value, uint64_t now_unix_ms);

// What to do with the outcome of one attempt.
enum class AttemptVerdict {
    Done,       // a final answer (2xx-4xx except 429), or a failure not worth retrying
    Retry,      // try again after a delay
    Ambiguous,  // the peer may have acted on a non-idempotent request: stop, let the
                // caller look before it repeats the effect
};

struct AttemptFacts {
    long status = 0;                        // 0 when the transfer failed
    ErrorKind error = ErrorKind::Internal;  // when status == 0
    bool request_sent = false;              // transfer failures: whether bytes reached the peer
    bool idempotent = true;
    // A Standard Webhooks delivery: every answer but a 2xx is a failed delivery to retry
    // (3xx and 4xx too), except 410 Gone, which is final (the endpoint is retired).
    bool webhook_delivery = false;
};

AttemptVerdict judge_attempt(const AttemptFacts& f);

// Tokens refill continuously at per_second up to burst; a request takes one token or is
// told how long to wait for it. per_second <= 0 means no limit.
class TokenBucket {
  public:
    TokenBucket() = default;
    TokenBucket(double per_second, double burst);
    // 0 when a token was taken now; otherwise the wait (ms) until one is due. Callers that
    // wait then call take() again.
    uint64_t take(uint64_t now_ms);
    bool limited() const { return per_second_ > 0; }
    // Refilled to its burst by now (or never taken from): the same as a new bucket, so an
    // owner keeping one per client may forget it.
    bool full(uint64_t now_ms) const;
    // Returns a token taken by a call that another limit then refused.
    void give_back();

  private:
    // The tokens there are at now_ms, refilled since the last take (at most burst).
    double tokens_at(uint64_t now_ms) const;
    double per_second_ = 0;
    double burst_ = 0;
    double tokens_ = 0;
    uint64_t last_ms_ = 0;
    bool started_ = false;
};

// Closed -> (failure_threshold consecutive failures) -> Open for reset_after_ms -> HalfOpen:
// one probe request; its success closes the breaker, its failure opens it again. A probe
// that ends with no verdict (cancelled with its step, a body over the size limit, a request
// that could not be built) would hold the half-open slot for good: the slot is given to a
// new probe once the last one has been out for reset_after_ms.
class CircuitBreaker {
  public:
    enum class State { Closed, Open, HalfOpen };
    CircuitBreaker() = default;
    CircuitBreaker(int failure_threshold, uint64_t reset_after_ms);

    // Whether a request may go now. In HalfOpen only the single probe is allowed; when
    // refused, retry_in_ms says when the breaker will let a probe through.
    bool allow(uint64_t now_ms, uint64_t* retry_in_ms = nullptr);
    // Whether allow() would refuse now, without taking the probe: a caller asks this before
    // anything else it would wait for (a rate-limit token), so a refusal is at once.
    bool refusing(uint64_t now_ms, uint64_t* retry_in_ms = nullptr) const;
    void on_success();
    void on_failure(uint64_t now_ms);
    State state(uint64_t now_ms) const;
    int consecutive_failures() const { return failures_; }
    bool enabled() const { return threshold_ > 0; }

  private:
    int threshold_ = 0;  // 0: disabled
    uint64_t reset_after_ms_ = 30000;
    int failures_ = 0;
    bool open_ = false;
    uint64_t opened_at_ms_ = 0;
    bool probe_in_flight_ = false;
    uint64_t probe_started_ms_ = 0;
};

std::string_view to_string(CircuitBreaker::State s);

}  // namespace ferry
