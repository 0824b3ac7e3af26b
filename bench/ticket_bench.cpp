// Tickets created per second (issue 4): an App opened on a throw-away project keeps K
// executions in flight (a new one starts whenever one finishes) until N have finished, after
// W warm-up executions. Each execution is the bundled RCA flow in three steps:
//
//   body      template.render of the bundled incident.md.j2 with an RCA (default: the
//             bundled templates/samples/rca-incident.json, 5.5 KB of Markdown out)
//   incident  ticket.create (servicenow) with that description: POST /api/now/table/incident
//             through the integration (basic auth from ${env:...}, retry policy, attempt
//             records), on a fresh connection as every non-idempotent create
//   notify    webhook.emit of ticket.created with the ticket number (signed, Standard
//             Webhooks; idempotent, so it reuses connections)
//
// against a local mock that must not be the bottleneck (nginx; bench/ticket_bench.sh starts
// it). Durable history (group commit, fsync on) by default; --no-sync for comparison.
//
//   ticket_bench --port P [--host 127.0.0.1] [--inflight K] [--total N] [--warmup W]
//                [--no-sync] [--dir BASE] [--sample RCA.json] [--mock-pid PID] [--keep]
//
// --keep leaves the throw-away project (and its .ferry store) in place, to read the history
// with `ferry executions show` or mdb_dump.
//
// Prints one JSON object: tickets/s, ferry's CPU per ticket (getrusage of this process:
// the benchmark process IS the ferry engine here), the mock's CPU per ticket (utime+stime
// of the nginx master and its workers from /proc/PID/stat, when --mock-pid is given), LMDB
// commits and fdatasyncs (interposed, bench/commit_counter.cpp), store bytes per ticket,
// the HTTP requests and connections the mock counted (its stub_status), and the load
// average before and after.
#include "commit_counter.h"
#include "engine_bench_util.h"

#include "core/values.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <cinttypes>
#include <sstream>

#ifndef FERRY_SOURCE_DIR
#define FERRY_SOURCE_DIR "."
#endif

namespace {

namespace fs = std::filesystem;

std::pair<double, double> cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto secs = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return {secs(ru.ru_utime), secs(ru.ru_stime)};
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) bench::die("cannot read " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string load_average() {
    std::string text = read_file("/proc/loadavg");
    std::istringstream in(text);
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

// utime + stime in seconds of a process (/proc/PID/stat fields 14 and 15).
double process_cpu(long pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(in, text)) return 0;
    size_t close = text.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) return 0;
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// The mock's CPU: its master and the master's children (the nginx workers).
double mock_cpu(long pid) {
    if (pid <= 0) return 0;
    double total = process_cpu(pid);
    std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) +
                           "/children");
    long child = 0;
    while (children >> child)
        total += process_cpu(child);
    return total;
}

// Disk blocks held by the data folder (LMDB's file is sparse: its size says nothing).
uint64_t allocated_bytes(const std::string& dir) {
    uint64_t total = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        struct stat st {};
        if (::stat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
            total += uint64_t(st.st_blocks) * 512;
    }
    return total;
}

// The mock's own counters (nginx stub_status: "accepts handled requests"), fetched through
// ferry's HTTP client between the phases (when no execution is running).
struct MockCounters {
    bool ok = false;
    uint64_t accepts = 0, requests = 0;
};

MockCounters mock_counters(ferry::engine::App& app, const std::string& base) {
    MockCounters c;
    ferry::HttpRequest req;
    req.url = base + "/nginx_status";
    app.http.send(std::move(req),
                  [&](ferry::Result<ferry::HttpResponse> res, const ferry::HttpTransferInfo&) {
                      if (!res || res.value().status != 200) return;
                      const std::string& body = res.value().body;
                      size_t at = body.find("requests");
                      if (at == std::string::npos) return;
                      std::istringstream in(body.substr(at + 8));
                      uint64_t handled = 0;
                      if (in >> c.accepts >> handled >> c.requests) c.ok = true;
                  });
    app.loop.run();
    return c;
}

