#include "server/rate_limits.h"

#include "server/api.h"
#include "server/server_log.h"

#include <algorithm>
#include <sstream>

namespace ferry::engine::server {

namespace {

// The bucket's key: an IPv4 address, or an IPv6 address's /64.
std::string client_key(const IpAddress& ip) {
    return ip.v4 ? ip.text() : network_of(ip, 64).text() + "/64";
}

// "form 'feedback'": how messages name a limited form or hook.
std::string limited(std::string_view kind, const std::string& name) {
    return std::string(kind) + " '" + name + "'";
}

}  // namespace

bool RateLimits::admit(Call& c, std::string_view kind, const std::string& name, Calls calls,
                       const Rates& rates, const std::vector<AddressRange>& trusted,
                       uint64_t now_ms) {
    if (rates.per_second <= 0 && rates.client_per_second <= 0) return true;
    auto [at, added] = limits_.try_emplace({std::string(kind), name});
    if (added) at->second.bucket = TokenBucket(rates.per_second, rates.burst);
    Limit& limit = at->second;
    const std::string what = limited(kind, name);
    TokenBucket* client_bucket = nullptr;
    if (rates.client_per_second > 0) {
        // No address (a peer the socket could not name): not limited as a client.
        if (std::optional<IpAddress> client =
                client_address(c.req.remote, c.req.header_list("x-forwarded-for"), trusted)) {
            if (uint64_t wait_ms = take_client(limit, kind, name, client_key(*client), rates,
                                               now_ms, &client_bucket)) {
                ++limit.refused;
                refuse(c, what, calls, rates.client_per_second, rates.client_burst,
                       " from each client", wait_ms);
                return false;
            }
        }
    }
    const uint64_t wait_ms = limit.bucket.take(now_ms);
    // Refused by the form's own limit: the client did not cause it, and keeps its token.
    if (wait_ms != 0 && client_bucket) client_bucket->give_back();
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
                                 const std::string& client, const Rates& rates, uint64_t now_ms,
                                 TokenBucket** taken) {
    auto found = limit.clients.find(client);
    if (found == limit.clients.end()) {
        if (limit.clients.size() >= kMaxClients) make_room(limit, kind, name, now_ms);
        found = limit.clients
                    .emplace(client,
                             ClientLimit{TokenBucket(rates.client_per_second, rates.client_burst),
                                         false, now_ms})
                    .first;
    }
    ClientLimit& mine = found->second;
    mine.last_ms = now_ms;
    const uint64_t wait_ms = mine.bucket.take(now_ms);
    if (wait_ms == 0) {
        mine.refusing = false;
        *taken = &mine.bucket;
        return 0;
    }
    // Once an episode: a client that keeps calling adds no line for each call.
    if (!mine.refusing)
        log_.warn(limited(kind, name) + ": client " + client +
                      " is over its client_rate_limit: its calls are answered 429 until its "
                      "bucket refills",
                  {{kind, name}, {"client", client}});
    mine.refusing = true;
    return wait_ms;
}

void RateLimits::make_room(Limit& limit, std::string_view kind, const std::string& name,
                           uint64_t now_ms) {
    // A full bucket is a new one: forgetting it changes nothing.
    std::erase_if(limit.clients, [&](const auto& entry) {
        return !entry.second.refusing && entry.second.bucket.full(now_ms);
    });
    const size_t keep = kMaxClients / 2;
    if (limit.clients.size() <= keep) return;
    // Then the least recently used, down to half: each pass makes room for many clients,
    // so a flood from new addresses costs one pass per kMaxClients / 2 of them.
    std::vector<std::pair<uint64_t, std::string>> by_use;
    by_use.reserve(limit.clients.size());
    for (const auto& [client, entry] : limit.clients)
        by_use.emplace_back(entry.last_ms, client);
    const size_t drop = by_use.size() - keep;
    std::nth_element(by_use.begin(), by_use.begin() + ptrdiff_t(drop), by_use.end());
    for (size_t i = 0; i < drop; ++i)
        limit.clients.erase(by_use[i].second);
    log_.warn(limited(kind, name) + " calls from more than " + std::to_string(kMaxClients) +
                  " clients at once: it forgets the " + std::to_string(drop) +
                  " least recently seen (rate_limit is what holds a flood from that many)",
              {{kind, name}});
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
