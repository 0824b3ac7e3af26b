#include "runtime/ip_addresses.h"

#include "runtime/http_text.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ferry {

namespace {

bool any_of_ranges(const IpAddress& ip, const std::vector<AddressRange>& ranges) {
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const AddressRange& r) { return r.contains(ip); });
}

// The address of "203.0.113.5:4711" or "[2001:db8::1]:4711".
std::optional<IpAddress> peer_ip(std::string_view remote) {
    if (remote.starts_with('[')) {
        size_t close = remote.find(']');
        return close == std::string_view::npos ? std::nullopt
                                               : parse_ip(remote.substr(1, close - 1));
    }
    return parse_ip(remote.substr(0, remote.rfind(':')));
}

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view text) {
    if (text.empty() || text.size() >= 64) return std::nullopt;
    const std::string s(text);
    IpAddress ip;
    in_addr v4{};
    if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
        ip.bytes[10] = ip.bytes[11] = 0xff;
        std::memcpy(ip.bytes.data() + 12, &v4, 4);
        ip.v4 = true;
        return ip;
    }
    in6_addr v6{};
    if (::inet_pton(AF_INET6, s.c_str(), &v6) != 1) return std::nullopt;
    std::memcpy(ip.bytes.data(), &v6, 16);
    static constexpr std::array<uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    ip.v4 = std::equal(kMapped.begin(), kMapped.end(), ip.bytes.begin());
    return ip;
}

std::string IpAddress::text() const {
    char out[INET6_ADDRSTRLEN] = {};
    if (v4)
        ::inet_ntop(AF_INET, bytes.data() + 12, out, sizeof out);
    else
        ::inet_ntop(AF_INET6, bytes.data(), out, sizeof out);
    return out;
}

IpAddress network_of(const IpAddress& ip, int prefix) {
    IpAddress out = ip;
    // An IPv4 prefix counts from the mapped form's 97th bit.
    for (int bit = (ip.v4 ? 96 : 0) + prefix; bit < 128; ++bit)
        out.bytes[size_t(bit / 8)] &= uint8_t(~(0x80 >> (bit % 8)));
    return out;
}

bool AddressRange::contains(const IpAddress& ip) const {
    return ip.v4 == base.v4 && network_of(ip, prefix) == network_of(base, prefix);
}

Result<AddressRange> parse_address_range(std::string_view text) {
    const std::string_view given = text;
    size_t slash = text.find('/');
    std::optional<IpAddress> ip = parse_ip(text.substr(0, slash));
    if (!ip)
        return make_error(ErrorKind::Validation,
                          "'" + std::string(given) +
                              "' is not an IP address or a CIDR range (10.0.0.0/8, 2001:db8::/32)");
    AddressRange range{*ip, ip->v4 ? 32 : 128};
    if (slash != std::string_view::npos) {
        std::string_view digits = text.substr(slash + 1);
        int prefix = -1;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        const int most = ip->v4 ? 32 : 128;
        // ::ffff:10.0.0.0/104 is 10.0.0.0/8 written as IPv6: its prefix counts 96 more bits.
        const bool mapped = ip->v4 && text.substr(0, slash).find(':') != std::string_view::npos;
        const int least = mapped ? 96 : 0;
        if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
            prefix < least || prefix > most + least)
            return make_error(ErrorKind::Validation, "'" + std::string(given) +
                                                         "': the prefix of an " +
                                                         (mapped   ? "IPv4-mapped IPv6"
                                                          : ip->v4 ? "IPv4"
                                                                   : "IPv6") +
                                                         " range is " + std::to_string(least) +
                                                         " to " + std::to_string(most + least));
        range.prefix = prefix - least;
        // Bits past the prefix: is the base the range's own first address?
        const IpAddress first = network_of(*ip, range.prefix);
        if (!(first == *ip))
            return make_error(ErrorKind::Validation,
                              "'" + std::string(given) + "' has address bits set past its /" +
                                  std::to_string(prefix) + " (the range starts at " +
                                  (mapped ? "::ffff:" : "") + first.text() + "/" +
                                  std::to_string(prefix) + ")");
    }
    return range;
}

std::optional<IpAddress> client_address(std::string_view remote, std::string_view forwarded_for,
                                        const std::vector<AddressRange>& trusted) {
    std::optional<IpAddress> hop = peer_ip(remote);
    if (!hop) return std::nullopt;
    while (any_of_ranges(*hop, trusted) && !forwarded_for.empty()) {
        size_t comma = forwarded_for.rfind(',');
        std::string_view entry =
            trim(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
        forwarded_for =
            comma == std::string_view::npos ? std::string_view() : forwarded_for.substr(0, comma);
        std::optional<IpAddress> next = parse_ip(entry);
        if (!next) next = peer_ip(entry);  // with a port
        if (!next) break;
        hop = next;
    }
    return hop;
}

}  // namespace ferry
