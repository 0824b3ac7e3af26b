// A small HTTP/1.1 server for the HTTP client tests: libuv TCP on 127.0.0.1 (ephemeral port)
// in the test's own loop, so there are no threads and every handle closes with the test.
//
// It keeps connections alive, counts connections and requests, and answers through a
// handler. The default routes:
//   /status/N        status N             /delay/MS    answer after MS milliseconds
//   /drop            close without reply  /huge/N      N bytes with Content-Length
//   /stream/N        N bytes, no length, then close (the size is unknown in advance)
//   /echo            the request: "METHOD TARGET\n", "Name: value\n" per header, "\n", body
//   /close           answer, then close   anything else: 200 "hello"
#pragma once

#include "runtime/http_client.h"
#include "runtime/loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace ferry::testing {

struct TestRequest {
    std::string method;
    std::string target;
    HttpHeaders headers;
    std::string body;
};

struct TestReply {
    int status = 200;
    HttpHeaders headers;
    std::string body;
    uint64_t delay_ms = 0;
    bool drop = false;       // close the connection instead of answering
    bool reset = false;      // the same with a TCP reset (SO_LINGER 0), as a peer that was
                             // closing the connection when the request came
    bool close = false;      // answer with "Connection: close", then close
    bool no_length = false;  // no Content-Length: the body ends when the connection closes
};

class TestHttpServer {
  public:
    using Handler = std::function<TestReply(const TestRequest&)>;

    explicit TestHttpServer(Loop& loop, Handler handler = routes)
        : loop_(loop), handler_(std::move(handler)) {
        // Writing to a connection the client already closed (a cancelled or capped transfer)
        // must fail with EPIPE, not kill the test process.
        std::signal(SIGPIPE, SIG_IGN);
        listener_ = new uv_tcp_t;
        uv_tcp_init(loop_.raw(), listener_);
        listener_->data = this;
        sockaddr_in addr{};
        uv_ip4_addr("127.0.0.1", 0, &addr);
        int rc = uv_tcp_bind(listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
        if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 1024, on_connection);
        if (rc != 0) throw std::runtime_error(std::string("test server: ") + uv_strerror(rc));
        sockaddr_storage bound{};
        int len = sizeof bound;
        uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
        port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }

    ~TestHttpServer() {
        listener_->data = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(listener_),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
        auto conns = conns_;
        for (Conn* c : conns)
            close_conn(c);
        for (Conn* c : conns)
            c->server = nullptr;
    }
    TestHttpServer(const TestHttpServer&) = delete;
    TestHttpServer& operator=(const TestHttpServer&) = delete;

    uint16_t port() const { return port_; }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    size_t connections() const { return accepted_; }  // accepted since start
    size_t open_connections() const { return conns_.size(); }
    size_t requests() const { return requests_; }

    static TestReply routes(const TestRequest& req) {
        std::string path = req.target.substr(0, req.target.find('?'));
        auto number_after = [&path](const std::string& prefix) {
            return std::strtoull(path.c_str() + prefix.size(), nullptr, 10);
        };
        TestReply r;
        if (path.starts_with("/status/")) {
            r.status = int(number_after("/status/"));
            r.body = "status " + std::to_string(r.status);
        } else if (path.starts_with("/delay/")) {
            r.delay_ms = number_after("/delay/");
            r.body = "delayed";
        } else if (path == "/drop") {
            r.drop = true;
        } else if (path.starts_with("/huge/")) {
            r.body.assign(number_after("/huge/"), 'x');
        } else if (path.starts_with("/stream/")) {
            r.body.assign(number_after("/stream/"), 'y');
            r.no_length = true;
        } else if (path == "/echo") {
            r.body = req.method + " " + req.target + "\n";
            for (const auto& [name, value] : req.headers)
                r.body += name + ": " + value + "\n";
            r.body += "\n" + req.body;
        } else if (path == "/close") {
            r.close = true;
            r.body = "bye";
        } else {
            r.body = "hello";
        }
        return r;
    }

  private:
    struct Conn {
        uv_tcp_t tcp{};
        TestHttpServer* server = nullptr;
        std::string in;
        std::unique_ptr<Loop::Timer> delay;
        bool busy = false;  // a delayed reply is pending: later requests wait
        bool closing = false;
    };
    struct Write {
        uv_write_t req{};
        std::string data;
        Conn* conn = nullptr;
        bool close_after = false;
    };

