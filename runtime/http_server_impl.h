// Private to the HTTP server: what http_server.cpp (listener, Responder),
// http_server_conn.cpp (reading, writing, timers of one connection), http_server_parse.cpp
// (the parser's callbacks) and http_server_framing.cpp (framing checks) share.
//
// Ownership: the server owns Connections (freed in their uv_close callback). A Connection
// keeps its requests in order in `queue` as shared Exchanges; a Responder holds another
// reference, so an Exchange outlives its Connection when the client leaves first. The
// Exchange's `conn` is the only link back and is cleared when the Connection lets go of it,
// which is what makes a late answer a no-op.
//
// Ordering: an Exchange joins the queue when its first byte arrives. Its response bytes
// collect in `out` and reach the socket only once every Exchange ahead of it is done, so
// pipelined answers (and a 100 Continue, and an error about a half-read request) go out in
// request order whatever order the handler answers in.
#pragma once

#include "runtime/http_server.h"
#include "runtime/http_text.h"

#include <http_parser.h>

#include <deque>
#include <memory>
#include <string>

namespace ferry {
namespace http_server_detail {

struct Exchange {
    enum class State {
        Receiving,  // head or body still arriving
        Handling,   // given to the handler, no answer yet
        Streaming,  // start_stream() called, end() not yet
        Done,       // the whole response is in `out` (or was written)
    };

    Connection* conn = nullptr;  // null once the connection let go (client gone, shutdown)
    ServerRequest req;
    State state = State::Receiving;
    std::string out;           // response bytes waiting for their turn
    bool head = false;         // HEAD: headers only
    bool keep_alive = true;    // what the request allows
    bool close_after = false;  // the connection closes after this response
    bool chunked = false;      // streaming with chunked framing
    bool logged = false;
    bool writing = false;  // some of its bytes went to the socket (flush keeps its turn)
    std::vector<std::pair<std::string, std::string>> log_fields;  // Responder::annotate
    bool abandoned = false;  // the client left before the answer was complete
    int status = 0;
    uint64_t body_bytes = 0;
    uint64_t started_ns = 0;
    size_t header_bytes = 0;     // counted while the head arrives (max_header_bytes)
    bool head_complete = false;  // its body (if any) is what arrives now
    std::string header_field;    // the header name being received
    bool in_value = false;       // the parser is inside a header value
    bool folded = false;         // a header value went on over a line break (obs-fold)
    std::vector<std::function<void()>> close_callbacks;
    std::function<void()> drained_callback;  // Responder::when_drained
};

struct Connection {
    // Flush: an answer is still being written to a client that must keep reading it: a
    // closing connection's (see begin_close), or one that answers wait behind.
    enum class TimerMode { None, Request, KeepAlive, Flush, Linger };

    Connection(HttpServer& s, Loop& l);

    void start();  // after uv_accept: read, arm the request timer
    // Bytes from the socket: parsed unless the connection is draining.
    void on_data(const char* data, size_t len);
    void on_eof();
    // Runs the parser over `inbuf` until it is empty, paused, or the connection stops.
    void process_input();
    // Writes what the queue's head exchanges have ready, in order; closes after a response
    // that must close; resumes parsing when the queue has room again.
    void flush();
    // Answers the exchange being received (or a new one) with a server error; stops parsing
    // and closes the connection after the response.
    void fail(int status, std::string_view code, std::string_view message);
    // Answers the exchange being received without reading the rest of it (an answer before
    // the body); closes after it, as fail() does.
    void answer_unread(ServerResponse answer);
    // The exchange being received, made the one to answer: no more requests are read, and
    // the connection closes after its answer.
    std::shared_ptr<Exchange> stop_receiving();
    // Stop reading requests, let pending writes go, close after a linger (client gone, or a
    // response said close). Abandons unanswered exchanges.
    void begin_close();
    // uv_close now. Abandons unanswered exchanges (notifying unless the server is dying).
    void hard_close();
    void abandon_exchanges();
    void write(std::string data);
    // Whether this client holds more unread output than it may: its own backlog past
    // max_write_queue_bytes, or past kDrainedBytes while all clients together hold more
    // than max_total_write_queue_bytes. write() cuts such a client; flush() waits before
    // it starts a pipelined answer.
    bool over_backlog_limit();
    bool in_body() const;  // the request being received has its head complete
    // Bytes answered and not handed to the kernel yet: the socket's queue in libuv and the
    // answers waiting their turn behind it.
    size_t unread_output() const;
    // Whether the next pipelined request may be parsed (and handled): fewer than
    // max_pipelined queued, and no more than kDrainedBytes unread before it.
    bool pipeline_has_room() const;
    // Bytes the client's side acknowledged so far: handed to uv_write, no longer in its
    // queue, and no longer held unacknowledged by the kernel.
    uint64_t bytes_sent() const;
    // Whether answers wait for the client to read earlier ones (the Flush timer runs).
    bool awaiting_reader() const;
    // Calls the front exchange's drained_callback once its bytes are written and what is
    // left in the socket's queue is under kDrainedBytes.
    void notify_drained();
    static constexpr size_t kDrainedBytes = 64 * 1024;
    void set_timer(TimerMode mode);
    void update_timer();
    void on_timer();
    void log(Exchange& ex);
    bool server_closing() const;
    Exchange& receiving();  // the exchange at the back, creating one if needed

