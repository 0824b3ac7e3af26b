// Cron expressions for ferry.yaml schedules: parsing, next times in UTC and in time zones
// (across their clock changes), and the catch-up plan after downtime.
#include "workflow/cron.h"
#include "workflow/project_config.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

using namespace ferry;
using namespace ferry::workflow;

namespace {

// Unix ms of a UTC date and time.
uint64_t at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
    using namespace std::chrono;
    sys_days day{year{y} / month{mo} / d};
    return uint64_t(duration_cast<milliseconds>(day.time_since_epoch()).count()) +
           uint64_t(((h * 60 + mi) * 60 + s) * 1000);
}

uint64_t next(const std::string& expr, uint64_t after) {
    Result<CronSpec> spec = parse_cron(expr);
    INFO(expr << ": " << (spec ? "" : spec.error().message));
    REQUIRE(spec);
    std::optional<uint64_t> n = cron_next(spec.value(), after);
    REQUIRE(n);
    return *n;
}

// The next times of expr in zone, one after the other, from after.
std::vector<uint64_t> next_in(const std::string& zone, const std::string& expr, uint64_t after,
                              int count = 1) {
    Result<CronSpec> spec = parse_cron(expr);
    REQUIRE(spec);
    Result<const date::time_zone*> z = find_time_zone(zone);
    INFO(zone << ": " << (z ? "" : z.error().message));
    REQUIRE(z);
    spec.value().zone = z.value();
    std::vector<uint64_t> out;
    for (int i = 0; i < count; ++i) {
        std::optional<uint64_t> n = cron_next(spec.value(), after);
        REQUIRE(n);
        out.push_back(after = *n);
    }
    return out;
}

// Every problem of a ferry.yaml load, one line each, as `ferry validate` prints them.
std::string described(const std::vector<Diagnostic>& problems) {
    std::string all;
    for (const auto& d : problems)
        all += d.describe() + "\n";
    return all;
}

std::string problem(const std::string& expr) {
    Result<CronSpec> spec = parse_cron(expr);
    return spec ? std::string("(parsed)") : spec.error().message;
}

}  // namespace

TEST_CASE("cron: fields, ranges, lists, steps and names", "[cron]") {
    CronSpec s = parse_cron("*/15 8-18/2 1,15 JAN-mar mon-FRI").value();
    CHECK(s.minutes.count() == 4);
    CHECK(s.minutes.test(0));
    CHECK(s.minutes.test(45));
    CHECK(s.hours.count() == 6);  // 8 10 12 14 16 18
    CHECK(s.hours.test(18));
    CHECK_FALSE(s.hours.test(9));
    CHECK(s.days.count() == 2);
    CHECK(s.months.count() == 3);
    CHECK(s.months.test(1));
    CHECK(s.months.test(3));
    CHECK(s.weekdays.count() == 5);
    CHECK_FALSE(s.any_day);
    CHECK_FALSE(s.any_weekday);
    CHECK(parse_cron("0 0 * * 7").value().weekdays.test(0));         // 7 is Sunday
    CHECK(parse_cron("5/20 * * * *").value().minutes.count() == 3);  // 5 25 45
    CHECK(parse_cron("@hourly").value().minutes.count() == 1);
    CHECK(parse_cron("  0   6 * * *  ").value().hours.test(6));
}

TEST_CASE("cron: bad expressions say what is wrong", "[cron]") {
    CHECK(problem("* * * *").find("5 fields") != std::string::npos);
    CHECK(problem("60 * * * *").find("minute: 60 is out of range 0-59") != std::string::npos);
    CHECK(problem("* 24 * * *").find("hour") != std::string::npos);
    CHECK(problem("* * 0 * *").find("day of month") != std::string::npos);
    CHECK(problem("* * * FOO *").find("month: 'FOO' is not a number or a name") !=
          std::string::npos);
    CHECK(problem("*/0 * * * *").find("step") != std::string::npos);
    CHECK(problem("5-1 * * * *").find("goes backwards") != std::string::npos);
    CHECK(problem("1,,2 * * * *").find("minute") != std::string::npos);
    CHECK(problem("* * * * 8").find("day of week") != std::string::npos);
    // Leading zeros are a number; many digits are one out of range, not "not a number".
    CHECK(problem("05 * * * *") == "(parsed)");
    CHECK(problem("00005 * * * *") == "(parsed)");
    CHECK(problem("000060 * * * *").find("minute: 000060 is out of range 0-59") !=
          std::string::npos);
    CHECK(problem("99999999999 * * * *").find("out of range") != std::string::npos);
}

