// The integration policies as plain state machines over a fake clock.
#include "runtime/integration/client.h"
#include "runtime/integration/policy.h"
#include "runtime/integration/secrets.h"

#include <limits>

#include <catch2/catch.hpp>

using namespace ferry;

TEST_CASE("backoff doubles from the initial delay, capped, with bounded jitter", "[integration]") {
    RetryPolicy p;  // 1s, 2s, 4s... max 30s, +-20%
    CHECK(backoff_delay_ms(p, 2, 0.5) == 1000);
    CHECK(backoff_delay_ms(p, 3, 0.5) == 2000);
    CHECK(backoff_delay_ms(p, 4, 0.5) == 4000);
    CHECK(backoff_delay_ms(p, 20, 0.5) == 30000);
    CHECK(backoff_delay_ms(p, 2, 0.0) == 800);
    CHECK(backoff_delay_ms(p, 2, 0.999999) >= 1199);
    p.jitter = 0;
    CHECK(backoff_delay_ms(p, 2, 0.9) == 1000);
}

TEST_CASE("Retry-After: delay-seconds and HTTP-date", "[integration]") {
    uint64_t now = 1614265330000;  // 2021-02-25T15:02:10Z
    CHECK(parse_retry_after_ms("120", now) == 120000u);
    CHECK(parse_retry_after_ms(" 0 ", now) == 0u);
    CHECK(parse_retry_after_ms("Thu, 25 Feb 2021 15:02:40 GMT", now) == 30000u);
    CHECK(parse_retry_after_ms("Thu, 25 Feb 2021 15:00:00 GMT", now) == 0u);  // past
    CHECK_FALSE(parse_retry_after_ms("", now));
    CHECK_FALSE(parse_retry_after_ms("soon", now));
    CHECK_FALSE(parse_retry_after_ms("-5", now));
    CHECK_FALSE(parse_retry_after_ms("Thu, 25 Foo 2021 15:00:00 GMT", now));
    CHECK(parse_retry_after_ms("99999999999", now) == std::numeric_limits<uint64_t>::max());
    // The two obsolete forms a recipient must accept too (RFC 9110 5.6.7).
    CHECK(parse_retry_after_ms("Thursday, 25-Feb-21 15:02:40 GMT", now) == 30000u);
    CHECK(parse_retry_after_ms("Thu Feb 25 15:02:40 2021", now) == 30000u);
    CHECK(parse_retry_after_ms("Thu Feb  5 15:02:40 2022", now) ==
          (345 * 86400 + 30) * uint64_t(1000));
    // A two-digit year over 50 years ahead is the last century's: long past.
    CHECK(parse_retry_after_ms("Monday, 25-Feb-80 15:02:40 GMT", now) == 0u);
    CHECK(parse_retry_after_ms("Friday, 25-Feb-50 15:02:40 GMT", now) > 0u);
    CHECK_FALSE(parse_retry_after_ms("Thursday, 25-Feb-2021 15:02:40 GMT", now));
    CHECK_FALSE(parse_retry_after_ms("Thu, 25 Feb 2021 15:02:40 GMT junk", now));
    CHECK_FALSE(parse_retry_after_ms("Thu Feb 25 15:02:40 2021 GMT", now));
    CHECK_FALSE(parse_retry_after_ms("Thu Feb 25 25:02:40 2021", now));
}

