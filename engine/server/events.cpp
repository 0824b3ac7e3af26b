#include "server/events.h"

#include "core/history.h"
#include "core/values.h"
#include "runtime/json_writer.h"
#include "runtime/timestamp.h"
#include "template/environment.h"
#include "workflow/project_config.h"
#include "workflow/suggest.h"

#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

namespace ferry::engine::server {

namespace {

using tmpl::Value;

// Last-Event-ID (header, or ?last_event_id= for clients that cannot set headers); 0: none,
// nullopt: not an event id (a bad value would otherwise replay everything silently).
std::optional<uint64_t> last_event_id(const ServerRequest& req) {
    std::string v = req.header("last-event-id");
    if (v.empty()) v = req.query_param("last_event_id").value_or("");
    if (v.empty()) return 0;
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), id);
    // from_chars takes digits only for an unsigned type: no sign, no space, no overflow.
    if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
    return id;
}

void refuse_event_id(Call& c) {
    c.error(400, "bad_request",
            "Last-Event-ID (or last_event_id) must be an event id: digits, at most "
            "18446744073709551615");
}

// What the stream sends (api.md): engine_event_types() less execution.resumed, which goes
// out as execution.started.
const std::vector<std::string>& stream_event_types() {
    static const std::vector<std::string> types = [] {
        std::vector<std::string> out;
        for (const std::string& t : workflow::engine_event_types())
            if (t != "execution.resumed") out.push_back(t);
        return out;
    }();
    return types;
}

// ?NAME=a,b as its names; nullopt after answering 400 (given but empty, or an empty name).
std::optional<std::vector<std::string>> name_list(Call& c, const char* name) {
    std::optional<std::string> given = c.req.query_param(name);
    std::vector<std::string> names;
    if (!given) return names;
    size_t at = 0;
    while (true) {
        size_t comma = given->find(',', at);
        names.push_back(given->substr(at, comma == std::string::npos ? comma : comma - at));
        if (names.back().empty()) {
            c.error(400, "bad_request",
                    std::string(name) + " must be one or more names separated by commas");
            return std::nullopt;
        }
        if (comma == std::string::npos) return names;
        at = comma + 1;
    }
}

// The event's JSON payload, written directly (not through a Value dict).
std::string event_data(const EventHub::Event& e) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    auto text = [&w](const std::string& s) { w.String(s.data(), rapidjson::SizeType(s.size())); };
    w.StartObject();
    w.Key("execution_id");
    text(e.execution_id);
    w.Key("workflow");
    text(e.workflow);
    w.Key("step");
    if (e.step.empty())
        w.Null();
    else
        text(e.step);
    w.Key("status");
    text(e.status);
    w.Key("message");
    text(e.message);
    w.Key("duration_ms");
    if (std::isfinite(e.duration_ms))
        w.Double(e.duration_ms);
    else
        w.Null();
    w.Key("attempt");
    w.Int64(e.attempt);
    if (e.type == "step.retrying") {  // workflows.md: the event shows the delay
        w.Key("retry_in_ms");
        w.Uint64(e.retry_in_ms);
    }
    // A live dashboard tells a preview from a ticket actually opened: the execution's dry
    // run, and a step that previewed (its own or its integration's dry_run).
    w.Key("dry_run");
    w.Bool(e.dry_run);
    w.Key("previewed");
    w.Bool(e.previewed);
    w.Key("at");
    text(e.at_ms ? rfc3339(e.at_ms) : e.at);
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

std::string sse_message(const EventHub::Event& e) {
    return "id: " + std::to_string(e.id) + "\nevent: " + e.type + "\ndata: " + event_data(e) +
           "\n\n";
}

EventHub::EventHub(App& app, size_t capacity, uint64_t heartbeat_ms)
    : app_(app), capacity_(capacity), next_id_(now_unix_ms() * 1000) {
    // Comments keep proxies from closing idle streams and find clients that went away.
    heartbeat_ = app_.loop.timer(
        heartbeat_ms,
        [this] {
            for (auto& c : clients_)
                if (!c->closed && !c->res.write(": keep-alive\n\n")) c->closed = true;
            drop_closed();
        },
        heartbeat_ms);
    flush_hook_ = app_.loop.on_iteration([this] { flush_pending(); });
}

// A stream still catching up has a drained callback that names this hub: ended here, so
// that it never runs after the hub is gone.
EventHub::~EventHub() {
    app_.loop.remove_iteration(flush_hook_);
    flush_pending();
    for (auto& c : clients_)
        if (!c->closed) c->res.end();
}

