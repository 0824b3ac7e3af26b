// Text rules of HTTP/1.1 that the client and the server share (RFC 9110).
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

// ASCII case-insensitive equality, as header names and tokens compare.
inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// Without the blanks around it (a header's value, a list entry), and a line's CR LF.
inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

// ASCII lower case (header names, schemes, hosts); other bytes unchanged.
inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
}

// Whether a URL is absolute with an http or https scheme, in any case (RFC 3986 3.1:
// `HTTP://host/x` is that URL, not a path to join to a base URL).
inline bool is_http_url(std::string_view url) {
    const std::string head = ascii_lower(url.substr(0, 8));
    return head.rfind("http://", 0) == 0 || head.rfind("https://", 0) == 0;
}

// Whether a URL holds a byte no URL may: a space, a control character (a CR or LF would
// let it inject request lines) or DEL.
inline bool url_has_space_or_control(std::string_view url) {
    for (unsigned char c : url)
        if (c <= 0x20 || c == 0x7F) return true;
    return false;
}

// Where a URL's user info is (`user:password` of `scheme://user:password@host/...`, or of
// `user:password@host/...` without a scheme): its first byte and the '@' after it; nullopt
// for a URL without one. The last '@' before the path, query or fragment ends it.
struct UserInfo {
    size_t start, at;
};
inline std::optional<UserInfo> url_user_info(std::string_view url) {
    const size_t scheme_end = url.find("://");
    const size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    const size_t authority_end = std::min(url.find_first_of("/?#", start), url.size());
    const size_t at = url.substr(start, authority_end - start).rfind('@');
    if (at == std::string_view::npos) return std::nullopt;
    return UserInfo{start, start + at};
}

// The URL as history and previews show it: user info holding a password keeps the user
// (`https://admin:[REDACTED]@host/...`), one without (a token written as the user name) is
// replaced whole; the rest, query included, as written. A request's URL may come from an
// input or a vendor's "next" link, and its credentials were stored in clear.
inline std::string url_without_password(std::string_view url) {
    const std::optional<UserInfo> info = url_user_info(url);
    if (!info || url.find("://") == std::string_view::npos) return std::string(url);
    const std::string_view user = url.substr(info->start, info->at - info->start);
    const size_t colon = user.find(':');
    const std::string shown = colon == std::string_view::npos
                                  ? std::string("[REDACTED]")
                                  : std::string(user.substr(0, colon)) + ":[REDACTED]";
    return std::string(url.substr(0, info->start)) + shown + std::string(url.substr(info->at));
}

// base and path joined by exactly one '/' (path may start with slashes; empty: base).
inline std::string join_url(std::string_view base, std::string_view path) {
    if (path.empty()) return std::string(base);
    while (!base.empty() && base.back() == '/')
        base.remove_suffix(1);
    while (!path.empty() && path.front() == '/')
        path.remove_prefix(1);
    std::string out(base);
    out += '/';
    out += path;
    return out;
}

// Whether s is an RFC 9110 token, as a method or a header name must be.
inline bool is_http_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

// Percent-encoding of everything but RFC 3986's unreserved characters and those in keep,
// for query strings and application/x-www-form-urlencoded bodies (keep empty) and for
// recognising a value other encoders wrote (Python's quote keeps "/", encodeURI more).
inline std::string url_encode(std::string_view s, std::string_view keep = {},
                              bool lower_hex = false) {
    const char* hex = lower_hex ? "0123456789abcdef" : "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        bool unreserved = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                          (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.' || c == '~';
        if (unreserved || (c && keep.find(char(c)) != std::string_view::npos)) {
            out += char(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace ferry
