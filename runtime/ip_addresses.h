// IP addresses and ranges (CIDR), and the client a request comes from behind trusted
// reverse proxies: what per-client limits key on.
#pragma once

#include "runtime/error.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

// IPv4 or IPv6, 16 bytes; an IPv4 address (and an IPv4-mapped IPv6 one, ::ffff:a.b.c.d,
// which a dual-stack socket reports) is held as the mapped form, so the two compare equal.
struct IpAddress {
    std::array<uint8_t, 16> bytes{};
    bool v4 = false;
    std::string text() const;  // 203.0.113.5, 2001:db8::1
    bool operator==(const IpAddress&) const = default;
};

// "203.0.113.5", "2001:db8::1"; nullopt for anything else (a port, brackets, a name).
std::optional<IpAddress> parse_ip(std::string_view text);

// The first address of ip's /prefix: the bits past the prefix cleared (an IPv4 address's
// prefix counts its own 32 bits). 2001:db8:1:2::7 and 64: 2001:db8:1:2::.
IpAddress network_of(const IpAddress& ip, int prefix);

// An address or a CIDR range: 10.0.0.0/8, 2001:db8::/32, 127.0.0.1 (a /32).
struct AddressRange {
    IpAddress base;
    int prefix = 0;  // bits of base that must match (of 32 for IPv4, 128 for IPv6)
    bool contains(const IpAddress& ip) const;
};

// A Validation error says what is wrong ("10.0.0.0/33: the prefix of an IPv4 range is 0 to
// 32"); bits set past the prefix are refused (10.0.0.1/8 is a typo for 10.0.0.0/8 or
// 10.0.0.1/32, which it is not ours to guess).
Result<AddressRange> parse_address_range(std::string_view text);

// Who sent a request: the peer's address (`remote` as the HTTP server reports it:
// "203.0.113.5:4711", "[2001:db8::1]:4711"), or, when the peer is one of `trusted` (the
// reverse proxies in front of the server), the address X-Forwarded-For names nearest to
// it that is not trusted, read from the right: what a client writes into the header
// itself is left of what the proxies append, so it cannot choose its own identity. All
// entries trusted: the leftmost. An entry that is no address stops the walk at the hop
// before it (an entry may carry a port, as some proxies write it: 203.0.113.5:4711). No
// trusted peer, no header: the peer. nullopt when `remote` is no address.
std::optional<IpAddress> client_address(std::string_view remote, std::string_view forwarded_for,
                                        const std::vector<AddressRange>& trusted);

}  // namespace ferry
