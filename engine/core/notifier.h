// Execution and step events as signed webhooks (ferry.yaml `events:`): each event a Standard
// Webhooks delivery through a webhook integration, so a SIEM sees what Ferry does. A
// delivery that fails after the integration's retries goes to the dead-letter queue, as a
// webhook.emit would. Dry-run executions send nothing.
#pragma once

#include <functional>

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
    size_t pending() const { return pending_; }
    // Told the outcome of every delivery once it is known: delivered (a 2xx), or given up
    // on and put in the dead-letter queue (ferry serve counts them in /metrics).
    void on_delivery(std::function<void(bool delivered)> observer) {
        on_delivery_ = std::move(observer);
    }

  private:
    void deliver(const workflow::EventSubscription& sub, const EngineEvent& e);

    const workflow::ProjectConfig& config_;
    IntegrationRegistry& integrations_;
    store::Store& store_;
    size_t pending_ = 0;
    std::function<void(bool)> on_delivery_;
};

}  // namespace ferry::engine
