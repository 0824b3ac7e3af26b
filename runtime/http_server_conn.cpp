// One server connection: reading requests (the parser's callbacks: http_server_parse.cpp),
// the ordered queue of exchanges, writing, the lingering close, and the four timers
// (request, keep-alive, flush, linger), of which at most one is armed. See http_server_impl.h for
// the ownership rules.
#include "runtime/http_server_impl.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <string>
#include <utility>

namespace ferry {
namespace http_server_detail {

namespace {

http_parser_settings make_settings() {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = &Connection::on_message_begin;
    s.on_url = &Connection::on_url;
    s.on_header_field = &Connection::on_header_field;
    s.on_header_value = &Connection::on_header_value;
    s.on_headers_complete = &Connection::on_headers_complete;
    s.on_body = &Connection::on_body;
    s.on_chunk_header = &Connection::on_chunk_header;
    s.on_chunk_complete = &Connection::on_chunk_complete;
    s.on_message_complete = &Connection::on_message_complete;
    return s;
}

const http_parser_settings kSettings = make_settings();

struct WriteReq {
    uv_write_t req{};
    std::string data;
    Connection* conn = nullptr;
};

uv_stream_t* stream_of(Connection* c) {
    return reinterpret_cast<uv_stream_t*>(&c->tcp);
}

// Bytes written to c and still in libuv's queue (not yet taken by the kernel).
size_t queued_in_libuv(const Connection* c) {
    return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&c->tcp));
}

void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    // Every read is copied into the connection's inbuf at once, so one buffer per thread does.
    thread_local char storage[64 * 1024];
    *buf = uv_buf_init(storage, sizeof storage);
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(stream->data);
    if (c->closed) return;
    if (nread > 0)
        c->on_data(buf->base, size_t(nread));
    else if (nread == UV_EOF)
        c->on_eof();
    else if (nread < 0)
        c->hard_close();  // reset: nobody is left to answer
}

}  // namespace

Connection::Connection(HttpServer& s, Loop& l) : server(&s), loop(l) {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
}

bool Connection::server_closing() const {
    return server && server->closing_;
}

void Connection::start() {
    uv_tcp_nodelay(&tcp, 1);  // responses are written whole; do not let Nagle hold them
    reading = uv_read_start(stream_of(this), on_alloc, on_read) == 0;
    set_timer(TimerMode::Request);  // a silent new connection is a slow client too
}

// ---- input ---------------------------------------------------------------------------

void Connection::on_data(const char* data, size_t len) {
    if (draining || parsing_stopped) return;  // lingering, or no more requests: discard
    inbuf.append(data, len);
    process_input();
    // The pipeline is full: stop reading until the handler catches up. What already
    // arrived waits in inbuf.
    if (!closed && !draining && reading && HTTP_PARSER_ERRNO(&parser) == HPE_PAUSED) {
        uv_read_stop(stream_of(this));
        reading = false;
    }
}

void Connection::on_eof() {
    reading = false;  // libuv stops reading at EOF
    eof_seen = true;
    if (draining) {
        // A client may half-close and still read: the answer being written goes out first
        // (the shutdown's callback closes once it has).
        if (uv_stream_get_write_queue_size(stream_of(this)) == 0) hard_close();
        return;
    }
    // A request cut short with nothing ahead of it: say so, the client may still listen.
    if (queue.size() == 1 && queue.back()->state == Exchange::State::Receiving) {
        fail(400, "bad_request", "the request ended before it was complete");
        return;
    }
    // The client is gone: abandon what it asked for. A half-close (nc -N) reads the same
    // as a close, and a ?wait= or an event stream held for a client that closed would keep
    // its resources until its next write failed; as nginx does (499), EOF ends the exchange.
    begin_close();
}

