// Text rules of HTTP/1.1 that the client and the server share (RFC 9110).
#pragma once

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

}  // namespace ferry
