// Live execution events over Server-Sent Events: GET /api/v1/executions/{id}/events (one
// execution) and GET /api/v1/events (all). The hub listens to Engine::on_event, numbers each
// event and keeps the last ones in a bounded ring so a client that reconnects with
// Last-Event-ID gets what it missed. Ids start at the process's start time in microseconds,
// so they keep increasing across restarts and an id from before a restart hides nothing.
#pragma once

#include "core/app.h"
#include "server/api.h"

#include <deque>
#include <list>
#include <memory>
#include <string>

namespace ferry::engine::server {

class EventHub {
  public:
    explicit EventHub(App& app, size_t capacity = 10000, uint64_t heartbeat_ms = 15000);
    ~EventHub();
    void on_event(const EngineEvent& e);
    void add_routes(Api& api);
    // Ends every stream (shutdown: a stream would otherwise hold the server open).
    void close_all();

    struct Event {
        uint64_t id = 0;
        std::string type;
        std::string execution_id;
        // The payload's other fields. Its JSON is written when the event is sent: most events
        // wait in the ring for a reconnect that never comes, and writing each one's JSON up
        // front was a fifth of an event's cost.
        std::string workflow, step, status, message;
        double duration_ms = 0;
        int attempt = 0;
        uint64_t at_ms = 0;  // when it happened (Unix milliseconds), or 0: then `at`
        std::string at;      // RFC 3339, for events rebuilt from history
    };

  private:
    struct Client {
        Responder res;
        std::string execution;  // empty: every execution
        bool closed = false;
    };
    void stream_execution(Call& c);
    void stream_all(Call& c);
    bool open_stream(Call& c, const std::shared_ptr<Client>& client);
    bool send(Client& client, const Event& e);
    void drop_closed();
    // A finished execution's recorded steps as events, then execution.finished (only that
    // with only_the_end); exec is its record.
    std::vector<Event> from_history(const std::string& id, const tmpl::Value& exec,
                                    bool only_the_end);

    App& app_;
    size_t capacity_;
    uint64_t next_id_;
    std::deque<Event> ring_;
    std::list<std::shared_ptr<Client>> clients_;
    std::unique_ptr<Loop::Timer> heartbeat_;
};

// The text of one SSE message.
std::string sse_message(const EventHub::Event& e);

}  // namespace ferry::engine::server
