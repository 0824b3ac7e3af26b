// ferry.time: timestamps as integer Unix milliseconds (UTC), text as RFC 3339.
//
// Calendar arithmetic is done here, by hand, rather than with strptime/timegm/gmtime: the
// civil-date algorithms below (Howard Hinnant's days_from_civil and its inverse) are exact
// for the whole proleptic Gregorian calendar, depend on no locale and no TZ variable, and do
// not silently normalise "February 30" into March the way timegm does (a date that does not
// exist is an error here). Text that comes from peers (parse, parse_duration) fails with
// nil, err; malformed arguments the task itself computed (format, add) raise.
#include "runtime/duration.h"
#include "runtime/lua_api/args.h"
#include "runtime/lua_api/guard.h"
#include "runtime/lua_api/modules.h"
#include "runtime/scheduler.h"  // push_error_table

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace ferry::lua_api {

namespace {

constexpr int64_t kMsPerDay = 86'400'000;

struct CivilDate {
    int64_t year;
    unsigned month;  // 1..12
    unsigned day;    // 1..31
};

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day 1..31).
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

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11017).year == 2000 && civil_from_days(11017).month == 3);

// Four-digit years only, as RFC 3339 writes them.
constexpr int64_t kMinMs = days_from_civil(0, 1, 1) * kMsPerDay;
constexpr int64_t kMaxMs = days_from_civil(10000, 1, 1) * kMsPerDay - 1;

unsigned days_in_month(int64_t year, unsigned month) {
    static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : kDays[month - 1];
}

int64_t floor_div(int64_t a, int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// "2026-12-01T05:31:10.123Z" (with_time) or "2026-12-01"; ms within [kMinMs, kMaxMs].
std::string format_rfc3339(int64_t ms, bool with_time) {
    int64_t days = floor_div(ms, kMsPerDay);
    int64_t in_day = ms - days * kMsPerDay;
    CivilDate date = civil_from_days(days);
    char buf[40];
    if (!with_time) {
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(date.year), date.month, date.day);
    } else {
        auto h = unsigned(in_day / 3'600'000), m = unsigned(in_day / 60'000 % 60),
             s = unsigned(in_day / 1000 % 60), milli = unsigned(in_day % 1000);
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", int(date.year),
                      date.month, date.day, h, m, s, milli);
    }
    return buf;
}

// ---- RFC 3339 parsing ------------------------------------------------------------------------

// A cursor over the text; every parse step reports what it expected where.
class Rfc3339Parser {
  public:
    explicit Rfc3339Parser(std::string_view text) : text_(text) {}

    // Unix ms, or nullopt with why() set.
    std::optional<int64_t> parse() {
        int year, month, day;
        if (!digits(4, year) || !expect('-') || !digits(2, month) || !expect('-') ||
            !digits(2, day))
            return std::nullopt;
        if (month < 1 || month > 12) return fail_at(5, "month " + std::to_string(month));
        if (day < 1 || unsigned(day) > days_in_month(year, unsigned(month)))
            return fail_at(8, "day " + std::to_string(day) + " does not exist in that month");
        int64_t days = days_from_civil(year, unsigned(month), unsigned(day));
        if (pos_ == text_.size()) return days * kMsPerDay;  // a date alone: midnight UTC

        // RFC 3339 5.6 allows a space for the 'T' ("for readability"), and lowercase t/z.
        char sep = text_[pos_];
        if (sep != 'T' && sep != 't' && sep != ' ') return fail("expected 'T' after the date");
        ++pos_;
        int hour, minute, second;
        size_t time_at = pos_;
        if (!digits(2, hour) || !expect(':') || !digits(2, minute) || !expect(':') ||
            !digits(2, second))
            return std::nullopt;
        if (hour > 23) return fail_at(time_at, "hour " + std::to_string(hour));
        if (minute > 59) return fail_at(time_at + 3, "minute " + std::to_string(minute));
        // 60 is a leap second (RFC 3339 5.7); Unix time has none, so it counts as the first
        // second of the next minute, as timegm would.
        if (second > 60) return fail_at(time_at + 6, "second " + std::to_string(second));
        int64_t milli = 0;
        if (pos_ < text_.size() && text_[pos_] == '.') {
            ++pos_;
            size_t first = pos_;
            // Any number of digits; beyond milliseconds they are truncated.
            while (pos_ < text_.size() && is_digit(text_[pos_])) {
                if (pos_ - first < 3) milli = milli * 10 + (text_[pos_] - '0');
                ++pos_;
            }
            if (pos_ == first) return fail("expected digits after '.'");
            for (size_t n = pos_ - first; n < 3; ++n)
                milli *= 10;
        }

        int64_t offset_minutes = 0;
        if (pos_ == text_.size())
            return fail("missing time zone: end the time with Z or an offset like +02:00");
        char zone = text_[pos_];
        if (zone == 'Z' || zone == 'z') {
            ++pos_;
        } else if (zone == '+' || zone == '-') {
            ++pos_;
            size_t at = pos_;
            int oh, om;
            if (!digits(2, oh)) return std::nullopt;
            // "+0200" is not RFC 3339 but is what Jira and Java's default formatter write.
            if (pos_ < text_.size() && text_[pos_] == ':') ++pos_;
            if (!digits(2, om)) return std::nullopt;
            if (oh > 23 || om > 59) return fail_at(at, "offset out of range");
            offset_minutes = (zone == '+' ? 1 : -1) * (oh * 60 + om);
        } else {
            return fail("expected Z or an offset like +02:00 after the time");
        }
        if (pos_ != text_.size()) return fail("unexpected text after the time zone");

        int64_t local = days * kMsPerDay + (hour * 3600 + minute * 60 + second) * 1000 + milli;
        return local - offset_minutes * 60'000;  // local = UTC + offset
    }

