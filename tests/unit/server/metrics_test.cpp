// engine/server: what /metrics counts from engine events: previews, dead letters, for_each.
#include "server/metrics.h"

#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <fstream>

using namespace ferry;
using namespace ferry::engine::server;

namespace {

struct Scrape {
    ferry::testing::TempDir dir;
    std::unique_ptr<engine::App> app;
    std::unique_ptr<StoreRoom> room;
    std::unique_ptr<Metrics> metrics;

    Scrape() {
        std::filesystem::path root = dir.path();
        std::filesystem::create_directories(root / "workflows");
        std::ofstream(root / "ferry.yaml") << "{}\n";
        engine::AppOptions options;
        options.project_dir = root.string();
        std::vector<workflow::Diagnostic> problems;
        auto opened = engine::App::open(options, problems);
        REQUIRE(opened);
        app = std::move(opened.value());
        room = std::make_unique<StoreRoom>(*app->store);
        metrics = std::make_unique<Metrics>(*app, *room);
    }
    std::string text() const { return metrics->render({}, {}); }
};

engine::EngineEvent step_end(const std::string& task, const std::string& status) {
    engine::EngineEvent e;
    e.type = status == "failed" ? "step.failed" : "step.finished";
    e.execution_id = "01X";
    e.workflow = "wf";
    e.step = "s";
    e.status = status;
    e.task = task;
    e.duration_ms = 250;
    return e;
}

bool has(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("a dead-lettered delivery counts as failed, a delivered one as delivered", "[metrics]") {
    Scrape s;
    engine::EngineEvent delivered = step_end("webhook.emit", "succeeded");
    delivered.outcome = "200";
    engine::EngineEvent given_up = step_end("webhook.emit", "succeeded");
    given_up.outcome = "dead_lettered";
    s.metrics->on_event(delivered);
    s.metrics->on_event(given_up);
    s.metrics->on_event(step_end("webhook.emit", "failed"));
    std::string text = s.text();
    CHECK(has(text, "ferry_webhook_deliveries_total{source=\"step\",status=\"delivered\"} 1"));
    CHECK(has(text, "ferry_webhook_deliveries_total{source=\"step\",status=\"failed\"} 2"));
}

TEST_CASE("deliveries of ferry.yaml's events count beside the steps' under their own source",
          "[metrics]") {
    Scrape s;
    s.metrics->count_event_delivery(true);
    s.metrics->count_event_delivery(false);
    s.metrics->count_event_delivery(false);
    std::string text = s.text();
    CHECK(has(text, "ferry_webhook_deliveries_total{source=\"events\",status=\"delivered\"} 1"));
    CHECK(has(text, "ferry_webhook_deliveries_total{source=\"events\",status=\"failed\"} 2"));
    CHECK(text.find("source=\"step\"") == std::string::npos);
}

TEST_CASE("a previewed request counts as a dry run, not as a ticket", "[metrics]") {
    Scrape s;
    engine::EngineEvent preview = step_end("ticket.create", "succeeded");
    preview.previewed = true;  // an integration with dry_run: true, in a real execution
    s.metrics->on_event(preview);
    engine::EngineEvent in_a_dry_run = step_end("log", "succeeded");
    in_a_dry_run.dry_run = true;  // a log step previews nothing
    s.metrics->on_event(in_a_dry_run);
    s.metrics->on_event(step_end("ticket.create", "succeeded"));
    std::string text = s.text();
    CHECK(has(text, "itsm_dry_run_total 1"));
    CHECK(has(text, "itsm_ticket_creation_total{platform=\"servicenow\",status=\"success\"} 1"));
}

TEST_CASE("a for_each step's summary is not a step duration of its own", "[metrics]") {
    Scrape s;
    s.metrics->on_event(step_end("log", "succeeded"));
    engine::EngineEvent summary = step_end("log", "succeeded");
    summary.for_each_summary = true;
    s.metrics->on_event(summary);
    CHECK(has(s.text(), "ferry_step_duration_seconds_count{task=\"log\"} 1"));
}

TEST_CASE("a step cancelled before it started is neither a ticket nor a step duration",
          "[metrics]") {
    // Announced live as its record tells (step.finished, cancelled), it sent nothing.
    Scrape s;
    engine::EngineEvent never_ran = step_end("ticket.create", "cancelled");
    never_ran.attempt = 0;
    never_ran.duration_ms = 0;
    s.metrics->on_event(never_ran);
    std::string text = s.text();
    CHECK(text.find("itsm_ticket_creation_total{") == std::string::npos);
    CHECK(text.find("ferry_step_duration_seconds_count{task=\"ticket.create\"}") ==
          std::string::npos);
}

TEST_CASE("a step cancelled while it ran counts its time, not a failed ticket or delivery",
          "[metrics]") {
    // The cancel was an operator's: a create cut short may have made its ticket, and a
    // delivery cut short left no dead letter behind the "failed" an alert watches.
    Scrape s;
    for (const char* task : {"ticket.create", "webhook.emit"}) {
        engine::EngineEvent stopped = step_end(task, "cancelled");
        stopped.attempt = 1;
        s.metrics->on_event(stopped);
    }
    std::string text = s.text();
    CHECK(text.find("itsm_ticket_creation_total{") == std::string::npos);
    CHECK(text.find("ferry_webhook_deliveries_total{") == std::string::npos);
    CHECK(has(text, "ferry_step_duration_seconds_count{task=\"ticket.create\"} 1"));
    CHECK(has(text, "ferry_step_duration_seconds_count{task=\"webhook.emit\"} 1"));
}

TEST_CASE("a histogram's sum keeps every digit it needs", "[metrics]") {
    // Printed with 6 significant digits, a month of approval time (2.592e+06 s) froze the
    // sum: the 2 s that came after never showed, nor did a mean duration.
    Scrape s;
    engine::EngineEvent month = step_end("approval", "succeeded");
    month.duration_ms = 2592000219;
    s.metrics->on_event(month);
    engine::EngineEvent two = step_end("approval", "succeeded");
    two.duration_ms = 2002;
    s.metrics->on_event(two);
    std::string text = s.text();
    CHECK(has(text, "ferry_step_duration_seconds_sum{task=\"approval\"} 2592002.221"));
    CHECK(has(text, "ferry_step_duration_seconds_bucket{task=\"approval\",le=\"0.005\"} 0"));
}

TEST_CASE("rate-limited forms and hooks count what they refused, label values escaped",
          "[metrics]") {
    Scrape s;
    RateLimits::Limits limits;
    limits[{"form", "feedback"}].refused = 3;
    limits[{"hook", "a\"b"}].refused = 0;  // limited, nothing refused yet
    std::string text = s.metrics->render({}, {}, limits);
    CHECK(has(text, "# TYPE ferry_rate_limited_total counter"));
    CHECK(has(text, "ferry_rate_limited_total{kind=\"form\",name=\"feedback\"} 3"));
    CHECK(has(text, "ferry_rate_limited_total{kind=\"hook\",name=\"a\\\"b\"} 0"));
    // Without limits: the metric's header alone (promtool accepts a family without samples).
    CHECK(s.text().find("ferry_rate_limited_total{") == std::string::npos);
}