TEST_CASE("cron: next times in UTC", "[cron]") {
    uint64_t t = at(2026, 12, 1, 11, 26, 48);
    CHECK(next("* * * * *", t) == at(2026, 12, 1, 11, 27));
    CHECK(next("* * * * *", at(2026, 12, 1, 11, 27)) == at(2026, 12, 1, 11, 28));  // strictly after
    CHECK(next("0 6 * * *", t) == at(2026, 12, 2, 6, 0));
    CHECK(next("30 * * * *", t) == at(2026, 12, 1, 11, 30));
    CHECK(next("0 0 1 1 *", t) == at(2027, 1, 1));
    CHECK(next("0 9 * * MON", t) == at(2026, 12, 7, 9, 0));            // 2026-12-01 is a Tuesday
    CHECK(next("0 0 31 * *", at(2027, 1, 31, 1)) == at(2027, 3, 31));  // February has no 31st
    CHECK(next("0 0 29 2 *", t) == at(2028, 2, 29));                   // leap years only
    CHECK(next("59 23 31 12 *", t) == at(2026, 12, 31, 23, 59));
    // Both day fields restricted: either matches (Vixie cron).
    CHECK(next("0 0 15 * FRI", t) == at(2026, 12, 4));  // Friday the 4th before the 15th
    CHECK(next("0 0 15 * SUN", at(2026, 12, 14, 1)) == at(2026, 12, 15));
    CHECK_FALSE(cron_next(parse_cron("0 0 30 2 *").value(), t));  // never
    // Feb 29 on a Sunday (a starred weekday step: both must match): every 28 years.
    CHECK(next("0 0 29 2 */7", t) == at(2032, 2, 29));
    CHECK(next("0 0 29 2 */7", 0) == at(1976, 2, 29));
}

TEST_CASE("schedules: every, in phase, with one catch-up after downtime", "[cron]") {
    CronSpec none;
    SchedulePlan first = plan_schedule(30000, none, true, 0, 1'000'000);
    CHECK_FALSE(first.catch_up);
    CHECK(first.next == 1'030'000);
    SchedulePlan on_time = plan_schedule(30000, none, true, 1'000'000, 1'010'000);
    CHECK_FALSE(on_time.catch_up);
    CHECK(on_time.next == 1'030'000);
    // Down from 1,000,000 to 1,095,000: 1,030,000 1,060,000 1,090,000 missed; one catch-up
    // for the latest, and the schedule keeps its phase.
    SchedulePlan late = plan_schedule(30000, none, true, 1'000'000, 1'095'000);
    REQUIRE(late.catch_up);
    CHECK(*late.catch_up == 1'090'000);
    CHECK(late.next == 1'120'000);
    SchedulePlan no_catch_up = plan_schedule(30000, none, false, 1'000'000, 1'095'000);
    CHECK_FALSE(no_catch_up.catch_up);
    REQUIRE(no_catch_up.skipped);  // for the log: what was not caught up
    CHECK(*no_catch_up.skipped == 1'090'000);
    CHECK_FALSE(late.skipped);
    CHECK(no_catch_up.next == 1'120'000);
}

TEST_CASE("schedules: a clock behind the last due time runs no due time twice", "[cron]") {
    // An NTP step back, a restored VM snapshot: the recorded last due time is after now.
    // The due times up to it ran; the plan starts after it.
    CronSpec minutely = parse_cron("* * * * *").value();
    SchedulePlan cron =
        plan_schedule(0, minutely, true, at(2027, 3, 1, 0, 1), at(2027, 3, 1, 0, 0, 57));
    CHECK_FALSE(cron.catch_up);
    CHECK(cron.next == at(2027, 3, 1, 0, 2));
    CronSpec none;
    SchedulePlan every = plan_schedule(30000, none, true, 1'060'000, 1'050'000);
    CHECK_FALSE(every.catch_up);
    CHECK(every.next == 1'090'000);
}

