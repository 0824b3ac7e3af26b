// HttpServer: listening, accepting, graceful close; Responder: serialising answers. The
// per-connection machinery (queue, timers, writes) is in http_server_conn.cpp, the parser's
// callbacks in http_server_parse.cpp, and the shared structures are described at the top of
// http_server_impl.h.
#include "runtime/http_server.h"
#include "runtime/http_server_impl.h"
#include "runtime/ids.h"

#include <netdb.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace ferry {

using namespace http_server_detail;

namespace http_server_detail {

bool has_token(std::string_view list, std::string_view token) {
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
            item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
            item.remove_suffix(1);
        if (iequals(item, token)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace http_server_detail

std::string error_json(std::string_view code, std::string_view message) {
    auto quote = [](std::string_view s) {
        std::string out = "\"";
        for (unsigned char c : s) {
            if (c == '"' || c == '\\') {
                out += '\\';
                out += char(c);
            } else if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += char(c);
            }
        }
        return out + "\"";
    };
    return "{\"error\":{\"code\":" + quote(code) + ",\"message\":" + quote(message) + "}}";
}

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// CR, LF or NUL in a header the handler set would let it split the response.
bool header_ok(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool status_has_body(int status) {
    return status >= 200 && status != 204 && status != 304;
}

std::string format_remote(const sockaddr_storage& addr) {
    char ip[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
        uv_ip4_name(in, ip, sizeof ip);
        return std::string(ip) + ":" + std::to_string(ntohs(in->sin_port));
    }
    if (addr.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
        uv_ip6_name(in6, ip, sizeof ip);
        std::string out = "[";  // built stepwise: GCC 12 warns (-Wrestrict) on "[" + string
        out += ip;
        out += "]:";
        out += std::to_string(ntohs(in6->sin6_port));
        return out;
    }
    return "unknown";
}

// The Date header's value now (RFC 9110 6.6.1: an origin server with a clock sends it),
// formatted once a second.
const std::string& http_date_now() {
    thread_local std::time_t shown = -1;
    thread_local std::string text;
    std::time_t now = std::time(nullptr);
    if (now != shown) {
        std::tm utc{};
        gmtime_r(&now, &utc);
        char buf[40];
        size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &utc);
        text.assign(buf, n);
        shown = now;
    }
    return text;
}

// Makes an answer composed with keep-alive, and not yet written, the last of its
// connection: `Connection: close` in its head, the connection closed after it.
void say_close(Exchange& ex) {
    size_t head_end = ex.out.find("\r\n\r\n");
    if (head_end == std::string::npos) return;
    const std::string keep = "Connection: keep-alive\r\n";
    size_t at = ex.out.find(keep);
    if (at != std::string::npos && at < head_end)
        ex.out.replace(at, keep.size(), "Connection: close\r\n");
    else
        ex.out.insert(head_end + 2, "Connection: close\r\n");
    ex.close_after = true;
}

// The response head: status line, the handler's headers (minus the framing ones, which are
// the server's), framing, Connection. Decides ex.close_after.
std::string response_head(Exchange& ex, int status, const HttpHeaders& headers, bool stream) {
    // A closing server still answers every request it has read (RFC 9112 9.6: `close` goes
    // on the last; one on the first dropped the answers of pipelined requests it had
    // already run, and a client retrying them ran them twice).
    bool last = ex.conn->queue.empty() || ex.conn->queue.back().get() == &ex;
    bool close = ex.close_after || !ex.keep_alive || (ex.conn->server_closing() && last);
    bool has_id = false;
    for (const auto& [name, value] : headers) {
        if (iequals(name, "Connection") && has_token(value, "close")) close = true;
        if (iequals(name, "X-Request-Id")) has_id = true;
    }
    bool chunked = false;
    if (stream && status_has_body(status) && !ex.head) {
        if (ex.req.http_major == 1 && ex.req.http_minor >= 1)
            chunked = true;
        else
            close = true;  // HTTP/1.0 knows no chunks: the body ends with the connection
    }
    std::string out = Connection::status_line(status);
    for (const auto& [name, value] : headers) {
        if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
            iequals(name, "Connection") || name.empty() || !header_ok(name) || !header_ok(value))
            continue;
        out += name + ": " + value + "\r\n";
    }
    if (!has_id) out += "X-Request-Id: " + ex.req.id + "\r\n";
    out += "Date: " + http_date_now() + "\r\n";
    if (chunked) out += "Transfer-Encoding: chunked\r\n";
    if (close)
        out += "Connection: close\r\n";
    else if (ex.req.http_minor == 0)
        out += "Connection: keep-alive\r\n";
    ex.close_after = close;
    ex.chunked = chunked;
    ex.status = status;
    return out;
}

}  // namespace

