// A raw TCP client on the test's own loop (uv_tcp, no threads) for what HttpClient cannot
// send: malformed, truncated, slow, pipelined and hand-chunked requests; and for reading
// responses that never end (SSE). Everything it receives accumulates in `received`.
#pragma once

#include "runtime/loop.h"

#include <uv.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace ferry::testing {

class RawClient {
  public:
    RawClient(Loop& loop, uint16_t port) {
        s_ = new State;
        s_->owner = this;
        uv_tcp_init(loop.raw(), &s_->tcp);
        s_->tcp.data = s_;
        sockaddr_in addr{};
        uv_ip4_addr("127.0.0.1", port, &addr);
        s_->connect.data = s_;
        uv_tcp_connect(&s_->connect, &s_->tcp, reinterpret_cast<const sockaddr*>(&addr),
                       [](uv_connect_t* req, int status) {
                           auto* s = static_cast<State*>(req->data);
                           if (!s->owner) return;
                           if (status < 0) {
                               s->owner->failed = true;
                               return;
                           }
                           s->owner->connected = true;
                           uv_read_start(reinterpret_cast<uv_stream_t*>(&s->tcp), on_alloc,
                                         on_read);
                       });
    }
    ~RawClient() { close(); }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    // Queued behind the connect, so it may be called at once.
    void send(std::string data) {
        if (!s_) return;
        auto* w = new Write;
        w->data = std::move(data);
        w->req.data = w;
        uv_buf_t buf = uv_buf_init(w->data.data(), unsigned(w->data.size()));
        if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&s_->tcp), &buf, 1,
                     [](uv_write_t* req, int) { delete static_cast<Write*>(req->data); }) != 0)
            delete w;
    }
    // Half-close: the server sees EOF, we can still read.
    void shutdown_write() {
        if (!s_) return;
        auto* req = new uv_shutdown_t;
        if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&s_->tcp),
                        [](uv_shutdown_t* r, int) { delete r; }) != 0)
            delete req;
    }
    void close() {
        if (!s_) return;
        s_->owner = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(&s_->tcp),
                 [](uv_handle_t* h) { delete static_cast<State*>(h->data); });
        s_ = nullptr;
    }

    bool connected = false;
    bool failed = false;
    bool eof = false;  // the server closed (or reset) the connection
    std::string received;

  private:
    struct State {
        uv_tcp_t tcp{};
        uv_connect_t connect{};
        RawClient* owner = nullptr;
    };
    struct Write {
        uv_write_t req{};
        std::string data;
    };
    static void on_alloc(uv_handle_t*, size_t suggested, uv_buf_t* buf) {
        buf->base = static_cast<char*>(std::malloc(suggested));
        buf->len = buf->base ? suggested : 0;
    }
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* s = static_cast<State*>(stream->data);
        if (s->owner) {
            if (nread > 0) s->owner->received.append(buf->base, size_t(nread));
            if (nread < 0) {
                s->owner->eof = true;
                uv_read_stop(stream);
            }
        }
        std::free(buf->base);
    }
    State* s_ = nullptr;
};

struct RawResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// The complete responses at the front of `data`, in order (1xx included). A response whose
// body has not fully arrived ends the list; so does one delimited by the connection's end
// unless `eof` says it ended.
inline std::vector<RawResponse> parse_responses(const std::string& data, bool eof = false) {
    std::vector<RawResponse> out;
    size_t pos = 0;
    while (true) {
        size_t head_end = data.find("\r\n\r\n", pos);
        if (head_end == std::string::npos) break;
        RawResponse r;
        size_t line_end = data.find("\r\n", pos);
        std::string line = data.substr(pos, line_end - pos);
        if (line.size() < 12) break;
        r.status = std::atoi(line.c_str() + 9);
        for (size_t p = line_end + 2; p < head_end;) {
            size_t eol = data.find("\r\n", p);
            std::string h = data.substr(p, eol - p);
            size_t colon = h.find(':');
            std::string name = h.substr(0, colon);
            for (char& c : name)
                c = char(std::tolower(static_cast<unsigned char>(c)));
            size_t v = h.find_first_not_of(' ', colon + 1);
            r.headers[name] = v == std::string::npos ? "" : h.substr(v);
            p = eol + 2;
        }
        size_t body = head_end + 4;
        if (r.status < 200 || r.status == 204 || r.status == 304) {
            pos = body;
        } else if (r.headers.count("content-length")) {
            size_t len = std::strtoull(r.headers["content-length"].c_str(), nullptr, 10);
            if (data.size() < body + len) break;
            r.body = data.substr(body, len);
            pos = body + len;
        } else if (r.header("transfer-encoding") == "chunked") {
            size_t p = body;
            bool complete = false;
            while (true) {
                size_t eol = data.find("\r\n", p);
                if (eol == std::string::npos) break;
                size_t len = std::strtoull(data.substr(p, eol - p).c_str(), nullptr, 16);
                if (data.size() < eol + 2 + len + 2) break;
                if (len == 0) {
                    p = eol + 4;
                    complete = true;
                    break;
                }
                r.body += data.substr(eol + 2, len);
                p = eol + 2 + len + 2;
            }
            if (!complete) break;
            pos = p;
        } else {
            if (!eof) break;
            r.body = data.substr(body);
            pos = data.size();
        }
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace ferry::testing