void Connection::process_input() {
    if (in_process || closed || draining || parsing_stopped) return;
    in_process = true;
    while (!closed && !draining && !parsing_stopped) {
        // Paused between requests for the pipeline: resumed once there is room, even with
        // nothing left to parse (reading restarts only on an unpaused parser).
        if (HTTP_PARSER_ERRNO(&parser) == HPE_PAUSED) {
            if (!pipeline_has_room()) break;
            http_parser_pause(&parser, 0);
        }
        if (inbuf.empty()) break;
        if (const char* problem =
                chunk_framing_problem(inbuf.data(), inbuf.data() + inbuf.size())) {
            fail(400, "bad_request", problem);
            break;
        }
        size_t n = http_parser_execute(&parser, &kSettings, inbuf.data(), inbuf.size());
        if (closed) break;
        // A pause to check one byte the lenient parser would take as LF whatever it is: the
        // request goes on at once after it (even when that byte was the last one read).
        const LineEndCheck check = std::exchange(line_end_check, {});
        if (check.problem) {
            char byte = check.consumed ? (n > 0 ? inbuf[n - 1] : last_parsed)
                                       : (n < inbuf.size() ? inbuf[n] : '\n');
            if (byte != '\n') {
                fail(400, "bad_request", check.problem);
                break;
            }
        }
        if (n > 0) last_parsed = inbuf[n - 1];
        note_parsed_blank_tail(n);
        inbuf.erase(0, n);
        consumed_total += n;
        if (check.problem) {
            http_parser_pause(&parser, 0);
            continue;
        }
        http_errno err = HTTP_PARSER_ERRNO(&parser);
        if (err == HPE_PAUSED) continue;
        if (err == HPE_OK) {
            // An upgrade (or CONNECT) was answered as a plain request; what follows is
            // another protocol, which this server does not speak.
            if (parser.upgrade) parsing_stopped = true;
            continue;
        }
        if (draining || parsing_stopped) break;  // a callback already answered (413, 431...)
        if (err == HPE_INVALID_METHOD && starts_with_method_token(inbuf))
            // A well-formed request whose method this server does not know (RFC 9110 9.1).
            fail(501, "not_implemented", "the request method is not implemented");
        else if (err == HPE_HEADER_OVERFLOW && in_body())
            // http_parser counts a chunk-size line against the same limit as the head.
            fail(400, "bad_request",
                 "malformed request: a chunk-size line (with its extensions) is too long");
        else if (err == HPE_HEADER_OVERFLOW)
            fail(431, "headers_too_large", "the request headers are too large");
        else if (err == HPE_INVALID_CONTENT_LENGTH && (parser.flags & F_CHUNKED))
            // http_parser reports a chunk size past 64 bits with the Content-Length error.
            fail(400, "bad_request", "malformed request: a chunk size too large");
        else if (err == HPE_INVALID_HEADER_TOKEN)
            // http_parser's own words ("invalid character in header") say neither which
            // part nor what may not be there.
            fail(400, "bad_request",
                 "malformed request: a header holds a character it may not (a control "
                 "character in its value, or a space or separator in its name)");
        else
            fail(400, "bad_request",
                 std::string("malformed request: ") + http_errno_description(err));
        break;
    }
    in_process = false;
    if (closed) return;
    if (draining) {
        inbuf.clear();
        return;
    }
    if (parsing_stopped) {
        inbuf.clear();
        if (queue.empty()) {
            begin_close();
            return;
        }
    }
    update_timer();
}

// ---- output --------------------------------------------------------------------------

bool Connection::in_body() const {
    return !queue.empty() && queue.back()->state == Exchange::State::Receiving &&
           queue.back()->head_complete;
}

size_t Connection::unread_output() const {
    size_t bytes = queued_in_libuv(this);
    for (const auto& ex : queue)
        bytes += ex->out.size();
    return bytes;
}

bool Connection::pipeline_has_room() const {
    return server && queue.size() < server->options_.max_pipelined &&
           unread_output() <= kDrainedBytes;
}

bool Connection::awaiting_reader() const {
    if (queued_in_libuv(this) == 0) return false;
    return waiting_for_drain ||
           (HTTP_PARSER_ERRNO(&parser) == HPE_PAUSED && unread_output() > kDrainedBytes);
}

