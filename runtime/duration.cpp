#include "runtime/duration.h"

#include <array>
#include <limits>
#include <utility>

namespace ferry {
namespace {

struct Unit {
    std::string_view suffix;
    uint64_t ms;
};

// Largest first: a unit's index is its rank.
constexpr std::array<Unit, 5> kUnits{{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

// The unit text starts with, longest match first ("ms" over "m"); kUnits.size() if none.
size_t match_unit(std::string_view s) {
    size_t best = kUnits.size();
    for (size_t u = 0; u < kUnits.size(); ++u)
        if (s.starts_with(kUnits[u].suffix) &&
            (best == kUnits.size() || kUnits[u].suffix.size() > kUnits[best].suffix.size()))
            best = u;
    return best;
}

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

Error bad_duration(std::string_view text, std::string_view why = {}) {
    std::string msg = "expected a duration like 300ms, 2s, 1m30s or 1h, got '";
    msg.append(text);
    msg += "'";
    if (!why.empty()) {
        msg += " (";
        msg.append(why);
        msg += ")";
    }
    return make_error(ErrorKind::Validation, std::move(msg));
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// a * b + c without wrapping; false on overflow.
bool mul_add(uint64_t a, uint64_t b, uint64_t c, uint64_t& out) {
    if (b != 0 && a > (kMax - c) / b) return false;
    out = a * b + c;
    return true;
}

}  // namespace

Result<uint64_t> parse_duration_ms(std::string_view text) {
    std::string_view s = text;
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    if (s.empty()) return bad_duration(text);

    uint64_t total = 0;
    // Units must come largest first and at most once ("1m30s", not "30s1m" or "1m1m"): a
    // repeated or reordered unit is almost always a typo, and it keeps one spelling per value.
    size_t last_unit = 0;
    bool first = true;
    while (!s.empty()) {
        size_t i = 0;
        uint64_t whole = 0;
        bool any_digit = false;
        while (i < s.size() && is_digit(s[i])) {
            if (!mul_add(whole, 10, uint64_t(s[i] - '0'), whole))
                return bad_duration(text, "too long");
            any_digit = true;
            ++i;
        }
        uint64_t frac = 0, frac_scale = 1;
        if (i < s.size() && s[i] == '.') {
            ++i;
            while (i < s.size() && is_digit(s[i])) {
                // 18 digits keep frac and frac_scale inside 64 bits; more cannot change
                // a whole number of milliseconds unless they are zeros.
                if (frac_scale < 1'000'000'000'000'000'000ull) {
                    frac = frac * 10 + uint64_t(s[i] - '0');
                    frac_scale *= 10;
                } else if (s[i] != '0') {
                    return bad_duration(text, "finer than a millisecond");
                }
                any_digit = true;
                ++i;
            }
        }
        if (!any_digit) return bad_duration(text);
        s.remove_prefix(i);
        size_t u = match_unit(s);
        if (u == kUnits.size()) return bad_duration(text, s.empty() ? "a unit is required" : "");
        const Unit& unit = kUnits[u];
        if (!first && u <= last_unit)
            return bad_duration(text, "units must go from largest to smallest, once each");
        first = false;
        last_unit = u;
        s.remove_prefix(unit.suffix.size());

        // frac / frac_scale of a unit must be a whole number of milliseconds. frac < 10^18
        // and unit.ms <= 8.64e7, so the product needs 128 bits.
        unsigned __int128 frac_ms = static_cast<unsigned __int128>(frac) * unit.ms;
        if (frac_ms % frac_scale != 0) return bad_duration(text, "finer than a millisecond");
        uint64_t part = 0;
        if (!mul_add(whole, unit.ms, uint64_t(frac_ms / frac_scale), part) || part > kMax - total)
            return bad_duration(text, "too long");
        total += part;
    }
    // Beyond any schedule, timeout or retention anyone means, and past it "now + d" in
    // milliseconds leaves the years RFC 3339 can write (and soon int64).
    constexpr uint64_t kCenturyMs = 100ull * 36525 * 86'400'000 / 100;
    if (total > kCenturyMs) return bad_duration(text, "longer than 100 years");
    return total;
}

Result<uint64_t> parse_size_bytes(std::string_view text) {
    auto bad = [&](std::string_view why = {}) {
        std::string msg = "expected a size like 1MiB, 512KiB or 4KB, got '";
        msg.append(text);
        msg += "'";
        if (!why.empty()) msg.append(" (").append(why).append(")");
        return make_error(ErrorKind::Validation, std::move(msg));
    };
    static constexpr std::pair<std::string_view, uint64_t> kSizeUnits[] = {
        {"TiB", uint64_t(1) << 40},
        {"GiB", uint64_t(1) << 30},
        {"MiB", uint64_t(1) << 20},
        {"KiB", uint64_t(1) << 10},
        {"TB", 1'000'000'000'000},
        {"GB", 1'000'000'000},
        {"MB", 1'000'000},
        {"KB", 1'000},
        {"B", 1},
    };
    size_t i = 0;
    uint64_t count = 0;
    while (i < text.size() && is_digit(text[i])) {
        if (!mul_add(count, 10, uint64_t(text[i] - '0'), count)) return bad("too large");
        ++i;
    }
    if (i == 0) return bad();
    std::string_view unit = text.substr(i);
    for (const auto& [suffix, bytes] : kSizeUnits) {
        if (unit != suffix) continue;
        uint64_t total = 0;
        if (!mul_add(count, bytes, 0, total)) return bad("too large");
        return total;
    }
    return bad(unit.empty() ? "a unit is required" : "");
}

std::string format_size_bytes(uint64_t bytes) {
    static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
        {"TiB", uint64_t(1) << 40}, {"GiB", uint64_t(1) << 30},
        {"MiB", uint64_t(1) << 20}, {"KiB", uint64_t(1) << 10},
        {"TB", 1'000'000'000'000},  {"GB", 1'000'000'000},
        {"MB", 1'000'000},          {"KB", 1'000},
    };
    std::string exact = std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
    if (bytes == 0) return exact;
    for (const auto& [unit, size] : kUnits) {
        if (bytes % size == 0)
            return std::to_string(bytes / size) + std::string(unit) + " (" + exact + ")";
    }
    return exact;
}

std::string format_duration_ms(uint64_t ms) {
    if (ms == 0) return "0s";
    uint64_t days = ms / 86'400'000;
    uint64_t hours = ms / 3'600'000 % 24;
    uint64_t minutes = ms / 60'000 % 60;
    uint64_t seconds = ms / 1'000 % 60;
    uint64_t millis = ms % 1'000;

    std::string head;
    if (days) head += std::to_string(days) + "d";
    if (hours) head += std::to_string(hours) + "h";
    if (minutes) head += std::to_string(minutes) + "m";

    // Whole units, milliseconds as their own component: "1s1ms", "250ms".
    std::string split = head;
    if (seconds) split += std::to_string(seconds) + "s";
    if (millis) split += std::to_string(millis) + "ms";
    if (millis == 0 || seconds == 0) return split;

    // With a seconds component, a decimal fraction is often shorter: "1.5s" over "1s500ms".
    std::string frac = std::to_string(1000 + millis).substr(1);
    while (frac.back() == '0')
        frac.pop_back();
    std::string decimal = head + std::to_string(seconds) + "." + frac + "s";
    return decimal.size() < split.size() ? decimal : split;
}

}  // namespace ferry