void EventHub::flush_pending() {
    if (batch_.empty()) return;
    // Written a piece at a time: the server weighs a client's backlog before each write, so
    // a client that stopped reading is cut once it holds its limit, not a whole turn's
    // megabytes later.
    constexpr size_t kPiece = 64 * 1024;
    bool dropped = false;
    std::string joined;
    for (auto& c : clients_) {
        if (!c->pending.empty()) {
            std::string_view text;
            if (c->pending.size() == 1) {  // every event, or a single run of them: no copy
                text = std::string_view(batch_).substr(c->pending[0].first,
                                                       c->pending[0].second - c->pending[0].first);
            } else {
                joined.clear();
                for (auto [begin, end] : c->pending)
                    joined.append(batch_, begin, end - begin);
                text = joined;
            }
            c->pending.clear();
            for (size_t at = 0; at < text.size() && !c->closed; at += kPiece)
                if (!c->res.write(text.substr(at, kPiece))) c->closed = true;
            if (c->end_after_pending && !c->closed) {
                c->res.end();
                c->closed = true;
            }
        }
        dropped = dropped || c->closed;
    }
    // A burst's megabytes are not kept for the next iteration's few events.
    if (batch_.capacity() > (1 << 20))
        std::string().swap(batch_);
    else
        batch_.clear();
    if (dropped) drop_closed();
}

void EventHub::drop_closed() {
    clients_.remove_if([](const std::shared_ptr<Client>& c) { return c->closed; });
}

bool EventHub::wants(const Client& client, const Event& e) {
    auto among = [](const std::vector<std::string>& names, const std::string& name) {
        return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
    };
    return (client.execution.empty() || e.execution_id == client.execution) &&
           among(client.workflows, e.workflow) && among(client.types, e.type);
}

bool EventHub::deliver(Client& client, const Event& e, size_t* bytes) {
    if (client.closed) return false;
    std::string message = sse_message(e);
    if (bytes) *bytes += message.size();
    if (!client.res.write(message)) {
        client.closed = true;
        return false;
    }
    if (!client.execution.empty() && e.type == "execution.finished") {
        client.res.end();
        client.closed = true;
    }
    return !client.closed;
}

const EventHub::Event* EventHub::next_missed(Client& client) {
    if (client.history) {
        if (client.history_at >= client.history->size()) return nullptr;
        return &(*client.history)[client.history_at++];
    }
    // Ring ids only grow: the first one past the cursor is found by bisection.
    auto it = std::upper_bound(ring_.begin(), ring_.end(), client.cursor,
                               [](uint64_t id, const Event& e) { return id < e.id; });
    for (; it != ring_.end(); ++it) {
        client.cursor = it->id;
        if (wants(client, *it)) return &*it;
    }
    return nullptr;
}

void EventHub::catch_up(const std::shared_ptr<Client>& client) {
    constexpr size_t kPieceBytes = 256 * 1024;
    size_t written = 0;
    while (written < kPieceBytes) {
        const Event* e = next_missed(*client);
        if (!e) {
            client->catching_up = false;
            if (client->history) {  // a finished execution's record: its end came last
                client->history.reset();
                client->res.end();
                client->closed = true;
            }
            return;
        }
        if (!deliver(*client, *e, &written)) return;
    }
    std::weak_ptr<Client> weak = client;
    client->res.when_drained([this, weak] {
        if (auto c = weak.lock()) catch_up(c);
    });
}

