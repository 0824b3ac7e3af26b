// The http_parser callbacks of a server connection: the request head checked as it
// arrives (size limits, framing, target, Host), the body counted against its limit, and
// the finished request queued as an exchange. See http_server_impl.h.
#include "runtime/duration.h"
#include "runtime/http_server_impl.h"
#include "runtime/ids.h"
#include "runtime/utf8.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

namespace ferry {
namespace http_server_detail {

namespace {

Connection* conn_of(http_parser* p) {
    return static_cast<Connection*>(p->data);
}

// Splits the target into the decoded path and query. Absolute-form targets
// ("http://host/p?q", RFC 9112 3.2.2) are accepted as servers must.
void split_target(ServerRequest& req) {
    std::string_view t = req.target;
    if (req.method == "CONNECT" || t == "*") {
        req.path = req.target;
        return;
    }
    std::string_view path_start;  // an absolute form without a path: "/"
    if (size_t scheme = t.find("://"); scheme != std::string_view::npos && t.front() != '/') {
        // The authority ends at the first '/', '?' or '#' (RFC 3986 3.2): a '/' inside the
        // query ("http://h?z=/api/v1/...") is no path, and routing by it reached an
        // endpoint a proxy filtering on the path never saw.
        size_t end = t.find_first_of("/?#", scheme + 3);
        t = end == std::string_view::npos ? std::string_view() : t.substr(end);
        if (t.empty() || t.front() != '/') path_start = "/";
    }
    t = t.substr(0, t.find('#'));
    size_t q = t.find('?');
    req.path = std::string(path_start) + percent_decode(t.substr(0, q), false);
    if (q != std::string_view::npos) req.query = parse_query(t.substr(q + 1));
}

// Whether the decoded target is text. If not, the path is encoded again (every byte above
// 0x7F as %XX) and the query dropped, so the access log line can still name the request.
bool target_is_utf8(ServerRequest& req) {
    bool ok = invalid_utf8_at(req.path) == std::string_view::npos;
    for (const auto& [key, value] : req.query)
        ok = ok && invalid_utf8_at(key) == std::string_view::npos &&
             invalid_utf8_at(value) == std::string_view::npos;
    if (ok) return true;
    std::string shown;
    for (unsigned char ch : req.path) {
        if (ch < 0x80) {
            shown += char(ch);
        } else {
            static constexpr char kHex[] = "0123456789ABCDEF";
            shown += {'%', kHex[ch >> 4], kHex[ch & 15]};
        }
    }
    req.path = std::move(shown);
    req.query.clear();
    return false;
}

}  // namespace

int Connection::on_message_begin(http_parser* p) {
    Connection* c = conn_of(p);
    if (c->closed || c->draining || c->parsing_stopped || !c->server) return -1;
    if (c->server_closing()) {
        c->parsing_stopped = true;  // shutting down: no new requests on this connection
        return -1;
    }
    auto ex = std::make_shared<Exchange>();
    ex->conn = c;
    ex->started_ns = Loop::hrtime_ns();
    ex->req.remote = c->remote;
    ex->req.id = new_ulid();
    c->queue.push_back(std::move(ex));
    // Its own request timeout, from now: one that began in the read that ended the last
    // request inherited that request's (a 408 before its time).
    c->timer_mode = TimerMode::None;
    c->set_timer(TimerMode::Request);
    c->chunk_line = ChunkLine::None;
    c->chunk_crlf_pending = 0;
    return 0;
}

Exchange& Connection::receiving() {
    if (queue.empty() || queue.back()->state != Exchange::State::Receiving) {
        auto ex = std::make_shared<Exchange>();
        ex->conn = this;
        ex->started_ns = Loop::hrtime_ns();
        ex->req.remote = remote;
        ex->req.id = new_ulid();
        queue.push_back(std::move(ex));
    }
    return *queue.back();
}

namespace {

// Counts head bytes (plus a line's CRLF and ": " per header) against max_header_bytes.
bool head_too_large(Connection* c, Exchange& ex, size_t len, size_t overhead) {
    ex.header_bytes += len + overhead;
    return c->server && ex.header_bytes > c->server_options().max_header_bytes;
}

}  // namespace

int Connection::on_url(http_parser* p, const char* at, size_t len) {
    Connection* c = conn_of(p);
    Exchange& ex = c->receiving();
    if (head_too_large(c, ex, len, 0)) {
        c->fail(414, "uri_too_long", "the request target is too long");
        return -1;
    }
    ex.req.target.append(at, len);
    return 0;
}

int Connection::on_header_field(http_parser* p, const char* at, size_t len) {
    Connection* c = conn_of(p);
    Exchange& ex = c->receiving();
    bool new_field = ex.in_value || (ex.req.headers.empty() && ex.header_field.empty());
    if (head_too_large(c, ex, len, new_field ? 4 : 0)) {
        c->fail(431, "headers_too_large", "the request headers are too large");
        return -1;
    }
    // Trailer fields after a chunked body are not merged into the head (RFC 9110 6.5.1): a
    // credential or key sent only there, which a proxy in front never checks, counted.
    if (ex.head_complete) return 0;
    if (ex.in_value) {
        ex.in_value = false;
        ex.header_field.clear();
    }
    ex.header_field.append(at, len);
    return 0;
}

int Connection::on_header_value(http_parser* p, const char* at, size_t len) {
    Connection* c = conn_of(p);
    Exchange& ex = c->receiving();
    if (head_too_large(c, ex, len, 0)) {
        c->fail(431, "headers_too_large", "the request headers are too large");
        return -1;
    }
    if (ex.head_complete) return 0;  // a trailer: see on_header_field
    if (!ex.in_value) {
        ex.in_value = true;
        ex.req.headers.emplace_back(ex.header_field, std::string());
        // A value that starts on the line after its name ("Name:" CRLF SP "value") is
        // folded too: http_parser skips the line break as leading whitespace.
        if (len > 0 && c->blank_before_holds_lf(at)) ex.folded = true;
    } else {
        // http_parser hands the next line of a folded value (CRLF, then a space or a tab) on
        // as one more piece of the same value, without the line break: a piece that starts
        // right after a line feed is one. (A value cut by the end of a read is not.)
        const char before = at > c->inbuf.data() ? at[-1] : c->last_parsed;
        if (before == '\n') ex.folded = true;
    }
    ex.req.headers.back().second.append(at, len);
    return 0;
}

namespace {

// The 413 for a body known to pass server.max_body (from its length, a chunk's size, or
// what arrived).
void fail_body_too_large(Connection* c) {
    c->fail(413, "payload_too_large",
            "the request body exceeds " + format_size_bytes(c->server_options().max_body_bytes));
}

}  // namespace

int Connection::on_headers_complete(http_parser* p) {
    Connection* c = conn_of(p);
    std::shared_ptr<Exchange> keep = c->queue.empty() ? nullptr : c->queue.back();
    if (!keep || keep->state != Exchange::State::Receiving || !c->server) return -1;
    Exchange& ex = *keep;
    ex.head_complete = true;
    ex.req.method = http_method_str(static_cast<http_method>(p->method));
    ex.req.http_major = p->http_major;
    ex.req.http_minor = p->http_minor;
    ex.keep_alive = http_should_keep_alive(p) != 0 && !p->upgrade;
    ex.head = p->method == HTTP_HEAD;
    if (encoded_slash_in_path(ex.req.target)) {
        // Decoded, it would route where a proxy in front, matching the raw path, did not look.
        c->fail(400, "bad_request", "the request path holds an encoded slash (%2F)");
        return -1;
    }
    split_target(ex.req);
    if (!target_is_utf8(ex.req)) {  // it is echoed in answers and JSON log lines
        c->fail(400, "bad_request", "the request target is not UTF-8 once percent-decoded");
        return -1;
    }
    if (p->http_major != 1) {  // the parser takes any digit; this server speaks 1.x only
        c->fail(505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are supported");
        return -1;
    }
    // RFC 9110 5.5: a field value has no leading or trailing whitespace. http_parser drops
    // the leading only: "Bearer TOKEN " failed and "Idempotency-Key: k " was another key.
    for (auto& [name, value] : ex.req.headers) {
        size_t end = value.find_last_not_of(" \t");
        value.resize(end == std::string::npos ? 0 : end + 1);
    }
    if (!framing_is_strict(c, ex, p)) return -1;

    // Known too large now: say so before the client sends (and we read) the rest.
    size_t max_body = c->server_options().max_body_bytes;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > max_body) {
        fail_body_too_large(c);
        return -1;
    }
    std::string expect = ex.req.header("Expect");
    if (!expect.empty()) {
        if (!iequals(expect, "100-continue")) {
            c->fail(417, "expectation_failed", "only Expect: 100-continue is supported");
            return -1;
        }
        // Without a Content-Length http_parser's content_length is ULLONG_MAX, not 0: a GET
        // with Expect got a 100 for a body that was never coming.
        bool body_coming =
            (p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
        if (body_coming && ex.req.http_minor >= 1) {
            if (const auto& early = c->server_options().answer_before_body) {
                std::optional<ServerResponse> refusal;
                c->loop.guarded([&] { refusal = early(ex.req); });
                if (c->closed || c->draining) return -1;
                if (refusal) {
                    c->answer_unread(std::move(*refusal));
                    return -1;
                }
            }
            ex.out += "HTTP/1.1 100 Continue\r\n\r\n";
            c->flush();  // goes out once the exchanges ahead are answered
            if (c->closed || c->draining) return -1;
        }
    }
    if (p->flags & F_CHUNKED) c->chunk_line = ChunkLine::AfterHead;
    c->line_end_check = {"the empty line that ends the head must end with CRLF", false};
    http_parser_pause(p, 1);
    return 0;
}

int Connection::on_body(http_parser* p, const char* at, size_t len) {
    Connection* c = conn_of(p);
    if (c->queue.empty() || !c->server) return -1;
    Exchange& ex = *c->queue.back();
    size_t max_body = c->server_options().max_body_bytes;
    if (ex.req.body.size() + len > max_body) {
        fail_body_too_large(c);
        return -1;
    }
    ex.req.body.append(at, len);
    // The chunk's data is complete: what follows must be its CRLF (in this buffer or the
    // next; process_input checks the start of the next).
    if ((p->flags & F_CHUNKED) && p->content_length == 0) {
        c->chunk_crlf_pending = 2;
        if (const char* problem =
                c->chunk_framing_problem(at + len, c->inbuf.data() + c->inbuf.size())) {
            c->fail(400, "bad_request", problem);
            return -1;
        }
    }
    return 0;
}

int Connection::on_chunk_header(http_parser* p) {
    Connection* c = conn_of(p);
    if (c->queue.empty() || !c->server) return -1;
    // Known too large once its size is read: said before the client sends (and we wait
    // for) the chunk's data, as for a Content-Length.
    size_t max_body = c->server_options().max_body_bytes;
    size_t have = c->queue.back()->req.body.size();
    if (p->content_length > max_body - std::min(have, max_body)) {
        fail_body_too_large(c);
        return -1;
    }
    c->line_end_check = {"a chunk-size line must end with CRLF", true};
    http_parser_pause(p, 1);
    return 0;
}

int Connection::on_chunk_complete(http_parser* p) {
    // Called after each chunk's data too; after the trailers, F_TRAILING is set.
    if (p->flags & F_TRAILING) {
        Connection* c = conn_of(p);
        c->line_end_check = {"the empty line that ends the trailers must end with CRLF", false};
        http_parser_pause(p, 1);
    }
    return 0;
}

int Connection::on_message_complete(http_parser* p) {
    Connection* c = conn_of(p);
    if (c->queue.empty() || !c->server) return -1;
    std::shared_ptr<Exchange> ex = c->queue.back();
    if (ex->state != Exchange::State::Receiving) return -1;
    ex->state = Exchange::State::Handling;
    ++c->server->requests_;
    ++c->requests_seen;
    // The client said this is its last request (Connection: close, HTTP/1.0): read no more.
    if (!ex->keep_alive) c->parsing_stopped = true;
    HttpServer* server = c->server;
    c->loop.guarded([&] { server->handler_(ex->req, Responder(ex)); });
    if (c->closed || c->draining || !c->server) return -1;
    // The next request waits while the pipeline is full, or while this answer and those
    // before it are unread: a client pipelining large listings and reading none had them
    // all built (32 of 2.4 MB, on the loop, per connection).
    if (!c->pipeline_has_room()) http_parser_pause(p, 1);
    return 0;
}

}  // namespace http_server_detail
}  // namespace ferry