    const std::string& why() const { return why_; }

  private:
    static bool is_digit(char c) { return c >= '0' && c <= '9'; }

    bool digits(int n, int& out) {
        out = 0;
        for (int i = 0; i < n; ++i, ++pos_) {
            if (pos_ >= text_.size() || !is_digit(text_[pos_])) {
                fail(std::to_string(n) + " digits expected");
                return false;
            }
            out = out * 10 + (text_[pos_] - '0');
        }
        return true;
    }

    bool expect(char c) {
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        fail(std::string("'") + c + "' expected");
        return false;
    }

    std::nullopt_t fail(const std::string& what) { return fail_at(pos_, what); }
    std::nullopt_t fail_at(size_t at, const std::string& what) {
        if (why_.empty()) why_ = what + " at position " + std::to_string(at + 1);
        return std::nullopt;
    }

    std::string_view text_;
    size_t pos_ = 0;
    std::string why_;
};

// [-0, +2, m] nil and a validation error table.
int push_validation_failure(lua_State* L, std::string message) {
    lua_pushnil(L);
    push_error_table(L, make_error(ErrorKind::Validation, std::move(message)));
    return 2;
}

// [-0, +0, v] A timestamp argument that format() can write (years 0000-9999).
int64_t check_timestamp(lua_State* L, int arg) {
    lua_Integer ms = luaL_checkinteger(L, arg);
    luaL_argcheck(L, ms >= kMinMs && ms <= kMaxMs, arg, "timestamp out of range (years 0000-9999)");
    return ms;
}

// [-0, +0, v] A duration argument: integer milliseconds, or text as parse_duration takes it
// with an optional leading '-'. Raises when invalid (the task wrote it).
int64_t check_duration(lua_State* L, int arg) {
    if (lua_type(L, arg) == LUA_TNUMBER) return luaL_checkinteger(L, arg);
    std::string_view text = check_bytes(L, arg);
    bool negative = !text.empty() && text.front() == '-';
    Result<uint64_t> ms = parse_duration_ms(negative ? text.substr(1) : text);
    if (!ms) luaL_argerror(L, arg, ms.error().message.c_str());
    if (ms.value() > uint64_t(LUA_MAXINTEGER)) luaL_argerror(L, arg, "duration too long");
    return negative ? -int64_t(ms.value()) : int64_t(ms.value());
}

// time.now() -> "2026-12-01T05:31:10.123Z"
// [-0, +1, m]
int time_now(lua_State* L) {
    std::string text = format_rfc3339(now_ms(), true);
    lua_pushlstring(L, text.data(), text.size());
    return 1;
}

// time.now_ms() -> integer Unix milliseconds
// [-0, +1, -]
int time_now_ms(lua_State* L) {
    lua_pushinteger(L, now_ms());
    return 1;
}