    static void on_connection(uv_stream_t* listener, int status) {
        auto* self = static_cast<TestHttpServer*>(listener->data);
        if (status < 0 || !self) return;
        auto* c = new Conn;
        c->server = self;
        uv_tcp_init(self->loop_.raw(), &c->tcp);
        c->tcp.data = c;
        if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
            uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
                     [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
            return;
        }
        self->conns_.insert(c);
        ++self->accepted_;
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&c->tcp),
            [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
                buf->base = static_cast<char*>(std::malloc(suggested));
                buf->len = buf->base ? suggested : 0;
            },
            on_read);
    }

    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Conn*>(stream->data);
        if (nread > 0 && c->server) {
            c->in.append(buf->base, size_t(nread));
            c->server->process(c);
        } else if (nread < 0 && c->server) {
            c->server->close_conn(c);  // EOF or error: the client went away
        }
        std::free(buf->base);
    }

    void process(Conn* c) {
        while (!c->busy && !c->closing) {
            size_t head_end = c->in.find("\r\n\r\n");
            if (head_end == std::string::npos) return;
            TestRequest req;
            size_t line_end = c->in.find("\r\n");
            std::string line = c->in.substr(0, line_end);
            size_t sp1 = line.find(' ');
            size_t sp2 = line.find(' ', sp1 + 1);
            req.method = line.substr(0, sp1);
            req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
            size_t length = 0;
            for (size_t pos = line_end + 2; pos < head_end;) {
                size_t eol = c->in.find("\r\n", pos);
                std::string h = c->in.substr(pos, eol - pos);
                size_t colon = h.find(':');
                std::string name = h.substr(0, colon);
                size_t vstart = h.find_first_not_of(' ', colon + 1);
                std::string value = vstart == std::string::npos ? "" : h.substr(vstart);
                if (strcasecmp(name.c_str(), "Content-Length") == 0)
                    length = std::strtoull(value.c_str(), nullptr, 10);
                req.headers.emplace_back(std::move(name), std::move(value));
                pos = eol + 2;
            }
            if (c->in.size() < head_end + 4 + length) return;  // body still arriving
            req.body = c->in.substr(head_end + 4, length);
            c->in.erase(0, head_end + 4 + length);
            ++requests_;
            TestReply reply = handler_(req);
            bool head = req.method == "HEAD";
            if (reply.drop || reply.reset) {
                uv_os_fd_t fd;
                if (reply.reset && uv_fileno(reinterpret_cast<uv_handle_t*>(&c->tcp), &fd) == 0) {
                    linger hard{1, 0};
                    setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
                }
                close_conn(c);
                return;
            }
            if (reply.delay_ms) {
                c->busy = true;
                c->delay = loop_.timer(reply.delay_ms, [this, c, reply, head] {
                    c->busy = false;
                    respond(c, reply, head);
                    process(c);
                });
                return;
            }
            respond(c, reply, head);
        }
    }

    void respond(Conn* c, const TestReply& reply, bool head) {
        if (c->closing) return;
        auto* w = new Write;
        w->conn = c;
        w->close_after = reply.close || reply.no_length;
        w->data = "HTTP/1.1 " + std::to_string(reply.status) + " Test\r\n";
        if (!reply.no_length)
            w->data += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
        if (w->close_after) w->data += "Connection: close\r\n";
        for (const auto& [name, value] : reply.headers)
            w->data += name + ": " + value + "\r\n";
        w->data += "\r\n";
        if (!head) w->data += reply.body;
        w->req.data = w;
        uv_buf_t buf = uv_buf_init(w->data.data(), unsigned(w->data.size()));
        int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
                          [](uv_write_t* req, int status) {
                              auto* wr = static_cast<Write*>(req->data);
                              // libuv runs write callbacks (ECANCELED included) before the
                              // stream's close callback, so the Conn is still alive here.
                              if (wr->conn->server && (status < 0 || wr->close_after))
                                  wr->conn->server->close_conn(wr->conn);
                              delete wr;
                          });
        if (rc != 0) {
            delete w;
            close_conn(c);
        }
    }

    void close_conn(Conn* c) {
        if (c->closing) return;
        c->closing = true;
        c->delay.reset();
        conns_.erase(c);
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
                 [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
    }

    Loop& loop_;
    Handler handler_;
    uv_tcp_t* listener_ = nullptr;
    uint16_t port_ = 0;
    std::unordered_set<Conn*> conns_;
    size_t accepted_ = 0;
    size_t requests_ = 0;
};

// A port on 127.0.0.1 that nobody listens on (bound, then closed): connecting is refused.
inline uint16_t closed_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        throw std::runtime_error("closed_port: cannot bind");
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace ferry::testing
