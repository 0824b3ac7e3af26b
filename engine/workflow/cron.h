// Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in UTC
// or in a time zone of the system's tz database, for ferry.yaml `schedules:`. Fields take *,
// numbers, ranges (1-5), lists (1,3,5), steps
// (*/15, 8-18/2, 5/20) and names (JAN-DEC, SUN-SAT; 7 is Sunday too). As in Vixie cron, when
// both day fields are restricted a day matches if either matches. @hourly, @daily,
// @midnight, @weekly, @monthly, @yearly and @annually are shorthands.
#pragma once

#include "runtime/error.h"

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;  // Debian's libhowardhinnant-date-dev (date/tz.h), kept out of this header
}

namespace ferry::workflow {

struct CronSpec {
    std::bitset<60> minutes;
    std::bitset<24> hours;
    std::bitset<32> days;     // 1..31
    std::bitset<13> months;   // 1..12
    std::bitset<7> weekdays;  // 0 = Sunday
    bool any_day = true;      // day-of-month was *
    bool any_weekday = true;  // day-of-week was *
    // The minute or the hour field starts with '*': a job that runs by the clock's steps,
    // not at a set time of day (below, on clock changes).
    bool any_minute = true;
    bool any_hour = true;
    const date::time_zone* zone = nullptr;  // nullptr: UTC
};

// A Validation error says which field is wrong and why.
Result<CronSpec> parse_cron(std::string_view text);

// An IANA time zone name ("Europe/Paris") from the system's tz database (Debian's tzdata,
// /usr/share/zoneinfo); a Validation error when it names none or the database is missing.
Result<const date::time_zone*> find_time_zone(std::string_view name);
// UTC under one of its names in the tz database (UTC, Etc/UTC, Zulu, GMT, Etc/GMT+0...): a
// schedule that writes one is the same as one that writes none.
bool is_utc_name(std::string_view name);

// The first matching minute strictly after after_ms (unix milliseconds), or nullopt when
// none ever comes (e.g. "0 0 30 2 *"; "0 0 29 2 0", Feb 29 on a Sunday, comes every 28
// years). In a zone the fields match its wall clock; where the clock changes, as cronie
// does: a job at a set time of day (neither minute nor hour starts with '*') whose time
// the clock jumped over runs at the jump, and one whose time the clock shows twice runs at
// the first; a job that runs by the clock's steps (*/15 * * * *, 30 * * * *) runs at the
// times the clock shows, the repeated ones included.
std::optional<uint64_t> cron_next(const CronSpec& spec, uint64_t after_ms);

// When a schedule runs next, given the due time of its last run (0: it never ran) and the
// time now (unix ms). every_ms > 0: every that long, in phase with the last run (the first
// run one period after the schedule first appears); else on the cron spec. A due time that
// passed while nothing ran (downtime) gives one catch-up run, of the latest missed due
// time, when catch_up is set; the others are skipped. A last due time after now (the clock
// went back) is planned from: no due time up to it runs twice.
struct SchedulePlan {
    std::optional<uint64_t> catch_up;  // run this due time now
    std::optional<uint64_t> skipped;   // the latest missed due time, not caught up
    uint64_t next = 0;                 // the next due time after now; 0: never
};
SchedulePlan plan_schedule(uint64_t every_ms, const CronSpec& cron, bool catch_up,
                           uint64_t last_due, uint64_t now);

}  // namespace ferry::workflow
