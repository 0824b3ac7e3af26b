// ferry.yaml `schedules:` run by `ferry serve`: one loop timer per schedule, set for its next
// due time. Each run records "schedule:NAME" -> {"last_due", "execution_id"} in the store's
// kv in the same commit as the execution's first record, before any step starts: a restart
// finds the due time done and never runs it twice, and a run is never recorded without its
// execution. After downtime that missed due times, one catch-up run (catch_up: false: none).
// One `ferry serve` per data folder runs the schedules.
#pragma once

#include "core/app.h"
#include "server/api.h"

#include <memory>
#include <string>
#include <vector>

namespace ferry::engine::server {

class Schedules {
  public:
    // dry_run: every scheduled execution is a dry run (`ferry serve --dry-run`). A run due
    // while the store has no room (StoreRoom) is skipped, with an error in the log.
    Schedules(App& app, bool dry_run, ServerLog& log, StoreRoom& room);
    ~Schedules();
    // Reads the last runs, runs what downtime missed, arms the timers.
    void start();
    void add_routes(Api& api);
    // No new runs (shutdown); what is durable stays for the next start.
    void stop();
    // What GET /api/v1/schedules answers: each schedule, its next and last runs.
    std::string list_json() const;

  private:
    struct State;
    void arm(State& s, uint64_t due);
    void fire(State& s, uint64_t due);
    void remember(const State& s);  // stages the schedule's record in the store
    // Marks the stored state of schedules no longer in ferry.yaml as off (paused).
    void forget_removed_schedules();

    App& app_;
    bool dry_run_;
    ServerLog& log_;
    StoreRoom& room_;
    std::vector<std::unique_ptr<State>> states_;
};

}  // namespace ferry::engine::server
