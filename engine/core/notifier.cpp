#include "core/notifier.h"

#include "core/run_state.h"
#include "core/values.h"
#include "runtime/ids.h"
#include "runtime/integration/secrets.h"

#include <algorithm>
#include <cctype>

namespace ferry::engine {

namespace {

constexpr std::string_view kOutbox = "outbox:";

bool wanted(const std::vector<std::string>& filter, const std::string& value) {
    return filter.empty() || std::find(filter.begin(), filter.end(), value) != filter.end();
}

std::string outbox_key(const std::string& webhook_id) {
    return std::string(kOutbox) + webhook_id;
}

bool plain_id(std::string_view id) {
    return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
}

}  // namespace

void EventNotifier::attach(Engine& engine) {
    engine_ = &engine;
    if (config_.events.empty()) return;
    engine.on_event_staged([this](const EngineEvent& e) {
        if (e.dry_run || e.announced_before) return;
        for (const workflow::EventSubscription& sub : config_.events) {
            if (wanted(sub.types, e.type) && wanted(sub.workflows, e.workflow)) deliver(sub, e);
        }
    });
}

std::string EventNotifier::outbox_entry(const Delivery& d, const std::string& owner,
                                        const std::string& created_at) const {
    return to_json_text(dict_of({{"webhook_id", str(d.webhook_id)},
                                 {"integration", str(d.integration)},
                                 {"type", str(d.type)},
                                 {"execution_id", str(d.execution_id)},
                                 {"body", str(d.body)},
                                 {"owner", str(owner)},
                                 {"created_at", str(created_at)}}));
}

void EventNotifier::deliver(const workflow::EventSubscription& sub, const EngineEvent& e) {
    IntegrationClient* client = integrations_.find(sub.integration);
    if (!client) return;  // validated at load; kept defensive for a config reloaded later
    if (client->config().dry_run) return;  // such an integration never sends, as a dry run
    tmpl::Value data = dict_of({{"execution_id", str(e.execution_id)},
                                {"workflow", str(e.workflow)},
                                {"status", str(e.status)}});
    auto& d = data.dict_obj();
    if (!e.step.empty()) d.set(str("step"), str(e.step));
    if (!e.message.empty()) d.set(str("message"), str(e.message));
    if (e.attempt > 0) d.set(str("attempt"), tmpl::Value::integer(e.attempt));
    if (e.duration_ms > 0) d.set(str("duration_ms"), tmpl::Value::floating(e.duration_ms));
    std::string now = rfc3339(now_unix_ms());
    tmpl::Value payload = dict_of({{"type", str(e.type)}, {"timestamp", str(now)}, {"data", data}});
    Delivery delivery;
    delivery.webhook_id = "evt_" + new_ulid();
    delivery.url = client->config().url;
    delivery.body = to_json_text(payload);
    delivery.integration = sub.integration;
    delivery.type = e.type;
    delivery.execution_id = e.execution_id;
    // Staged now, beside the records of what the event tells: the commit that makes them
    // durable makes the delivery so too, and it is sent once they are (a receiver that
    // looks the execution up finds what the event says). The events of an execution come
    // from the process that runs it, which has its token already; without one the entry
    // names no owner, and the next start takes it over (sent twice at worst, under one
    // webhook-id).
    Result<std::string> owner = engine_->process_token();
    store_.put_kv(outbox_key(delivery.webhook_id),
                  outbox_entry(delivery, owner ? owner.value() : std::string(), now));
    uint64_t number = queue(std::move(delivery));
    store_.after_commit([this, number, integration = sub.integration] {
        if (IntegrationClient* c = integrations_.find(integration)) send(*c, number);
    });
}

uint64_t EventNotifier::queue(Delivery delivery) {
    uint64_t number = ++next_delivery_;
    in_flight_.emplace(number, std::move(delivery));
    return number;
}

void EventNotifier::send(IntegrationClient& client, uint64_t number) {
    auto slot = in_flight_.find(number);
    if (slot == in_flight_.end()) return;  // dead-lettered at a stop before its commit
    const Delivery& delivery = slot->second;
    IntegrationRequest req;
    req.http.method = "POST";
    req.http.body = delivery.body;
    req.http.headers = {{"content-type", "application/json"}, {"webhook-id", delivery.webhook_id}};
    req.idempotent = true;  // the receiver deduplicates by webhook-id
    slot->second.request = client.send(std::move(req), [this, number](IntegrationOutcome out) {
        auto it = in_flight_.find(number);
        if (it == in_flight_.end()) return;  // dead-lettered already, at a stop
        Delivery d = std::move(it->second);
        in_flight_.erase(it);
        bool ok = out.response && out.response->status >= 200 && out.response->status < 300;
        if (on_delivery_) on_delivery_(ok);
        if (ok) {
            settle(d);
            return;
        }
        // The receiver's answer may echo what it was sent (a signature, a token).
        dead_letter(d, redact(out.response ? http_status_text(*out.response) : out.error.message),
                    out.attempts);
    });
}

void EventNotifier::settle(const Delivery& d) {
    store_.erase_kv(outbox_key(d.webhook_id));
    // Let go only once the erase is durable: a process that takes the lock next must find
    // the entry gone, not send it again.
    if (d.taken_over && engine_)
        store_.after_commit(
            [engine = engine_, id = d.webhook_id] { engine->release_outbox_entry(id); });
}

Result<size_t> EventNotifier::redeliver_orphans(const std::string& execution_id) {
    if (!engine_) return size_t(0);  // not attached: nothing of this process's to hand over
    auto entries = store_.scan_kv(std::string(kOutbox));
    if (!entries) return entries.error();
    if (entries.value().empty()) return size_t(0);
    Result<std::string> me = engine_->process_token();
    if (!me) return me.error();
    size_t taken = 0;
    for (const store::KeyedJson& found : entries.value()) {
        tmpl::Value entry = tmpl::value_from_json(found.json);
        if (!entry.is_dict()) continue;
        if (!execution_id.empty() && dict_text(entry, "execution_id") != execution_id) continue;
        Delivery d;
        d.webhook_id = dict_text(entry, "webhook_id");
        // It names a lock file: only what deliver() writes (evt_ and a ULID) is taken.
        if (!plain_id(d.webhook_id) || outbox_key(d.webhook_id) != found.key) continue;
        std::string owner = dict_text(entry, "owner");
        if (owner == me.value() || engine_->process_alive(owner)) continue;
        Result<bool> held = engine_->hold_outbox_entry(d.webhook_id);
        if (!held) return held.error();
        if (!held.value()) continue;  // another process is taking it over now
        // Read again under the lock: the process that held it before may have ended it.
        auto current = store_.get_kv(found.key);
        if (!current || !current.value() || *current.value() != found.json) {
            engine_->release_outbox_entry(d.webhook_id);
            continue;
        }
        d.integration = dict_text(entry, "integration");
        d.type = dict_text(entry, "type");
        d.execution_id = dict_text(entry, "execution_id");
        d.body = dict_text(entry, "body");
        d.taken_over = true;
        ++taken;
        IntegrationClient* client = integrations_.find(d.integration);
        const char* unusable = !client                              ? "is no longer configured"
                               : client->config().type != "webhook" ? "is no longer a webhook"
                               : client->config().dry_run ? "is in dry_run now (replay it after)"
                                                          : nullptr;
        if (unusable) {
            if (on_delivery_) on_delivery_(false);
            dead_letter(d,
                        "not delivered: its process stopped before the delivery ended, and "
                        "integration '" +
                            d.integration + "' " + unusable,
                        0);
            continue;
        }
        d.url = client->config().url;
        // This process owns it now: a third process starting meanwhile leaves it alone.
        store_.put_kv(found.key, outbox_entry(d, me.value(), dict_text(entry, "created_at")));
        send(*client, queue(std::move(d)));
    }
    return taken;
}

void EventNotifier::dead_letter_pending() {
    auto pending = std::move(in_flight_);
    in_flight_.clear();
    for (const auto& [number, d] : pending) {
        if (on_delivery_) on_delivery_(false);
        // The attempts made so far, and how the last one went, as a delivery given up on
        // after its retries says them.
        std::vector<std::string> attempts;  // none when it was never sent
        if (IntegrationClient* client = integrations_.find(d.integration); client && d.request)
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
    settle(d);  // in the same commit: the event is in the queue or still in the outbox
}

}  // namespace ferry::engine
