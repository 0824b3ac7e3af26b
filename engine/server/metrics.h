// /metrics in the Prometheus text format: counters and histograms fed by engine events, plus
// gauges read at scrape time (DLQ size, integration health).
#pragma once

#include "core/app.h"
#include "server/rate_limits.h"
#include "server/store_room.h"

#include <map>
#include <string>
#include <vector>

namespace ferry::engine::server {

class Metrics {
  public:
    // room: the starts it refused for a full store are counted.
    Metrics(App& app, const StoreRoom& room);
    void on_event(const EngineEvent& e);
    // A delivery of ferry.yaml's `events:` (EventNotifier), delivered or dead-lettered.
    void count_event_delivery(bool delivered) {
        ++webhooks_[{"events", delivered ? "delivered" : "failed"}];
    }
    // Executions `ferry serve` pruned under store.keep.
    void count_pruned(uint64_t executions) { pruned_ += executions; }
    // The binary's version and commit, for ferry_build_info (which an alert on a fleet's
    // mixed versions keys on); none printed when the version is empty.
    std::string version;
    std::string commit;
    // The HTTP server's connections at the time of a scrape.
    struct Connections {
        size_t open = 0;
        uint64_t refused = 0;  // answered 503: the server had its limit open
    };
    std::string render(const std::map<std::string, uint64_t>& http_requests,
                       Connections connections, const RateLimits::Limits& rate_limits = {}) const;

  private:
    struct Histogram {
        std::vector<uint64_t> buckets;  // cumulative counts per bound
        uint64_t count = 0;
        double sum = 0;
    };
    void observe(Histogram& h, double seconds);

    App& app_;
    const StoreRoom& room_;
    std::map<std::pair<std::string, std::string>, uint64_t> executions_;  // workflow, status
    std::map<std::string, Histogram> step_seconds_;                       // by task
    std::map<std::pair<std::string, std::string>, uint64_t> tickets_;     // platform, status
    Histogram ticket_seconds_;
    uint64_t dry_runs_ = 0;
    std::map<std::pair<std::string, std::string>, uint64_t> webhooks_;  // source, status
    uint64_t pruned_ = 0;
};

}  // namespace ferry::engine::server