bool Connection::over_backlog_limit() {
    if (!server) return false;
    const ServerOptions& o = server->options_;
    const size_t own = uv_stream_get_write_queue_size(stream_of(this));
    return own > o.max_write_queue_bytes ||
           (own > kDrainedBytes && server->write_bytes_in_flight_ > o.max_total_write_queue_bytes);
}

void Connection::write(std::string data) {
    if (closed || data.empty()) return;
    // A client that stopped reading (a stalled SSE consumer) cannot keep our memory: what
    // earlier writes left queued is its backlog. This write itself may be larger than the
    // limit (an execution's answer with a large output): one big answer is not a stall.
    if (over_backlog_limit()) {
        hard_close();
        return;
    }
    auto* w = new WriteReq;
    w->data = std::move(data);
    w->conn = this;
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), unsigned(w->data.size()));
    int rc = uv_write(&w->req, stream_of(this), &buf, 1, [](uv_write_t* req, int status) {
        auto* wr = static_cast<WriteReq*>(req->data);
        // Write callbacks (ECANCELED included) run before the stream's close callback, so
        // the Connection is still alive here.
        Connection* conn = wr->conn;
        if (conn->server) conn->server->write_bytes_in_flight_ -= wr->data.size();
        delete wr;
        if (status < 0 && !conn->closed) conn->hard_close();
        if (!conn->closed) conn->notify_drained();
        if (!conn->closed && conn->waiting_for_drain && !conn->over_backlog_limit()) {
            conn->waiting_for_drain = false;
            conn->flush();
        } else if (!conn->closed && !conn->in_process &&
                   HTTP_PARSER_ERRNO(&conn->parser) == HPE_PAUSED && conn->pipeline_has_room()) {
            conn->flush();  // the client read enough: its next request may be answered
        }
    });
    if (rc != 0) {
        delete w;
        hard_close();
        return;
    }
    if (server) server->write_bytes_in_flight_ += w->data.size();
    bytes_written_total += w->data.size();
}

uint64_t Connection::bytes_sent() const {
    uint64_t handed = bytes_written_total - queued_in_libuv(this);
    // What the kernel holds unacknowledged is not sent either. Without it a client reading
    // steadily showed no progress for long: a socket is writable again only once about
    // half its send buffer (megabytes, autotuned) is free, so libuv's queue stood still.
    uv_os_fd_t fd = -1;
    int unacked = 0;
    if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp), &fd) == 0 &&
        ioctl(fd, SIOCOUTQ, &unacked) == 0 && unacked > 0)
        handed -= std::min<uint64_t>(handed, uint64_t(unacked));
    return handed;
}

void Connection::notify_drained() {
    if (closed || queue.empty()) return;
    Exchange& ex = *queue.front();
    if (!ex.drained_callback || !ex.out.empty() ||
        uv_stream_get_write_queue_size(stream_of(this)) > kDrainedBytes)
        return;
    std::function<void()> cb = std::move(ex.drained_callback);
    ex.drained_callback = nullptr;
    loop.guarded(cb);
}

void Connection::flush() {
    if (closed) return;
    while (!queue.empty()) {
        Exchange& ex = *queue.front();
        if (!ex.out.empty()) {
            // The next pipelined answer starts once the one before has mostly left: written
            // behind it, it found the queue past the stall limit and reset the connection.
            if (!ex.writing && over_backlog_limit()) {
                waiting_for_drain = true;
                break;
            }
            ex.writing = true;
            std::string out = std::move(ex.out);
            ex.out.clear();
            write(std::move(out));
            if (closed) return;
        }
        if (ex.state != Exchange::State::Done) break;
        bool close = ex.close_after;
        ex.conn = nullptr;
        queue.pop_front();
        if (close) {
            begin_close();
            return;
        }
    }
    if (queue.empty() && parsing_stopped && !in_process) {
        begin_close();
        return;
    }
    if (draining || in_process) return;
    // Room in the pipeline again: parse what waited, then read on.
    if (HTTP_PARSER_ERRNO(&parser) == HPE_PAUSED && pipeline_has_room()) {
        process_input();
        if (closed || draining) return;
    }
    if (!reading && !eof_seen && HTTP_PARSER_ERRNO(&parser) != HPE_PAUSED)
        reading = uv_read_start(stream_of(this), on_alloc, on_read) == 0;
    update_timer();
}

