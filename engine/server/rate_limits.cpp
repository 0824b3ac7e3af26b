#include "server/rate_limits.h"

#include "server/api.h"
#include "server/server_log.h"

#include <algorithm>
#include <sstream>

namespace ferry::engine::server {

bool RateLimits::admit(Call& c, std::string_view kind, const std::string& name, Calls calls,
                       double per_second, double burst, uint64_t now_ms) {
    if (per_second <= 0) return true;
    auto [at, added] = limits_.try_emplace({std::string(kind), name});
    if (added) at->second.bucket = TokenBucket(per_second, burst);
    Limit& limit = at->second;
    const std::string what = std::string(kind) + " '" + name + "'";
    const uint64_t wait_ms = limit.bucket.take(now_ms);
    if (wait_ms == 0) {
        if (limit.refused_in_episode > 0) {
            log_.info(what + " is within its rate_limit again (" +
                          std::to_string(limit.refused_in_episode) + " refused)",
                      {{kind, name}, {"refused", int64_t(limit.refused_in_episode)}});
            limit.refused_in_episode = 0;
        }
        return true;
    }
    ++limit.refused;
    if (limit.refused_in_episode++ == 0)
        log_.warn(what + " is over its rate_limit: calls are answered 429 until it refills",
                  {{kind, name}});
    const uint64_t seconds = (wait_ms + 999) / 1000;
    std::ostringstream rate;  // 0.5, not 0.500000
    rate << per_second;
    c.error(429, "rate_limited",
            what + " takes " + rate.str() + " " +
                std::string(per_second == 1 ? calls.one : calls.many) + " a second (burst " +
                std::to_string(std::max<int64_t>(1, int64_t(burst))) + "); try again in " +
                std::to_string(seconds) + (seconds == 1 ? " second" : " seconds"),
            {{"Retry-After", std::to_string(seconds)}});
    return false;
}

}  // namespace ferry::engine::server
