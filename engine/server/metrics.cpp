#include "server/metrics.h"

#include <charconv>
#include <cstdio>

namespace ferry::engine::server {

namespace {

const std::vector<double> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                     1,     2.5,  5,     10,   30,  60};

// A label value escaped per the exposition format (backslash, quote, newline).
std::string label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

// The shortest text that reads back as v: "%.6g" froze a histogram's _sum once it passed
// 1e6 seconds (a month of approvals), every later observation lost in its rounding.
std::string num(double v) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

}  // namespace

Metrics::Metrics(App& app, const StoreRoom& room) : app_(app), room_(room) {
    ticket_seconds_.buckets.assign(kBounds.size(), 0);
}

void Metrics::observe(Histogram& h, double seconds) {
    if (h.buckets.empty()) h.buckets.assign(kBounds.size(), 0);
    for (size_t i = 0; i < kBounds.size(); ++i)
        if (seconds <= kBounds[i]) ++h.buckets[i];
    ++h.count;
    h.sum += seconds;
}

void Metrics::on_event(const EngineEvent& e) {
    if (e.type == "execution.finished") {
        ++executions_[{e.workflow, e.status}];
        return;
    }
    bool step_end = e.type == "step.finished" || e.type == "step.failed";
    // A for_each step's end sums up its items, which were counted one by one. A step that
    // ended before it started (a cancel, a failure elsewhere) ran nothing to time or count.
    if (!step_end || e.status == "skipped" || e.for_each_summary) return;
    if (e.status == "cancelled" && e.attempt == 0) return;
    observe(step_seconds_[e.task], e.duration_ms / 1000.0);
    // A step that showed its request instead of sending it (a dry run; a dry-run step or
    // integration): a preview, whatever its task, and nothing was created or delivered.
    if (e.previewed) {
        ++dry_runs_;
        return;
    }
    // A cancel is the operator's, not the vendor's: neither a failed ticket nor a delivery
    // given up on (there is no dead letter behind it), and a cancelled create may well
    // have created its ticket.
    if (e.status == "cancelled") return;
    if (e.task == "ticket.create") {
        std::string platform = e.provider.empty() ? "servicenow" : e.provider;
        ++tickets_[{platform, e.status == "succeeded" ? "success" : "failure"}];
        observe(ticket_seconds_, e.duration_ms / 1000.0);
    } else if (e.task == "webhook.emit") {
        // A delivery given up on succeeds as a step (it is in the dead-letter queue, as
        // asked), but it was not delivered.
        bool delivered = e.status == "succeeded" && e.outcome != "dead_lettered";
        ++webhooks_[{"step", delivered ? "delivered" : "failed"}];
    }
}