std::shared_ptr<Exchange> Connection::stop_receiving() {
    parsing_stopped = true;
    // Inside the parser, inbuf is the buffer being parsed: process_input clears it after.
    if (!in_process) inbuf.clear();
    std::shared_ptr<Exchange> ex = (receiving(), queue.back());
    ex->keep_alive = false;
    ex->close_after = true;
    ex->state = Exchange::State::Handling;
    if (ex->req.path.empty()) ex->req.path = ex->req.target.substr(0, ex->req.target.find('?'));
    // A request refused before its head was complete: the method was read with its line.
    if (ex->req.method.empty() && !ex->req.target.empty())
        ex->req.method = http_method_str(static_cast<http_method>(parser.method));
    return ex;
}

void Connection::answer_unread(ServerResponse answer) {
    if (closed || draining) return;
    Responder(stop_receiving()).send(std::move(answer));
}

void Connection::fail(int status, std::string_view code, std::string_view message) {
    if (closed || draining) return;
    std::shared_ptr<Exchange> ex = stop_receiving();
    // Either serialises, logs and flushes.
    if (server && server_options().refusal_answer)
        if (std::optional<ServerResponse> own =
                server_options().refusal_answer(ex->req, status, message)) {
            own->status = status;
            Responder(ex).send(std::move(*own));
            return;
        }
    Responder(ex).send_error(status, code, message);
}

// ---- closing -------------------------------------------------------------------------

void Connection::begin_close() {
    if (draining || closed) return;
    draining = true;
    parsing_stopped = true;
    if (!in_process) inbuf.clear();  // else process_input does, after the parser returns
    abandon_exchanges();
    if (closed) return;
    // Half-close after the pending writes, then drain what the client still sends until it
    // closes too (or the linger ends): closing with unread input would send a reset that
    // can destroy the response before the client reads it. The linger starts once the
    // answer is written: an answer larger than the socket's buffers takes as long as the
    // client takes to read it, which is bounded by its progress instead (Flush).
    auto* req = new uv_shutdown_t;
    req->data = this;
    int rc = uv_shutdown(req, stream_of(this), [](uv_shutdown_t* r, int status) {
        auto* c = static_cast<Connection*>(r->data);
        delete r;
        if (c->closed) return;
        if (status < 0 || c->eof_seen)
            c->hard_close();
        else
            c->set_timer(TimerMode::Linger);
    });
    if (rc != 0) {
        delete req;
        hard_close();
        return;
    }
    if (!reading && !eof_seen) reading = uv_read_start(stream_of(this), on_alloc, on_read) == 0;
    // A Flush check already running (answers waited for the reader) keeps its window and
    // its mark: taken anew here, the next check came after what was left of the window.
    if (timer_mode != TimerMode::Flush) sent_at_flush_check = bytes_sent();
    set_timer(uv_stream_get_write_queue_size(stream_of(this)) > 0 ? TimerMode::Flush
                                                                  : TimerMode::Linger);
}

void Connection::hard_close() {
    if (closed) return;
    closed = true;
    timer.reset();
    timer_mode = TimerMode::None;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    if (server) server->connection_closed(this);
    abandon_exchanges();  // last: it runs user callbacks
}

void Connection::abandon_exchanges() {
    std::deque<std::shared_ptr<Exchange>> abandoned;
    abandoned.swap(queue);
    bool notify = server && !server->destroying_;
    std::vector<std::function<void()>> callbacks;
    std::vector<std::function<void()>> dropped;  // may hold Responders: destroyed last
    for (auto& ex : abandoned) {
        ex->conn = nullptr;
        if (ex->drained_callback) dropped.push_back(std::move(ex->drained_callback));
        ex->drained_callback = nullptr;
        if (ex->state == Exchange::State::Done || ex->state == Exchange::State::Receiving) continue;
        ex->abandoned = true;
        if (ex->state == Exchange::State::Handling) ex->status = 499;  // nginx's "client left"
        if (notify) log(*ex);
        for (auto& cb : ex->close_callbacks)
            callbacks.push_back(std::move(cb));
        ex->close_callbacks.clear();
    }
    if (!notify) return;
    for (auto& cb : callbacks)
        loop.guarded(cb);
}

