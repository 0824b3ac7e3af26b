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
#include <unordered_map>
#include <vector>

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
        uint64_t retry_in_ms = 0;  // step.retrying: the wait before the next attempt
        bool dry_run = false;      // of an execution that sends nothing
        bool previewed = false;    // a step that showed its request instead of sending it
        uint64_t at_ms = 0;        // when it happened (Unix milliseconds), or 0: then `at`
        std::string at;            // RFC 3339, for events rebuilt from history
    };

  private:
    struct Client {
        Responder res;
        std::string execution;  // empty: every execution
        // GET /api/v1/events?workflow=a,b&type=step.failed: only these; empty: any.
        std::vector<std::string> workflows, types;
        bool closed = false;
        // Catching up: what the client missed is written a piece at a time, as fast as it
        // reads (a backlog written at once would pass the server's write-queue limit for a
        // slow reader and cut the stream). Live events wait in the ring meanwhile.
        bool catching_up = false;
        uint64_t cursor = 0;  // the last ring event id written
        // A finished execution's recorded events (shared by every client of it), written
        // from history_at on instead of the ring's; the stream ends after them.
        std::shared_ptr<const std::vector<Event>> history;
        size_t history_at = 0;
        // Run by another process (`ferry run` on the same store): no live events reach
        // this one, so its record is looked at until it ends.
        bool remote = false;
        uint64_t after = 0;  // the client's Last-Event-ID
        // The live events of this loop iteration it takes, as [begin, end) spans of
        // batch_, written together at the iteration's end: a for_each of thousands of items
        // ends thousands of steps in one iteration, and a write (a send) per event per
        // client held the loop for seconds with a hundred clients.
        std::vector<std::pair<size_t, size_t>> pending;
        bool end_after_pending = false;  // a per-execution stream's execution.finished
    };
    static bool wants(const Client& client, const Event& e);
    void stream_execution(Call& c);
    void stream_all(Call& c);
    bool open_stream(Call& c, const std::shared_ptr<Client>& client);
    // Writes the event (adding its size to *bytes); a per-execution stream ends with its
    // execution.finished. False once the stream is over.
    bool deliver(Client& client, const Event& e, size_t* bytes = nullptr);
    void catch_up(const std::shared_ptr<Client>& client);
    const Event* next_missed(Client& client);
    void watch_remote();
    void drop_closed();
    // Writes every client's pending live events (the end of each loop iteration).
    void flush_pending();
    // A finished execution's recorded steps as events, then execution.finished; exec is
    // its record.
    std::vector<Event> from_history(const std::string& id, const tmpl::Value& exec);
    // The same, built once while any client still reads it: a finished execution's events
    // do not change, and a crowd of clients (stalled or not) of one large execution each
    // built and held its own copy, blocking the loop for each.
    std::shared_ptr<const std::vector<Event>> recorded_history(const std::string& id,
                                                               const tmpl::Value& exec);

    App& app_;
    size_t capacity_;
    uint64_t next_id_;
    std::deque<Event> ring_;
    // The ring is bounded by its events' text too: 10,000 failures of 64 KiB messages
    // would pin 650 MB for reconnects that may never come.
    size_t ring_bytes_ = 0;
    static constexpr size_t kRingBytes = 16 << 20;
    std::list<std::shared_ptr<Client>> clients_;
    std::unordered_map<std::string, std::weak_ptr<const std::vector<Event>>> histories_;
    std::unique_ptr<Loop::Timer> heartbeat_;
    std::unique_ptr<Loop::Timer> remote_poll_;  // while a remote client waits
    uint64_t flush_hook_ = 0;                   // Loop::on_iteration id of flush_pending
    // This iteration's live events as SSE text, each written once whatever the clients.
    std::string batch_;
};

// The text of one SSE message.
std::string sse_message(const EventHub::Event& e);

}  // namespace ferry::engine::server
