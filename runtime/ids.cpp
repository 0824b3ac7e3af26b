// ULIDs (https://github.com/ulid/spec) and UUID v4 (RFC 4122 section 4.4).
//
// A ULID is 48 bits of Unix time in milliseconds followed by 80 random bits, written as 26
// Crockford base32 characters (10 for the time, 16 for the randomness). Because the time comes
// first and the alphabet is in ASCII order, ids sort by creation time as plain bytes, which is
// what the store's LMDB keys rely on.
#include "runtime/ids.h"
#include "runtime/timestamp.h"

#include <openssl/rand.h>

#include <array>
#include <mutex>
#include <random>

namespace ferry {

namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr uint64_t kMaxTime = (uint64_t{1} << 48) - 1;
constexpr size_t kUlidLength = 26;

using Random80 = std::array<uint8_t, 10>;

// Crockford value of a canonical (upper-case) character, or -1. Decoding is deliberately
// strict: the store compares ids as bytes, so a lower-case or I/L/O spelling of the same id
// would sort elsewhere and must not pass as a ULID.
int decode_char(char c) {
    for (int i = 0; i < 32; ++i)
        if (kAlphabet[i] == c) return i;
    return -1;
}

void fill_random(uint8_t* out, size_t n) {
    if (RAND_bytes(out, static_cast<int>(n)) == 1) return;
    // RAND_bytes fails only when OpenSSL cannot seed itself; ids must still be produced (they
    // need uniqueness, not secrecy), so fall back to the OS generator behind random_device.
    static std::random_device device;
    for (size_t i = 0; i < n; ++i)
        out[i] = static_cast<uint8_t>(device());
}

// Adds one to the 80-bit big-endian number; false when it wraps around.
bool increment(Random80& r) {
    for (size_t i = r.size(); i-- > 0;) {
        if (++r[i] != 0) return true;
    }
    return false;
}

std::string encode(uint64_t time_ms, const Random80& r) {
    std::string out(kUlidLength, '0');
    uint64_t t = time_ms;
    for (size_t i = 10; i-- > 0;) {
        out[i] = kAlphabet[t & 31];
        t >>= 5;
    }
    // 80 random bits = two groups of 40 bits = 16 characters of 5 bits.
    for (size_t half = 0; half < 2; ++half) {
        uint64_t bits = 0;
        for (size_t i = 0; i < 5; ++i)
            bits = (bits << 8) | r[half * 5 + i];
        for (size_t i = 8; i-- > 0;) {
            out[10 + half * 8 + i] = kAlphabet[bits & 31];
            bits >>= 5;
        }
    }
    return out;
}

// The spec's monotonic mode: within one millisecond the next id is the previous one plus
// one, so ids made faster than the clock ticks still sort in creation order.
struct Stream {
    uint64_t last_ms = 0;
    Random80 last{};
    bool used = false;

    std::string next(uint64_t ms) {
        if (used && ms == last_ms) {
            if (increment(last)) return encode(ms, last);
            // 2^80 ids in one millisecond cannot happen in practice; if it did, moving to the
            // next millisecond keeps the order rather than failing.
            if (ms < kMaxTime) ++ms;
        }
        fill_random(last.data(), last.size());
        last_ms = ms;
        used = true;
        return encode(ms, last);
    }
};

// Shared by every thread of the process. Ids from the clock and ids for an explicit time keep
// separate streams: an explicit time far in the past or future (an import, a test) must not
// pull the clock's ids with it, nor break their order.
struct Generator {
    std::mutex mutex;
    Stream clock;
    Stream given;

    std::string from_clock(uint64_t ms) {
        std::lock_guard<std::mutex> lock(mutex);
        if (ms > kMaxTime) ms = kMaxTime;
        // The wall clock may step back (NTP): stay on the last millisecond so ids keep
        // increasing.
        if (clock.used && ms < clock.last_ms) ms = clock.last_ms;
        return clock.next(ms);
    }

    std::string at(uint64_t ms) {
        std::lock_guard<std::mutex> lock(mutex);
        if (ms > kMaxTime) ms = kMaxTime;
        // The clock's current millisecond: continue its sequence, so the ids still sort in
        // the order they were made.
        if (clock.used && ms == clock.last_ms) return clock.next(ms);
        return given.next(ms);
    }
};

Generator& generator() {
    static Generator g;
    return g;
}

}  // namespace

std::string new_ulid() {
    return generator().from_clock(now_unix_ms());
}

std::string new_ulid(uint64_t unix_ms) {
    return generator().at(unix_ms);
}

bool is_ulid(const std::string& text) {
    if (text.size() != kUlidLength) return false;
    // 26 characters hold 130 bits; the first carries only the top 3 bits of the 48-bit time.
    if (decode_char(text[0]) < 0 || decode_char(text[0]) > 7) return false;
    for (char c : text)
        if (decode_char(c) < 0) return false;
    return true;
}

uint64_t ulid_time_ms(const std::string& ulid) {
    if (!is_ulid(ulid)) return 0;
    uint64_t t = 0;
    for (size_t i = 0; i < 10; ++i)
        t = (t << 5) | static_cast<uint64_t>(decode_char(ulid[i]));
    return t;
}

std::string new_uuid_v4() {
    std::array<uint8_t, 16> b;
    fill_random(b.data(), b.size());
    b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
    b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx (RFC 4122)
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += kHex[b[i] >> 4];
        out += kHex[b[i] & 15];
    }
    return out;
}

}  // namespace ferry