std::string Metrics::render(const std::map<std::string, uint64_t>& http_requests,
                            Connections connections, const RateLimits::Limits& rate_limits) const {
    std::string out;
    auto header = [&](const char* name, const char* type, const char* help) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    auto histogram = [&](const std::string& name, const std::string& labels, const Histogram& h) {
        std::string sep = labels.empty() ? "" : ",";
        for (size_t i = 0; i < kBounds.size(); ++i) {
            uint64_t c = h.buckets.empty() ? 0 : h.buckets[i];
            out += name + "_bucket{" + labels + sep + "le=\"" + num(kBounds[i]) + "\"} " +
                   std::to_string(c) + "\n";
        }
        out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(h.count) + "\n";
        std::string l = labels.empty() ? "" : "{" + labels + "}";
        out += name + "_sum" + l + " " + num(h.sum) + "\n";
        out += name + "_count" + l + " " + std::to_string(h.count) + "\n";
    };

    header("ferry_executions_total", "counter",
           "Executions finished since start, by workflow and status.");
    for (const auto& [k, v] : executions_)
        out += "ferry_executions_total{workflow=\"" + label(k.first) + "\",status=\"" +
               label(k.second) + "\"} " + std::to_string(v) + "\n";
    header("ferry_step_duration_seconds", "histogram", "Step durations by task.");
    for (const auto& [task, h] : step_seconds_)
        histogram("ferry_step_duration_seconds", "task=\"" + label(task) + "\"", h);
    header("itsm_ticket_creation_total", "counter",
           "Tickets created (or failed to create), by platform and status.");
    for (const auto& [k, v] : tickets_)
        out += "itsm_ticket_creation_total{platform=\"" + label(k.first) + "\",status=\"" +
               label(k.second) + "\"} " + std::to_string(v) + "\n";
    header("itsm_ticket_creation_duration_seconds", "histogram",
           "Duration of ticket.create steps.");
    histogram("itsm_ticket_creation_duration_seconds", "", ticket_seconds_);
    header("itsm_dry_run_total", "counter",
           "Steps that previewed a request instead of sending it.");
    out += "itsm_dry_run_total " + std::to_string(dry_runs_) + "\n";
    header("ferry_webhook_deliveries_total", "counter",
           "Signed webhook deliveries by source (step: webhook.emit, events: ferry.yaml's "
           "events) and outcome (failed: given up on, in the dead-letter queue).");
    for (const auto& [k, v] : webhooks_)
        out += "ferry_webhook_deliveries_total{source=\"" + label(k.first) + "\",status=\"" +
               label(k.second) + "\"} " + std::to_string(v) + "\n";
    header("ferry_dlq_size", "gauge", "Deliveries waiting in the dead-letter queue.");
    auto dlq = app_.store->dlq_size();  // a count, not the deliveries: scraped every few s
    out += "ferry_dlq_size " + std::to_string(dlq ? dlq.value() : 0) + "\n";
    store::Store::Usage usage = app_.store->usage();
    header("ferry_store_file_bytes", "gauge",
           "High-water mark of the history file; pages freed by pruning are reused.");
    out += "ferry_store_file_bytes " + std::to_string(usage.file_bytes) + "\n";
    header("ferry_store_used_bytes", "gauge",
           "Bytes of the history file in use: the high-water mark less the freed pages.");
    out += "ferry_store_used_bytes " + std::to_string(usage.used_bytes()) + "\n";
    header("ferry_executions_refused_total", "counter",
           "Executions not started because the store had no room (507 answers and skipped "
           "schedule runs), by reason.");
    out += "ferry_executions_refused_total{reason=\"store_full\"} " +
           std::to_string(room_.refused()) + "\n";
    header("ferry_store_map_bytes", "gauge",
           "The most the history file may grow to (store.map_size); writes fail past it.");
    out += "ferry_store_map_bytes " + std::to_string(usage.map_bytes) + "\n";
    header("ferry_executions_pruned_total", "counter",
           "Ended executions removed from history under store.keep since start.");
    out += "ferry_executions_pruned_total " + std::to_string(pruned_) + "\n";
    header("ferry_integration_up", "gauge", "1 when the integration's circuit breaker is closed.");
    for (const std::string& name : app_.integrations.names()) {
        auto h = app_.integrations.find(name)->health();
        out += "ferry_integration_up{integration=\"" + label(name) + "\"} " +
               (h.breaker == "closed" ? "1" : "0") + "\n";
    }
    header("ferry_integration_latency_seconds", "gauge",
           "Latency of the integration's last request.");
    for (const std::string& name : app_.integrations.names()) {
        auto h = app_.integrations.find(name)->health();
        out += "ferry_integration_latency_seconds{integration=\"" + label(name) + "\"} " +
               num(h.last_latency_ms / 1000.0) + "\n";
    }
    if (app_.engine) {
        // What an alert on a backlog, or on decisions left waiting, keys on.
        const size_t busy = app_.engine->busy_executions();
        const size_t held = app_.engine->active_executions();
        header("ferry_executions_active", "gauge",
               "Executions this process holds now: running, or waiting for a decision.");
        out += "ferry_executions_active{state=\"running\"} " + std::to_string(busy) + "\n";
        out += "ferry_executions_active{state=\"waiting\"} " +
               std::to_string(held > busy ? held - busy : 0) + "\n";
    }
    if (!version.empty()) {
        header("ferry_build_info", "gauge",
               "Always 1; its labels are the running binary's version and commit.");
        out += "ferry_build_info{version=\"" + label(version) + "\",commit=\"" +
               label(commit.empty() ? "unknown" : commit) + "\"} 1\n";
    }
    header("ferry_http_requests_total", "counter", "API requests by method and status.");
    for (const auto& [k, v] : http_requests) {
        size_t sp = k.find(' ');
        out += "ferry_http_requests_total{method=\"" + label(k.substr(0, sp)) + "\",status=\"" +
               label(k.substr(sp + 1)) + "\"} " + std::to_string(v) + "\n";
    }
    header("ferry_rate_limited_total", "counter",
           "Form submissions and hook deliveries answered 429 over their rate_limit (each "
           "limited form and hook from its first call on).");
    for (const auto& [key, limit] : rate_limits)
        out += "ferry_rate_limited_total{kind=\"" + label(key.first) + "\",name=\"" +
               label(key.second) + "\"} " + std::to_string(limit.refused) + "\n";
    header("ferry_http_connections_open", "gauge", "Client connections open now.");
    out += "ferry_http_connections_open " + std::to_string(connections.open) + "\n";
    header("ferry_http_connections_refused_total", "counter",
           "Connections answered 503 and closed: the server had its limit of connections open.");
    out += "ferry_http_connections_refused_total " + std::to_string(connections.refused) + "\n";
    return out;
}

}  // namespace ferry::engine::server
