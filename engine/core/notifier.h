// Execution and step events as signed webhooks (ferry.yaml `events:`): each event a Standard
// Webhooks delivery through a webhook integration, so a SIEM sees what Ferry does. A
// delivery that fails after the integration's retries goes to the dead-letter queue, as a
// webhook.emit would. Dry-run executions send nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "core/executor.h"
#include "runtime/integration/registry.h"
#include "store/store.h"
#include "workflow/project_config.h"

namespace ferry::engine {

class EventNotifier {
  public:
    EventNotifier(const workflow::ProjectConfig& config, IntegrationRegistry& integrations,
                  store::Store& store)
        : config_(config), integrations_(integrations), store_(store) {}
    // Subscribes to the engine (a no-op when ferry.yaml has no `events:`).
    void attach(Engine& engine);
    size_t pending() const { return in_flight_.size(); }
    // A process that stops (ferry serve's drain over, a signal to ferry run) with deliveries
    // not ended, in flight or waiting for a retry: each goes to the dead-letter queue now
    // (staged; the caller's flush writes it) rather than vanish with the process. It may
    // have arrived: its webhook-id lets a receiver tell a replay from a new event.
    void dead_letter_pending();
    // Told the outcome of every delivery once it is known: delivered (a 2xx), or given up
    // on and put in the dead-letter queue (ferry serve counts them in /metrics).
    void on_delivery(std::function<void(bool delivered)> observer) {
        on_delivery_ = std::move(observer);
    }

  private:
    // What a dead letter of one delivery says, but its error and attempts.
    struct Delivery {
        std::string webhook_id, url, body, integration, type, execution_id;
        uint64_t request = 0;  // the client's, to cancel it and take its attempts at a stop
    };
    void deliver(const workflow::EventSubscription& sub, const EngineEvent& e);
    void dead_letter(const Delivery& d, const std::string& why, int attempts);

    const workflow::ProjectConfig& config_;
    IntegrationRegistry& integrations_;
    store::Store& store_;
    std::map<uint64_t, Delivery> in_flight_;  // by a number of this process's own
    uint64_t next_delivery_ = 0;
    std::function<void(bool)> on_delivery_;
};

}  // namespace ferry::engine
