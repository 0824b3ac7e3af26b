#include "server/rate_limits.h"

#include "server/api.h"

#include <algorithm>
#include <sstream>

namespace ferry::engine::server {

bool RateLimits::admit(Call& c, std::string_view kind, const std::string& name, Calls calls,
                       double per_second, double burst, uint64_t now_ms) {
    if (per_second <= 0) return true;
    auto [at, added] = limits_.try_emplace({std::string(kind), name});
    if (added) at->second.bucket = TokenBucket(per_second, burst);
    const uint64_t wait_ms = at->second.bucket.take(now_ms);
    if (wait_ms == 0) return true;
    ++at->second.refused;
    const uint64_t seconds = (wait_ms + 999) / 1000;
    std::ostringstream rate;  // 0.5, not 0.500000
    rate << per_second;
    c.error(429, "rate_limited",
            std::string(kind) + " '" + name + "' takes " + rate.str() + " " +
                std::string(per_second == 1 ? calls.one : calls.many) + " a second (burst " +
                std::to_string(std::max<int64_t>(1, int64_t(burst))) + "); try again in " +
                std::to_string(seconds) + (seconds == 1 ? " second" : " seconds"),
            {{"Retry-After", std::to_string(seconds)}});
    return false;
}

}  // namespace ferry::engine::server