void EventHub::on_event(const EngineEvent& e) {
    Event ev;
    ev.id = ++next_id_;
    ev.type = e.type == "execution.resumed" ? "execution.started" : e.type;
    ev.execution_id = e.execution_id;
    ev.workflow = e.workflow;
    ev.step = e.step;
    ev.status = e.status;
    ev.message = e.message;
    ev.duration_ms = e.duration_ms;
    ev.attempt = e.attempt;
    ev.retry_in_ms = e.retry_in_ms;
    ev.dry_run = e.dry_run;
    ev.previewed = e.previewed;
    ev.at_ms = now_unix_ms();
    auto weight = [](const Event& e) {
        return sizeof(Event) + e.execution_id.size() + e.workflow.size() + e.step.size() +
               e.status.size() + e.message.size() + e.at.size();
    };
    ring_bytes_ += weight(ev);
    ring_.push_back(std::move(ev));
    // Popping the front leaves references to the back valid.
    while (ring_.size() > 1 && (ring_.size() > capacity_ || ring_bytes_ > kRingBytes)) {
        ring_bytes_ -= weight(ring_.front());
        ring_.pop_front();
    }
    const Event& added = ring_.back();
    const size_t begin = batch_.size();
    for (auto& c : clients_) {
        // A client still catching up reaches this event through the ring.
        if (c->catching_up || c->closed || c->end_after_pending) continue;
        if (!wants(*c, added)) continue;
        c->cursor = added.id;
        if (batch_.size() == begin) {
            // The first this iteration: no poll before the flush (the event may come from a
            // callback that runs after it in this iteration).
            if (begin == 0) app_.loop.wake();
            batch_ += sse_message(added);
        }
        if (!c->pending.empty() && c->pending.back().second == begin)
            c->pending.back().second = batch_.size();
        else
            c->pending.emplace_back(begin, batch_.size());
        // A per-execution stream ends with its execution.
        if (!c->execution.empty() && added.type == "execution.finished")
            c->end_after_pending = true;
    }
}

bool EventHub::open_stream(Call& c, const std::shared_ptr<Client>& client) {
    client->res = std::move(c.res);
    if (!client->res.start_stream(200, {{"Content-Type", "text/event-stream"},
                                        {"Cache-Control", "no-cache"},
                                        {"X-Accel-Buffering", "no"}}))
        return false;
    std::weak_ptr<Client> weak = client;
    client->res.on_close([weak] {
        if (auto c = weak.lock()) c->closed = true;
    });
    // Tells EventSource how long to wait before reconnecting.
    return client->res.write("retry: 2000\n\n");
}

namespace {

// Where in a finished execution's recorded events (from_history) a client that last saw
// `after` starts: at the first for a first connection; past it for an id from these same
// events (they are stable: the end's is the finish time in microseconds); for an id from a
// live stream, which of them it saw is unknown, so at how the execution ended. all.size()
// when it has them all.
size_t first_missed(const std::vector<EventHub::Event>& all, uint64_t after) {
    if (!after || all.empty()) return 0;
    if (after >= all.back().id) return all.size();
    if (after >= all.front().id)
        return size_t(
            std::upper_bound(all.begin(), all.end(), after,
                             [](uint64_t id, const EventHub::Event& e) { return id < e.id; }) -
            all.begin());
    return all.size() - 1;
}

}  // namespace

void EventHub::stream_execution(Call& c) {
    const std::string id = c.params["id"];
    auto rec = app_.store->get_execution(id);
    if (!rec) return c.error(500, "storage", rec.error().message);
    if (!rec.value()) return c.error(404, "not_found", "no execution '" + id + "'");
    Value exec = tmpl::value_from_json(*rec.value());
    std::string status = dict_text(exec, "status");
    std::optional<uint64_t> last = last_event_id(c.req);
    if (!last) return refuse_event_id(c);
    uint64_t after = *last;
    // What the ring still holds of this execution, after the client's last id.
    bool ring_has_end = false, ring_has_news = false;
    for (const Event& e : ring_) {
        if (e.execution_id != id) continue;
        if (e.type == "execution.finished") ring_has_end = true;
        if (e.id > after) ring_has_news = true;
    }
    const bool ended = execution_ended(status);
    std::shared_ptr<const std::vector<Event>> history;
    size_t history_at = 0;
    if (ended && !ring_has_end) {
        // Finished, and the ring no longer has it all: the recorded history instead.
        history = recorded_history(id, exec);
        history_at = first_missed(*history, after);
        ring_has_news = false;
    }
    if (ended && !ring_has_news && (!history || history_at >= history->size())) {
        // The client has everything: 204 tells an EventSource not to reconnect again.
        c.res.send(204, "", {});
        return;
    }
    auto client = std::make_shared<Client>();
    client->execution = id;
    client->after = after;
    client->cursor = after;
    if (!open_stream(c, client)) return;
    client->history = std::move(history);
    client->history_at = history_at;
    // Running, but not here: another process (`ferry run` on this store) runs it, and its
    // events never reach this hub. A waiting execution is resumed here, by a decision.
    if (!ended && status == "running" && app_.engine && !app_.engine->runs(id)) {
        client->remote = true;
        watch_remote();
    }
    client->catching_up = true;
    clients_.push_back(client);
    catch_up(client);
}

