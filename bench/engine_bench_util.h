// Helpers shared by the workflow-engine benchmarks (engine_throughput_bench,
// task_overhead_bench, parked_memory_bench): a throw-away project folder, the App, an
// "executions in flight" driver, commit/fsync counters and memory readings.
#pragma once

#include "core/app.h"
#include "core/values.h"
#include "template/value.h"
#include "workflow/loader.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <malloc.h>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace bench {

namespace fs = std::filesystem;

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

[[noreturn]] inline void die(const std::string& what) {
    std::fprintf(stderr, "bench: %s\n", what.c_str());
    std::exit(1);
}

// A fresh project folder under base (default $TMPDIR or /tmp: it must be a real disk for the
// fsync figures to mean anything) with the given files; removed by the destructor.
class TempProject {
  public:
    explicit TempProject(const std::vector<std::pair<std::string, std::string>>& files,
                         std::string base = {}) {
        if (base.empty()) {
            const char* t = std::getenv("TMPDIR");
            base = t && *t ? t : "/tmp";
        }
        std::string pattern = base + "/ferry-bench-XXXXXX";
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        if (!mkdtemp(buf.data())) die("mkdtemp " + pattern + ": " + std::strerror(errno));
        dir_ = buf.data();
        for (const auto& [rel, text] : files) {
            fs::path p = fs::path(dir_) / rel;
            fs::create_directories(p.parent_path());
            std::ofstream(p, std::ios::binary) << text;
        }
    }
    ~TempProject() { remove(); }
    void remove() {
        if (keep_ || dir_.empty()) return;
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    const std::string& dir() const { return dir_; }
    std::string data_dir() const { return dir_ + "/.ferry"; }
    void keep() { keep_ = true; }

  private:
    std::string dir_;
    bool keep_ = false;
};

inline std::unique_ptr<ferry::engine::App>
open_app(const std::string& project_dir, bool durable,
         bool commit_thread = ferry::engine::EngineOptions{}.commit_thread) {
    ferry::engine::AppOptions options;
    options.project_dir = project_dir;
    options.durable = durable;
    options.engine.commit_thread = commit_thread;
    std::vector<ferry::workflow::Diagnostic> problems;
    auto app = ferry::engine::App::open(options, problems);
    for (const auto& p : problems)
        std::fprintf(stderr, "bench: task problem: %s\n", p.describe().c_str());
    if (!app) die("App::open: " + app.error().describe());
    return std::move(app.value());
}

inline std::shared_ptr<const ferry::workflow::Workflow> load(ferry::engine::App& app,
                                                             const std::string& name) {
    auto wf = app.load_workflow(name);
    if (!wf) die(wf.error().message);
    return wf.value();
}

inline ferry::tmpl::Value inputs_for(const ferry::workflow::Workflow& wf, const std::string& json) {
    auto resolved = ferry::workflow::resolve_inputs(wf, ferry::tmpl::value_from_json(json));
    if (!resolved) die(resolved.error().message);
    return resolved.value();
}

// Keeps `inflight` executions of wf running, starting a new one whenever one finishes,
// until `total` have finished. Runs the loop itself.
struct Driver {
    Driver(ferry::engine::App& a, std::shared_ptr<const ferry::workflow::Workflow> w,
           ferry::tmpl::Value in, size_t total_, size_t inflight_)
        : app(a), wf(std::move(w)), inputs(std::move(in)), total(total_), inflight(inflight_) {}

    ferry::engine::App& app;
    std::shared_ptr<const ferry::workflow::Workflow> wf;
    ferry::tmpl::Value inputs;
    size_t total = 0;
    size_t inflight = 0;
    size_t started = 0;
    size_t finished = 0;
    size_t failed = 0;
    std::string first_failure;
    std::string first_outputs;  // of the first execution that succeeded, as JSON

    void start_one() {
        ++started;
        ferry::engine::StartOptions opts;
        opts.trigger = "api";
        auto id =
            app.engine->start(wf, inputs, opts, [this](const ferry::engine::ExecutionSummary& s) {
                ++finished;
                if (s.status != "succeeded") {
                    if (failed++ == 0)
                        first_failure = s.status + ": " + ferry::engine::to_json_text(s.error);
                } else if (first_outputs.empty()) {
                    first_outputs = ferry::engine::to_json_text(s.outputs);
                }
                if (started < total) start_one();
            });
        if (!id) die("start: " + id.error().describe());
    }

    // Returns the wall time in seconds from the first start to the last finish.
    double run() {
        auto t0 = std::chrono::steady_clock::now();
        size_t first = std::min(inflight, total);
        for (size_t i = 0; i < first; ++i)
            start_one();
        app.loop.run();
        ferry::Status s = app.engine->flush();
        if (!s) die("flush: " + s.error().describe());
        double secs = seconds_since(t0);
        if (finished != total)
            die("only " + std::to_string(finished) + " of " + std::to_string(total) +
                " executions finished");
        return secs;
    }
};

// Memory readings. RSS from /proc/self/statm (resident pages); heap from mallinfo2 (bytes
// malloc has handed out and not got back, the figure RSS approximates from above).
inline size_t rss_bytes() {
    std::ifstream in("/proc/self/statm");
    size_t size = 0, resident = 0;
    in >> size >> resident;
    return resident * size_t(sysconf(_SC_PAGESIZE));
}

inline size_t heap_in_use() {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

inline std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            size_t c = line.find(':');
            return c == std::string::npos ? line : line.substr(c + 2);
        }
    }
    return "unknown";
}

}  // namespace bench