TEST_CASE("judge_attempt: what is retried, what is final, what is ambiguous", "[integration]") {
    auto judge = [](long status, ErrorKind kind, bool sent, bool idempotent) {
        return judge_attempt({status, kind, sent, idempotent});
    };
    using V = AttemptVerdict;
    auto none = ErrorKind::Internal;
    CHECK(judge(200, none, true, false) == V::Done);
    CHECK(judge(404, none, true, true) == V::Done);
    CHECK(judge(400, none, true, true) == V::Done);
    CHECK(judge(429, none, true, false) == V::Retry);  // refused: nothing done
    CHECK(judge(503, none, true, true) == V::Retry);
    CHECK(judge(503, none, true, false) == V::Ambiguous);
    CHECK(judge(0, ErrorKind::Network, false, false) == V::Retry);  // never reached the peer
    CHECK(judge(0, ErrorKind::Network, true, false) == V::Ambiguous);
    CHECK(judge(0, ErrorKind::Timeout, true, true) == V::Retry);
    CHECK(judge(0, ErrorKind::Validation, false, true) == V::Done);
    // Standard Webhooks: anything but a 2xx is a failed delivery to retry, but 410 Gone.
    auto delivery = [](long status) {
        AttemptFacts f{status, ErrorKind::Internal, true, true};
        f.webhook_delivery = true;
        return judge_attempt(f);
    };
    CHECK(delivery(204) == V::Done);
    for (long status : {302L, 400L, 404L, 408L, 409L, 413L, 502L, 504L})
        CHECK(delivery(status) == V::Retry);
    CHECK(delivery(410) == V::Done);
}

TEST_CASE("token bucket: burst at once, then per_second", "[integration]") {
    TokenBucket b(5, 2);  // 2 at once, then one every 200 ms
    CHECK(b.take(1000) == 0);
    CHECK(b.take(1000) == 0);
    CHECK(b.take(1000) == 200);
    CHECK(b.take(1100) == 100);
    CHECK(b.take(1200) == 0);
    CHECK(b.take(5000) == 0);  // refilled, capped at the burst
    CHECK(b.take(5000) == 0);
    CHECK(b.take(5000) > 0);
    TokenBucket unlimited;
    for (int i = 0; i < 100; ++i)
        CHECK(unlimited.take(0) == 0);
}

TEST_CASE("token bucket: full again once refilled to its burst, as a new one is", "[integration]") {
    TokenBucket b(5, 2);
    CHECK(b.full(0));  // never taken from
    CHECK(b.take(1000) == 0);
    CHECK_FALSE(b.full(1000));
    CHECK_FALSE(b.full(1199));
    CHECK(b.full(1200));
    CHECK(b.take(1000) == 0);  // a clock read earlier than the last take counts as no time
    CHECK_FALSE(b.full(1200));
    CHECK(b.full(1400));
    CHECK(TokenBucket().full(0));
}

TEST_CASE("token bucket: a token given back is there again, up to the burst", "[integration]") {
    TokenBucket b(1, 2);
    CHECK(b.take(0) == 0);
    CHECK(b.take(0) == 0);
    CHECK(b.take(0) > 0);
    b.give_back();
    CHECK(b.take(0) == 0);
    b.give_back();
    b.give_back();  // not past the burst
    CHECK(b.full(0));
    CHECK(b.take(0) == 0);
    CHECK(b.take(0) == 0);
    CHECK(b.take(0) > 0);
}

TEST_CASE("circuit breaker: opens after N failures, one half-open probe", "[integration]") {
    CircuitBreaker cb(3, 1000);
    CHECK(cb.allow(0));
    cb.on_failure(0);
    cb.on_failure(0);
    CHECK(cb.state(0) == CircuitBreaker::State::Closed);
    cb.on_success();  // a success resets the count
    cb.on_failure(10);
    cb.on_failure(10);
    cb.on_failure(10);
    CHECK(cb.state(10) == CircuitBreaker::State::Open);
    uint64_t wait = 0;
    CHECK_FALSE(cb.allow(500, &wait));
    CHECK(wait == 510);
    CHECK(cb.state(1010) == CircuitBreaker::State::HalfOpen);
    CHECK(cb.allow(1010));        // the probe
    CHECK_FALSE(cb.allow(1011));  // nobody else while it runs
    cb.on_failure(1020);          // the probe failed: open again
    CHECK(cb.state(1500) == CircuitBreaker::State::Open);
    CHECK(cb.allow(2020));
    cb.on_success();
    CHECK(cb.state(2020) == CircuitBreaker::State::Closed);
    CHECK(cb.allow(2021));
    // A probe that never reports (cancelled, or ended by a limit) gives its slot to a new
    // probe once it has been out for reset_after.
    CircuitBreaker lost(1, 1000);
    lost.on_failure(0);
    CHECK(lost.allow(1000));
    CHECK_FALSE(lost.allow(1999, &wait));
    CHECK(wait == 1);
    CHECK(lost.allow(2000));
    CHECK_FALSE(lost.allow(2001));
    CircuitBreaker off;
    for (int i = 0; i < 10; ++i)
        off.on_failure(0);
    CHECK(off.allow(0));
    CHECK_FALSE(off.refusing(0));
}

