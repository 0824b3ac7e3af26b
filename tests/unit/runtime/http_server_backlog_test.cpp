// The server and clients that read slowly or not at all: answers larger than the backlog
// limit, stalled streams, pipelined requests whose answers are not read.
#include "test_server_env.h"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace ferry;
using ferry::testing::contains;
using Env = ferry::testing::ServerEnv;
using ferry::testing::parse_responses;
using ferry::testing::read_until;
using ferry::testing::run_for;
using ferry::testing::run_until;
using ferry::testing::send_from_plain_socket;

TEST_CASE("server: one answer larger than the write backlog limit arrives whole", "[server]") {
    // The backlog limit is for a client that stopped reading; an answer bigger than it (an
    // execution with a large output) was cut off once the socket took only part of it.
    ServerOptions options;
    options.max_write_queue_bytes = 64 * 1024;
    const std::string big(4 << 20, 'x');
    Env env([&](ServerRequest&, Responder r) { r.send(200, big); }, options);
    auto& c = env.raw();
    c.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    auto rs = env.responses(c, 1);
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].status == 200);
    CHECK(rs[0].body.size() == big.size());
    CHECK_FALSE(c.eof);
    env.finish();
}

TEST_CASE("server: a closing connection's large answer outlasts the linger", "[server]") {
    // The linger (draining a closing connection's unread input) started when the answer was
    // queued: an answer larger than the socket's buffers, read more slowly than linger_ms
    // (or after a handler that ran longer), was cut off. It starts once the answer is out.
    ServerOptions options;
    options.linger_ms = 50;
    const std::string big(8 << 20, 'z');
    Env env([&](ServerRequest&, Responder r) { r.send(200, big); }, options);
    for (bool half_close : {false, true}) {
        INFO("half-close: " << half_close);
        int fd = send_from_plain_socket(
            env.port, "GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        if (half_close) ::shutdown(fd, SHUT_WR);
        run_for(env.loop, 200);  // four lingers, the client reading nothing
        std::string received = read_until(env.loop, fd, 2000, [](const std::string&) {
            return false;  // to the end
        });
        ::close(fd);
        auto rs = parse_responses(received, true);
        REQUIRE(rs.size() == 1);
        CHECK(rs[0].status == 200);
        CHECK(rs[0].body.size() == big.size());
    }
    env.finish();
}

TEST_CASE("server: a stream whose client stopped reading is cut off", "[server]") {
    ServerOptions options;
    options.max_write_queue_bytes = 64 * 1024;
    std::optional<Responder> stream;
    bool closed = false;
    Env env(
        [&](ServerRequest&, Responder r) {
            r.start_stream(200, {{"Content-Type", "text/event-stream"}});
            r.on_close([&] { closed = true; });
            stream.emplace(std::move(r));
        },
        options);
    // It sends its request and never reads.
    int fd = send_from_plain_socket(env.port, "GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(run_until(env.loop, [&] { return stream.has_value(); }));
    // The kernel's socket buffers take some megabytes first; past them, the backlog grows.
    const std::string event = "data: " + std::string(1 << 20, 'y') + "\n\n";
    for (int i = 0; i < 64 && !closed; ++i) {
        stream->write(event);
        run_for(env.loop, 5);
    }
    CHECK(closed);
    CHECK_FALSE(stream->connected());
    ::close(fd);
    stream.reset();
    env.finish();
}

TEST_CASE("server: stalled streams together are bounded, a reading client is not cut", "[server]") {
    // Each stalled client kept up to max_write_queue_bytes, and nothing bounded them
    // together (forty stalled event streams: 373 MB). Past the total, a client with a
    // backlog of its own is cut when written to; one that reads keeps getting its answers.
    ServerOptions options;
    options.max_write_queue_bytes = 64u << 20;  // no single stream reaches it here
    options.max_total_write_queue_bytes = 1u << 20;
    std::vector<Responder> streams;
    int closed = 0;
    const std::string big(4 << 20, 'b');
    Env env(
        [&](ServerRequest& req, Responder r) {
            if (req.path == "/big") {
                r.send(200, big);
                return;
            }
            r.start_stream(200, {{"Content-Type", "text/event-stream"}});
            r.on_close([&] { ++closed; });
            streams.push_back(std::move(r));
        },
        options);
    int fds[2];
    for (int& fd : fds)
        fd = send_from_plain_socket(env.port, "GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(run_until(env.loop, [&] { return streams.size() == 2; }));
    const std::string event = "data: " + std::string(1 << 20, 'y') + "\n\n";
    for (int i = 0; i < 32 && closed < 2; ++i) {
        for (Responder& r : streams)
            r.write(event);
        run_for(env.loop, 5);
    }
    CHECK(closed == 2);
    // A client that reads gets a large answer whole, the stalled ones gone or not.
    auto& c = env.raw();
    c.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    auto rs = env.responses(c, 1);
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].body.size() == big.size());
    for (int fd : fds)
        ::close(fd);
    streams.clear();
    env.finish();
}

TEST_CASE("server: a stream paced by when_drained arrives whole past the backlog limit",
          "[server]") {
    // Unpaced, 32 pieces of 256 KiB to a client that is not reading would trip the 64 KiB
    // backlog limit and be cut off; paced, each piece waits for the one before it.
    ServerOptions options;
    options.max_write_queue_bytes = 64 * 1024;
    const std::string piece(256 * 1024, 'p');
    const int pieces = 32;
    int written = 0;
    std::function<void(std::shared_ptr<Responder>)> write_next = [&](std::shared_ptr<Responder> r) {
        if (written == pieces) return r->end();
        ++written;
        REQUIRE(r->write(piece));
        r->when_drained([&write_next, r] { write_next(r); });
    };
    Env env(
        [&](ServerRequest&, Responder r) {
            r.start_stream(200, {{"Content-Type", "application/json"}});
            write_next(std::make_shared<Responder>(std::move(r)));
        },
        options);
    int fd = send_from_plain_socket(env.port, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    run_for(env.loop, 100);  // the client reads nothing for a while
    CHECK(written < pieces);
    std::string received = read_until(env.loop, fd, 5000, [](const std::string& got) {
        return contains(got, "\r\n0\r\n\r\n");  // the end of the chunked body
    });
    ::close(fd);
    CHECK(written == pieces);
    auto rs = parse_responses(received, false);
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].status == 200);
    CHECK(rs[0].body.size() == piece.size() * pieces);
    CHECK(rs[0].body.find_first_not_of('p') == std::string::npos);
    env.finish();
}

