#include "workflow/cron.h"

#include <date/tz.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <vector>

namespace ferry::workflow {

namespace {

struct FieldSpec {
    const char* name;
    int min;
    int max;
    std::vector<std::string> names;  // names[i] stands for min + i
};

const FieldSpec kFields[5] = {
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day of month", 1, 31, {}},
    {"month",
     1,
     12,
     {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
    // 7 is accepted as Sunday, so the range goes to 7 and is folded afterwards.
    {"day of week", 0, 7, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
};

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    size_t i = 0;
    while (true) {
        size_t j = s.find(sep, i);
        out.emplace_back(s.substr(i, j == std::string_view::npos ? s.npos : j - i));
        if (j == std::string_view::npos) break;
        i = j + 1;
    }
    return out;
}

Result<int> value(const FieldSpec& f, const std::string& text) {
    std::string upper = text;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    for (size_t i = 0; i < f.names.size(); ++i)
        if (upper == f.names[i]) return f.min + int(i);
    if (text.empty() || !std::all_of(text.begin(), text.end(), ::isdigit))
        return make_error(ErrorKind::Validation,
                          std::string(f.name) + ": '" + text + "' is not a number" +
                              (f.names.empty() ? "" : " or a name (" + f.names.front() + "...)"));
    // Leading zeros allowed ("05"); a long run of digits is out of range whatever its value
    // (and stoi must not see it: it throws past int).
    const size_t first = std::min(text.find_first_not_of('0'), text.size() - 1);
    int v = text.size() - first > 4 ? f.max + 1 : std::stoi(text.substr(first));
    if (v < f.min || v > f.max)
        return make_error(ErrorKind::Validation, std::string(f.name) + ": " + text +
                                                     " is out of range " + std::to_string(f.min) +
                                                     "-" + std::to_string(f.max));
    return v;
}

// One comma-separated field into bits[min..max]; returns whether it starts with '*', which
// is what makes a day field "unrestricted" in Vixie cron and cronie (entry.c: DOM_STAR):
// "0 0 */2 * MON" runs on odd days that are Mondays, not on either.
Result<bool> parse_field(const FieldSpec& f, const std::string& text, std::vector<bool>& bits) {
    bits.assign(size_t(f.max + 1), false);
    if (text.empty()) return make_error(ErrorKind::Validation, std::string(f.name) + " is empty");
    for (const std::string& part : split(text, ',')) {
        std::string range = part;
        int step = 1;
        if (size_t slash = part.find('/'); slash != std::string::npos) {
            range = part.substr(0, slash);
            std::string s = part.substr(slash + 1);
            if (s.empty() || s.size() > 4 || !std::all_of(s.begin(), s.end(), ::isdigit) ||
                std::stoi(s) == 0)
                return make_error(ErrorKind::Validation, std::string(f.name) + ": step '" + s +
                                                             "' must be a positive number");
            step = std::stoi(s);
        }
        int lo = f.min, hi = f.max;
        if (range != "*") {
            size_t dash = range.find('-');
            Result<int> a = value(f, range.substr(0, dash));
            if (!a) return a.error();
            lo = a.value();
            if (dash != std::string::npos) {
                Result<int> b = value(f, range.substr(dash + 1));
                if (!b) return b.error();
                hi = b.value();
                if (hi < lo)
                    return make_error(ErrorKind::Validation, std::string(f.name) + ": range '" +
                                                                 range + "' goes backwards");
            } else if (part.find('/') == std::string::npos) {
                hi = lo;  // a single value; "5/15" means 5, 20, 35, 50
            }
        }
        for (int v = lo; v <= hi; v += step)
            bits[size_t(v)] = true;
    }
    return text.front() == '*';
}

}  // namespace

Result<CronSpec> parse_cron(std::string_view input) {
    static const std::pair<const char*, const char*> kMacros[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}};
    std::string text(input);
    for (auto [macro, expansion] : kMacros)
        if (text == macro) text = expansion;
    if (text.starts_with('@')) {  // still a shorthand: one not known (@reboot), or in capitals
        std::string known;
        for (auto [macro, expansion] : kMacros)
            known += (known.empty() ? "" : ", ") + std::string(macro);
        return make_error(ErrorKind::Validation,
                          "unknown shorthand '" + text + "' (one of " + known + ")");
    }
    std::vector<std::string> fields;
    std::string cur;
    for (char c : text) {
        if (std::isspace(static_cast<unsigned char>(c))) {
            if (!cur.empty()) fields.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) fields.push_back(std::move(cur));
    if (fields.size() != 5)
        return make_error(ErrorKind::Validation,
                          "a cron expression has 5 fields (minute hour day-of-month month "
                          "day-of-week), got " +
                              std::to_string(fields.size()));
    CronSpec spec;
    std::vector<bool> bits;
    for (int i = 0; i < 5; ++i) {
        Result<bool> star = parse_field(kFields[i], fields[size_t(i)], bits);
        if (!star) return star.error();
        for (int v = kFields[i].min; v <= kFields[i].max; ++v) {
            if (!bits[size_t(v)]) continue;
            switch (i) {
            case 0: spec.minutes.set(size_t(v)); break;
            case 1: spec.hours.set(size_t(v)); break;
            case 2: spec.days.set(size_t(v)); break;
            case 3: spec.months.set(size_t(v)); break;
            default: spec.weekdays.set(size_t(v % 7)); break;
            }
        }
        if (i == 0) spec.any_minute = star.value();
        if (i == 1) spec.any_hour = star.value();
        if (i == 2) spec.any_day = star.value();
        if (i == 4) spec.any_weekday = star.value();
    }
    return spec;
}

Result<const date::time_zone*> find_time_zone(std::string_view name) {
    // The names are the files under /usr/share/zoneinfo: nothing outside it is read
    // ("../x" names no zone). A zone's file is read here, where an error can be reported,
    // not later on the loop.
    try {
        const date::time_zone* zone = date::locate_zone(name);
        (void)zone->get_info(std::chrono::system_clock::now());
        return zone;
    } catch (const std::exception& e) {
        std::string why = e.what();
        if (why.find("not found in timezone database") != std::string::npos) {
            std::string hint = " (an IANA name such as UTC, Europe/Paris or America/New_York; "
                               "see /usr/share/zoneinfo)";
            auto same_letters = [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) ==
                       std::tolower(static_cast<unsigned char>(b));
            };
            for (const date::time_zone& z : date::get_tzdb().zones)
                if (z.name().size() == name.size() &&
                    std::equal(name.begin(), name.end(), z.name().begin(), same_letters))
                    hint = " (did you mean '" + z.name() + "'? names are case-sensitive)";
            const std::string shown(name.size() > 64 ? std::string(name.substr(0, 64)) + "..."
                                                     : std::string(name));
            return make_error(ErrorKind::Validation, "'" + shown + "' is not a time zone" + hint);
        }
        return make_error(ErrorKind::Validation,
                          "the time zone database could not be read (" + why +
                              "; Debian's tzdata package installs it in /usr/share/zoneinfo)");
    }
}

bool is_utc_name(std::string_view name) {
    if (name.starts_with("Etc/")) name.remove_prefix(4);
    for (std::string_view utc :
         {"UTC", "UCT", "Universal", "Zulu", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich"})
        if (name == utc) return true;
    return false;
}

namespace {

// The cron walk on a calendar without zones: wall-clock milliseconds in, wall-clock out.
std::optional<uint64_t> next_wall_time(const CronSpec& spec, uint64_t after_ms) {
    using namespace std::chrono;
    int64_t minute = int64_t(after_ms / 60000) + 1;  // strictly after, on a minute boundary
    // The Gregorian calendar repeats every 400 years: a spec that matches nothing in one
    // cycle never matches. Five years said "never" of Feb 29 on a Sunday (every 28 years).
    const int64_t limit = minute + int64_t(400) * 366 * 24 * 60;
    while (minute < limit) {
        int64_t day = minute / 1440;
        year_month_day ymd{sys_days{days{day}}};
        unsigned month = unsigned(ymd.month());
        if (!spec.months.test(month)) {
            // Jump to the first day of the next month.
            year_month_day next = year_month_day{ymd.year() / ymd.month() / 1} + months{1};
            minute = sys_days{next}.time_since_epoch().count() * 1440;
            continue;
        }
        unsigned dom = unsigned(ymd.day());
        unsigned dow = unsigned(weekday{sys_days{days{day}}}.c_encoding());
        bool dom_ok = spec.days.test(dom), dow_ok = spec.weekdays.test(dow);
        // Vixie's rule (cron.c): with either field starred both must match (a plain '*' sets
        // every bit); with neither, either may. Ignoring a starred field's bits ran
        // "0 0 */2 * *" every day.
        bool day_ok = spec.any_day || spec.any_weekday ? (dom_ok && dow_ok) : (dom_ok || dow_ok);
        if (!day_ok) {
            minute = (day + 1) * 1440;
            continue;
        }
        int64_t in_day = minute % 1440;
        if (!spec.hours.test(size_t(in_day / 60))) {
            minute = day * 1440 + (in_day / 60 + 1) * 60;
            continue;
        }
        if (!spec.minutes.test(size_t(in_day % 60))) {
            ++minute;
            continue;
        }
        return uint64_t(minute) * 60000;
    }
    return std::nullopt;
}

int64_t to_ms(std::chrono::seconds s) {
    return int64_t(s.count()) * 1000;
}

}  // namespace

std::optional<uint64_t> cron_next(const CronSpec& spec, uint64_t after_ms) {
    if (!spec.zone) return next_wall_time(spec, after_ms);
    using namespace std::chrono;
    // The zone's time line is a run of periods, each with one offset from UTC: within one,
    // wall time is UTC plus the offset, so the walk above finds the next match, kept if it
    // falls inside the period. Periods change about twice a year; 1,000 of them outlast
    // the walk's own 400-year horizon in any real zone.
    const bool set_time = !spec.any_minute && !spec.any_hour;
    int64_t after = int64_t(after_ms);
    date::sys_info period = spec.zone->get_info(sys_time<milliseconds>(milliseconds(after)));
    for (int i = 0; i < 1000; ++i) {
        const int64_t begin = to_ms(period.begin.time_since_epoch());
        const int64_t end = to_ms(period.end.time_since_epoch());
        const int64_t offset = to_ms(period.offset);
        int64_t wall_after = after + offset;
        if (set_time) {
            // The clock went back at this period's start: the wall times the period before
            // showed last come again, and a job at a set time ran at them already.
            date::sys_info before = spec.zone->get_info(period.begin - seconds(1));
            int64_t shown_until = begin + to_ms(before.offset);
            if (shown_until > begin + offset) wall_after = std::max(wall_after, shown_until - 1);
        }
        std::optional<uint64_t> wall =
            next_wall_time(spec, uint64_t(std::max<int64_t>(wall_after, 0)));
        if (!wall) return std::nullopt;
        if (int64_t(*wall) - offset < end) return uint64_t(int64_t(*wall) - offset);
        date::sys_info next = spec.zone->get_info(period.end);
        if (set_time && next.offset > period.offset) {
            // The clock jumps forward at the end: a set time it skips runs at the jump.
            std::optional<uint64_t> skipped =
                next_wall_time(spec, uint64_t(std::max<int64_t>(end + offset - 1, 0)));
            if (skipped && int64_t(*skipped) < end + to_ms(next.offset)) return uint64_t(end);
        }
        after = std::max(after, end - 1);
        period = next;
    }
    return std::nullopt;
}

SchedulePlan plan_schedule(uint64_t every_ms, const CronSpec& cron, bool catch_up,
                           uint64_t last_due, uint64_t now) {
    SchedulePlan plan;
    // A last due time after now: the clock went back (an NTP step, a restored snapshot).
    // The due times up to it ran already, and must not run again: planned from it.
    if (every_ms > 0) {
        if (last_due > now) {
            plan.next = last_due + every_ms;
            return plan;
        }
        if (last_due == 0) {
            plan.next = now + every_ms;
            return plan;
        }
        uint64_t latest = last_due + (now - last_due) / every_ms * every_ms;  // <= now
        if (latest > last_due) (catch_up ? plan.catch_up : plan.skipped) = latest;
        plan.next = latest + every_ms;
        return plan;
    }
    if (last_due == 0 || last_due > now) {
        plan.next = cron_next(cron, std::max(now, last_due)).value_or(0);
        return plan;
    }
    // The latest due time in (last_due, now]. Walked forward from a start close enough to
    // now that the walk is short (a minutely cron down for a year is half a million steps):
    // the latest of the first window back from now that holds a due time. It must be the
    // latest, not any: the run after a catch-up is planned from it, and an older one made
    // another catch-up each time, several runs at once.
    constexpr uint64_t kHour = 3'600'000, kDay = 24 * kHour;
    std::optional<uint64_t> latest;
    for (uint64_t back :
         {kHour, kDay, 32 * kDay, 367 * kDay, 5 * 366 * kDay, 30 * 366 * kDay, uint64_t(-1)}) {
        uint64_t from = now - last_due > back ? now - back : last_due;
        std::optional<uint64_t> t = cron_next(cron, from);
        for (int i = 0; t && *t <= now && i < 100'000; ++i) {
            latest = t;
            t = cron_next(cron, *t);
        }
        if (latest || from == last_due) break;
    }
    if (latest) (catch_up ? plan.catch_up : plan.skipped) = latest;
    plan.next = cron_next(cron, now).value_or(0);
    return plan;
}

}  // namespace ferry::workflow
