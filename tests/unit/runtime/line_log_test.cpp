// runtime/line_log: lines reach the descriptor once per loop iteration, in order, all of them.
#include "runtime/line_log.h"
#include "runtime/loop.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace ferry;

namespace {

struct Pipe {
    int fds[2] = {-1, -1};
    Pipe() {
        REQUIRE(::pipe(fds) == 0);
        REQUIRE(::fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
        // Room for a whole flush (the default 64 KiB pipe would block the writer).
        REQUIRE(::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20) >= (1 << 20));
    }
    ~Pipe() {
        ::close(fds[0]);
        ::close(fds[1]);
    }
    std::string drain() {
        std::string out;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
            out.append(buf, size_t(n));
        return out;
    }
};

}  // namespace

TEST_CASE("line_log: lines wait for the end of the loop iteration, then go out together",
          "[line_log]") {
    Loop loop;
    Pipe pipe;
    LineLog log(loop, pipe.fds[1]);
    log.add("one");
    log.add(R"({"two":2})");
    CHECK(pipe.drain().empty());  // nothing written yet: same iteration
    CHECK(log.buffered() == 14);
    // The loop has nothing else to do: the first line asked for an iteration, which writes.
    loop.run_once(false);
    CHECK(pipe.drain() == "one\n{\"two\":2}\n");
    CHECK(log.buffered() == 0);
}

TEST_CASE("line_log: a large backlog is written at once, the destructor writes the rest",
          "[line_log]") {
    Loop loop;
    Pipe pipe;
    std::string line(1000, 'x');
    {
        LineLog log(loop, pipe.fds[1]);
        for (int i = 0; i < 70; ++i)
            log.add(line);  // past 64 KiB with the 66th line
        std::string out = pipe.drain();
        CHECK(out.size() == 66 * 1001);
        CHECK(log.buffered() == 4 * 1001);
        log.add("last");
    }
    std::string rest = pipe.drain();
    CHECK(rest.size() == 4 * 1001 + 5);
    CHECK(rest.substr(rest.size() - 5) == "last\n");
}
