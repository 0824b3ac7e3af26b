// ferry.yaml's rate_limit on a form or a hook: each one's own token bucket (the one an
// integration's requests take), in the server's memory, full again at a restart. What it
// protects is the store and whatever the started workflows reach (a ticket per call), not
// a client from another: the bucket is the form's or the hook's.
#pragma once

#include "runtime/integration/policy.h"
#include "server/api.h"

#include <map>
#include <string>
#include <string_view>

namespace ferry::engine::server {

class RateLimits {
  public:
    // Whether one more call of `name` (a form's or a hook's, "form 'fb'") may go now. When
    // not, the call is answered 429 rate_limited with Retry-After in whole seconds, and the
    // message says the limit in calls ("submission", "submissions"). per_second 0: none.
    struct Calls {
        std::string_view one, many;
    };
    bool admit(Call& c, const std::string& name, Calls calls, double per_second, double burst,
               uint64_t now_ms);

  private:
    std::map<std::string, TokenBucket> buckets_;
};

}  // namespace ferry::engine::server