std::string percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%' && i + 2 < s.size()) {
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += char(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += (plus_is_space && c == '+') ? ' ' : c;
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view item = query.substr(0, amp);
        if (!item.empty()) {
            size_t eq = item.find('=');
            std::string_view key = item.substr(0, eq);
            std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
            out.emplace_back(percent_decode(key, true), percent_decode(value, true));
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

// ---- ServerRequest ---------------------------------------------------------------------

std::string ServerRequest::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return {};
}

std::string ServerRequest::header_list(std::string_view name) const {
    std::string all;
    for (const auto& [n, v] : headers) {
        if (!iequals(n, name)) continue;
        if (!all.empty()) all += ", ";
        all += v;
    }
    return all;
}

bool ServerRequest::has_header(std::string_view name) const {
    for (const auto& h : headers)
        if (iequals(h.first, name)) return true;
    return false;
}

std::optional<std::string> ServerRequest::query_param(std::string_view key) const {
    for (const auto& [k, v] : query)
        if (k == key) return v;
    return std::nullopt;
}

std::vector<std::string> ServerRequest::query_params(std::string_view key) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : query)
        if (k == key) out.push_back(v);
    return out;
}

// ---- Responder -------------------------------------------------------------------------

Responder& Responder::operator=(Responder&& other) noexcept {
    if (this != &other) {
        release();
        ex_ = std::move(other.ex_);
    }
    return *this;
}

Responder::~Responder() {
    release();
}

void Responder::release() {
    if (!ex_) return;
    if (ex_->state == Exchange::State::Handling)
        send_error(500, "internal", "the request handler did not answer");
    else if (ex_->state == Exchange::State::Streaming)
        end();
    ex_.reset();
}

const ServerRequest& Responder::request() const {
    static const ServerRequest empty;
    return ex_ ? ex_->req : empty;
}

bool Responder::connected() const {
    return ex_ && ex_->conn && ex_->state != Exchange::State::Done;
}

bool Responder::answered() const {
    return ex_ && (ex_->state == Exchange::State::Streaming || ex_->state == Exchange::State::Done);
}

void Responder::annotate(std::string key, std::string value) {
    if (ex_) ex_->log_fields.emplace_back(std::move(key), std::move(value));
}

bool Responder::send(ServerResponse r) {
    if (!ex_ || ex_->state != Exchange::State::Handling) return false;
    Exchange& ex = *ex_;
    ex.state = Exchange::State::Done;
    if (!ex.conn) return false;  // the client left: nothing to write to
    bool no_body_status = !status_has_body(r.status);
    std::string out = response_head(ex, r.status, r.headers, false);
    if (!no_body_status) out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    out += "\r\n";
    // One buffer for head and body: a large body (an execution's history) is not copied
    // twice more on its way out.
    bool with_body = !no_body_status && !ex.head;
    ex.out.reserve(ex.out.size() + out.size() + (with_body ? r.body.size() : 0));
    ex.out += out;
    if (with_body) {
        ex.out += r.body;
        ex.body_bytes = r.body.size();
    }
    Connection* c = ex.conn;
    c->log(ex);
    c->flush();
    return true;
}

bool Responder::send(int status, std::string body, HttpHeaders headers) {
    return send(ServerResponse{status, std::move(headers), std::move(body)});
}

bool Responder::send_error(int status, std::string_view code, std::string_view message,
                           HttpHeaders extra) {
    HttpHeaders headers = {{"Content-Type", "application/json"}};
    for (auto& h : extra)
        headers.push_back(std::move(h));
    return send(status, error_json(code, message), std::move(headers));
}

bool Responder::start_stream(int status, HttpHeaders headers) {
    if (!ex_ || ex_->state != Exchange::State::Handling) return false;
    Exchange& ex = *ex_;
    if (!ex.conn) {
        ex.state = Exchange::State::Done;
        return false;
    }
    ex.out += response_head(ex, status, headers, true) + "\r\n";
    // HEAD, 204 and 304 have no body at all: the stream is over as soon as it starts.
    ex.state =
        (ex.head || !status_has_body(status)) ? Exchange::State::Done : Exchange::State::Streaming;
    Connection* c = ex.conn;
    if (ex.state == Exchange::State::Done) c->log(ex);
    c->flush();
    return true;
}

bool Responder::write(std::string_view data) {
    if (!ex_ || ex_->state != Exchange::State::Streaming || !ex_->conn) return false;
    if (data.empty()) return true;  // an empty chunk would end the stream
    Exchange& ex = *ex_;
    if (ex.chunked) {
        char size[24];
        std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        ex.out += size;
        ex.out.append(data);
        ex.out += "\r\n";
    } else {
        ex.out.append(data);
    }
    ex.body_bytes += data.size();
    ex.conn->flush();
    return connected();
}

