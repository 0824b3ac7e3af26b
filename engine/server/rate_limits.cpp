#include "server/rate_limits.h"

#include "runtime/http_text.h"
#include "server/api.h"
#include "server/server_log.h"

#include <algorithm>
#include <sstream>

namespace ferry::engine::server {

namespace {

// Every X-Forwarded-For header, in order, as one list: a second header is the same as
// its entries appended to the first (RFC 9110 5.3).
std::string forwarded_for(const ServerRequest& req) {
    std::string all;
    for (const auto& [name, value] : req.headers) {
        if (!iequals(name, "x-forwarded-for")) continue;
        if (!all.empty()) all += ", ";
        all += value;
    }
    return all;
}

}  // namespace

bool RateLimits::admit(Call& c, std::string_view kind, const std::string& name, Calls calls,
                       const Rates& rates, const std::vector<AddressRange>& trusted,
                       uint64_t now_ms) {
    if (rates.per_second <= 0 && rates.client_per_second <= 0) return true;
    auto [at, added] = limits_.try_emplace({std::string(kind), name});
    if (added) at->second.bucket = TokenBucket(rates.per_second, rates.burst);
    Limit& limit = at->second;
    const std::string what = std::string(kind) + " '" + name + "'";
    if (rates.client_per_second > 0) {
        // No address (a peer the socket could not name): not limited as a client.
        const std::string client = client_address(c.req.remote, forwarded_for(c.req), trusted);
        if (!client.empty()) {
            if (uint64_t wait_ms = take_client(limit, kind, name, client, rates, now_ms)) {
                ++limit.refused;
                refuse(c, what, calls, rates.client_per_second, rates.client_burst,
                       " from each client", wait_ms);
                return false;
            }
        }
    }
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
    refuse(c, what, calls, rates.per_second, rates.burst, "", wait_ms);
    return false;
}

uint64_t RateLimits::take_client(Limit& limit, std::string_view kind, const std::string& name,
                                 const std::string& client, const Rates& rates, uint64_t now_ms) {
    const std::string what = std::string(kind) + " '" + name + "'";
    auto found = limit.clients.find(client);
    if (found == limit.clients.end()) {
        if (limit.clients.size() >= kMaxClients) {
            std::erase_if(limit.clients, [&](const auto& entry) {
                return !entry.second.refusing && entry.second.bucket.full(now_ms);
            });
            if (limit.clients.size() >= kMaxClients) {
                log_.warn(what + " has " + std::to_string(limit.clients.size()) +
                              " clients within their client_rate_limit at once: it forgets "
                              "them (rate_limit is what holds a flood from that many)",
                          {{kind, name}});
                limit.clients.clear();
            }
        }
        found = limit.clients
                    .emplace(client,
                             ClientLimit{TokenBucket(rates.client_per_second, rates.client_burst),
                                         false})
                    .first;
    }
    ClientLimit& mine = found->second;
    const uint64_t wait_ms = mine.bucket.take(now_ms);
    if (wait_ms == 0) {
        mine.refusing = false;
        return 0;
    }
    // Once an episode: a client that keeps calling adds no line for each call.
    if (!mine.refusing)
        log_.warn(what + ": client " + client +
                      " is over its client_rate_limit: its calls are answered 429 until its "
                      "bucket refills",
                  {{kind, name}, {"client", client}});
    mine.refusing = true;
    return wait_ms;
}

void RateLimits::refuse(Call& c, const std::string& what, Calls calls, double per_second,
                        double burst, std::string_view scope, uint64_t wait_ms) {
    const uint64_t seconds = (wait_ms + 999) / 1000;
    std::ostringstream rate;  // 0.5, not 0.500000
    rate << per_second;
    c.error(429, "rate_limited",
            what + " takes " + rate.str() + " " +
                std::string(per_second == 1 ? calls.one : calls.many) + " a second" +
                std::string(scope) + " (burst " +
                std::to_string(std::max<int64_t>(1, int64_t(burst))) + "); try again in " +
                std::to_string(seconds) + (seconds == 1 ? " second" : " seconds"),
            {{"Retry-After", std::to_string(seconds)}});
}

}  // namespace ferry::engine::server
