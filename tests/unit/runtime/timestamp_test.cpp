#include "runtime/timestamp.h"

#include <catch2/catch.hpp>

using namespace ferry;

namespace {

int64_t parsed(std::string_view text) {
    Result<int64_t> r = parse_rfc3339_ms(text);
    INFO(std::string(text) + ": " + (r ? std::string("ok") : r.error().message));
    REQUIRE(r);
    return r.value();
}

std::string why_not(std::string_view text) {
    Result<int64_t> r = parse_rfc3339_ms(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::Validation);
    return r.error().message;
}

}  // namespace

TEST_CASE("timestamps: written as RFC 3339 in UTC with milliseconds", "[timestamp]") {
    CHECK(rfc3339(0) == "1970-01-01T00:00:00.000Z");
    CHECK(rfc3339(1614183730123) == "2021-02-24T16:22:10.123Z");
    CHECK(rfc3339(951782400000) == "2000-02-29T00:00:00.000Z");  // a leap day
    CHECK(rfc3339(-1) == "1969-12-31T23:59:59.999Z");            // before 1970
    CHECK(rfc3339(kRfc3339MinMs) == "0000-01-01T00:00:00.000Z");
    CHECK(rfc3339(kRfc3339MaxMs) == "9999-12-31T23:59:59.999Z");
    // Past four digits the year takes the digits it needs (records never hold these).
    CHECK(rfc3339(kRfc3339MaxMs + 1) == "10000-01-01T00:00:00.000Z");
    CHECK(rfc3339_date(1614183730123) == "2021-02-24");
    char buf[kRfc3339Max];
    CHECK(format_rfc3339(1614183730123, buf) == 24);
}

TEST_CASE("timestamps: consecutive times within and across a second", "[timestamp]") {
    // The date and time of the last second written are reused: only the milliseconds change.
    CHECK(rfc3339(1614183730123) == "2021-02-24T16:22:10.123Z");
    CHECK(rfc3339(1614183730007) == "2021-02-24T16:22:10.007Z");
    CHECK(rfc3339(1614183730999) == "2021-02-24T16:22:10.999Z");
    CHECK(rfc3339(1614183731000) == "2021-02-24T16:22:11.000Z");
    CHECK(rfc3339(1614183729999) == "2021-02-24T16:22:09.999Z");
    CHECK(rfc3339(-1) == "1969-12-31T23:59:59.999Z");
    CHECK(rfc3339(-1000) == "1969-12-31T23:59:59.000Z");
    CHECK(rfc3339(kRfc3339MaxMs + 1) == "10000-01-01T00:00:00.000Z");
    CHECK(rfc3339(kRfc3339MaxMs + 2) == "10000-01-01T00:00:00.001Z");
    CHECK(rfc3339(kRfc3339MaxMs) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("timestamps: the written text reads back to the same millisecond", "[timestamp]") {
    for (int64_t ms : {int64_t(0), int64_t(1), int64_t(-1), int64_t(1614183730123),
                       int64_t(951868799999), kRfc3339MinMs, kRfc3339MaxMs})
        CHECK(parsed(rfc3339(ms)) == ms);
}

TEST_CASE("timestamps: offsets, dates, fractions and the forms peers write", "[timestamp]") {
    const int64_t t = 1614183730000;  // 2021-02-24T16:22:10Z
    CHECK(parsed("2021-02-24T18:22:10+02:00") == t);
    CHECK(parsed("2021-02-24T11:22:10-05:00") == t);
    CHECK(parsed("2021-02-24T18:22:10+0200") == t);  // Jira's form
    CHECK(parsed("2021-02-24 16:22:10Z") == t);
    CHECK(parsed("2021-02-24t16:22:10z") == t);
    CHECK(parsed("2021-02-24T16:22:10.5Z") == t + 500);
    CHECK(parsed("2021-02-24T16:22:10.123456789Z") == t + 123);  // truncated, not rounded
    CHECK(parsed("2021-02-24") == t - (16 * 3600 + 22 * 60 + 10) * 1000);
    CHECK(parsed("2016-12-31T23:59:60Z") == parsed("2017-01-01T00:00:00Z"));  // leap second
}

TEST_CASE("timestamps: what is not a timestamp says where and why", "[timestamp]") {
    CHECK(why_not("2021-02-30") ==
          "expected an RFC 3339 timestamp like 2026-12-01T05:31:10Z or a date like 2026-12-01, "
          "got '2021-02-30' (day 30 does not exist in that month at position 9)");
    CHECK_THAT(why_not("2021-13-01"), Catch::Contains("month 13 at position 6"));
    CHECK_THAT(why_not("2021-02-24T16:22:10"), Catch::Contains("missing time zone"));
    CHECK_THAT(why_not("2021-02-24T24:00:00Z"), Catch::Contains("hour 24"));
    CHECK_THAT(why_not("2021-02-24T16:22:10Zjunk"), Catch::Contains("unexpected text"));
    CHECK_THAT(why_not("yesterday"), Catch::Contains("4 digits expected at position 1"));
    CHECK_THAT(why_not(""), Catch::Contains("got ''"));
    // A long text (a response body, say) is quoted only in part.
    std::string body(500, 'x');
    CHECK_THAT(why_not(body), Catch::Contains("got '" + std::string(64, 'x') + "...'"));
}

TEST_CASE("timestamps: the clock is Unix milliseconds", "[timestamp]") {
    uint64_t now = now_unix_ms();
    CHECK(now > uint64_t(parsed("2026-01-01")));
    CHECK(now < uint64_t(parsed("2100-01-01")));
}

TEST_CASE("parse_time_or_age: a date, a time or an age back from now", "[timestamp]") {
    const uint64_t now = 1'796'000'000'000;  // 2026-11-30T...Z
    CHECK(parse_time_or_age("2026-12-01", now).value() == 1'796'083'200'000);
    CHECK(parse_time_or_age("2026-12-01T08:00:00Z", now).value() == 1'796'112'000'000);
    CHECK(parse_time_or_age("24h", now).value() == now - 86'400'000);
    CHECK(parse_time_or_age("30m", now).value() == now - 1'800'000);
    CHECK(parse_time_or_age("36500d", now).value() == 0);  // before 1970: the first instant
    CHECK(parse_time_or_age("1960-01-01", now).value() == 0);
    CHECK(parse_time_or_age("-2h", now).error().message ==
          "an age has no sign: it counts back from now (2h, not -2h)");
    CHECK(parse_time_or_age("yesterday", now).error().message ==
          "expected a date or time (2026-12-01, 2026-12-01T08:00:00Z) or an age (30m, 24h, "
          "7d), got 'yesterday'");
    CHECK(parse_time_or_age("", now).error().message ==
          "expected a date or time (2026-12-01, 2026-12-01T08:00:00Z) or an age (30m, 24h, "
          "7d), got ''");
    CHECK_FALSE(parse_time_or_age("2026-13-01", now));
    // An age of the right form says what is wrong with it.
    CHECK(parse_time_or_age("100000d", now).error().message ==
          "expected a date or time (2026-12-01, 2026-12-01T08:00:00Z) or an age (30m, 24h, "
          "7d), got '100000d' (longer than 100 years)");
    CHECK(parse_time_or_age("5", now).error().message ==
          "expected a date or time (2026-12-01, 2026-12-01T08:00:00Z) or an age (30m, 24h, "
          "7d), got '5' (a unit is required)");
}