std::string ferry_yaml(const std::string& base) {
    // No rate_limit: the bundled ferry.yaml's 10/s would be the benchmark's figure. Retry
    // policies as in the bundled ferry.yaml (they cost nothing unless a request fails).
    return "integrations:\n"
           "  servicenow-bench:\n"
           "    type: servicenow\n"
           "    base_url: " +
           base +
           "\n"
           "    auth: {type: basic, username: svc_ferry, password: "
           "\"${env:FERRY_BENCH_SERVICENOW_PASSWORD}\"}\n"
           "    table: incident\n"
           "    retry: {max_attempts: 3, initial_delay: 1s}\n"
           "    defaults: {assignment_group: DevOps Team, category: RCA Analysis}\n"
           "  siem-webhook-bench:\n"
           "    type: webhook\n"
           "    url: " +
           base +
           "/webhook/ferry\n"
           "    secret: \"${env:FERRY_BENCH_WEBHOOK_SECRET}\"\n"
           "    retry: {max_attempts: 5, initial_delay: 2s, max_delay: 1m}\n";
}

// The rca-to-ticket workflow's ServiceNow path (workflows/rca-to-ticket.yaml), without its
// `when:` branches. correlation_id is set by the workflow (docs/integrations.md: "Setting
// fields.correlation_id yourself makes that value the key") only because a static mock
// cannot echo the step's idempotency key back: without it every create would log the
// "record does not keep correlation_id" warning, which a real ServiceNow never causes.
const char* kWorkflow = R"(name: ticket-bench
description: RCA -> rendered description -> ServiceNow incident -> signed webhook (benchmark)
inputs:
  rca:
    type: object
    required: true
steps:
  - id: body
    task: template.render
    with:
      template: incident.md.j2
      vars: "{{ inputs.rca }}"
  - id: incident
    task: ticket.create
    provider: servicenow
    integration: servicenow-bench
    retry: {max_attempts: 3, initial_delay: 2s, max_delay: 30s}
    timeout: 2m
    with:
      table: incident
      severity: "{{ inputs.rca.get('severity') | default('medium', true) | lower }}"
      fields:
        short_description: "{{ inputs.rca.title | truncate(160, true, '…', 0) }}"
        description: "{{ steps.body.output.text }}"
        correlation_id: ferry-ticket-bench
  - id: notify
    task: webhook.emit
    integration: siem-webhook-bench
    with:
      type: ticket.created
      data:
        platform: servicenow
        ticket: "{{ steps.incident.output.number }}"
        url: "{{ steps.incident.output.url }}"
        rca_id: "{{ inputs.rca.get('incident_id') }}"
        severity: "{{ inputs.rca.get('severity') | default('medium', true) | lower }}"
        title: "{{ inputs.rca.title }}"
