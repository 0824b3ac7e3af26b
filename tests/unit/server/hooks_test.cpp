// Inbound hook signatures: the Standard Webhooks test vector, tolerance, rotation, and the
// hmac-sha256 header forms.
#include "server/hooks.h"

#include "runtime/crypto.h"

#include <catch2/catch.hpp>

#include <map>
#include <strings.h>

using namespace ferry;
using namespace ferry::engine::server;

namespace {

const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const char* kBody = "{\"test\": 2432232314}";
const int64_t kTs = 1614265330;

HeaderLookup headers(std::map<std::string, std::string> h) {
    return [h](std::string_view name) {
        for (const auto& [k, v] : h)
            if (strcasecmp(k.c_str(), std::string(name).c_str()) == 0) return v;
        return std::string();
    };
}

workflow::HookSpec hook(const char* verify) {
    workflow::HookSpec h;
    h.name = "h";
    h.verify = verify;
    return h;
}

std::map<std::string, std::string> vector_headers(std::string sig) {
    return {{"webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"},
            {"webhook-timestamp", std::to_string(kTs)},
            {"webhook-signature", std::move(sig)}};
}

}  // namespace

TEST_CASE("standard webhooks: the reference test vector verifies", "[hooks]") {
    auto h = hook("standard-webhooks");
    HookCheck c = verify_hook(
        h, {kSecret}, headers(vector_headers("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")),
        kBody, kTs + 10);
    CHECK(c.ok());
    CHECK(c.replay_id == "msg_p5jXN8AQM9LWM0D4loKWxJek");
}

TEST_CASE("standard webhooks: rotation, bad, stale and missing signatures", "[hooks]") {
    auto h = hook("standard-webhooks");
    std::string good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    // Several entries (the sender rotating) and several secrets (the receiver rotating).
    CHECK(verify_hook(h, {"whsec_" + crypto::base64_encode("another key"), kSecret},
                      headers(vector_headers("v1,AAAA v1a,xyz " + good)), kBody, kTs)
              .ok());
    HookCheck bad = verify_hook(h, {kSecret}, headers(vector_headers("v1,AAAA")), kBody, kTs);
    CHECK(bad.status == 401);
    CHECK(bad.code == "bad_signature");
    HookCheck tampered =
        verify_hook(h, {kSecret}, headers(vector_headers(good)), "{\"test\": 1}", kTs);
    CHECK(tampered.code == "bad_signature");
    HookCheck stale = verify_hook(h, {kSecret}, headers(vector_headers(good)), kBody, kTs + 301);
    CHECK(stale.status == 401);
    CHECK(stale.code == "stale_timestamp");
    CHECK(verify_hook(h, {kSecret}, headers(vector_headers(good)), kBody, kTs - 301).code ==
          "stale_timestamp");
    CHECK(verify_hook(h, {kSecret}, headers({}), kBody, kTs).code == "missing_signature");
    auto hdrs = vector_headers(good);
    hdrs["webhook-timestamp"] = "12x";
    CHECK(verify_hook(h, {kSecret}, headers(hdrs), kBody, kTs).code == "bad_timestamp");
    CHECK(verify_hook(h, {"whsec_!!!"}, headers(vector_headers(good)), kBody, kTs).status == 500);
}

TEST_CASE("hmac-sha256: hex or sha256=hex in the configured header", "[hooks]") {
    auto h = hook("hmac-sha256");
    h.header = "X-Hub-Signature-256";
    std::string body = "{\"ref\":\"main\"}";
    std::string hex = crypto::hex_encode(crypto::hmac_sha256("s3cret", body));
    CHECK(verify_hook(h, {"s3cret"}, headers({{"X-Hub-Signature-256", hex}}), body, 0).ok());
    CHECK(verify_hook(h, {"old", "s3cret"}, headers({{"x-hub-signature-256", "sha256=" + hex}}),
                      body, 0)
              .ok());
    std::string upper = hex;
    for (char& ch : upper)
        ch = char(toupper(ch));
    CHECK(verify_hook(h, {"s3cret"}, headers({{"X-Hub-Signature-256", upper}}), body, 0).ok());
    CHECK(verify_hook(h, {"wrong"}, headers({{"X-Hub-Signature-256", hex}}), body, 0).code ==
          "bad_signature");
    CHECK(verify_hook(h, {"s3cret"}, headers({{"X-Signature", hex}}), body, 0).code ==
          "missing_signature");
}

TEST_CASE("verify: none accepts anything, a missing secret is the server's fault", "[hooks]") {
    CHECK(verify_hook(hook("none"), {}, headers({}), "x", 0).ok());
    CHECK(verify_hook(hook("hmac-sha256"), {}, headers({}), "x", 0).status == 500);
}

TEST_CASE("hmac-sha256 with a replay_window: the signature is the replay id", "[hooks]") {
    auto h = hook("hmac-sha256");
    std::string body = "{\"ref\":\"main\"}";
    std::string hex = crypto::hex_encode(crypto::hmac_sha256("s3cret", body));
    // Off by default: identical bodies may be legitimate resends.
    CHECK(verify_hook(h, {"s3cret"}, headers({{"X-Signature", hex}}), body, 0).replay_id.empty());
    h.replay_window_ms = 60'000;
    HookCheck c = verify_hook(h, {"s3cret"}, headers({{"X-Signature", "sha256=" + hex}}), body, 0);
    REQUIRE(c.ok());
    CHECK(c.replay_id == "sha256=" + hex);  // both header forms name the same delivery
    CHECK(verify_hook(h, {"s3cret"}, headers({{"X-Signature", hex}}), body, 0).replay_id ==
          c.replay_id);
    CHECK(verify_hook(h, {"wrong"}, headers({{"X-Signature", hex}}), body, 0).replay_id.empty());
}