TEST_CASE("schedules: cron catch-up runs the latest missed time once", "[cron]") {
    CronSpec daily = parse_cron("0 6 * * *").value();
    SchedulePlan first = plan_schedule(0, daily, true, 0, at(2026, 12, 1, 7));
    CHECK_FALSE(first.catch_up);
    CHECK(first.next == at(2026, 12, 2, 6));
    SchedulePlan after = plan_schedule(0, daily, true, at(2026, 11, 28, 6), at(2026, 12, 1, 7));
    REQUIRE(after.catch_up);
    CHECK(*after.catch_up == at(2026, 12, 1, 6));
    CHECK(after.next == at(2026, 12, 2, 6));
    CHECK_FALSE(plan_schedule(0, daily, true, at(2026, 12, 1, 6), at(2026, 12, 1, 7)).catch_up);
    CHECK_FALSE(plan_schedule(0, daily, false, at(2026, 11, 28, 6), at(2026, 12, 1, 7)).catch_up);

    // Long downtime (a restored backup): still the latest missed time, so the plan made
    // from it has nothing more to catch up (an older one caught up again, and again).
    CronSpec minutely = parse_cron("* * * * *").value();
    uint64_t now = at(2026, 12, 4, 21, 24, 30);
    SchedulePlan month = plan_schedule(0, minutely, true, at(2026, 11, 4, 21, 24), now);
    REQUIRE(month.catch_up);
    CHECK(*month.catch_up == at(2026, 12, 4, 21, 24));
    CHECK_FALSE(plan_schedule(0, minutely, true, *month.catch_up, now).catch_up);
    CronSpec leap = parse_cron("0 12 29 2 *").value();
    SchedulePlan years = plan_schedule(0, leap, true, at(2001, 1, 1), now);
    REQUIRE(years.catch_up);
    CHECK(*years.catch_up == at(2024, 2, 29, 12));
    CHECK_FALSE(plan_schedule(0, leap, true, at(2024, 2, 29, 12), now).catch_up);
}

TEST_CASE("cron: a day field starting with * leaves the other day field alone (Vixie)", "[cron]") {
    // 2026-12-04 is a Friday. Odd days that are Mondays: Monday 2026-12-07.
    CHECK(next("0 0 */2 * MON", at(2026, 12, 4, 12)) == at(2026, 12, 7));
    // A 13th that falls on every third weekday from Sunday (Sun, Wed, Sat): Sunday the
    // 13th of December (restricted both ways it would be Saturday the 5th, a Saturday).
    CHECK(next("0 0 13 * */3", at(2026, 12, 4, 12)) == at(2026, 12, 13));
    // Both restricted, without '*': either matches.
    CHECK(next("0 0 13 * MON", at(2026, 12, 4, 12)) == at(2026, 12, 7));
    // A starred field with a step keeps its step (these ran every day): odd days, every
    // tenth day from the 1st, odd Tuesdays, the 1st and 16th.
    const auto now = at(2026, 12, 5, 2, 35);
    CHECK(next("0 0 */2 * *", now) == at(2026, 12, 7));
    CHECK(next("0 0 1-31/2 * *", now) == at(2026, 12, 7));
    CHECK(next("0 0 */10 * *", now) == at(2026, 12, 11));
    CHECK(next("0 0 */2 * TUE", now) == at(2026, 12, 15));
    CHECK(next("0 0 */15 * *", now) == at(2026, 12, 16));
    CHECK(next("0 8 * * */2", now) == at(2026, 12, 5, 8));  // Sun, Tue, Thu, Sat
}

TEST_CASE("cron: an unknown shorthand is named as one", "[cron]") {
    for (const char* text : {"@reboot", "@DAILY"}) {
        Result<CronSpec> spec = parse_cron(text);
        REQUIRE_FALSE(spec);
        CHECK(spec.error().message.find(std::string("unknown shorthand '") + text +
                                        "' (one of @yearly") != std::string::npos);
    }
}