TEST_CASE("circuit breaker: asking whether it refuses takes no probe", "[integration]") {
    CircuitBreaker cb(1, 1000);
    CHECK_FALSE(cb.refusing(0));
    cb.on_failure(0);
    uint64_t wait = 0;
    CHECK(cb.refusing(400, &wait));  // open
    CHECK(wait == 600);
    CHECK_FALSE(cb.refusing(1000));  // half-open, probe free: asked twice, still free
    CHECK_FALSE(cb.refusing(1000));
    CHECK(cb.allow(1000));  // taken
    CHECK(cb.refusing(1001, &wait));
    CHECK(wait == 999);
}

TEST_CASE("Standard Webhooks signature matches the reference library's test vector",
          "[integration]") {
    // Computed with the npm library standardwebhooks 1.1.1 (vendor notes).
    auto sig = standard_webhooks_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                           "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                                           "{\"test\": 2432232314}");
    REQUIRE(sig);
    CHECK(*sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    CHECK_FALSE(standard_webhooks_signature("whsec_", "id", "1", "{}"));
    CHECK_FALSE(standard_webhooks_signature("whsec_!!!", "id", "1", "{}"));
}

TEST_CASE("a Standard Webhooks secret's key is redacted as the secret is", "[integration]") {
    // Its base64 text or its bytes sign deliveries as well as the whole "whsec_..." does.
    learn_webhook_key("whsec_V0hLRVktc2VjcmV0LWJ5dGVzLTAwMA==");
    CHECK(redact("key V0hLRVktc2VjcmV0LWJ5dGVzLTAwMA== bytes WHKEY-secret-bytes-000") ==
          "key [REDACTED] bytes [REDACTED]");
    // Without the prefix the value is the base64 text itself: its bytes are learnt.
    learn_webhook_key("V0hLRVktb3RoZXIta2V5LTAwMQ==");
    CHECK(redact("WHKEY-other-key-001") == "[REDACTED]");
}

TEST_CASE("OAuth2 token lifetime from expires_in", "[integration]") {
    auto lifetime = [](const char* json) {
        rapidjson::Document doc;
        doc.Parse(json);
        return ferry::oauth_token_lifetime_ms(doc);
    };
    CHECK(lifetime(R"({"expires_in": 1799})") == 1'799'000);
    CHECK(lifetime(R"({"expires_in": 2.5})") == 2'500);
    CHECK(lifetime(R"({"expires_in": "120"})") == 120'000);
    // A decimal string, or one with blanks around it, was read as "unreadable": an hour.
    CHECK(lifetime(R"({"expires_in": "2.5"})") == 2'500);
    CHECK(lifetime(R"({"expires_in": " 2 "})") == 2'000);
    // Unreadable: an hour. Not positive: expired already. Huge: a year.
    for (const char* unreadable :
         {R"({})", R"({"expires_in": "abc"})", R"({"expires_in": "nan"})",
          R"({"expires_in": "inf"})", R"({"expires_in": "0x10"})", R"({"expires_in": "-5"})",
          R"({"expires_in": true})", R"({"expires_in": null})", R"({"expires_in": "1e3"})"})
        CHECK(lifetime(unreadable) == 3'600'000);
    CHECK(lifetime(R"({"expires_in": 0})") == 0);
    CHECK(lifetime(R"({"expires_in": -3})") == 0);
    CHECK(lifetime(R"({"expires_in": 1e20})") == uint64_t(365.0 * 24 * 3600 * 1000));
}