    // Response serialisation (http_server.cpp).
    static std::string status_line(int status);

    // http_parser callbacks.
    static int on_message_begin(http_parser* p);
    static int on_url(http_parser* p, const char* at, size_t len);
    static int on_header_field(http_parser* p, const char* at, size_t len);
    static int on_header_value(http_parser* p, const char* at, size_t len);
    static int on_headers_complete(http_parser* p);
    static int on_body(http_parser* p, const char* at, size_t len);
    static int on_chunk_header(http_parser* p);
    static int on_chunk_complete(http_parser* p);
    static int on_message_complete(http_parser* p);

    HttpServer* server;  // null once the server is destroyed
    Loop& loop;
    uv_tcp_t tcp{};
    http_parser parser{};
    std::string remote;
    std::string inbuf;     // received, not yet parsed (the parser was paused)
    char last_parsed = 0;  // the byte just before inbuf's first one
    std::deque<std::shared_ptr<Exchange>> queue;
    std::unique_ptr<Loop::Timer> timer;
    TimerMode timer_mode = TimerMode::None;
    bool reading = false;
    bool parsing_stopped = false;      // an error, an upgrade, Connection: close: no more requests
    bool in_process = false;           // process_input is running (the handler may call flush)
    bool draining = false;             // begin_close ran: reads are discarded
    bool closed = false;               // hard_close ran: uv_close is pending
    bool eof_seen = false;             // the client sent EOF (libuv stopped reading)
    bool refused = false;              // answered 503 over max_connections, lingering to close
    uint64_t bytes_written_total = 0;  // handed to uv_write since the connection began
    uint64_t sent_at_flush_check = 0;  // bytes_sent() at the last Flush check
    // A pipelined answer waits for the one before it to drain below max_write_queue_bytes
    // (the backlog limit is for a reader that stalled, not for answers taking their turn).
    bool waiting_for_drain = false;
    // Bytes of the CRLF after a chunk's data not seen yet (2, 1 or 0). Debian's http_parser
    // (not built strict) takes any two bytes there as the CRLF; they are checked here.
    int chunk_crlf_pending = 0;
    // A byte the lenient parser takes as LF whatever it is, which process_input checks:
    // on_chunk_header pauses the parser on the one ending a chunk-size line (consumed, the
    // last byte it took); on_headers_complete, and on_chunk_complete after the trailers,
    // pause it just before the one ending the empty line that closes them (the next byte).
    struct LineEndCheck {
        const char* problem = nullptr;  // the 400's message if it is not LF; null: no check
        bool consumed = false;
    } line_end_check;
    // Where a chunk-size line stands (RFC 9112 7.1: hex digits, then extensions only after
    // a ';', no control characters): http_parser takes every byte up to a CR there, a bare
    // LF included, which a proxy in front may take for the line's end (request smuggling).
    enum class ChunkLine : uint8_t { None, AfterHead, Size, Blank, Extension };
    ChunkLine chunk_line = ChunkLine::None;
    uint64_t consumed_total = 0;  // stream offset of inbuf's first byte
    uint64_t chunk_scan_at = 0;   // stream offset of the next byte the chunk checks read
    // Checks [p, end) (p inside inbuf) against the pending CRLF after a chunk's data and
    // the chunk-size line that follows; each byte once, however often it is offered. The
    // 400's message for a wrong byte, or null.
    const char* chunk_framing_problem(const char* p, const char* end);
    // Whether the whitespace that ends what was parsed so far holds a line feed: a header
    // value whose first piece starts after one went on over a line break (obs-fold).
    bool parsed_blank_tail_has_lf = false;
    void note_parsed_blank_tail(size_t n);             // the first n bytes of inbuf were parsed
    bool blank_before_holds_lf(const char* at) const;  // at: inside inbuf
    uint64_t requests_seen = 0;  // complete requests: idle after one is keep-alive

    bool served() const;
    const ServerOptions& server_options() const { return server->options_; }
};

bool has_token(std::string_view list, std::string_view token);  // "keep-alive, Upgrade"

// http_server_framing.cpp: what the server refuses that http_parser lets through.
// Whether the head of ex, just complete, is framed as RFC 9112 says; false once c->fail ran.
bool framing_is_strict(Connection* c, const Exchange& ex, const http_parser* p);
// Whether text starts with a method token and a space ("FROB /x"): a request line whose
// method http_parser does not know, rather than bytes that are no request at all.
bool starts_with_method_token(std::string_view text);
// Whether the raw target's path holds %2F (an encoded slash).
bool encoded_slash_in_path(std::string_view target);

}  // namespace http_server_detail
}  // namespace ferry