void Responder::end() {
    if (!ex_ || ex_->state != Exchange::State::Streaming) return;
    Exchange& ex = *ex_;
    ex.state = Exchange::State::Done;
    ex.drained_callback = nullptr;
    if (!ex.conn) return;
    if (ex.chunked) ex.out += "0\r\n\r\n";
    Connection* c = ex.conn;
    c->log(ex);
    c->flush();
}

void Responder::abort() {
    if (!ex_ || ex_->state != Exchange::State::Streaming) return;
    ex_->drained_callback = nullptr;
    if (Connection* c = ex_->conn) c->hard_close();
}

bool Responder::drained() const {
    if (!ex_ || !ex_->conn) return true;
    return ex_->out.empty() &&
           uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&ex_->conn->tcp)) <=
               Connection::kDrainedBytes;
}

bool Responder::queued_behind() const {
    if (!ex_ || !ex_->conn || ex_->conn->queue.empty()) return false;
    return ex_->conn->queue.front().get() != ex_.get();
}

void Responder::when_drained(std::function<void()> cb) {
    if (!ex_ || ex_->state != Exchange::State::Streaming || !ex_->conn || !cb) return;
    ex_->drained_callback = std::move(cb);
    // Checked from the loop, not here: the caller may be the callback itself, and an answer
    // that drains at once would otherwise recurse once per piece. Write completions check
    // again; this post covers an answer with nothing in flight.
    std::weak_ptr<Exchange> weak = ex_;
    ex_->conn->loop.post([weak] {
        if (auto ex = weak.lock(); ex && ex->conn) ex->conn->notify_drained();
    });
}

void Responder::on_close(std::function<void()> cb) {
    if (!ex_ || !cb) return;
    if (ex_->abandoned) {
        cb();
        return;
    }
    if (ex_->state == Exchange::State::Done || !ex_->conn) return;  // complete: nothing to miss
    ex_->close_callbacks.push_back(std::move(cb));
}

// ---- HttpServer ------------------------------------------------------------------------

HttpServer::HttpServer(Loop& loop, ServerOptions options, ServerHandler handler)
    : loop_(loop), options_(std::move(options)), handler_(std::move(handler)) {
    // A write to a client that already left must fail with EPIPE, not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
}

HttpServer::~HttpServer() {
    destroying_ = true;
    stop_accepting();
    if (listener_) listener_->data = nullptr;  // its close callback runs after we are gone
    auto conns = conns_;
    for (Connection* c : conns)
        c->hard_close();
    for (Connection* c : conns)
        c->server = nullptr;
    conns_.clear();
}

Result<uint16_t> HttpServer::listen(const std::string& host, uint16_t port) {
    if (listener_) return make_error(ErrorKind::Validation, "the server is already listening");
    // (after stop_accepting(), listener_ is cleared when the old socket has closed)
    if (closing_) return make_error(ErrorKind::Validation, "the server is closed");
    sockaddr_storage addr{};
    if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
        uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
        // A name ("localhost"): resolved once, synchronously (no callback), at start-up.
        uv_getaddrinfo_t req{};
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        int rc = uv_getaddrinfo(loop_.raw(), &req, nullptr, host.c_str(), nullptr, &hints);
        if (rc != 0 || !req.addrinfo)
            return make_error(ErrorKind::Validation,
                              "cannot resolve listen host '" + host + "': " + uv_strerror(rc));
        std::memcpy(&addr, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
        uv_freeaddrinfo(req.addrinfo);
        if (addr.ss_family == AF_INET)
            reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port);
        else
            reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port);
    }
    auto* tcp = new uv_tcp_t;
    uv_tcp_init(loop_.raw(), tcp);
    tcp->data = this;
    int rc = uv_tcp_bind(tcp, reinterpret_cast<const sockaddr*>(&addr), 0);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 511, on_connection);
    if (rc != 0) {
        // Closed on its own (no link to the server); a later listen() may try again.
        tcp->data = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(tcp),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
        return make_error(rc == UV_EINVAL ? ErrorKind::Validation : ErrorKind::Network,
                          "cannot listen on " + host + ":" + std::to_string(port) + ": " +
                              uv_strerror(rc));
    }
    listener_ = tcp;
    listener_open_ = true;
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                        : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    return port_;
}

void HttpServer::stop_accepting() {
    if (!listener_ || uv_is_closing(reinterpret_cast<uv_handle_t*>(listener_))) return;
    // listener_ stays set until the close callback, so the destructor can unlink it.
    uv_close(reinterpret_cast<uv_handle_t*>(listener_), [](uv_handle_t* h) {
        auto* self = static_cast<HttpServer*>(h->data);
        delete reinterpret_cast<uv_tcp_t*>(h);
        if (!self) return;
        self->listener_ = nullptr;
        self->listener_open_ = false;
        self->maybe_done();
    });
}

