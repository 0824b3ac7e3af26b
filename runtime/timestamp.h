// Timestamps as Unix milliseconds (UTC) and their RFC 3339 text: the one clock and the one
// reader and writer of that text for the engine's records, the CLI and ferry.time.
//
// Calendar arithmetic is done by hand rather than with strptime/timegm/gmtime: the civil-date
// algorithms (Howard Hinnant's days_from_civil and its inverse) are exact for the whole
// proleptic Gregorian calendar, depend on no locale and no TZ variable, and do not silently
// normalise "February 30" into March the way timegm does (a date that does not exist is an
// error here). Formatting by hand also matters for speed: every stored record carries
// several timestamps, and snprintf plus gmtime_r cost ~4,000 instructions a call.
#pragma once

#include "runtime/error.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry {

// Now, from the system clock.
uint64_t now_unix_ms();

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day 1..31), and back.
struct CivilDate {
    int64_t year;
    unsigned month;  // 1..12
    unsigned day;    // 1..31
};
constexpr int64_t kMsPerDay = 86'400'000;

constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = unsigned(y - era * 400);                          // [0, 399]
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
    return era * 146097 + int64_t(doe) - 719468;
}

constexpr CivilDate civil_from_days(int64_t z) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = unsigned(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {int64_t(yoe) + era * 400 + (m <= 2), m, d};
}

// The timestamps RFC 3339 can write with four-digit years (0000-01-01 to 9999-12-31).
constexpr int64_t kRfc3339MinMs = days_from_civil(0, 1, 1) * kMsPerDay;
constexpr int64_t kRfc3339MaxMs = days_from_civil(10000, 1, 1) * kMsPerDay - 1;

// "2026-12-01T05:31:10.123Z" into a buffer (no allocation); returns the length. Years past
// 9999 or before 0000 are written with as many digits as they need (a sign when negative).
constexpr size_t kRfc3339Max = 40;
size_t format_rfc3339(int64_t unix_ms, char (&out)[kRfc3339Max]);
std::string rfc3339(int64_t unix_ms);
// "2026-12-01": the date alone (UTC).
std::string rfc3339_date(int64_t unix_ms);

// "2026-12-01T07:31:10.5+02:00", "...Z", "2026-12-01" (midnight UTC) -> Unix ms. Also takes a
// space or lowercase t for the 'T', lowercase z, and "+0200" offsets (Jira and Java write
// them). Digits past milliseconds are truncated; second 60 (a leap second) is the next
// minute's first. A Validation error quotes the text (at most 64 bytes of it) and says what
// was expected where.
Result<int64_t> parse_rfc3339_ms(std::string_view text);

// A point in time as a person gives one to filter by: a date or time as above, or an age
// counted back from now_ms (30m, 24h, 7d). Unix ms, 0 for times at or before 1970. A
// Validation error says which forms are taken ("-2h": an age has no sign).
Result<uint64_t> parse_time_or_age(std::string_view text, uint64_t now_ms);

}  // namespace ferry
