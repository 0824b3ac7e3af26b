#include "server/hooks.h"

#include "runtime/crypto.h"
#include "runtime/integration/client.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <strings.h>

namespace ferry::engine::server {

namespace {

HookCheck reject(int status, std::string code, std::string message) {
    HookCheck c;
    c.status = status;
    c.code = std::move(code);
    c.message = std::move(message);
    return c;
}

std::vector<std::string_view> split_spaces(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ')
            ++i;
        size_t j = s.find(' ', i);
        if (j == std::string_view::npos) j = s.size();
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

// https://www.standardwebhooks.com: HMAC-SHA256 over "id.timestamp.body", base64, as one of
// the space-separated "v1,<sig>" entries; the timestamp within the tolerance either way.
HookCheck verify_standard(const workflow::HookSpec& hook, const std::vector<std::string>& secrets,
                          const HeaderLookup& header, const std::string& body, int64_t now_s) {
    std::string id = header("webhook-id"), ts = header("webhook-timestamp"),
                sigs = header("webhook-signature");
    if (id.empty() || ts.empty() || sigs.empty())
        return reject(401, "missing_signature",
                      "Standard Webhooks headers webhook-id, webhook-timestamp and "
                      "webhook-signature are required");
    int64_t sent = 0;
    auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), sent);
    if (ec != std::errc() || end != ts.data() + ts.size())
        return reject(401, "bad_timestamp", "webhook-timestamp must be Unix seconds");
    uint64_t tolerance_s = hook.tolerance_ms / 1000;
    // The distance in unsigned arithmetic: now_s - sent overflows for a timestamp near
    // INT64_MIN, and llabs(INT64_MIN) is negative, which passed the check.
    uint64_t away =
        sent > now_s ? uint64_t(sent) - uint64_t(now_s) : uint64_t(now_s) - uint64_t(sent);
    if (away > tolerance_s)
        return reject(401, "stale_timestamp",
                      "webhook-timestamp is " + std::to_string(away) +
                          "s away from now, beyond the tolerance of " +
                          std::to_string(tolerance_s) + "s");
    std::vector<std::string_view> entries = split_spaces(sigs);
    bool matched = false;
    for (const std::string& secret : secrets) {
        std::optional<std::string> expected = standard_webhooks_signature(secret, id, ts, body);
        if (!expected)
            return reject(500, "bad_secret",
                          "hook '" + hook.name + "': a secret is not whsec_ followed by base64");
        // No early exit: the time taken does not say which secret or entry matched.
        for (std::string_view e : entries)
            if (e.rfind("v1,", 0) == 0) matched |= crypto::constant_time_equals(e, *expected);
    }
    if (!matched) return reject(401, "bad_signature", "the webhook signature does not match");
    HookCheck ok;
    ok.replay_id = id;
    return ok;
}

// A hex HMAC-SHA256 of the body in one header, bare or as "sha256=<hex>" (GitHub's style).
HookCheck verify_hmac(const workflow::HookSpec& hook, const std::vector<std::string>& secrets,
                      const HeaderLookup& header, const std::string& body) {
    std::string given = header(hook.header);
    if (given.empty())
        return reject(401, "missing_signature", "the " + hook.header + " header is required");
    if (given.size() > 7 && strncasecmp(given.c_str(), "sha256=", 7) == 0) given = given.substr(7);
    std::transform(given.begin(), given.end(), given.begin(), ::tolower);
    bool matched = false;
    for (const std::string& secret : secrets)
        matched |= crypto::constant_time_equals(
            given, crypto::hex_encode(crypto::hmac_sha256(secret, body)));
    if (!matched)
        return reject(401, "bad_signature", "the " + hook.header + " signature does not match");
    HookCheck ok;
    // The body has no id or timestamp of its own: an exact replay repeats the signature.
    if (hook.replay_window_ms) ok.replay_id = "sha256=" + given;
    return ok;
}

}  // namespace

std::vector<std::string> signature_headers(const workflow::HookSpec& hook) {
    if (hook.verify == "standard-webhooks")
        return {"webhook-id", "webhook-timestamp", "webhook-signature"};
    if (hook.verify == "hmac-sha256") return {hook.header};
    return {};
}

HookCheck verify_hook(const workflow::HookSpec& hook, const std::vector<std::string>& secrets,
                      const HeaderLookup& header, const std::string& body, int64_t now_s) {
    if (hook.verify == "none") return {};
    if (secrets.empty())
        return reject(500, "bad_secret", "hook '" + hook.name + "' has no secret configured");
    if (hook.verify == "hmac-sha256") return verify_hmac(hook, secrets, header, body);
    return verify_standard(hook, secrets, header, body, now_s);
}

}  // namespace ferry::engine::server