TEST_CASE("schedules in ferry.yaml are validated with their place", "[cron][config]") {
    auto ok = load_project_config_text(R"(schedules:
  - {name: cmdb-sync, workflow: cmdb-sync, every: 30m}
  - {name: cert-expiry, workflow: cert-expiry, cron: "0 6 * * *", inputs: {days: 30}, catch_up: false}
  - {name: off, workflow: x, every: 1h, enabled: false}
)",
                                       "ferry.yaml");
    REQUIRE(ok.ok());
    REQUIRE(ok.config.schedule_entries.size() == 3);
    CHECK(ok.config.schedule_entries[0].every_ms == 1800000);
    CHECK(ok.config.schedule_entries[0].every == "30m");
    CHECK(ok.config.schedule_entries[0].catch_up);
    CHECK(ok.config.schedule_entries[1].cron == "0 6 * * *");
    CHECK_FALSE(ok.config.schedule_entries[1].catch_up);
    CHECK(ok.config.schedule_entries[1].inputs.is_dict());
    CHECK_FALSE(ok.config.schedule_entries[2].enabled);

    auto bad = load_project_config_text(R"(schedules:
  - name: a
    workflow: w
    cron: "61 * * * *"
  - {name: b, workflow: w, every: 10m, cron: "* * * * *"}
  - {name: c, workflow: w, evry: 1m}
  - {name: a, workflow: w, every: soon}
  - {workflow: w, every: 1m}
  - {name: z, workflow: w, every: 0s}
  - {name: h, workflow: w, every: 500ms}
  - {name: e1, workflow: w, every: ""}
  - {name: e2, workflow: w, cron: ""}
)",
                                        "ferry.yaml");
    const std::string all = described(bad.problems);
    INFO(all);
    CHECK(all.find("ferry.yaml:4:11: cron: minute: 61 is out of range 0-59") != std::string::npos);
    CHECK(all.find("ferry.yaml:5:5: schedule 'b' needs exactly one of 'every'") !=
          std::string::npos);
    CHECK(all.find("unknown key 'evry' in schedules (did you mean 'every'?)") != std::string::npos);
    CHECK(all.find("schedule 'a' is defined twice") != std::string::npos);
    CHECK(all.find("ferry.yaml:7:35: every:") != std::string::npos);
    CHECK(all.find("a schedules entry needs 'name'") != std::string::npos);
    // 0 would never fire; under a second the timer and the commits would dominate.
    CHECK(all.find("ferry.yaml:9:35: every must be at least 1s") != std::string::npos);
    CHECK(all.find("ferry.yaml:10:35: every must be at least 1s") != std::string::npos);
    CHECK(all.find("ferry.yaml:7:35: every must be at least") == std::string::npos);  // once
    // Blank, they passed and never ran.
    CHECK(all.find("ferry.yaml:11:36: every: expected a duration") != std::string::npos);
    CHECK(all.find("ferry.yaml:12:35: cron: a cron expression has 5 fields") != std::string::npos);
}

TEST_CASE("cron in a time zone: the fields match its wall clock", "[cron][timezone]") {
    using V = std::vector<uint64_t>;
    // Paris is UTC+1 in winter, +2 in summer; New York -5 / -4; Kolkata +5:30 all year.
    CHECK(next_in("Europe/Paris", "0 6 * * *", at(2026, 12, 1)) == V{at(2026, 12, 1, 5)});
    CHECK(next_in("Europe/Paris", "0 6 * * *", at(2026, 7, 1)) == V{at(2026, 7, 1, 4)});
    // 2026-12-07 and 2026-07-06 are Mondays.
    CHECK(next_in("America/New_York", "0 9 * * MON-FRI", at(2026, 12, 5)) ==
          V{at(2026, 12, 7, 14)});
    CHECK(next_in("America/New_York", "0 9 * * MON-FRI", at(2026, 7, 4)) == V{at(2026, 7, 6, 13)});
    // The day is the zone's: 23:30 in New York on Friday the 4th is Saturday in UTC.
    CHECK(next_in("America/New_York", "30 23 * * FRI", at(2026, 12, 4)) ==
          V{at(2026, 12, 5, 4, 30)});
    CHECK(next_in("Asia/Kolkata", "0 9 * * *", at(2026, 12, 1), 2) ==
          V{at(2026, 12, 1, 3, 30), at(2026, 12, 2, 3, 30)});
    CHECK(next_in("UTC", "0 6 * * *", at(2026, 12, 1)) == V{at(2026, 12, 1, 6)});
}

