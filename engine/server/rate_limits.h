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

class RateLimits {
  public:
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
    };
    using Limits = std::map<std::pair<std::string, std::string>, Limit>;
    const Limits& limits() const { return limits_; }

  private:
    Limits limits_;
};

}  // namespace ferry::engine::server
