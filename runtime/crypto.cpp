// Hashes, MACs and encodings over OpenSSL 3. The one-shot EVP_Digest and HMAC entry points
// are used (not the deprecated SHA256_* / HMAC_CTX_* families); the encoders are written out
// by hand because OpenSSL's EVP_EncodeBlock knows neither the URL-safe alphabet nor
// unpadded output, and its decoder accepts whitespace and non-canonical trailing bits.
#include "runtime/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <stdexcept>

namespace ferry::crypto {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kStdAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// OpenSSL wants a non-null pointer even for zero bytes: HMAC() treats a null key as "reuse
// the previous key", which for a fresh context is an error rather than the empty key.
const unsigned char* bytes_of(std::string_view s) {
    static const unsigned char kEmpty[1] = {0};
    return s.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Which alphabet a base64 character belongs to; both agree on letters and digits.
enum class Alphabet { Either, Standard, Url };

int base64_value(char c, Alphabet& seen) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    Alphabet mine = Alphabet::Either;
    int value = -1;
    switch (c) {
    case '+': mine = Alphabet::Standard, value = 62; break;
    case '/': mine = Alphabet::Standard, value = 63; break;
    case '-': mine = Alphabet::Url, value = 62; break;
    case '_': mine = Alphabet::Url, value = 63; break;
    default: return -1;
    }
    // A text mixing '+' and '-' is neither alphabet: reject it rather than guess.
    if (seen != Alphabet::Either && seen != mine) return -1;
    seen = mine;
    return value;
}

// SHA-256 fetched once: EVP_sha256() makes every EVP_Digest do an implicit fetch (a locked
// lookup in the provider's method store), which is more than half of the cost of hashing a
// short string (580 ns vs 220 ns). The engine hashes for every idempotency key it writes.
const EVP_MD* sha256_md() {
    static const EVP_MD* md = [] {
        const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
        return fetched ? fetched : EVP_sha256();
    }();
    return md;
}

}  // namespace

std::string sha256(std::string_view data) {
    // One context per thread, reset by each init: EVP_Digest allocates and frees one per
    // call, which cost as much as hashing a short text.
    struct Context {
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        ~Context() { EVP_MD_CTX_free(ctx); }
    };
    thread_local Context context;
    std::string out(32, '\0');
    unsigned int len = 0;
    if (!context.ctx || EVP_DigestInit_ex2(context.ctx, sha256_md(), nullptr) != 1 ||
        EVP_DigestUpdate(context.ctx, bytes_of(data), data.size()) != 1 ||
        EVP_DigestFinal_ex(context.ctx, reinterpret_cast<unsigned char*>(out.data()), &len) != 1 ||
        len != out.size())
        throw std::runtime_error("SHA-256 failed (OpenSSL EVP_Digest*)");
    return out;
}

std::string sha256_hex(std::string_view data) {
    return hex_encode(sha256(data));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    // HMAC() takes the key length as an int.
    if (key.size() > size_t(INT_MAX)) throw std::length_error("HMAC key too long");
    std::string out(32, '\0');
    unsigned int len = 0;
    if (HMAC(sha256_md(), bytes_of(key), int(key.size()), bytes_of(data), data.size(),
             reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr ||
        len != out.size())
        throw std::runtime_error("HMAC-SHA256 failed (OpenSSL HMAC)");
    return out;
}

std::string hex_encode(std::string_view bytes) {
    // Written by index: a push per digit checked the capacity each time (a third of the
    // cost of an idempotency key).
    std::string out(bytes.size() * 2, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) {
        const auto b = static_cast<unsigned char>(bytes[i]);
        out[2 * i] = kHexDigits[b >> 4];
        out[2 * i + 1] = kHexDigits[b & 15];
    }
    return out;
}

std::optional<std::string> hex_decode(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    std::string out;
    out.reserve(hex.size() / 2);
    for (size_t i = 0; i < hex.size(); i += 2) {
        int hi = hex_value(hex[i]);
        int lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += char((hi << 4) | lo);
    }
    return out;
}

std::string base64_encode(std::string_view bytes, bool url_safe, bool pad) {
    const char* alphabet = url_safe ? kUrlAlphabet : kStdAlphabet;
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        uint32_t n = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                     uint32_t(uint8_t(bytes[i + 2]));
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        out += alphabet[n & 63];
    }
    size_t rest = bytes.size() - i;
    if (rest == 0) return out;
    uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    if (rest == 2) out += alphabet[(n >> 6) & 63];
    if (pad) out.append(3 - rest, '=');
    return out;
}

// Strict RFC 4648 decoding: no whitespace or line breaks, padding either complete or absent,
// '=' only at the end, one alphabet per text, and the unused low bits of the last character
// zero (section 3.5), so every byte string has exactly one accepted text per alphabet and
// padding choice. Signatures compared after decoding cannot be smuggled in two spellings.
std::optional<std::string> base64_decode(std::string_view text) {
    size_t padding = 0;
    while (padding < text.size() && padding < 2 && text[text.size() - 1 - padding] == '=')
        ++padding;
    if (padding > 0 && text.size() % 4 != 0) return std::nullopt;
    std::string_view body = text.substr(0, text.size() - padding);
    if (body.size() % 4 == 1) return std::nullopt;  // 6 bits cannot make a byte
    if (padding > 0 && (body.size() + padding) % 4 != 0) return std::nullopt;

    Alphabet seen = Alphabet::Either;
    std::string out;
    out.reserve(body.size() / 4 * 3 + 2);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : body) {
        int v = base64_value(c, seen);
        if (v < 0) return std::nullopt;  // includes a stray '=' in the middle
        acc = (acc << 6) | uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += char((acc >> bits) & 0xFF);
        }
    }
    // Left-over bits (2 or 4) must be zero for a canonical encoding.
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

std::string random_bytes(size_t n) {
    std::string out(n, '\0');
    auto* p = reinterpret_cast<unsigned char*>(out.data());
    // RAND_bytes takes an int; large requests go in chunks.
    while (n > 0) {
        int chunk = int(std::min<size_t>(n, size_t(1) << 20));
        if (RAND_bytes(p, chunk) != 1)
            throw std::runtime_error("the system random generator failed (OpenSSL RAND_bytes)");
        p += chunk;
        n -= size_t(chunk);
    }
    return out;
}

// The length is not secret (both are usually fixed-size MACs), so unequal lengths return
// early; equal lengths are compared in time independent of the contents.
bool constant_time_equals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ferry::crypto
