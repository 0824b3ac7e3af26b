// engine/server/rate_limits: a form's bucket and its clients' buckets, how a client is
// keyed, and how many clients' buckets it keeps.
#include "server/rate_limits.h"

#include "runtime/line_log.h"
#include "runtime/loop.h"
#include "server/api.h"
#include "server/server_log.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace ferry;
using namespace ferry::engine::server;

namespace {

struct Fixture {
    Loop loop;
    std::FILE* file = std::tmpfile();
    std::optional<LineLog> lines;
    std::optional<ServerLog> log;
    std::optional<RateLimits> limits;
    std::vector<AddressRange> trusted{parse_address_range("127.0.0.1").value()};
    Fixture() {
        lines.emplace(loop, ::fileno(file));
        log.emplace(*lines);
        limits.emplace(*log);
    }
    ~Fixture() { std::fclose(file); }

    // Whether a call from `client` (behind the trusted proxy) is admitted at now_ms.
    bool admit(const std::string& client, const RateLimits::Rates& rates, uint64_t now_ms) {
        ServerRequest req;
        req.remote = "127.0.0.1:4711";
        req.headers.push_back({"X-Forwarded-For", client});
        Call c{req, Responder(), {}, Role::None, {}, Call::Page::None};
        return limits->admit(c, "form", "fb", {"submission", "submissions"}, rates, trusted,
                             now_ms);
    }

    std::string logged() {
        lines->flush();
        std::fflush(file);
        std::rewind(file);
        std::string text;
        char buf[4096];
        while (size_t n = std::fread(buf, 1, sizeof buf, file))
            text.append(buf, n);
        return text;
    }
};

const RateLimits::Rates kOnePerClient{0, 0, 0.001, 1};  // one call, then one in 1000 s

}  // namespace

TEST_CASE("rate limits: each client has its bucket, an IPv6 client its /64's", "[rate_limits]") {
    Fixture f;
    CHECK(f.admit("203.0.113.5", kOnePerClient, 1000));
    CHECK_FALSE(f.admit("203.0.113.5", kOnePerClient, 1000));
    CHECK(f.admit("203.0.113.6", kOnePerClient, 1000));
    // One host or network is given a /64: a new address per call is the same client.
    CHECK(f.admit("2001:db8:1:2::1", kOnePerClient, 1000));
    CHECK_FALSE(f.admit("2001:db8:1:2:ffff::9", kOnePerClient, 1000));
    CHECK(f.admit("2001:db8:1:3::1", kOnePerClient, 1000));
    CHECK(f.limits->limits().at({"form", "fb"}).refused == 2);
    const std::string log = f.logged();
    CHECK(log.find("form 'fb': client 203.0.113.5 is over its client_rate_limit") !=
          std::string::npos);
    CHECK(log.find("client 2001:db8:1:2::/64 is over") != std::string::npos);
}

TEST_CASE("rate limits: a client refused by the form's own limit keeps its token",
          "[rate_limits]") {
    Fixture f;
    const RateLimits::Rates both{1, 1, 0.001, 2};  // the form: one a second; a client: 2
    CHECK(f.admit("203.0.113.5", both, 1000));
    // The form's bucket is empty: refused by it, not by the client's, which keeps its two.
    CHECK_FALSE(f.admit("203.0.113.7", both, 1000));
    CHECK_FALSE(f.admit("203.0.113.7", both, 1000));
    CHECK(f.admit("203.0.113.7", both, 2000));
    CHECK(f.admit("203.0.113.7", both, 3000));
    CHECK(f.logged().find("client 203.0.113.7 is over") == std::string::npos);
    CHECK_FALSE(f.admit("203.0.113.7", both, 4000));  // its own bucket now: two taken
    CHECK(f.logged().find("client 203.0.113.7 is over") != std::string::npos);
}

TEST_CASE("rate limits: past kMaxClients the least recently seen are forgotten", "[rate_limits]") {
    Fixture f;
    auto address = [](size_t i) {
        return "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    };
    // Every client once (each bucket empty, none full again), the first ones longest ago.
    for (size_t i = 0; i < RateLimits::kMaxClients; ++i)
        REQUIRE(f.admit(address(i), kOnePerClient, 1000 + i));
    // A recent client refused: it is seen now.
    CHECK_FALSE(f.admit(address(RateLimits::kMaxClients - 1), kOnePerClient, 50'000));
    // One more client makes room: half of them go, the least recently seen.
    CHECK(f.admit("192.0.2.1", kOnePerClient, 50'001));
    CHECK(f.limits->limits().at({"form", "fb"}).clients.size() == RateLimits::kMaxClients / 2 + 1);
    CHECK(f.admit(address(0), kOnePerClient, 50'002));  // forgotten: a new bucket
    CHECK_FALSE(f.admit(address(RateLimits::kMaxClients - 1), kOnePerClient, 50'003));
    CHECK(f.logged().find("form 'fb' calls from more than 10000 clients at once: it forgets "
                          "the 5000 least recently seen") != std::string::npos);
}
