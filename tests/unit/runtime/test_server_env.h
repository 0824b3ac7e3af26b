// The server tests' environment: an HttpServer on 127.0.0.1 (ephemeral port) in the
// test's loop, an HttpClient and RawClients on the same loop, plain blocking sockets for a
// client that reads only when the test says. Every wait is bounded; finish() closes all.
#pragma once

#include "runtime/http_client.h"
#include "runtime/http_server.h"
#include "test_raw_client.h"
#include "test_support.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry::testing {

// The echo handler: "METHOD PATH\nkey=value...\n\nBODY", with the request id in a header.
inline void echo(ServerRequest& req, Responder r) {
    std::string out = req.method + " " + req.path + "\n";
    for (const auto& [k, v] : req.query)
        out += k + "=" + v + "\n";
    out += "\n" + req.body;
    r.send(200, out, {{"Content-Type", "text/plain"}});
}

struct ServerEnv {
    Loop loop;
    std::vector<AccessLogEntry> log;
    std::unique_ptr<HttpServer> server;
    std::unique_ptr<HttpClient> client;
    std::vector<std::unique_ptr<RawClient>> raws;
    uint16_t port = 0;

    explicit ServerEnv(ServerHandler handler = echo, ServerOptions options = {}) {
        options.access_log = [this](const AccessLogEntry& e) { log.push_back(e); };
        server = std::make_unique<HttpServer>(loop, std::move(options), std::move(handler));
        auto bound = server->listen("127.0.0.1", 0);
        REQUIRE(bound.ok());
        port = bound.value();
        REQUIRE(port != 0);
        client = std::make_unique<HttpClient>(loop);
    }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port) + path;
    }
    Result<HttpResponse> fetch(HttpRequest req) {
        std::optional<Result<HttpResponse>> out;
        req.timeout_ms = 5000;
        client->send(std::move(req),
                     [&out](Result<HttpResponse> r, const HttpTransferInfo&) { out.emplace(r); });
        REQUIRE(run_until(loop, [&] { return out.has_value(); }));
        return std::move(*out);
    }
    Result<HttpResponse> get(const std::string& path) {
        HttpRequest req;
        req.url = url(path);
        return fetch(std::move(req));
    }
    RawClient& raw() {
        raws.push_back(std::make_unique<RawClient>(loop, port));
        return *raws.back();
    }
    // Waits until `c` holds n complete responses (or the server closed it).
    std::vector<RawResponse> responses(RawClient& c, size_t n, uint64_t ms = 5000) {
        run_until(
            loop, [&] { return parse_responses(c.received, c.eof).size() >= n || c.eof; }, ms);
        return parse_responses(c.received, c.eof);
    }
    // A request sent on a new connection in pieces, the loop running between them (so each
    // piece is one read); the answers to it.
    std::vector<RawResponse> answers_to_pieces(const std::vector<std::string>& pieces) {
        auto& c = raw();
        for (const std::string& piece : pieces) {
            c.send(piece);
            run_for(loop, 10);
        }
        return responses(c, 1);
    }
    void finish() {
        raws.clear();
        client.reset();
        server.reset();
        REQUIRE(loop.close_cleanly());
    }
};

// A blocking socket connected to the server that has sent `request`, for a client that
// reads when the test says (RawClient reads whatever arrives); the caller closes it.
// receive_buffer: the socket's SO_RCVBUF when not 0 (small: the server's writes stall
// sooner).
inline int send_from_plain_socket(uint16_t port, const std::string& request,
                                  int receive_buffer = 0) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    if (receive_buffer > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::send(fd, request.data(), request.size(), 0) == ssize_t(request.size()));
    return fd;
}

inline bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// What a plain socket receives, the loop running between reads, until done(received) says
// so, the server closes, or `turns` reads were made.
inline std::string read_until(Loop& loop, int fd, int turns,
                              const std::function<bool(const std::string&)>& done) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    std::string received;
    char buf[65536];
    for (int turn = 0; turn < turns; ++turn) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            received.append(buf, size_t(n));
            if (done(received)) break;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) break;  // closed
        run_for(loop, 1);
    }
    return received;
}

}  // namespace ferry::testing
