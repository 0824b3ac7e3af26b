// Inbound HTTP/1.1: a generic server on the one libuv loop (no threads), for `ferry serve`.
// It knows nothing of workflows: every parsed request goes to one handler callback.
//
// The handler gets the request and a Responder. It answers synchronously or later (after a
// durable commit, when an execution finishes), exactly once; a Responder dropped without an
// answer sends 500 so no client waits forever. If the client disconnects first, answering is
// a no-op: connected() says whether it is still there and on_close() is told when it leaves.
//
// Wire behaviour: Content-Length on every response that may have a body; keep-alive per
// RFC 9112 (Connection: close honoured, HTTP/1.0 closes unless it asks for keep-alive);
// pipelined requests are dispatched as they arrive but answered in order; request bodies by
// Content-Length or chunked (decoded); Expect: 100-continue answered; streaming responses
// (Server-Sent Events) chunked on HTTP/1.1, close-delimited on HTTP/1.0. Limits answer with
// 431/414, 413 (as soon as the length is known), 408 (slow client), 400 (malformed); each
// of those closes that connection only; a connection over max_connections gets 503, its
// request unread. Errors the server makes have the API contract's body:
// {"error": {"code": "...", "message": "..."}}.
//
// The client's EOF means the client is gone: requests not yet answered on that connection
// are abandoned (on_close), even if the peer only half-closed.
#pragma once

#include "runtime/error.h"
#include "runtime/http_client.h"  // HttpHeaders
#include "runtime/loop.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ferry {

struct ServerRequest {
    std::string method;                                      // "GET"
    std::string target;                                      // as sent: "/a%20b?x=1"
    std::string path;                                        // percent-decoded: "/a b"
    std::vector<std::pair<std::string, std::string>> query;  // decoded, in order, repeats kept
    HttpHeaders headers;                                     // in order, names as sent
    std::string body;                                        // decoded (chunked undone)
    std::string remote;                                      // "127.0.0.1:53412", "[::1]:53412"
    std::string id;  // a ULID, also sent back as X-Request-Id
    int http_major = 1;
    int http_minor = 1;

    // The first header with this name (case-insensitive), or empty.
    std::string header(std::string_view name) const;
    // Every header with this name, in order, as one comma-separated list (a header sent
    // twice is the same as its values joined: RFC 9110 5.3), or empty.
    std::string header_list(std::string_view name) const;
    bool has_header(std::string_view name) const;
    // The first query value for this key, or nullopt; all of them in order.
    std::optional<std::string> query_param(std::string_view key) const;
    std::vector<std::string> query_params(std::string_view key) const;
};

struct ServerResponse {
    int status = 200;
    HttpHeaders headers;  // Content-Length and Transfer-Encoding are the server's to set
    std::string body;
};

// One line of the access log, given when a response is complete (or abandoned).
struct AccessLogEntry {
    std::string method;  // empty when the request could not be parsed
    std::string path;
    int status = 0;      // 499 when the client left before the answer was complete
    uint64_t bytes = 0;  // body bytes handed to the connection
    double duration_ms = 0;
    std::string remote;
    std::string request_id;
    // Fields the handler attached with Responder::annotate (e.g. what the request started).
    std::vector<std::pair<std::string, std::string>> fields;
};

struct ServerOptions {
    size_t max_header_bytes = 16 * 1024;  // request line + headers; more -> 431 (URL: 414)
    size_t max_body_bytes = 1 << 20;      // server.max_body; more -> 413
    // A request (head and body) must arrive within this from its first byte, and a new
    // connection must start one within it: 408 and close. Slowloris cannot stretch it. A
    // closing connection's answer is cut when the client reads none of it for this long.
    uint64_t request_timeout_ms = 10000;
    uint64_t keep_alive_timeout_ms = 5000;  // an idle keep-alive connection is closed silently
    // More are accepted, answered 503 (Retry-After: 1, their request unread) and closed.
    size_t max_connections = 1024;
    uint64_t shutdown_timeout_ms = 10000;  // close(): how long in-flight requests may take
    // After a response that closes the connection, unread input is drained this long so the
    // client sees the response (a close with unread data would reset it away).
    uint64_t linger_ms = 2000;
    size_t max_pipelined = 32;  // requests queued on one connection before reading pauses
    // A client that does not read (a stalled SSE consumer) is cut off when a write finds more
    // than this still queued from earlier ones (a single answer may be larger).
    size_t max_write_queue_bytes = 8u << 20;
    // And all clients together: past this, a client with more than a little unread output
    // (64 KiB) is cut off when the server writes to it again (forty stalled event streams
    // held 8 MiB each). Answers paced by when_drained() never hold more than that little.
    size_t max_total_write_queue_bytes = 64u << 20;
    std::function<void(const AccessLogEntry&)> access_log;
    // The server's own refusals (413, 417, 408, 400...) are the contract's JSON error unless
    // this gives another answer for the request (as far as it was read): a browser posting
    // a form gets a page. The connection closes after it either way.
    std::function<std::optional<ServerResponse>(const ServerRequest&, int status,
                                                std::string_view message)>
        refusal_answer;
    // A request that waits to be told before it sends its body (Expect: 100-continue) gets
    // this answer instead of 100 Continue when it gives one (an unknown endpoint, missing
    // credentials: the client need not upload what would be refused). The body is then
    // never read and the connection closes after the answer. The request is as far as its
    // head goes: no body.
    std::function<std::optional<ServerResponse>(ServerRequest& head)> answer_before_body;
};