// ---- timers and the log --------------------------------------------------------------

void Connection::set_timer(TimerMode mode) {
    if (mode == timer_mode || closed) return;
    timer_mode = mode;
    timer.reset();
    if (mode == TimerMode::None || !server) return;
    const ServerOptions& o = server->options_;
    uint64_t ms = mode == TimerMode::Request || mode == TimerMode::Flush ? o.request_timeout_ms
                  : mode == TimerMode::KeepAlive                         ? o.keep_alive_timeout_ms
                                                                         : o.linger_ms;
    timer = loop.timer(ms, [this] { on_timer(); });
}

void Connection::update_timer() {
    if (closed || draining) return;
    if (awaiting_reader()) {
        // Answers wait for the client to read earlier ones: it must keep reading. A client
        // that pipelined requests and read nothing held its connection (and the answers
        // built for it) for good, the handler's turn arming no timer.
        if (timer_mode != TimerMode::Flush) sent_at_flush_check = bytes_sent();
        set_timer(TimerMode::Flush);
    } else if (!queue.empty() && queue.back()->state == Exchange::State::Receiving)
        set_timer(TimerMode::Request);
    else if (!queue.empty())
        set_timer(TimerMode::None);  // the handler's turn: ?wait= may take long
    else if (!inbuf.empty())
        set_timer(TimerMode::Request);
    else
        set_timer(served() ? TimerMode::KeepAlive : TimerMode::Request);
}

bool Connection::served() const {
    return requests_seen > 0;
}

void Connection::on_timer() {
    TimerMode mode = timer_mode;
    timer_mode = TimerMode::None;  // the Timer object stays until replaced (we are inside it)
    switch (mode) {
    case TimerMode::Request:
        if (queue.empty() || queue.back()->state == Exchange::State::Receiving)
            fail(408, "request_timeout", "the request did not arrive in time");
        break;
    case TimerMode::KeepAlive: begin_close(); break;
    case TimerMode::Flush: {
        // A client that read none of what it was sent for a whole request timeout is gone.
        // Progress is counted in bytes sent, not in what is left: an answer queued since
        // the last check (the next pipelined one) may leave more than there was.
        size_t left = uv_stream_get_write_queue_size(stream_of(this));
        uint64_t sent = bytes_sent();
        if (left > 0 && sent == sent_at_flush_check) {
            hard_close();
        } else if (draining) {
            sent_at_flush_check = sent;
            set_timer(left > 0 ? TimerMode::Flush : TimerMode::Linger);
        } else {
            sent_at_flush_check = sent;
            update_timer();  // Flush again while answers still wait for the reader
        }
        break;
    }
    case TimerMode::Linger: hard_close(); break;
    case TimerMode::None: break;
    }
}

void Connection::log(Exchange& ex) {
    if (ex.logged) return;
    ex.logged = true;
    if (!server || server->destroying_ || !server->options_.access_log) return;
    AccessLogEntry e;
    e.method = ex.req.method;
    e.path = ex.req.path;
    e.status = ex.status;
    e.bytes = ex.body_bytes;
    e.duration_ms = double(Loop::hrtime_ns() - ex.started_ns) / 1e6;
    e.remote = ex.req.remote;
    e.request_id = ex.req.id;
    e.fields = ex.log_fields;
    auto& cb = server->options_.access_log;
    loop.guarded([&] { cb(e); });
}

std::string Connection::status_line(int status) {
    const char* reason = http_status_str(static_cast<http_status>(status));
    if (!reason || reason[0] == '<') reason = "";
    return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
}

}  // namespace http_server_detail
}  // namespace ferry
