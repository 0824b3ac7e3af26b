// ferry.time: timestamps as integer Unix milliseconds (UTC), text as RFC 3339 (the reading
// and writing are runtime/timestamp.h's). Text that comes from peers (parse,
// parse_duration) fails with nil, err; malformed arguments the task itself computed
// (format, add) raise.
#include "runtime/duration.h"
#include "runtime/lua_api/args.h"
#include "runtime/lua_api/guard.h"
#include "runtime/lua_api/modules.h"
#include "runtime/scheduler.h"  // push_error_table
#include "runtime/timestamp.h"

#include <cstdint>
#include <string>

namespace ferry::lua_api {

namespace {

int64_t floor_div(int64_t a, int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// [-0, +2, m] nil and a validation error table.
int push_validation_failure(lua_State* L, std::string message) {
    lua_pushnil(L);
    push_error_table(L, make_error(ErrorKind::Validation, std::move(message)));
    return 2;
}

// [-0, +0, v] A timestamp argument that format() can write (years 0000-9999).
int64_t check_timestamp(lua_State* L, int arg) {
    lua_Integer ms = luaL_checkinteger(L, arg);
    luaL_argcheck(L, ms >= kRfc3339MinMs && ms <= kRfc3339MaxMs, arg,
                  "timestamp out of range (years 0000-9999)");
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
    char text[kRfc3339Max];
    lua_pushlstring(L, text, format_rfc3339(int64_t(now_unix_ms()), text));
    return 1;
}

// time.now_ms() -> integer Unix milliseconds
// [-0, +1, -]
int time_now_ms(lua_State* L) {
    lua_pushinteger(L, lua_Integer(now_unix_ms()));
    return 1;
}

// time.parse(text) -> ms | nil, err
// [-0, +1|2, m] RFC 3339 ("2026-12-01T07:31:10.5+02:00", "...Z") or a date ("2026-12-01",
// midnight UTC).
int time_parse(lua_State* L) {
    Result<int64_t> ms = parse_rfc3339_ms(check_bytes(L, 1));
    if (!ms) return push_validation_failure(L, ms.error().message);
    lua_pushinteger(L, ms.value());
    return 1;
}

// time.format(ms [, "rfc3339" | "date" | "unix"]) -> string
// [-0, +1, v] rfc3339: "2026-12-01T05:31:10.123Z"; date: "2026-12-01"; unix: whole seconds.
int time_format(lua_State* L) {
    static const char* const kFormats[] = {"rfc3339", "date", "unix", nullptr};
    int64_t ms = check_timestamp(L, 1);
    int format = luaL_checkoption(L, 2, "rfc3339", kFormats);
    std::string text = format == 2   ? std::to_string(floor_div(ms, 1000))
                       : format == 1 ? rfc3339_date(ms)
                                     : rfc3339(ms);
    lua_pushlstring(L, text.data(), text.size());
    return 1;
}

// time.parse_duration("1m30s") -> ms | nil, err; "-30m" is negative, as format_duration
// writes it and add takes it.
// [-0, +1|2, m]
int time_parse_duration(lua_State* L) {
    std::string_view text = check_bytes(L, 1);
    bool negative = !text.empty() && text.front() == '-';
    Result<uint64_t> ms = parse_duration_ms(negative ? text.substr(1) : text);
    if (!ms) return push_validation_failure(L, ms.error().message);
    if (ms.value() > uint64_t(LUA_MAXINTEGER))
        return push_validation_failure(L, "duration too long");
    lua_pushinteger(L, negative ? -lua_Integer(ms.value()) : lua_Integer(ms.value()));
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
