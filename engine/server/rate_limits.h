// ferry.yaml's rate_limit on a form or a hook: each one's own token bucket (the one an
// integration's requests take), in the server's memory, full again at a restart. What it
// protects is the store and whatever the started workflows reach (a ticket per call), not
// a client from another: the bucket is the form's or the hook's.
#pragma once

#include "runtime/integration/policy.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace ferry::engine::server {

struct Call;

class ServerLog;

class RateLimits {
  public:
    // The server's log says when a form or hook starts refusing, and how many it refused
    // once it admits again: two lines an episode, however long the flood.
    explicit RateLimits(ServerLog& log) : log_(log) {}

    // Whether one more call of a form's or a hook's (kind "form" or "hook") may go now.
    // When not, the call is answered 429 rate_limited with Retry-After in whole seconds, and
    // the message says the limit in calls ("submission", "submissions"). per_second 0: none.
    struct Calls {
        std::string_view one, many;
    };
    bool admit(Call& c, std::string_view kind, const std::string& name, Calls calls,
               double per_second, double burst, uint64_t now_ms);

    // For /metrics: the calls each limited form and hook refused, by (kind, name), from
    // its first call on.
    struct Limit {
        TokenBucket bucket;
        uint64_t refused = 0;
        uint64_t refused_in_episode = 0;  // since it last admitted one: > 0 while refusing
    };
    using Limits = std::map<std::pair<std::string, std::string>, Limit>;
    const Limits& limits() const { return limits_; }

  private:
    ServerLog& log_;
    Limits limits_;
};

}  // namespace ferry::engine::server