void EventHub::watch_remote() {
    if (remote_poll_) return;
    constexpr uint64_t kPollMs = 1000;
    remote_poll_ = app_.loop.timer(
        kPollMs,
        [this] {
            std::vector<std::shared_ptr<Client>> watched;
            for (auto& c : clients_)
                if (c->remote && !c->closed) watched.push_back(c);
            if (watched.empty()) return remote_poll_.reset();  // safe inside its callback
            for (auto& c : watched) {
                if (app_.engine && app_.engine->runs(c->execution)) {
                    c->remote = false;  // resumed here: its events come live now
                    continue;
                }
                auto rec = app_.store->get_execution(c->execution);
                if (!rec || !rec.value()) continue;
                Value exec = tmpl::value_from_json(*rec.value());
                if (!execution_ended(dict_text(exec, "status"))) continue;
                c->remote = false;
                c->history = recorded_history(c->execution, exec);
                c->history_at = first_missed(*c->history, c->after);
                c->catching_up = true;
                catch_up(c);
            }
        },
        kPollMs);
}

void EventHub::stream_all(Call& c) {
    std::optional<uint64_t> last = last_event_id(c.req);
    if (!last) return refuse_event_id(c);
    uint64_t after = *last;
    auto client = std::make_shared<Client>();
    std::optional<std::vector<std::string>> workflows = name_list(c, "workflow");
    if (!workflows) return;
    std::optional<std::vector<std::string>> types = name_list(c, "type");
    if (!types) return;
    const std::vector<std::string>& known = stream_event_types();
    for (const std::string& t : *types) {
        if (std::find(known.begin(), known.end(), t) != known.end()) continue;
        std::string listed;
        for (const std::string& k : known)
            listed += (listed.empty() ? "" : ", ") + k;
        std::string shown = t.size() > 64 ? t.substr(0, 64) + "..." : t;
        return c.error(400, "bad_request",
                       "unknown event type '" + shown + "'" + workflow::did_you_mean(t, known) +
                           "; types: " + listed);
    }
    client->workflows = std::move(*workflows);
    client->types = std::move(*types);
    if (!open_stream(c, client)) return;
    // Without an id the stream starts now; with one, the ring's events past it first.
    client->cursor = after ? after : (ring_.empty() ? 0 : ring_.back().id);
    client->catching_up = true;
    clients_.push_back(client);
    catch_up(client);
}

void EventHub::close_all() {
    flush_pending();
    // A stream whose client has read what it was sent ends cleanly; one that holds a queue
    // (a client that stopped reading, a backlog still going out) is cut: ended, it would
    // hold the shutdown for the whole grace waiting for a reader that may never come. Its
    // client resumes by Last-Event-ID like any other.
    // One queued behind another answer on its connection (pipelined behind a ?wait=) has
    // sent nothing yet: ended, it goes out after that answer; cut, it took the whole
    // connection down with the answer before it.
    for (auto& c : clients_) {
        if (c->closed) continue;
        if (c->res.drained() || c->res.queued_behind())
            c->res.end();
        else
            c->res.abort();
    }
    clients_.clear();
    heartbeat_.reset();
}

void EventHub::add_routes(Api& api) {
    const Api::RouteDoc resume{
        {{"Last-Event-ID", "header", "string",
          "resume the stream after this event (a browser's EventSource sends it by itself)"},
         {"last_event_id", "query", "string", "the same, for clients that cannot set headers"}},
        ""};
    Api::RouteDoc one = resume, all = resume;
    one.responses = {
        {200, "the execution's events; the stream ends with it", "text/event-stream", ""},
        {204, "the client has every event of this ended execution", "", ""},
        {400, "", "", ""},
        {404, "", "", ""}};
    all.params.push_back(
        {"workflow", "query", "string", "only these workflows' events: names separated by commas"});
    all.params.push_back({"type", "query", "string",
                          "only these event types, separated by commas (step.failed,"
                          "execution.finished)"});
    all.responses = {
        {200, "every execution's events (those the filters let through)", "text/event-stream", ""},
        {400, "", "", ""}};
    api.add(
        "GET", "/api/v1/executions/{id}/events", Role::Viewer,
        [this](Call& c) { stream_execution(c); }, one);
    api.add(
        "GET", "/api/v1/events", Role::Viewer, [this](Call& c) { stream_all(c); }, all);
}

}  // namespace ferry::engine::server