void HttpServer::close(std::function<void()> done) {
    if (closing_) return;
    closing_ = true;
    done_ = std::move(done);
    stop_accepting();
    auto conns = conns_;
    for (Connection* c : conns) {
        if (c->refused) c->hard_close();  // nothing owed: shutdown does not wait for it
        if (c->closed || c->draining) continue;
        // Idle (nothing received, nothing owed): close now. A request half received may
        // finish (on_message_begin refuses the next one); otherwise the last response
        // closes the connection (flush sees parsing_stopped with an empty queue).
        if (c->queue.empty()) {
            c->begin_close();
        } else if (c->queue.back()->state != Exchange::State::Receiving) {
            c->parsing_stopped = true;
            // Its answer may be composed already, behind one not yet given (keep-alive
            // then): it is the last, so it says `close` (RFC 9112 9.6).
            Exchange& last = *c->queue.back();
            if (last.state == Exchange::State::Done && !last.writing && !last.close_after)
                say_close(last);
            c->flush();
        }
    }
    shutdown_timer_ = loop_.timer(options_.shutdown_timeout_ms, [this] {
        auto left = conns_;
        for (Connection* c : left)
            c->hard_close();
    });
    maybe_done();
}

void HttpServer::connection_closed(Connection* c) {
    if (conns_.erase(c) && c->refused) --refusals_lingering_;
    maybe_done();
}

void HttpServer::maybe_done() {
    if (!closing_ || listener_open_ || !conns_.empty() || done_timer_ || destroying_) return;
    shutdown_timer_.reset();
    // Not from here: this may be deep inside a connection's callbacks, and done may
    // destroy the server.
    done_timer_ = loop_.timer(0, [this] {
        auto done = std::move(done_);
        done_ = nullptr;
        if (done) done();
    });
}

namespace {

// Refused connections that linger (drain, then close) at once; more are closed at once. A
// flood of connections then holds at most max_connections + this many descriptors.
constexpr size_t kMaxLingeringRefusals = 64;

// The whole answer to a connection over the limit, made once.
const std::string& over_limit_response() {
    static const std::string response = [] {
        std::string body =
            error_json("too_many_connections", "the server has as many connections as it takes; "
                                               "retry in a moment");
        return Connection::status_line(503) +
               "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nConnection: close\r\nRetry-After: 1\r\n\r\n" + body;
    }();
    return response;
}

// Over the limit, a client is told so rather than cut off (it could not tell a full server
// from a broken one), at a bounded cost: its request is never parsed, and the fixed answer
// goes out in one non-blocking write that a fresh socket's buffer always takes whole. A
// write that does not go (the client already left) leaves a silent close.
void refuse_over_limit(Connection* c) {
    const std::string& response = over_limit_response();
    uv_buf_t buf = uv_buf_init(const_cast<char*>(response.data()), unsigned(response.size()));
    (void)uv_try_write(reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1);
}

}  // namespace

void HttpServer::on_connection(uv_stream_t* listener, int status) {
    auto* self = static_cast<HttpServer*>(listener->data);
    if (status < 0 || !self) return;
    auto* c = new Connection(*self, self->loop_);
    uv_tcp_init(self->loop_.raw(), &c->tcp);
    c->tcp.data = c;
    bool accepted = uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) == 0;
    bool over_limit = self->open_connections() >= self->options_.max_connections;
    if (accepted && !self->closing_ && over_limit) {
        refuse_over_limit(c);
        ++self->refused_;
        if (self->refusals_lingering_ < kMaxLingeringRefusals) {
            // Closed like any answer that closes: half-close, then drain what the client
            // sends until it closes or the linger ends. Closing with its request unread
            // would reset the connection, which can destroy the 503 before it is read.
            c->refused = true;
            ++self->refusals_lingering_;
            self->conns_.insert(c);
            c->begin_close();
            return;
        }
    }
    if (!accepted || self->closing_ || over_limit) {
        // Accepted only to be closed, so the backlog does not fill up (past the lingering
        // refusals' bound, a flood costs no more than a file descriptor for an instant).
        c->server = nullptr;
        c->closed = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
                 [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
        return;
    }
    sockaddr_storage peer{};
    int len = sizeof peer;
    if (uv_tcp_getpeername(&c->tcp, reinterpret_cast<sockaddr*>(&peer), &len) == 0)
        c->remote = format_remote(peer);
    self->conns_.insert(c);
    ++self->accepted_;
    c->start();
}

}  // namespace ferry
