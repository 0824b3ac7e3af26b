#include "core/notifier.h"

#include "core/run_state.h"
#include "core/values.h"
#include "runtime/ids.h"

#include <algorithm>

namespace ferry::engine {

namespace {

bool wanted(const std::vector<std::string>& filter, const std::string& value) {
    return filter.empty() || std::find(filter.begin(), filter.end(), value) != filter.end();
}

}  // namespace

void EventNotifier::attach(Engine& engine) {
    if (config_.events.empty()) return;
    engine.on_event([this](const EngineEvent& e) {
        if (e.dry_run) return;
        for (const workflow::EventSubscription& sub : config_.events) {
            if (wanted(sub.types, e.type) && wanted(sub.workflows, e.workflow)) deliver(sub, e);
        }
    });
}

void EventNotifier::deliver(const workflow::EventSubscription& sub, const EngineEvent& e) {
    IntegrationClient* client = integrations_.find(sub.integration);
    if (!client) return;  // validated at load; kept defensive for a config reloaded later
    tmpl::Value data = dict_of({{"execution_id", str(e.execution_id)},
                                {"workflow", str(e.workflow)},
                                {"status", str(e.status)}});
    auto& d = data.dict_obj();
    if (!e.step.empty()) d.set(str("step"), str(e.step));
    if (!e.message.empty()) d.set(str("message"), str(e.message));
    if (e.attempt > 0) d.set(str("attempt"), tmpl::Value::integer(e.attempt));
    if (e.duration_ms > 0) d.set(str("duration_ms"), tmpl::Value::floating(e.duration_ms));
    tmpl::Value payload = dict_of(
        {{"type", str(e.type)}, {"timestamp", str(rfc3339(now_unix_ms()))}, {"data", data}});
    Delivery delivery;
    delivery.webhook_id = "evt_" + new_ulid();
    delivery.url = client->config().url;
    delivery.body = to_json_text(payload);
    delivery.integration = sub.integration;
    delivery.type = e.type;
    delivery.execution_id = e.execution_id;
    IntegrationRequest req;
    req.http.method = "POST";
    req.http.body = delivery.body;
    req.http.headers = {{"content-type", "application/json"}, {"webhook-id", delivery.webhook_id}};
    req.idempotent = true;  // the receiver deduplicates by webhook-id
    uint64_t number = ++next_delivery_;
    auto [slot, _] = in_flight_.emplace(number, std::move(delivery));
    slot->second.request = client->send(std::move(req), [this, number](IntegrationOutcome out) {
        auto it = in_flight_.find(number);
        if (it == in_flight_.end()) return;  // dead-lettered already, at a stop
        Delivery d = std::move(it->second);
        in_flight_.erase(it);
        bool ok = out.response && out.response->status >= 200 && out.response->status < 300;
        if (on_delivery_) on_delivery_(ok);
        if (ok) return;
        dead_letter(
            d, out.response ? "HTTP " + std::to_string(out.response->status) : out.error.message,
            out.attempts);
    });
}

void EventNotifier::dead_letter_pending() {
    auto pending = std::move(in_flight_);
    in_flight_.clear();
    for (const auto& [number, d] : pending) {
        if (on_delivery_) on_delivery_(false);
        // The attempts made so far, and how the last one went, as a delivery given up on
        // after its retries says them.
        std::vector<std::string> attempts;
        if (IntegrationClient* client = integrations_.find(d.integration))
            attempts = client->cancel(d.request);
        // The last attempt that got an outcome (the one in flight, cut short now, has none).
        std::string last;
        for (auto it = attempts.rbegin(); it != attempts.rend() && last.empty(); ++it) {
            tmpl::Value record = tmpl::value_from_json(*it);
            const tmpl::Value* status = dict_get(record, "status");
            const tmpl::Value* error = dict_get(record, "error");
            const tmpl::Value* kind = error ? dict_get(*error, "kind") : nullptr;
            const tmpl::Value* message = error ? dict_get(*error, "message") : nullptr;
            if (status && status->is_int())
                last = "; the last answer: HTTP " + std::to_string(status->as_int());
            else if (kind && kind->is_string() && kind->str() != "cancelled" && message &&
                     message->is_string())
                last = "; the last attempt: " + std::string(message->str());
        }
        dead_letter(d,
                    "not delivered: the process stopped before the delivery ended (it may "
                    "have arrived; the receiver can tell by its webhook-id)" +
                        last,
                    int(attempts.size()));
    }
}

void EventNotifier::dead_letter(const Delivery& d, const std::string& why, int attempts) {
    std::string id = new_ulid();
    tmpl::Value request = dict_of({{"method", str("POST")},
                                   {"url", str(d.url)},
                                   {"headers", dict_of({{"content-type", str("application/json")},
                                                        {"webhook-id", str(d.webhook_id)}})},
                                   {"body", str(d.body)}});
    tmpl::Value entry = dict_of({{"id", str(id)},
                                 {"kind", str("webhook")},
                                 {"source", str("events")},
                                 {"event", str(d.type)},
                                 {"integration", str(d.integration)},
                                 {"execution_id", str(d.execution_id)},
                                 {"webhook_id", str(d.webhook_id)},
                                 {"request", request},
                                 {"error", str(why)},
                                 {"attempts", tmpl::Value::integer(attempts)},
                                 {"created_at", str(rfc3339(now_unix_ms()))}});
    store_.put_dlq(id, to_json_text(entry));
}

}  // namespace ferry::engine
