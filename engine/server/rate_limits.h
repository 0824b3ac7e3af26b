// ferry.yaml's rate_limit and client_rate_limit on a form or a hook: each one's own token
// bucket (the one an integration's requests take), and one per client address, in the
// server's memory, full again at a restart. rate_limit protects the store and whatever the
// started workflows reach (a ticket per call); client_rate_limit keeps one sender from
// taking every call the form allows from the others.
#pragma once

#include "runtime/integration/policy.h"
#include "runtime/ip_addresses.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

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
    // the message says the limit in calls ("submission", "submissions"). A rate of 0: none.
    // The client is the caller's address, behind `trusted` proxies the one X-Forwarded-For
    // names (runtime/ip_addresses.h); its bucket is taken from first, so a client refused
    // takes nothing from the others' allowance.
    struct Calls {
        std::string_view one, many;
    };
    struct Rates {
        double per_second = 0, burst = 0;                // rate_limit
        double client_per_second = 0, client_burst = 0;  // client_rate_limit
    };
    bool admit(Call& c, std::string_view kind, const std::string& name, Calls calls,
               const Rates& rates, const std::vector<AddressRange>& trusted, uint64_t now_ms);

    // A client is an IPv4 address, or an IPv6 /64 (what one host or network is given: an
    // address of its own per call would otherwise be a bucket of its own per call). One
    // form or hook keeps at most kMaxClients buckets: past it, those full again are
    // forgotten, and then the least recently used, down to half.
    static constexpr size_t kMaxClients = 10'000;

    // For /metrics: the calls each limited form and hook refused, by (kind, name), from
    // its first call on.
    struct ClientLimit {
        TokenBucket bucket;
        bool refusing = false;  // told the log; until it admits this client's call again
        uint64_t last_ms = 0;   // its last call
    };
    struct Limit {
        TokenBucket bucket;
        uint64_t refused = 0;             // by either limit
        uint64_t refused_in_episode = 0;  // since it last admitted one: > 0 while refusing
        std::unordered_map<std::string, ClientLimit> clients;  // by address
    };
    using Limits = std::map<std::pair<std::string, std::string>, Limit>;
    const Limits& limits() const { return limits_; }

  private:
    // The wait (ms) before the client's bucket has a token; 0: taken (*taken is the bucket,
    // for rate_limit's refusal to give the token back).
    uint64_t take_client(Limit& limit, std::string_view kind, const std::string& name,
                         const std::string& client, const Rates& rates, uint64_t now_ms,
                         TokenBucket** taken);
    // Makes room for a new client's bucket (kMaxClients).
    void make_room(Limit& limit, std::string_view kind, const std::string& name, uint64_t now_ms);
    // The 429 for a limit of per_second calls (burst) `scope` ("" or " from each client").
    void refuse(Call& c, const std::string& what, Calls calls, double per_second, double burst,
                std::string_view scope, uint64_t wait_ms);
    ServerLog& log_;
    Limits limits_;
};

}  // namespace ferry::engine::server
