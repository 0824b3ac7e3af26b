#include "runtime/ids.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <regex>
#include <set>
#include <thread>

using namespace ferry;

namespace {

uint64_t now_ms() {
    using namespace std::chrono;
    return static_cast<uint64_t>(
        duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace

TEST_CASE("ulid: format and time", "[ids]") {
    uint64_t before = now_ms();
    std::string id = new_ulid();
    uint64_t after = now_ms();
    REQUIRE(id.size() == 26);
    CHECK(is_ulid(id));
    CHECK(std::regex_match(id, std::regex("[0-7][0-9A-HJKMNP-TV-Z]{25}")));
    CHECK(ulid_time_ms(id) >= before);
    CHECK(ulid_time_ms(id) <= after);

    // The example from the ULID spec.
    CHECK(is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
    CHECK(ulid_time_ms("01ARZ3NDEKTSV4RRFFQ69G5FAV") == 1469922850259);

    for (uint64_t ms : {uint64_t{0}, uint64_t{1}, uint64_t{1469922850259}, uint64_t{1} << 40,
                        (uint64_t{1} << 48) - 1}) {
        std::string u = new_ulid(ms);
        CHECK(is_ulid(u));
        CHECK(ulid_time_ms(u) == ms);
    }
    CHECK(new_ulid(0).substr(0, 10) == "0000000000");
    CHECK(new_ulid((uint64_t{1} << 48) - 1).substr(0, 10) == "7ZZZZZZZZZ");
}

TEST_CASE("ulid: only canonical text is a ULID", "[ids]") {
    CHECK_FALSE(is_ulid(""));
    CHECK_FALSE(is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA"));    // 25
    CHECK_FALSE(is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAVV"));  // 27
    CHECK_FALSE(is_ulid("01arz3ndektsv4rrffq69g5fav"));   // lower case sorts elsewhere
    CHECK_FALSE(is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAI"));   // I, L, O, U are not in the alphabet
    CHECK_FALSE(is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAL"));
    CHECK_FALSE(is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAO"));
    CHECK_FALSE(is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAU"));
    CHECK_FALSE(is_ulid("81ARZ3NDEKTSV4RRFFQ69G5FAV"));  // more than 48 bits of time
    CHECK_FALSE(is_ulid(std::string("01ARZ3NDEKTSV4RRFFQ69G5FA\0", 26)));
    CHECK(ulid_time_ms("not a ulid") == 0);
    CHECK(ulid_time_ms("81ARZ3NDEKTSV4RRFFQ69G5FAV") == 0);
}

TEST_CASE("ulid: ids of one process increase, even within a millisecond", "[ids]") {
    std::string previous = new_ulid();
    for (int i = 0; i < 20000; ++i) {
        std::string next = new_ulid();
        REQUIRE(previous < next);
        previous = next;
    }
    // An explicit time: the same millisecond increments, and keeps the time.
    std::string a = new_ulid(1234567890123), b = new_ulid(1234567890123);
    CHECK(a < b);
    CHECK(a.substr(0, 10) == b.substr(0, 10));
    CHECK(ulid_time_ms(b) == 1234567890123);
    // An earlier explicit time is honoured (sorted before), not clamped.
    std::string older = new_ulid(1000);
    CHECK(ulid_time_ms(older) == 1000);
    CHECK(older < a);
    // And new_ulid() is not dragged back by it.
    CHECK(ulid_time_ms(new_ulid()) >= ulid_time_ms(previous));
}

TEST_CASE("ulid: unique across threads", "[ids]") {
    constexpr int kThreads = 4, kEach = 5000;
    std::vector<std::vector<std::string>> made(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&made, t] {
            for (int i = 0; i < kEach; ++i)
                made[t].push_back(new_ulid());
        });
    for (auto& th : threads)
        th.join();
    std::set<std::string> all;
    for (const auto& v : made) {
        for (size_t i = 1; i < v.size(); ++i)
            REQUIRE(v[i - 1] < v[i]);
        all.insert(v.begin(), v.end());
    }
    CHECK(all.size() == size_t{kThreads} * kEach);
}

TEST_CASE("uuid v4: RFC 4122 text", "[ids]") {
    const std::regex shape("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    std::set<std::string> seen;
    std::set<char> variants;
    for (int i = 0; i < 2000; ++i) {
        std::string u = new_uuid_v4();
        REQUIRE(std::regex_match(u, shape));
        variants.insert(u[19]);
        seen.insert(u);
    }
    CHECK(seen.size() == 2000);
    CHECK(variants.size() == 4);  // the two free variant bits are random
}
