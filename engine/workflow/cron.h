// Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in UTC,
// for ferry.yaml `schedules:`. Fields take *, numbers, ranges (1-5), lists (1,3,5), steps
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

namespace ferry::workflow {

struct CronSpec {
    std::bitset<60> minutes;
    std::bitset<24> hours;
    std::bitset<32> days;     // 1..31
    std::bitset<13> months;   // 1..12
    std::bitset<7> weekdays;  // 0 = Sunday
    bool any_day = true;      // day-of-month was *
    bool any_weekday = true;  // day-of-week was *
};

// A Validation error says which field is wrong and why.
Result<CronSpec> parse_cron(std::string_view text);

// The first matching minute strictly after after_ms (unix milliseconds, UTC), or nullopt
// when none ever comes (e.g. "0 0 30 2 *"; "0 0 29 2 0", Feb 29 on a Sunday, comes every
// 28 years).
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
