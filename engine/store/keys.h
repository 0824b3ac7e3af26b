// Key encoding for the store's LMDB databases (private to engine/store).
//
// LMDB orders keys as plain bytes (memcmp, then shorter first), so composite keys join their
// parts with '\0' and numbers are fixed-width big-endian: "exec\0step\0<u32 BE>" sorts by
// execution, then step, then attempt number. Parts that come before a '\0' must not contain
// one themselves (the store checks this before writing), or prefixes would overlap.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::store::keys {

inline std::string join(std::string_view a, std::string_view b) {
    std::string k;
    k.reserve(a.size() + 1 + b.size());
    k.append(a);
    k += '\0';
    k.append(b);
    return k;
}

// The prefix shared by every key whose first part is `part`.
inline std::string prefix(std::string_view part) {
    return join(part, {});
}

inline std::string append_be(std::string key, uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i)
        key += static_cast<char>((value >> (8 * i)) & 0xff);
    return key;
}

inline uint64_t read_be(std::string_view bytes) {
    uint64_t v = 0;
    for (char c : bytes)
        v = (v << 8) | static_cast<unsigned char>(c);
    return v;
}

// The smallest key greater than every key starting with `prefix`, or nullopt when there is
// none (the prefix is all 0xff bytes). Used as an exclusive upper bound to seek backwards.
inline std::optional<std::string> prefix_end(std::string prefix) {
    while (!prefix.empty()) {
        auto last = static_cast<unsigned char>(prefix.back());
        if (last != 0xff) {
            prefix.back() = static_cast<char>(last + 1);
            return prefix;
        }
        prefix.pop_back();
    }
    return std::nullopt;
}

inline bool starts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace ferry::store::keys
