// Fuzz target: the HTTP server, over a real socket on 127.0.0.1. The first byte sets how the
// rest is cut into writes (1-64 bytes each, the loop running between them, so a request
// arrives in pieces as from a slow or hostile client); then the client half-closes and
// reads until the server lets go of the connection. Handlers answer at once, later (a
// timer) or as a stream, echoing the body, so pipelining and ordering run too.
#include "runtime/http_server.h"
#include "runtime/loop.h"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace ferry;

namespace {

struct Harness {
    Loop loop;
    std::unique_ptr<HttpServer> server;
    std::vector<std::unique_ptr<Loop::Timer>> timers;
    uint16_t port = 0;

    Harness() {
        ServerOptions options;
        options.max_header_bytes = 2048;
        options.max_body_bytes = 4096;
        options.request_timeout_ms = 300;
        options.keep_alive_timeout_ms = 300;
        options.linger_ms = 50;
        options.max_pipelined = 4;
        server = std::make_unique<HttpServer>(
            loop, options, [this](ServerRequest& req, Responder r) { handle(req, std::move(r)); });
        auto bound = server->listen("127.0.0.1", 0);
        if (!bound) {
            std::fprintf(stderr, "listen: %s\n", bound.error().message.c_str());
            std::abort();
        }
        port = bound.value();
    }

    void handle(ServerRequest& req, Responder r) {
        if (req.path.starts_with("/stream")) {
            r.start_stream(200, {{"Content-Type", "text/plain"}});
            r.write(req.body);
            r.write("");
            r.end();
        } else if (req.path.starts_with("/later")) {
            auto shared = std::make_shared<Responder>(std::move(r));
            timers.push_back(
                loop.timer(1, [shared] { shared->send(202, shared->request().body); }));
        } else if (req.path.starts_with("/drop")) {
            // The handler loses its Responder: the server must answer 500 by itself.
        } else {
            r.send(200, req.method + " " + req.target + "\n" + req.body);
        }
    }
};

int connect_client(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) {
        std::perror("socket");
        std::abort();
    }
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        // A signal (libFuzzer's timeout timer) can interrupt the wait; the connect goes on.
        int err = errno;
        if (err == EINTR) {
            pollfd p{fd, POLLOUT, 0};
            while (poll(&p, 1, 1000) < 0 && errno == EINTR) {
            }
            socklen_t len = sizeof err;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        }
        if (err != EINTR && err != 0) {
            std::fprintf(stderr, "connect: %s\n", std::strerror(err));
            std::abort();
        }
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

// Reads what the server sent; false once it closed (EOF or reset).
bool drain(int fd) {
    char buf[8192];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
        return false;
    }
}

// One turn of the server's loop. Loopback writes are readable on the other side at once, so
// while the client is writing the loop needs no wait; waiting for the server to answer or
// close (a timer, a linger) waits up to wait_ms for the client's socket.
void turn(Harness& h, int fd, int wait_ms) {
    h.loop.run_once(false);
    if (wait_ms > 0) {
        pollfd p{fd, POLLIN, 0};
        (void)poll(&p, 1, wait_ms);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Harness h;
    if (size == 0) return 0;
    const size_t piece = 1 + data[0] % 64;
    const char* bytes = reinterpret_cast<const char*>(data) + 1;
    size_t left = size - 1;

    int fd = connect_client(h.port);
    bool open = true;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (left > 0 && open && std::chrono::steady_clock::now() < deadline) {
        ssize_t n = write(fd, bytes, std::min(piece, left));
        if (n > 0) {
            bytes += n;
            left -= size_t(n);
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            break;  // the server closed on an error: what is left cannot be sent
        }
        turn(h, fd, 0);
        open = drain(fd);
    }
    shutdown(fd, SHUT_WR);
    for (int turns = 0; open && std::chrono::steady_clock::now() < deadline; ++turns) {
        turn(h, fd, turns < 4 ? 0 : 1);
        open = drain(fd);
    }
    close(fd);
    if (open) {
        std::fprintf(stderr, "the server kept the connection open 5 s after the client's EOF\n");
        std::abort();
    }
    // The connection is gone on the server's side too before the next input.
    while (h.server->open_connections() > 0 && std::chrono::steady_clock::now() < deadline)
        h.loop.run_once(false);
    h.timers.clear();
    return 0;
}
