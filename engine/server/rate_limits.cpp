#include "server/rate_limits.h"

#include <algorithm>
#include <cstdint>
#include <sstream>

namespace ferry::engine::server {

bool RateLimits::admit(Call& c, const std::string& name, Calls calls, double per_second,
                       double burst, uint64_t now_ms) {
    if (per_second <= 0) return true;
    auto [at, added] = buckets_.try_emplace(name, per_second, burst);
    const uint64_t wait_ms = at->second.take(now_ms);
    if (wait_ms == 0) return true;
    const uint64_t seconds = (wait_ms + 999) / 1000;
    std::ostringstream rate;  // 0.5, not 0.500000
    rate << per_second;
    c.error(429, "rate_limited",
            name + " takes " + rate.str() + " " +
                std::string(per_second == 1 ? calls.one : calls.many) + " a second (burst " +
                std::to_string(std::max<int64_t>(1, int64_t(burst))) + "); try again in " +
                std::to_string(seconds) + (seconds == 1 ? " second" : " seconds"),
            {{"Retry-After", std::to_string(seconds)}});
    return false;
}

}  // namespace ferry::engine::server