namespace {

// A client that pipelines `requests` and then reads nothing (its receive buffer small).
int pipeline_and_stall(uint16_t port, const std::string& requests) {
    return send_from_plain_socket(port, requests, 4096);
}

// An answer size the kernel's socket buffers cannot take whole (tcp_wmem's maximum, which
// autotuning may reach, twice over), so that a client reading nothing leaves some of it in
// the server's own queue.
size_t larger_than_kernel_buffers() {
    size_t low = 0, initial = 0, max = 4u << 20;
    if (FILE* f = std::fopen("/proc/sys/net/ipv4/tcp_wmem", "r")) {
        if (std::fscanf(f, "%zu %zu %zu", &low, &initial, &max) != 3) max = 4u << 20;
        std::fclose(f);
    }
    return std::max<size_t>(8u << 20, 2 * max + (1u << 20));
}

std::string pipelined_gets(int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
        out += "GET /list HTTP/1.1\r\nHost: t\r\n\r\n";
    return out;
}

}  // namespace

TEST_CASE("server: answers are built for a pipelining client only as it reads them", "[server]") {
    // A client pipelining large listings and reading none had an answer built for each
    // request in the pipeline at once (32 of 2.4 MB a connection, on the loop): the next
    // request now waits until the answers before it are read.
    const std::string big(larger_than_kernel_buffers(), 'l');
    int built = 0;
    Env env([&](ServerRequest&, Responder r) {
        ++built;
        r.send(200, big);
    });
    const int n = 6;
    int fd = pipeline_and_stall(env.port, pipelined_gets(n));
    run_for(env.loop, 300);
    CHECK(built == 1);
    // Read, it gets every answer in order, each built as the one before has left.
    std::string received = read_until(env.loop, fd, 100000, [&](const std::string& got) {
        return got.size() >= n * big.size() && parse_responses(got, false).size() == n;
    });
    auto rs = parse_responses(received, false);
    REQUIRE(rs.size() == n);
    CHECK(rs[n - 1].body.size() == big.size());
    CHECK(built == n);
    // And the connection serves on: a request sent after them is read and answered.
    const std::string one = "GET /list HTTP/1.1\r\nHost: t\r\n\r\n";
    REQUIRE(::send(fd, one.data(), one.size(), 0) == ssize_t(one.size()));
    received = read_until(env.loop, fd, 100000, [&](const std::string& got) {
        return parse_responses(got, false).size() == 1;
    });
    CHECK(parse_responses(received, false).size() == 1);
    ::close(fd);
    env.finish();
}

TEST_CASE("server: a pipelining client that reads nothing is cut after the request timeout",
          "[server]") {
    // Its answers waited behind an unread one, and a connection whose answers wait armed no
    // timer (the handler's turn): six such clients held max_connections for good.
    ServerOptions options;
    options.request_timeout_ms = 200;
    const std::string big(larger_than_kernel_buffers(), 'l');
    Env env([&](ServerRequest&, Responder r) { r.send(200, big); }, options);
    for (int requests : {3, 40}) {
        INFO(requests << " pipelined requests");
        int fd = pipeline_and_stall(env.port, pipelined_gets(requests));
        REQUIRE(run_until(env.loop, [&] { return env.server->open_connections() == 1; }));
        CHECK(run_until(
            env.loop, [&] { return env.server->open_connections() == 0; }, 3000));
        ::close(fd);
    }
    // A client that reads slowly but steadily is not cut: each timeout sees progress (the
    // socket's buffer freed as it reads, before libuv may write more).
    int fd = send_from_plain_socket(env.port, pipelined_gets(2));
    size_t got = 0;
    char buf[65536];
    for (int turn = 0; turn < 20000 && got <= 2 * big.size(); ++turn) {
        run_for(env.loop, 5);  // about 13 MB/s: several request timeouts to read it all
        ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) got += size_t(n);
        if (n == 0) break;
    }
    CHECK(got > 2 * big.size());  // the heads too
    ::close(fd);
    env.finish();
}