outputs:
  ticket: "{{ steps.incident.output.number }}"
  created: "{{ steps.incident.output.created }}"
  notified: "{{ steps.notify.output.status }}"
)";

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", base_dir,
                sample = std::string(FERRY_SOURCE_DIR) + "/templates/samples/rca-incident.json";
    int port = 0;
    long mock_pid = 0;
    size_t inflight = 100, total = 20000, warmup = 1000;
    bool durable = true, keep = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) bench::die(a + " needs a value");
            return argv[++i];
        };
        if (a == "--port")
            port = std::stoi(next());
        else if (a == "--host")
            host = next();
        else if (a == "--inflight")
            inflight = std::stoul(next());
        else if (a == "--total")
            total = std::stoul(next());
        else if (a == "--warmup")
            warmup = std::stoul(next());
        else if (a == "--no-sync")
            durable = false;
        else if (a == "--dir")
            base_dir = next();
        else if (a == "--sample")
            sample = next();
        else if (a == "--mock-pid")
            mock_pid = std::stol(next());
        else if (a == "--keep")
            keep = true;
        else {
            std::fprintf(
                stderr,
                "usage: ticket_bench --port P [--host H] [--inflight K] [--total N] [--warmup W] "
                "[--no-sync] [--dir BASE] [--sample RCA.json] [--mock-pid PID] [--keep]\n");
            return 2;
        }
    }
    if (port <= 0)
        bench::die("--port: the mock's port (bench/ticket_bench.sh starts nginx and passes it)");
    std::string base = "http://" + host + ":" + std::to_string(port);
    // The credentials the integrations reference; the mock does not check them.
    setenv("FERRY_BENCH_SERVICENOW_PASSWORD", "bench-password-not-a-secret", 1);
    setenv("FERRY_BENCH_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);

    std::string load_before = load_average();
    std::string rca = read_file(sample);
    bench::TempProject project(
        {{"ferry.yaml", ferry_yaml(base)}, {"workflows/ticket-bench.yaml", kWorkflow}}, base_dir);
    if (keep) {
        project.keep();
        std::fprintf(stderr, "bench: project kept in %s\n", project.dir().c_str());
    }
    auto app = bench::open_app(project.dir(), durable);
    auto wf = bench::load(*app, "ticket-bench");
    auto inputs = bench::inputs_for(*wf, "{\"rca\": " + rca + "}");

    if (warmup) {
        bench::Driver warm{*app, wf, inputs, warmup, std::min(inflight, warmup)};
        warm.run();
        if (warm.failed) bench::die("warm-up execution failed: " + warm.first_failure);
        if (warm.first_outputs.find("\"notified\":204") == std::string::npos ||
            warm.first_outputs.find("\"ticket\":\"INC") == std::string::npos)
            bench::die("unexpected outputs (is the mock nginx on " + base +
                       "?): " + warm.first_outputs);
        std::fprintf(stderr, "bench: warm-up outputs %s\n", warm.first_outputs.c_str());
    }

    auto& counters = bench::sync_counters();
    uint64_t commits0 = counters.commits, fdatasyncs0 = counters.fdatasyncs,
             commit_ns0 = counters.commit_ns;
    MockCounters mock0 = mock_counters(*app, base);
    uint64_t disk0 = allocated_bytes(project.data_dir());
    size_t lua0 = app->vm.allocated_total();
    double mock_cpu0 = mock_cpu(mock_pid);
    auto [user0, sys0] = cpu_seconds();

    bench::Driver driver{*app, wf, inputs, total, inflight};
    double secs = driver.run();

    auto [user1, sys1] = cpu_seconds();
    double mock_cpu1 = mock_cpu(mock_pid);
    double lua_bytes = double(app->vm.allocated_total() - lua0) / double(total);
    uint64_t disk1 = allocated_bytes(project.data_dir());
    MockCounters mock1 = mock_counters(*app, base);
    std::string load_after = load_average();

    double cpu = (user1 - user0) + (sys1 - sys0);
    double rate = double(total) / secs;
    uint64_t commits = counters.commits - commits0;
    uint64_t fdatasyncs = counters.fdatasyncs - fdatasyncs0;
    double commit_secs = double(counters.commit_ns - commit_ns0) / 1e9;
    char mock_fields[256] = "";
    if (mock0.ok && mock1.ok) {
        // The stub_status fetch itself is one request (on its own connection) per phase.
        std::snprintf(mock_fields, sizeof mock_fields,
                      ", \"mock_requests_per_ticket\": %.3f, \"mock_connections_per_ticket\": %.3f",
                      double(mock1.requests - mock0.requests - 1) / double(total),
                      double(mock1.accepts - mock0.accepts) / double(total));
    }
    char mock_cpu_field[96] = "";
    if (mock_pid > 0)
        std::snprintf(mock_cpu_field, sizeof mock_cpu_field, ", \"mock_cpu_us_per_ticket\": %.1f",
                      1e6 * (mock_cpu1 - mock_cpu0) / double(total));

    std::printf(
        "{\"bench\": \"ticket\", \"durable\": %s, \"inflight\": %zu, \"tickets\": %zu, \"failed\": "
        "%zu, "
        "\"seconds\": %.3f, \"tickets_per_second\": %.0f, \"target_ratio\": %.3f, "
        "\"cpu_us_per_ticket\": %.1f, \"cpu_system_share\": %.2f, \"ferry_cpu_utilisation\": "
        "%.2f%s, "
        "\"commits\": %" PRIu64 ", \"tickets_per_commit\": %.2f, \"fdatasyncs\": %" PRIu64 ", "
        "\"seconds_in_commit\": %.3f, \"store_bytes_per_ticket\": %.0f, "
        "\"lua_bytes_allocated_per_ticket\": %.0f, \"mean_latency_ms\": %.2f%s, "
        "\"load_before\": \"%s\", \"load_after\": \"%s\"}\n",
        durable ? "true" : "false", inflight, total, driver.failed, secs, rate, rate / 5000.0,
        1e6 * cpu / double(total), (sys1 - sys0) / std::max(1e-9, cpu), cpu / secs, mock_cpu_field,
        commits, commits ? double(total) / double(commits) : 0.0, fdatasyncs, commit_secs,
        (double(disk1) - double(disk0)) / double(total), lua_bytes,
        1000.0 * double(inflight) / rate, mock_fields, load_before.c_str(), load_after.c_str());
    if (driver.failed) std::fprintf(stderr, "first failure: %s\n", driver.first_failure.c_str());
    return driver.failed ? 1 : 0;
}