// time.parse(text) -> ms | nil, err
// [-0, +1|2, m] RFC 3339 ("2026-12-01T07:31:10.5+02:00", "...Z") or a date ("2026-12-01",
// midnight UTC).
int time_parse(lua_State* L) {
    std::string_view text = check_bytes(L, 1);
    Rfc3339Parser parser(text);
    std::optional<int64_t> ms = parser.parse();
    if (!ms) {
        // Quote at most a line of the input: it may be a whole response body.
        std::string quoted(text.substr(0, 64));
        if (text.size() > 64) quoted += "...";
        return push_validation_failure(
            L, "expected an RFC 3339 timestamp like 2026-12-01T05:31:10Z or a date like "
               "2026-12-01, got '" +
                   quoted + "' (" + parser.why() + ")");
    }
    lua_pushinteger(L, *ms);
    return 1;
}

// time.format(ms [, "rfc3339" | "date" | "unix"]) -> string
// [-0, +1, v] rfc3339: "2026-12-01T05:31:10.123Z"; date: "2026-12-01"; unix: whole seconds.
int time_format(lua_State* L) {
    static const char* const kFormats[] = {"rfc3339", "date", "unix", nullptr};
    int64_t ms = check_timestamp(L, 1);
    int format = luaL_checkoption(L, 2, "rfc3339", kFormats);
    std::string text =
        format == 2 ? std::to_string(floor_div(ms, 1000)) : format_rfc3339(ms, format == 0);
    lua_pushlstring(L, text.data(), text.size());
    return 1;
}

// time.parse_duration("1m30s") -> ms | nil, err
// [-0, +1|2, m]
int time_parse_duration(lua_State* L) {
    Result<uint64_t> ms = parse_duration_ms(check_bytes(L, 1));
    if (!ms) return push_validation_failure(L, ms.error().message);
    if (ms.value() > uint64_t(LUA_MAXINTEGER))
        return push_validation_failure(L, "duration too long");
    lua_pushinteger(L, lua_Integer(ms.value()));
    return 1;
}

// time.format_duration(ms) -> "1m30s" (negative durations get a leading '-')
// [-0, +1, v]
int time_format_duration(lua_State* L) {
    lua_Integer ms = luaL_checkinteger(L, 1);
    // Magnitude in unsigned arithmetic: -LUA_MININTEGER does not fit a lua_Integer.
    uint64_t magnitude = ms < 0 ? uint64_t(0) - uint64_t(ms) : uint64_t(ms);
    std::string text = ms < 0 ? "-" : "";
    text += format_duration_ms(magnitude);
    lua_pushlstring(L, text.data(), text.size());
    return 1;
}

// time.add(ms, duration) -> ms; duration is "1h", "-30m" or integer milliseconds
// [-0, +1, v]
int time_add(lua_State* L) {
    lua_Integer ms = luaL_checkinteger(L, 1);
    int64_t delta = check_duration(L, 2);
    int64_t sum = 0;
    if (__builtin_add_overflow(ms, delta, &sum)) return luaL_error(L, "time.add: overflow");
    lua_pushinteger(L, sum);
    return 1;
}

// time.days_between(a_ms, b_ms) -> float days from a to b (negative when b is earlier)
// [-0, +1, v]
int time_days_between(lua_State* L) {
    lua_Integer a = luaL_checkinteger(L, 1);
    lua_Integer b = luaL_checkinteger(L, 2);
    // The difference in integers first, so two large nearby timestamps lose nothing.
    int64_t diff = 0;
    lua_Number days = __builtin_sub_overflow(b, a, &diff)
                          ? (lua_Number(b) - lua_Number(a)) / lua_Number(kMsPerDay)
                          : lua_Number(diff) / lua_Number(kMsPerDay);
    lua_pushnumber(L, days);
    return 1;
}

}  // namespace

int open_time(lua_State* L) {
    static const luaL_Reg kFunctions[] = {
        {"now", guarded<time_now>},
        {"now_ms", guarded<time_now_ms>},
        {"parse", guarded<time_parse>},
        {"format", guarded<time_format>},
        {"parse_duration", guarded<time_parse_duration>},
        {"format_duration", guarded<time_format_duration>},
        {"add", guarded<time_add>},
        {"days_between", guarded<time_days_between>},
        {nullptr, nullptr},
    };
    luaL_newlib(L, kFunctions);
    return 1;
}

}  // namespace ferry::lua_api
