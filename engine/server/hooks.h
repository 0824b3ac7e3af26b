// Inbound hooks (ferry.yaml `hooks:`) without the HTTP around them: the signature checks.
// The signature is the hook's only authentication, so every comparison is constant-time and
// every configured secret is tried (rotation: old and new both valid for a while).
#pragma once

#include "workflow/project_config.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ferry::engine::server {

struct HookCheck {
    int status = 0;       // 0: verified; else the HTTP status to answer
    std::string code;     // missing_signature, bad_signature, stale_timestamp...
    std::string message;  // never holds a secret or a signature
    // What a replay would repeat (the replay key): standard-webhooks, the delivery's id;
    // hmac-sha256 with a replay_window, the signature. Empty: no replay check.
    std::string replay_id;
    bool ok() const { return status == 0; }
};

using HeaderLookup = std::function<std::string(std::string_view name)>;

// The request headers hook's verification reads, each as one value: given twice, which one
// counts is for each reader to guess (a proxy in front may have checked the other).
std::vector<std::string> signature_headers(const workflow::HookSpec& hook);

// secrets: the resolved values of hook.secrets. now_s: Unix seconds.
HookCheck verify_hook(const workflow::HookSpec& hook, const std::vector<std::string>& secrets,
                      const HeaderLookup& header, const std::string& body, int64_t now_s);

}  // namespace ferry::engine::server