TEST_CASE("cron in a time zone: clocks going forward", "[cron][timezone]") {
    using V = std::vector<uint64_t>;
    // Paris, 2026-03-29: at 01:00 UTC the clock goes from 02:00 to 03:00.
    // A set time the clock skips runs at the jump, then on its time again (cronie's rule).
    CHECK(next_in("Europe/Paris", "30 2 * * *", at(2026, 3, 28, 12), 2) ==
          V{at(2026, 3, 29, 1), at(2026, 3, 30, 0, 30)});
    // Jobs that run by the clock's steps run at the times it shows.
    CHECK(next_in("Europe/Paris", "*/15 * * * *", at(2026, 3, 29, 0, 40), 3) ==
          V{at(2026, 3, 29, 0, 45), at(2026, 3, 29, 1), at(2026, 3, 29, 1, 15)});
    CHECK(next_in("Europe/Paris", "30 * * * *", at(2026, 3, 29, 0, 31)) ==
          V{at(2026, 3, 29, 1, 30)});  // 02:30 never showed; 03:30 CEST
    // Not in the gap: unaffected by it.
    CHECK(next_in("Europe/Paris", "30 3 * * *", at(2026, 3, 28, 12)) == V{at(2026, 3, 29, 1, 30)});
    // New York, 2026-03-08 07:00 UTC: 02:00 EST -> 03:00 EDT.
    CHECK(next_in("America/New_York", "15 2 * * *", at(2026, 3, 8, 6)) == V{at(2026, 3, 8, 7)});
    // Lord Howe moves by half an hour: 2026-10-04 02:00 -> 02:30 (+10:30 -> +11), 15:30 UTC.
    CHECK(next_in("Australia/Lord_Howe", "15 2 * * *", at(2026, 10, 3, 12), 2) ==
          V{at(2026, 10, 3, 15, 30), at(2026, 10, 4, 15, 15)});
    CHECK(next_in("Australia/Lord_Howe", "45 2 * * *", at(2026, 10, 3, 12)) ==
          V{at(2026, 10, 3, 15, 45)});
}

TEST_CASE("cron in a time zone: clocks going back", "[cron][timezone]") {
    using V = std::vector<uint64_t>;
    // Paris, 2026-10-25: at 01:00 UTC the clock goes from 03:00 back to 02:00, so it shows
    // 02:00-03:00 twice. A set time runs once, at the first; the next run is the next day.
    CHECK(next_in("Europe/Paris", "30 2 * * *", at(2026, 10, 25), 2) ==
          V{at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30)});
    // Asked from inside the repeated hour (after a restart), it does not run again.
    CHECK(next_in("Europe/Paris", "30 2 * * *", at(2026, 10, 25, 1, 10)) ==
          V{at(2026, 10, 26, 1, 30)});
    // A job by the clock's steps runs at every time the clock shows, repeated ones too.
    CHECK(next_in("Europe/Paris", "*/30 * * * *", at(2026, 10, 25), 4) ==
          V{at(2026, 10, 25, 0, 30), at(2026, 10, 25, 1), at(2026, 10, 25, 1, 30),
            at(2026, 10, 25, 2)});
    // New York, 2026-11-01 06:00 UTC: 02:00 EDT -> 01:00 EST.
    CHECK(next_in("America/New_York", "30 1 * * *", at(2026, 11, 1, 4), 2) ==
          V{at(2026, 11, 1, 5, 30), at(2026, 11, 2, 6, 30)});
    CHECK(next_in("America/New_York", "0 * * * *", at(2026, 11, 1, 4, 30), 3) ==
          V{at(2026, 11, 1, 5), at(2026, 11, 1, 6), at(2026, 11, 1, 7)});
}

