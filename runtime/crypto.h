// Small crypto and encoding helpers over OpenSSL, for ferry.crypto, Standard Webhooks
// signatures, token hashing and idempotency keys.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry::crypto {

std::string sha256(std::string_view data);                             // raw 32 bytes
std::string sha256_hex(std::string_view data);                         // lowercase hex
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string hex_encode(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view hex);
std::string base64_encode(std::string_view bytes, bool url_safe = false, bool pad = true);
// Accepts standard and URL-safe alphabets, with or without padding; nullopt when invalid.
std::optional<std::string> base64_decode(std::string_view text);
std::string random_bytes(size_t n);
// Comparison whose time does not depend on where the inputs differ (CRYPTO_memcmp).
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace ferry::crypto
