// runtime/ip_addresses: addresses and CIDR ranges, and the client behind trusted proxies.
#include "runtime/ip_addresses.h"

#include <catch2/catch.hpp>

#include <optional>

#include <string>
#include <vector>

using namespace ferry;

namespace {

std::vector<AddressRange> ranges(std::initializer_list<const char*> texts) {
    std::vector<AddressRange> out;
    for (const char* t : texts) {
        Result<AddressRange> r = parse_address_range(t);
        REQUIRE(r);
        out.push_back(r.value());
    }
    return out;
}

bool in(const char* range, const char* ip) {
    return ranges({range})[0].contains(*parse_ip(ip));
}

}  // namespace

TEST_CASE("ip addresses: IPv4, IPv6 and the mapped form read alike", "[ip]") {
    REQUIRE(parse_ip("203.0.113.5"));
    CHECK(parse_ip("203.0.113.5")->text() == "203.0.113.5");
    CHECK(parse_ip("::ffff:203.0.113.5") == parse_ip("203.0.113.5"));
    CHECK(parse_ip("2001:DB8::1")->text() == "2001:db8::1");
    for (const char* bad : {"", "203.0.113.5:80", "[::1]", "localhost", "1.2.3", "1.2.3.256",
                            " 1.2.3.4", "1.2.3.4/8"})
        CHECK_FALSE(parse_ip(bad));
}

TEST_CASE("ip addresses: a range holds the addresses its prefix covers", "[ip]") {
    CHECK(in("10.0.0.0/8", "10.255.1.2"));
    CHECK_FALSE(in("10.0.0.0/8", "11.0.0.1"));
    CHECK(in("192.168.4.0/22", "192.168.7.255"));
    CHECK_FALSE(in("192.168.4.0/22", "192.168.8.0"));
    CHECK(in("127.0.0.1", "127.0.0.1"));
    CHECK_FALSE(in("127.0.0.1", "127.0.0.2"));
    CHECK(in("0.0.0.0/0", "198.51.100.7"));
    CHECK_FALSE(in("0.0.0.0/0", "::1"));  // an IPv4 range holds no IPv6 address
    CHECK(in("2001:db8::/32", "2001:db8:ffff::1"));
    CHECK_FALSE(in("2001:db8::/32", "2001:db9::1"));
    CHECK(in("::1", "::1"));
    CHECK(in("10.0.0.0/8", "::ffff:10.1.2.3"));    // a dual-stack socket's form of 10.1.2.3
    CHECK(in("::ffff:10.0.0.0/104", "10.1.2.3"));  // 10.0.0.0/8, written as IPv6
    CHECK_FALSE(in("::ffff:10.0.0.0/104", "11.1.2.3"));
    CHECK(in("::ffff:127.0.0.1", "127.0.0.1"));
}

TEST_CASE("ip addresses: a range that is not one says what is wrong", "[ip]") {
    auto error = [](const char* text) {
        Result<AddressRange> r = parse_address_range(text);
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == ErrorKind::Validation);
        return r.error().message;
    };
    CHECK(error("10.0.0.0/33") == "'10.0.0.0/33': the prefix of an IPv4 range is 0 to 32");
    CHECK(error("::/129") == "'::/129': the prefix of an IPv6 range is 0 to 128");
    CHECK(error("10.0.0.0/") == "'10.0.0.0/': the prefix of an IPv4 range is 0 to 32");
    CHECK(error("10.0.0.0/8x") == "'10.0.0.0/8x': the prefix of an IPv4 range is 0 to 32");
    CHECK(error("::ffff:10.0.0.0/8") ==
          "'::ffff:10.0.0.0/8': the prefix of an IPv4-mapped IPv6 range is 96 to 128");
    CHECK(error("::ffff:10.0.0.0/129") ==
          "'::ffff:10.0.0.0/129': the prefix of an IPv4-mapped IPv6 range is 96 to 128");
    CHECK(error("::ffff:10.0.0.1/104") == "'::ffff:10.0.0.1/104' has address bits set past its "
                                          "/104 (the range starts at ::ffff:10.0.0.0/104)");
    CHECK(error("proxy.local") ==
          "'proxy.local' is not an IP address or a CIDR range (10.0.0.0/8, 2001:db8::/32)");
    CHECK(error("10.0.0.1/8") ==
          "'10.0.0.1/8' has address bits set past its /8 (the range starts at 10.0.0.0/8)");
    CHECK(error("2001:db8::1/32") ==
          "'2001:db8::1/32' has address bits set past its /32 (the range starts at "
          "2001:db8::/32)");
}

TEST_CASE("client address: the peer, or behind trusted proxies the nearest untrusted hop", "[ip]") {
    const auto proxies = ranges({"127.0.0.1", "10.0.0.0/8"});
    auto client = [&](const char* remote, const char* header,
                      const std::vector<AddressRange>& trusted) {
        std::optional<IpAddress> ip = client_address(remote, header, trusted);
        return ip ? ip->text() : std::string("(none)");
    };
    SECTION("an untrusted peer is the client, whatever it writes in the header") {
        CHECK(client("198.51.100.7:4711", "203.0.113.5", proxies) == "198.51.100.7");
        CHECK(client("[2001:db8::7]:4711", "", proxies) == "2001:db8::7");
    }
    SECTION("a trusted peer: the header names the client") {
        CHECK(client("127.0.0.1:4711", "203.0.113.5", proxies) == "203.0.113.5");
        CHECK(client("127.0.0.1:4711", " 203.0.113.5 ", proxies) == "203.0.113.5");
    }
    SECTION("read from the right: what the client wrote before the proxies cannot choose") {
        CHECK(client("127.0.0.1:1", "1.1.1.1, 203.0.113.5", proxies) == "203.0.113.5");
        CHECK(client("127.0.0.1:1", "1.1.1.1, 203.0.113.5, 10.2.3.4", proxies) == "203.0.113.5");
    }
    SECTION("every hop trusted: the leftmost") {
        CHECK(client("127.0.0.1:1", "10.9.9.9, 10.1.1.1", proxies) == "10.9.9.9");
    }
    SECTION("an entry that is no address stops at the hop before it") {
        CHECK(client("127.0.0.1:1", "203.0.113.5, unknown", proxies) == "127.0.0.1");
        CHECK(client("127.0.0.1:1", "junk, 10.1.1.1", proxies) == "10.1.1.1");
    }
    SECTION("an entry may carry a port, as some proxies write it") {
        CHECK(client("127.0.0.1:1", "203.0.113.5:4711", proxies) == "203.0.113.5");
        CHECK(client("127.0.0.1:1", "[2001:db8::5]:4711", proxies) == "2001:db8::5");
    }
    SECTION("no trusted proxies: always the peer") {
        CHECK(client("127.0.0.1:1", "203.0.113.5", {}) == "127.0.0.1");
    }
    SECTION("a peer the server could not name has no address") {
        CHECK(client("unknown", "203.0.113.5", proxies) == "(none)");
    }
}