TEST_CASE("schedules in a time zone: catch-up and clock changes", "[cron][timezone]") {
    CronSpec daily = parse_cron("0 6 * * *").value();
    daily.zone = find_time_zone("Europe/Paris").value();
    SchedulePlan late = plan_schedule(0, daily, true, at(2026, 11, 28, 5), at(2026, 12, 1, 7));
    REQUIRE(late.catch_up);
    CHECK(*late.catch_up == at(2026, 12, 1, 5));
    CHECK(late.next == at(2026, 12, 2, 5));
    // Down across the spring change: the latest missed run is the one at the jump.
    CronSpec at_230 = parse_cron("30 2 * * *").value();
    at_230.zone = daily.zone;
    SchedulePlan gap = plan_schedule(0, at_230, true, at(2026, 3, 28, 1, 30), at(2026, 3, 29, 2));
    REQUIRE(gap.catch_up);
    CHECK(*gap.catch_up == at(2026, 3, 29, 1));
    CHECK(gap.next == at(2026, 3, 30, 0, 30));
}

TEST_CASE("time zones are names of the tz database", "[cron][timezone]") {
    CHECK(find_time_zone("Europe/Paris"));
    CHECK(find_time_zone("Etc/GMT+5"));
    for (const char* bad : {"Mars/Olympus", "../../etc/passwd", "zone.tab", "CEST", "+02:00"}) {
        Result<const date::time_zone*> z = find_time_zone(bad);
        REQUIRE_FALSE(z);
        CHECK(z.error().message == std::string("'") + bad +
                                       "' is not a time zone (an IANA name such as UTC, "
                                       "Europe/Paris or America/New_York; see "
                                       "/usr/share/zoneinfo)");
    }
    Result<const date::time_zone*> lower = find_time_zone("europe/paris");
    REQUIRE_FALSE(lower);
    CHECK(lower.error().message ==
          "'europe/paris' is not a time zone (did you mean 'Europe/Paris'? names are "
          "case-sensitive)");
    // A long name is quoted by its start (a 3 KB value was repeated whole).
    Result<const date::time_zone*> long_name = find_time_zone(std::string(3000, 'x'));
    REQUIRE_FALSE(long_name);
    CHECK(long_name.error().message.size() < 300);
    CHECK(long_name.error().message.starts_with("'" + std::string(64, 'x') + "...'"));
}

TEST_CASE("schedules' time zones in ferry.yaml", "[cron][config][timezone]") {
    auto ok = load_project_config_text(R"(schedules:
  - {name: a, workflow: w, cron: "0 6 * * *", timezone: Europe/Paris}
  - {name: b, workflow: w, cron: "0 6 * * *"}
  - {name: c, workflow: w, cron: "0 6 * * *", timezone: Etc/UTC}
)",
                                       "ferry.yaml");
    REQUIRE(ok.ok());
    // UTC written out is as none (the fast path, and the same definition).
    CHECK(ok.config.schedule_entries[2].timezone == "Etc/UTC");
    CHECK(ok.config.schedule_entries[2].cron_spec.zone == nullptr);
    for (const char* utc : {"UTC", "Etc/UTC", "Zulu", "Etc/GMT", "GMT0", "Etc/GMT+0"})
        CHECK(is_utc_name(utc));
    for (const char* other : {"Etc/GMT+1", "Europe/London", "utc", ""})
        CHECK_FALSE(is_utc_name(other));
    CHECK(ok.config.schedule_entries[0].timezone == "Europe/Paris");
    CHECK(ok.config.schedule_entries[0].cron_spec.zone != nullptr);
    CHECK(ok.config.schedule_entries[1].timezone.empty());
    CHECK(ok.config.schedule_entries[1].cron_spec.zone == nullptr);  // UTC

    auto bad = load_project_config_text(R"(schedules:
  - {name: a, workflow: w, cron: "0 6 * * *", timezone: Europe/Pari}
  - {name: b, workflow: w, every: 1h, timezone: Europe/Paris}
  - {name: c, workflow: w, cron: "0 6 * * *", timezone: ""}
  - {name: d, workflow: w, cron: "0 6 * * *", timezone: [UTC]}
)",
                                        "ferry.yaml");
    const std::string all = described(bad.problems);
    INFO(all);
    CHECK(all.find("ferry.yaml:2:57: timezone: 'Europe/Pari' is not a time zone") !=
          std::string::npos);
    CHECK(all.find("ferry.yaml:3:49: timezone applies to 'cron' schedules; 'every' counts "
                   "elapsed time") != std::string::npos);
    CHECK(all.find("ferry.yaml:4:57: timezone") != std::string::npos);
    CHECK(all.find("ferry.yaml:5:57: timezone") != std::string::npos);
}
