// engine/server: where a schedule's plan starts when the clock and its records disagree.
#include "server/schedules.h"

#include "core/values.h"
#include "runtime/line_log.h"
#include "runtime/timestamp.h"
#include "server/server_log.h"
#include "server/store_room.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

using namespace ferry;
using namespace ferry::engine::server;

namespace {

constexpr uint64_t kHour = 3600 * 1000;

// A project with one schedule (every hour), its record in the store as `record` says, and
// the next run the schedules plan at start (unix ms).
uint64_t next_run_with_record(const std::string& record) {
    ferry::testing::TempDir dir;
    std::filesystem::path root = dir.path();
    std::filesystem::create_directories(root / "workflows");
    std::ofstream(root / "workflows" / "hello.yaml") << "steps:\n  - {id: l, task: log, "
                                                        "with: {message: hi}}\n";
    std::ofstream(root / "ferry.yaml")
        << "schedules:\n  - {name: tick, workflow: hello, every: 1h}\n";
    engine::AppOptions options;
    options.project_dir = root.string();
    std::vector<workflow::Diagnostic> problems;
    auto opened = engine::App::open(options, problems);
    REQUIRE(opened);
    std::unique_ptr<engine::App> app = std::move(opened.value());
    app->store->put_kv("schedule:tick", record);
    REQUIRE(app->store->commit());
    int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    uint64_t next = 0;
    {
        LineLog lines(app->loop, null_fd);
        ServerLog log(lines);
        StoreRoom room(*app->store);
        Schedules schedules(*app, false, log, room);
        schedules.start();
        tmpl::Value listed = tmpl::value_from_json(schedules.list_json());
        const tmpl::Value* list = engine::dict_get(listed, "schedules");
        REQUIRE(list);
        REQUIRE(list->is_list());
        const tmpl::Value* at = engine::dict_get(list->list_obj().items.at(0), "next_run");
        REQUIRE(at);
        REQUIRE(at->is_string());
        next = uint64_t(parse_rfc3339_ms(at->str()).value());
        schedules.stop();
    }
    ::close(null_fd);
    return next;
}

std::string record(uint64_t last_due, uint64_t first_seen) {
    return "{\"last_due\":" + std::to_string(last_due) +
           ",\"last_run\":" + std::to_string(last_due) +
           ",\"execution_id\":\"\",\"last_error\":\"\",\"off\":false,"
           "\"first_seen\":" +
           std::to_string(first_seen) + ",\"definition\":\"every " + std::to_string(kHour) +
           "ms\"}";
}

}  // namespace

TEST_CASE("schedules: a clock a little behind the last due time runs nothing twice",
          "[schedules]") {
    // An NTP step back: the due times up to the recorded one ran.
    const uint64_t now = now_unix_ms();
    const uint64_t last_due = now + 30 * 60 * 1000;
    CHECK(next_run_with_record(record(last_due, now - kHour)) == last_due + kHour);
}

TEST_CASE("schedules: a record far ahead of the clock is taken for a clock that was wrong",
          "[schedules]") {
    // A server once run with its clock two days ahead: planned from that time, the schedule
    // stayed silent for two days after the clock was mended.
    const uint64_t now = now_unix_ms();
    uint64_t next = next_run_with_record(record(now + 48 * kHour, now - kHour));
    CHECK(next >= now + kHour);
    CHECK(next <= now_unix_ms() + kHour);
    // First seen then, and never run: it starts from now.
    next = next_run_with_record(record(0, now + 48 * kHour));
    CHECK(next >= now + kHour);
    CHECK(next <= now_unix_ms() + kHour);
}
