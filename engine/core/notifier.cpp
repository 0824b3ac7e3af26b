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
    std::string webhook_id = "evt_" + new_ulid();
    IntegrationRequest req;
    req.http.method = "POST";
    req.http.body = to_json_text(payload);
    req.http.headers = {{"content-type", "application/json"}, {"webhook-id", webhook_id}};
    req.idempotent = true;  // the receiver deduplicates by webhook-id
    std::string url = client->config().url;
    std::string body = req.http.body;
    std::string name = sub.integration;
    std::string type = e.type;
    std::string execution = e.execution_id;
    ++pending_;
    client->send(std::move(req), [this, webhook_id, url, body, name, type,
                                  execution](IntegrationOutcome out) {
        --pending_;
        bool ok = out.response && out.response->status >= 200 && out.response->status < 300;
        if (on_delivery_) on_delivery_(ok);
        if (ok) return;
        std::string why =
            out.response ? "HTTP " + std::to_string(out.response->status) : out.error.message;
        std::string id = new_ulid();
        tmpl::Value request =
            dict_of({{"method", str("POST")},
                     {"url", str(url)},
                     {"headers", dict_of({{"content-type", str("application/json")},
                                          {"webhook-id", str(webhook_id)}})},
                     {"body", str(body)}});
        tmpl::Value entry = dict_of({{"id", str(id)},
                                     {"kind", str("webhook")},
                                     {"source", str("events")},
                                     {"event", str(type)},
                                     {"integration", str(name)},
                                     {"execution_id", str(execution)},
                                     {"webhook_id", str(webhook_id)},
                                     {"request", request},
                                     {"error", str(why)},
                                     {"attempts", tmpl::Value::integer(out.attempts)},
                                     {"created_at", str(rfc3339(now_unix_ms()))}});
        store_.put_dlq(id, to_json_text(entry));
    });
}

}  // namespace ferry::engine