namespace http_server_detail {
struct Exchange;
struct Connection;
}  // namespace http_server_detail

// The handle on one request's answer. Movable, not copyable; every method is safe at any
// time, including after the client left or the server was destroyed (they do nothing).
class Responder {
  public:
    Responder() = default;
    explicit Responder(std::shared_ptr<http_server_detail::Exchange> ex) : ex_(std::move(ex)) {}
    Responder(Responder&&) noexcept = default;
    Responder& operator=(Responder&& other) noexcept;
    Responder(const Responder&) = delete;
    Responder& operator=(const Responder&) = delete;
    // Unanswered: sends 500 (the handler lost its Responder). Streaming: ends the stream.
    ~Responder();

    // The request this answers; valid as long as the Responder (kept for async handlers).
    const ServerRequest& request() const;
    // Whether the client is still there and the answer not yet complete.
    bool connected() const;
    // Whether send() or start_stream() was already called.
    bool answered() const;

    // The whole answer. Returns false (and does nothing) if already answered or gone.
    bool send(ServerResponse response);
    bool send(int status, std::string body, HttpHeaders headers = {});
    // An error in the contract's shape {"error": {"code", "message"}}.
    bool send_error(int status, std::string_view code, std::string_view message,
                    HttpHeaders extra = {});

    // A response of unknown length: chunked on HTTP/1.1, on HTTP/1.0 the connection closes
    // when it ends. write() sends a piece at once; it returns false once the client is gone.
    bool start_stream(int status, HttpHeaders headers);
    bool write(std::string_view data);
    void end();
    // Streaming: ends the answer unfinished, for a producer that failed part way: the
    // connection closes without the end of the stream, so the client cannot take what it
    // got for the whole answer (as if it had left: on_close callbacks run).
    void abort();
    // Streaming: calls cb (once, on the loop) when what this answer wrote so far has nearly
    // all gone to the socket, so that a producer writes its next piece only as fast as the
    // client reads. Never called if the client leaves first (on_close reports that); a
    // second call before the first fired replaces its cb.
    void when_drained(std::function<void()> cb);
    // Whether what this answer wrote has nearly all gone to the socket (as when_drained
    // would call back now); true once the client is gone.
    bool drained() const;
    // Whether its answer waits for an earlier pipelined one on its connection (nothing of
    // it has gone out yet).
    bool queued_behind() const;

    // Called once if the client goes away before the answer is complete (EOF, reset, a
    // server shutdown past its bound). Called at once if that already happened.
    void on_close(std::function<void()> cb);

    // A field for this request's access log entry (AccessLogEntry::fields).
    void annotate(std::string key, std::string value);

  private:
    void release();
    std::shared_ptr<http_server_detail::Exchange> ex_;
};

// The contract's error body, compact: {"error":{"code":CODE,"message":MESSAGE}}.
std::string error_json(std::string_view code, std::string_view message);

using ServerHandler = std::function<void(ServerRequest&, Responder)>;

class HttpServer {
  public:
    HttpServer(Loop& loop, ServerOptions options, ServerHandler handler);
    // Closes every connection at once, without on_close or access-log callbacks (the
    // engine behind them may already be gone); close() is the graceful way.
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and listens; port 0 picks a free port. Returns the bound port. Errors:
    // Validation (bad host, already listening), Network (address in use, not permitted).
    Result<uint16_t> listen(const std::string& host, uint16_t port);
    // Closes the listening socket; existing connections carry on.
    void stop_accepting();
    // Graceful shutdown: stop accepting, close idle connections now, let requests already
    // received finish (their responses carry Connection: close) for up to
    // shutdown_timeout_ms, then close what remains. done runs once, on a later iteration.
    // The server must not be destroyed from inside its own callbacks; done may destroy it.
    void close(std::function<void()> done);

    uint16_t port() const { return port_; }
    size_t open_connections() const { return conns_.size() - refusals_lingering_; }
    uint64_t connections_accepted() const { return accepted_; }
    // Connections answered 503 and closed because max_connections were open.
    uint64_t connections_refused() const { return refused_; }
    uint64_t requests() const { return requests_; }

  private:
    friend struct http_server_detail::Connection;
    static void on_connection(uv_stream_t* listener, int status);
    void connection_closed(http_server_detail::Connection* c);
    void maybe_done();

    Loop& loop_;
    ServerOptions options_;
    ServerHandler handler_;
    uv_tcp_t* listener_ = nullptr;
    bool listener_open_ = false;  // until its close callback ran
    uint16_t port_ = 0;
    std::unordered_set<http_server_detail::Connection*> conns_;
    uint64_t accepted_ = 0;
    uint64_t refused_ = 0;
    // Refused connections still in conns_, draining before their close (not counted open).
    size_t refusals_lingering_ = 0;
    uint64_t requests_ = 0;
    size_t write_bytes_in_flight_ = 0;  // handed to uv_write, their callbacks not run yet
    bool closing_ = false;
    bool destroying_ = false;
    std::function<void()> done_;
    std::unique_ptr<Loop::Timer> shutdown_timer_;
    std::unique_ptr<Loop::Timer> done_timer_;
};

// Percent-decoding ("+" is a space only in query strings); a bad escape stays as written.
std::string percent_decode(std::string_view s, bool plus_is_space);
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

}  // namespace ferry
