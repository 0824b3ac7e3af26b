#include "runtime/timestamp.h"

#include "runtime/duration.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>

namespace ferry {

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11017).year == 2000 && civil_from_days(11017).month == 3);

namespace {

int64_t floor_div(int64_t a, int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

unsigned days_in_month(int64_t year, unsigned month) {
    static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : kDays[month - 1];
}

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

}  // namespace

uint64_t now_unix_ms() {
    return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

size_t format_rfc3339(int64_t unix_ms, char (&out)[kRfc3339Max]) {
    // Records are written many times a second with the same date and time to the second:
    // only the milliseconds change then.
    struct LastSecond {
        int64_t second = INT64_MIN;
        char text[kRfc3339Max];
    };
    thread_local LastSecond last;
    const int64_t second = floor_div(unix_ms, 1000);
    if (second == last.second) {
        std::memcpy(out, last.text, 25);
        auto milli = unsigned(unix_ms - second * 1000);
        out[20] = char('0' + milli / 100);
        out[21] = char('0' + milli / 10 % 10);
        out[22] = char('0' + milli % 10);
        return 24;
    }
    int64_t days = floor_div(unix_ms, kMsPerDay);
    int64_t in_day = unix_ms - days * kMsPerDay;
    CivilDate date = civil_from_days(days);
    auto h = unsigned(in_day / 3'600'000), m = unsigned(in_day / 60'000 % 60),
         s = unsigned(in_day / 1000 % 60), milli = unsigned(in_day % 1000);
    if (date.year < 0 || date.year > 9999) {  // not four digits: the general path
        int n =
            std::snprintf(out, sizeof out, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ",
                          static_cast<long long>(date.year), date.month, date.day, h, m, s, milli);
        return n < 0 ? 0 : std::min(size_t(n), sizeof out - 1);
    }
    std::memcpy(out, "0000-00-00T00:00:00.000Z", 25);
    auto put = [&out](int at, unsigned value, int digits) {
        for (int i = digits - 1; i >= 0; --i, value /= 10)
            out[at + i] = char('0' + value % 10);
    };
    put(0, unsigned(date.year), 4);
    put(5, date.month, 2);
    put(8, date.day, 2);
    put(11, h, 2);
    put(14, m, 2);
    put(17, s, 2);
    put(20, milli, 3);
    last.second = second;
    std::memcpy(last.text, out, 25);
    return 24;
}

std::string rfc3339(int64_t unix_ms) {
    char buf[kRfc3339Max];
    return std::string(buf, format_rfc3339(unix_ms, buf));
}

std::string rfc3339_date(int64_t unix_ms) {
    char buf[kRfc3339Max];
    size_t n = format_rfc3339(unix_ms, buf);
    return std::string(buf, n - (sizeof "T00:00:00.000Z" - 1));
}

Result<int64_t> parse_rfc3339_ms(std::string_view text) {
    Rfc3339Parser parser(text);
    if (std::optional<int64_t> ms = parser.parse()) return *ms;
    // Quote at most a line of the input: it may be a whole response body.
    std::string quoted(text.substr(0, 64));
    if (text.size() > 64) quoted += "...";
    return make_error(ErrorKind::Validation,
                      "expected an RFC 3339 timestamp like 2026-12-01T05:31:10Z or a date like "
                      "2026-12-01, got '" +
                          quoted + "' (" + parser.why() + ")");
}

Result<uint64_t> parse_time_or_age(std::string_view text, uint64_t now_ms) {
    const std::string shown =
        text.size() > 64 ? std::string(text.substr(0, 64)) + "..." : std::string(text);
    if (text.size() > 1 && text[0] == '-' && parse_duration_ms(text.substr(1)))
        return make_error(ErrorKind::Validation, "an age has no sign: it counts back from now (" +
                                                     shown.substr(1) + ", not " + shown + ")");
    if (text.find('-') == std::string_view::npos) {
        Result<uint64_t> age = parse_duration_ms(text);
        if (!age) {
            // What is wrong with an age ("'100000d' (longer than 100 years)", "'5' (a unit
            // is required)") is kept: the forms alone do not say it.
            const std::string& m = age.error().message;
            const size_t why = m.ends_with(')') ? m.rfind("' (") : std::string::npos;
            return make_error(ErrorKind::Validation,
                              "expected a date or time (2026-12-01, 2026-12-01T08:00:00Z) or an "
                              "age (30m, 24h, 7d), got '" +
                                  shown + "'" +
                                  (why == std::string::npos ? "" : m.substr(why + 1)));
        }
        return age.value() < now_ms ? now_ms - age.value() : 0;
    }
    Result<int64_t> ms = parse_rfc3339_ms(text);
    if (!ms) return ms.error();
    return ms.value() > 0 ? uint64_t(ms.value()) : 0;
}

}  // namespace ferry
