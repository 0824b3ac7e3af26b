// Execution and step events as signed webhooks (ferry.yaml `events:`): each event a Standard
// Webhooks delivery through a webhook integration, so a SIEM sees what Ferry does. A
// delivery that fails after the integration's retries goes to the dead-letter queue, as a
// webhook.emit would. Dry-run executions send nothing.
//
// Every delivery is also written to an outbox in the store (kv "outbox:WEBHOOK-ID", staged
// with the records of what the event tells, so durable in the same commit) and erased once
// it is delivered or dead-lettered. A process killed before that (kill -9, a power cut)
// leaves it there, naming the process as its owner; the next `ferry serve` or `ferry
// resume` sends it again (redeliver_orphans) with the same webhook-id, so a receiver that
// got it already can tell.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

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
    // Sends again the outbox's deliveries whose process has died (only those of one
    // execution when execution_id is given): each is taken over under an flock on
    // DATA/locks/outbox-WEBHOOK-ID, so two processes starting together send it once. One
    // whose integration is gone (or is no longer a webhook) is dead-lettered. Returns how
    // many it took over; an error when the outbox cannot be read.
    Result<size_t> redeliver_orphans(const std::string& execution_id = {});
    // Told the outcome of every delivery once it is known: delivered (a 2xx), or given up
    // on and put in the dead-letter queue (ferry serve counts them in /metrics).
    void on_delivery(std::function<void(bool delivered)> observer) {
        on_delivery_ = std::move(observer);
    }

  private:
    // What a dead letter of one delivery says, but its error and attempts.
    struct Delivery {
        std::string webhook_id, url, body, integration, type, execution_id;
        // The client's, to cancel it and take its attempts at a stop; 0 until it is sent.
        uint64_t request = 0;
        bool taken_over = false;  // from a dead process: this one holds its outbox lock
    };
    void deliver(const workflow::EventSubscription& sub, const EngineEvent& e);
    // A delivery in this process's hands (its outbox entry staged already): its number.
    uint64_t queue(Delivery d);
    // Sends the delivery queued under number (unless a stop dead-lettered it meanwhile) and
    // ends it when the outcome is known.
    void send(IntegrationClient& client, uint64_t number);
    // Ends a delivery: its outbox entry erased, and what a taken-over one holds let go once
    // that is durable.
    void settle(const Delivery& d);
    void dead_letter(const Delivery& d, const std::string& why, int attempts);
    std::string outbox_entry(const Delivery& d, const std::string& owner,
                             const std::string& created_at) const;

    const workflow::ProjectConfig& config_;
    IntegrationRegistry& integrations_;
    store::Store& store_;
    Engine* engine_ = nullptr;
    std::map<uint64_t, Delivery> in_flight_;  // by a number of this process's own
    uint64_t next_delivery_ = 0;
    std::function<void(bool)> on_delivery_;
};

}  // namespace ferry::engine
