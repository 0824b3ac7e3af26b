// HttpClient against TestHttpServer on 127.0.0.1, both on the test's loop. Every wait is
// bounded (run_until), and every test ends with all handles closed (Env::finish).
#include "runtime/http_client.h"
#include "test_http_server.h"
#include "test_support.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

using namespace ferry;
using ferry::testing::closed_port;
using ferry::testing::run_for;
using ferry::testing::run_until;
using ferry::testing::TestHttpServer;
using ferry::testing::TestReply;
using ferry::testing::TestRequest;

namespace {

struct Outcome {
    int calls = 0;
    std::optional<Result<HttpResponse>> result;
    HttpTransferInfo info;

    bool ok() const { return result && result->ok(); }
    const HttpResponse& response() const { return result->value(); }
    ErrorKind kind() const { return result->error().kind; }
};

HttpCallback record(Outcome& o) {
    return [&o](Result<HttpResponse> r, const HttpTransferInfo& info) {
        ++o.calls;
        o.result.emplace(std::move(r));
        o.info = info;
    };
}

HttpRequest get(std::string url) {
    HttpRequest r;
    r.url = std::move(url);
    r.timeout_ms = 5000;
    return r;
}

struct Env {
    Loop loop;
    std::unique_ptr<TestHttpServer> server = std::make_unique<TestHttpServer>(loop);
    std::unique_ptr<HttpClient> client = std::make_unique<HttpClient>(loop);

    // Sends and waits (bounded) for the callback.
    Outcome fetch(HttpRequest req) {
        Outcome o;
        client->send(std::move(req), record(o));
        REQUIRE(run_until(loop, [&] { return o.calls > 0; }));
        return o;
    }
    // The libuv test/task.h ending: close everything, then the loop must close with 0.
    void finish() {
        client.reset();
        server.reset();
        REQUIRE(loop.close_cleanly());
    }
};

}  // namespace

TEST_CASE("GET returns status, headers and body", "[http]") {
    Env env;
    Outcome o = env.fetch(get(env.server->url("/hello")));
    REQUIRE(o.calls == 1);
    REQUIRE(o.ok());
    CHECK(o.response().status == 200);
    CHECK(o.response().body == "hello");
    CHECK(o.response().header("content-length") == "5");  // case-insensitive lookup
    CHECK(o.response().header("CONTENT-LENGTH") == "5");
    CHECK(o.response().header("x-missing").empty());
    CHECK(o.response().duration_ms > 0);
    CHECK(o.info.request_sent);
    CHECK(o.info.duration_ms > 0);
    CHECK(env.client->completed() == 1);
    CHECK(env.client->in_flight() == 0);
    env.finish();
}

TEST_CASE("POST sends body and headers, no Expect, no default Content-Type", "[http]") {
    Env env;
    HttpRequest req = get(env.server->url("/echo"));
    req.method = "POST";
    req.headers = {{"X-Test", "abc"}, {"Content-Type", "application/json"}, {"X-Empty", ""}};
    req.body = R"({"a":1})";
    Outcome o = env.fetch(req);
    REQUIRE(o.ok());
    const std::string& echo = o.response().body;
    CHECK(echo.starts_with("POST /echo\n"));
    CHECK(echo.find("X-Test: abc\n") != std::string::npos);
    CHECK(echo.find("X-Empty: \n") != std::string::npos);
    CHECK(echo.find("Content-Type: application/json\n") != std::string::npos);
    CHECK(echo.find("Content-Length: 7\n") != std::string::npos);
    CHECK(echo.find("Expect") == std::string::npos);
    CHECK(echo.ends_with("\n\n{\"a\":1}"));

    // A body without a Content-Type goes out unlabelled, not as a form.
    HttpRequest plain = get(env.server->url("/echo"));
    plain.method = "PUT";
    plain.body = "raw";
    Outcome p = env.fetch(plain);
    REQUIRE(p.ok());
    CHECK(p.response().body.starts_with("PUT /echo\n"));
    CHECK(p.response().body.find("Content-Type") == std::string::npos);
    CHECK(p.response().body.ends_with("\n\nraw"));

    // Methods without a body, and POST with an empty one.
    HttpRequest del = get(env.server->url("/echo"));
    del.method = "DELETE";
    Outcome d = env.fetch(del);
    REQUIRE(d.ok());
    CHECK(d.response().body.starts_with("DELETE /echo\n"));
    HttpRequest empty = get(env.server->url("/echo"));
    empty.method = "POST";
    Outcome e = env.fetch(empty);
    REQUIRE(e.ok());
    CHECK(e.response().body.find("Content-Length: 0\n") != std::string::npos);
    env.finish();
}

TEST_CASE("a reused easy handle carries nothing of the request before it", "[http]") {
    // Finished transfers' handles are reset and reused (HttpClient::Impl::give_back_easy):
    // method, headers, body, NOBODY and timeouts must all come from the new request.
    Env env;
    HttpRequest patch = get(env.server->url("/echo"));
    patch.method = "PATCH";
    patch.headers = {{"X-Only-Once", "1"}, {"Content-Type", "text/plain"}};
    patch.body = "first";
    patch.never_resend = true;
    REQUIRE(env.fetch(patch).ok());

    Outcome g = env.fetch(get(env.server->url("/echo")));
    REQUIRE(g.ok());
    const std::string& echo = g.response().body;
    CHECK(echo.starts_with("GET /echo\n"));
    CHECK(echo.find("X-Only-Once") == std::string::npos);
    CHECK(echo.find("Content-Type") == std::string::npos);
    CHECK(echo.find("Content-Length") == std::string::npos);
    CHECK(echo.ends_with("\n\n"));

    HttpRequest head = get(env.server->url("/hello"));
    head.method = "HEAD";
    Outcome h = env.fetch(head);
    REQUIRE(h.ok());
    CHECK(h.response().body.empty());
    Outcome after_head = env.fetch(get(env.server->url("/hello")));
    REQUIRE(after_head.ok());
    CHECK(after_head.response().body == "hello");

    HttpRequest impatient = get(env.server->url("/delay/400"));
    impatient.timeout_ms = 100;
    Outcome late = env.fetch(impatient);
    REQUIRE_FALSE(late.ok());
    CHECK(late.kind() == ErrorKind::Timeout);
    Outcome patient = env.fetch(get(env.server->url("/delay/400")));  // 5 s allowed
    CHECK(patient.ok());
    env.finish();
}

TEST_CASE("any status is a response, with its headers", "[http]") {
    Env env;
    for (int status : {201, 404, 503}) {
        Outcome o = env.fetch(get(env.server->url("/status/" + std::to_string(status))));
        REQUIRE(o.ok());
        CHECK(o.response().status == status);
        CHECK(o.response().body == "status " + std::to_string(status));
    }
    env.finish();
}

TEST_CASE("response headers are captured in order, repeats kept", "[http]") {
    Env env;
    env.server = std::make_unique<TestHttpServer>(env.loop, [](const testing::TestRequest&) {
        testing::TestReply r;
        r.headers = {{"X-One", "1"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}};
        r.body = "ok";
        return r;
    });
    Outcome o = env.fetch(get(env.server->url("/")));
    REQUIRE(o.ok());
    const HttpHeaders& h = o.response().headers;
    REQUIRE(h.size() == 4);  // Content-Length comes first
    CHECK(h[1] == std::pair<std::string, std::string>{"X-One", "1"});
    CHECK(h[2].second == "a=1");
    CHECK(h[3].second == "b=2");
    CHECK(o.response().header("set-cookie") == "a=1");
    env.finish();
}

TEST_CASE("oversized response headers fail with Limit, not as out of memory", "[http]") {
    Env env;
    size_t line = 0;
    size_t count = 0;
    env.server = std::make_unique<TestHttpServer>(env.loop, [&](const testing::TestRequest&) {
        testing::TestReply r;
        for (size_t i = 0; i < count; ++i)
            r.headers.emplace_back("X-Big-" + std::to_string(i), std::string(line, 'h'));
        r.body = "ok";
        return r;
    });
    SECTION("one line past libcurl's own 100 KiB cap") {
        line = 1 << 20;
        count = 1;
    }
    SECTION("many lines past the client's 256 KiB total") {
        line = 50'000;
        count = 8;
    }
    Outcome o = env.fetch(get(env.server->url("/")));
    REQUIRE_FALSE(o.ok());
    CHECK(o.kind() == ErrorKind::Limit);
    CHECK(o.result->error().message.find("header") != std::string::npos);
    env.finish();
}

TEST_CASE("200 concurrent requests all complete", "[http]") {
    Env env;
    constexpr int kRequests = 200;
    std::vector<Outcome> outcomes(kRequests);
    std::vector<uint64_t> ids;
    for (int i = 0; i < kRequests; ++i)
        ids.push_back(env.client->send(get(env.server->url("/delay/20?i=" + std::to_string(i))),
                                       record(outcomes[size_t(i)])));
    CHECK(env.client->in_flight() == kRequests);
    REQUIRE(run_until(
        env.loop, [&] { return env.client->completed() == kRequests; }, 10000));
    for (const Outcome& o : outcomes) {
        CHECK(o.calls == 1);
        REQUIRE(o.ok());
        CHECK(o.response().status == 200);
        CHECK(o.response().body == "delayed");
    }
    std::sort(ids.begin(), ids.end());
    CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
    CHECK(ids.front() != 0);
    CHECK(env.server->requests() == kRequests);
    CHECK(env.client->in_flight() == 0);
    env.finish();
}

TEST_CASE("a burst's connections are kept for the next burst", "[http]") {
    // 150 transfers at once to one host open 150 connections; the next burst must find
    // them all in the cache instead of paying a new connection per request.
    Env env;
    constexpr int kRequests = 150;
    int done = 0, ok = 0;
    auto burst = [&] {
        for (int i = 0; i < kRequests; ++i)
            env.client->send(get(env.server->url("/delay/20")),
                             [&](Result<HttpResponse> r, const HttpTransferInfo&) {
                                 ++done;
                                 ok += r.ok() && r->status == 200;
                             });
    };
    burst();
    REQUIRE(run_until(
        env.loop, [&] { return done == kRequests; }, 10000));
    CHECK(env.server->connections() == kRequests);
    burst();
    REQUIRE(run_until(
        env.loop, [&] { return done == 2 * kRequests; }, 10000));
    CHECK(ok == 2 * kRequests);
    CHECK(env.server->connections() == kRequests);
    env.finish();
}

TEST_CASE("Loop::run() returns once every transfer is done", "[http]") {
    Env env;
    int done = 0;
    for (const char* path : {"/hello", "/delay/30", "/drop", "/status/500"})
        env.client->send(get(env.server->url(path)),
                         [&](Result<HttpResponse>, const HttpTransferInfo&) { ++done; });
    // The server's handles would hold the loop, so it goes once every request has arrived
    // (the delayed one then fails). What remains must not hold the loop either: idle
    // kept-alive connections are not polled, and libcurl deletes its timer (-1) when idle.
    REQUIRE(run_until(env.loop, [&] { return env.server->requests() == 4; }));
    env.server.reset();
    CHECK(testing::run_returns(env.loop));
    CHECK(done == 4);
    CHECK(env.client->in_flight() == 0);
    env.finish();
}

TEST_CASE("keep-alive connections are reused across requests", "[http]") {
    Env env;
    constexpr int kRequests = 10;
    int done = 0;
    bool all_ok = true;
    // Each request starts from the previous one's callback, so a connection is always free.
    std::function<void()> next = [&] {
        env.client->send(get(env.server->url("/hello")),
                         [&](Result<HttpResponse> r, const HttpTransferInfo&) {
                             all_ok = all_ok && r.ok() && r->status == 200;
                             if (++done < kRequests) next();
                         });
    };
    next();
    REQUIRE(run_until(env.loop, [&] { return done == kRequests; }));
    CHECK(all_ok);
    CHECK(env.server->requests() == kRequests);
    CHECK(env.server->connections() == 1);

    // A server that closes after each answer forces a fresh connection next time (the
    // first of these still goes over the kept-alive one).
    for (int i = 0; i < 3; ++i)
        REQUIRE(env.fetch(get(env.server->url("/close"))).ok());
    CHECK(env.server->connections() == 3);
    env.finish();
}

TEST_CASE("a kept-alive connection the server resets is retried on a fresh one", "[http]") {
    // A server that closes idle connections can do so just as a request goes out on one
    // (the reset reaches libuv as a poll error). libcurl sends such a request again on a
    // fresh connection, but only when it meets the error itself: reported to it as a bare
    // poll error, 1-3 % of requests to such a server failed with "select/poll returned
    // error".
    Env env;
    int seen = 0;
    // Every second request is met with a reset: always the one reusing a connection.
    env.server = std::make_unique<TestHttpServer>(env.loop, [&](const TestRequest&) {
        TestReply r;
        r.reset = ++seen % 2 == 0;
        r.body = "ok";
        return r;
    });
    constexpr int kRequests = 20;
    int done = 0, ok = 0;
    std::string last_error;
    std::function<void()> next = [&] {
        env.client->send(get(env.server->url("/any")),
                         [&](Result<HttpResponse> r, const HttpTransferInfo&) {
                             if (r && r->status == 200 && r->body == "ok")
                                 ++ok;
                             else if (!r)
                                 last_error = r.error().message;
                             if (++done < kRequests) next();
                         });
    };
    next();
    REQUIRE(run_until(env.loop, [&] { return done == kRequests; }));
    INFO(last_error);
    CHECK(ok == kRequests);
    CHECK(seen == 2 * kRequests - 1);  // each after the first took a reset, then a fresh one
    env.finish();
}

TEST_CASE("a never_resend POST reuses connections but is never sent twice", "[http]") {
    Env env;
    HttpRequest post = get(env.server->url("/hello"));
    post.method = "POST";
    post.body = std::string(5000, 'p');
    post.never_resend = true;
    for (int i = 0; i < 3; ++i) {
        Outcome o = env.fetch(post);
        REQUIRE(o.ok());
        CHECK(o.response().status == 200);
    }
    CHECK(env.server->requests() == 3);
    CHECK(env.server->connections() == 1);  // kept alive, like any request

    // The kept-alive connection dies with the request on it and no answer: libcurl would
    // send it again on a new connection; a never_resend request fails instead.
    post.url = env.server->url("/drop");
    Outcome lost = env.fetch(post);
    REQUIRE_FALSE(lost.ok());
    CHECK(lost.kind() == ErrorKind::Network);
    CHECK(lost.info.request_sent);
    // The dropped request arrived exactly once. (libcurl connects for its resend, then finds
    // it cannot rewind the body and closes that connection having sent nothing.)
    CHECK(env.server->requests() == 4);

    // The same without never_resend shows what is prevented: the request arrives twice.
    REQUIRE(env.fetch(get(env.server->url("/hello"))).ok());
    size_t before = env.server->requests();
    post.never_resend = false;
    REQUIRE_FALSE(env.fetch(post).ok());
    CHECK(env.server->requests() - before == 2);

    // Without a body there is no rewind to refuse: a fresh connection instead of the
    // kept-alive one the GET leaves.
    REQUIRE(env.fetch(get(env.server->url("/hello"))).ok());
    size_t conns = env.server->connections();
    HttpRequest empty = get(env.server->url("/hello"));
    empty.method = "POST";
    empty.never_resend = true;
    REQUIRE(env.fetch(empty).ok());
    CHECK(env.server->connections() == conns + 1);
    env.finish();
}

TEST_CASE("a transfer that takes too long fails with Timeout", "[http]") {
    Env env;
    HttpRequest req = get(env.server->url("/delay/3000"));
    req.timeout_ms = 200;
    uint64_t start = Loop::hrtime_ns();
    Outcome o = env.fetch(req);
    double elapsed_ms = double(Loop::hrtime_ns() - start) / 1e6;
    REQUIRE_FALSE(o.ok());
    CHECK(o.kind() == ErrorKind::Timeout);
    CHECK(o.result->error().retryable());
    CHECK(o.info.request_sent);  // ambiguous: the server may act on it
    CHECK(elapsed_ms >= 150);
    CHECK(elapsed_ms < 2000);
    CHECK(o.info.duration_ms >= 150);
    env.finish();
}

TEST_CASE("connection refused fails with Network, request not sent", "[http]") {
    Env env;
    Outcome o = env.fetch(get("http://127.0.0.1:" + std::to_string(closed_port()) + "/x"));
    REQUIRE_FALSE(o.ok());
    CHECK(o.kind() == ErrorKind::Network);
    CHECK_FALSE(o.info.request_sent);
    CHECK(o.result->error().message.find("127.0.0.1") != std::string::npos);
    env.finish();
}

TEST_CASE("a connection dropped after the request fails with Network, request sent", "[http]") {
    Env env;
    Outcome o = env.fetch(get(env.server->url("/drop")));
    REQUIRE_FALSE(o.ok());
    CHECK(o.kind() == ErrorKind::Network);
    CHECK(o.info.request_sent);

    HttpRequest post = get(env.server->url("/drop"));
    post.method = "POST";
    post.body = std::string(100'000, 'p');
    Outcome p = env.fetch(post);
    REQUIRE_FALSE(p.ok());
    CHECK(p.kind() == ErrorKind::Network);
    CHECK(p.info.request_sent);
    env.finish();
}

TEST_CASE("a response larger than max_response_bytes fails with Limit", "[http]") {
    Env env;
    SECTION("announced by Content-Length") {
        HttpRequest req = get(env.server->url("/huge/4000000"));
        req.max_response_bytes = 1000;
        Outcome o = env.fetch(req);
        REQUIRE_FALSE(o.ok());
        CHECK(o.kind() == ErrorKind::Limit);
        CHECK(o.result->error().message.find("1000 bytes") != std::string::npos);
    }
    SECTION("discovered while streaming") {
        HttpRequest req = get(env.server->url("/stream/4000000"));
        req.max_response_bytes = 100'000;
        Outcome o = env.fetch(req);
        REQUIRE_FALSE(o.ok());
        CHECK(o.kind() == ErrorKind::Limit);
    }
    SECTION("exactly at the cap is fine") {
        HttpRequest req = get(env.server->url("/stream/5000"));
        req.max_response_bytes = 5000;
        Outcome o = env.fetch(req);
        REQUIRE(o.ok());
        CHECK(o.response().body.size() == 5000);
    }
    SECTION("a huge body under the default cap arrives whole") {
        Outcome o = env.fetch(get(env.server->url("/huge/8000000")));
        REQUIRE(o.ok());
        CHECK(o.response().body.size() == 8'000'000);
    }
    env.finish();
}

TEST_CASE("the bodies all transfers are receiving are bounded together", "[http]") {
    Env env;
    env.client = std::make_unique<HttpClient>(env.loop, 100'000);
    // One body past what all may hold together (each under its own cap): stopped as a
    // network failure, which ctx.http retries once others have been received.
    Outcome o = env.fetch(get(env.server->url("/huge/200000")));
    REQUIRE_FALSE(o.ok());
    CHECK(o.kind() == ErrorKind::Network);
    CHECK(o.result->error().message.find("more than 100000 bytes in all") != std::string::npos);
    // What a transfer held is given back when it ends, failed or received: each of these
    // fits alone, and would not if the ones before still counted.
    for (int i = 0; i < 3; ++i) {
        Outcome fits = env.fetch(get(env.server->url("/huge/90000")));
        REQUIRE(fits.ok());
        CHECK(fits.response().body.size() == 90'000);
    }
    env.finish();
}

TEST_CASE("cancel() reports Cancelled once, on a later iteration", "[http][cancel]") {
    Env env;
    SECTION("before the loop ever ran") {
        Outcome o;
        uint64_t id = env.client->send(get(env.server->url("/delay/1000")), record(o));
        env.client->cancel(id);
        CHECK(o.calls == 0);  // never from inside cancel()
        REQUIRE(run_until(env.loop, [&] { return o.calls > 0; }));
        CHECK(o.kind() == ErrorKind::Cancelled);
        CHECK_FALSE(o.info.request_sent);
        env.client->cancel(id);  // already reported: no-op
        run_for(env.loop, 50);
        CHECK(o.calls == 1);
    }
    SECTION("while the server is holding the request") {
        Outcome o;
        uint64_t id = env.client->send(get(env.server->url("/delay/1000")), record(o));
        REQUIRE(run_until(env.loop, [&] { return env.server->requests() == 1; }));
        env.client->cancel(id);
        CHECK(o.calls == 0);
        REQUIRE(run_until(env.loop, [&] { return o.calls > 0; }));
        CHECK(o.kind() == ErrorKind::Cancelled);
        CHECK(o.info.request_sent);
        // The server notices the connection close; no late callback arrives.
        REQUIRE(run_until(env.loop, [&] { return env.server->open_connections() == 0; }));
        run_for(env.loop, 50);
        CHECK(o.calls == 1);
    }
    SECTION("from another transfer's callback") {
        Outcome slow;
        uint64_t slow_id = env.client->send(get(env.server->url("/delay/2000")), record(slow));
        bool fast_done = false;
        env.client->send(get(env.server->url("/hello")),
                         [&](Result<HttpResponse>, const HttpTransferInfo&) {
                             env.client->cancel(slow_id);
                             CHECK(slow.calls == 0);
                             fast_done = true;
                         });
        REQUIRE(run_until(env.loop, [&] { return slow.calls > 0; }));
        CHECK(fast_done);
        CHECK(slow.kind() == ErrorKind::Cancelled);
    }
    SECTION("of an unknown id is harmless") {
        env.client->cancel(12345);
        CHECK(env.client->in_flight() == 0);
    }
    CHECK(env.client->in_flight() == 0);
    env.finish();
}

TEST_CASE("destroying the client cancels every transfer in flight", "[http][cancel]") {
    Env env;
    constexpr int kRequests = 10;
    std::vector<Outcome> outcomes(kRequests);
    for (int i = 0; i < kRequests; ++i)
        env.client->send(get(env.server->url("/delay/3000")), record(outcomes[size_t(i)]));
    REQUIRE(run_until(env.loop, [&] { return env.server->requests() == kRequests; }));
    env.client.reset();  // callbacks run now: nothing would run them later
    for (const Outcome& o : outcomes) {
        CHECK(o.calls == 1);
        CHECK(o.kind() == ErrorKind::Cancelled);
    }
    REQUIRE(run_until(env.loop, [&] { return env.server->open_connections() == 0; }));
    for (const Outcome& o : outcomes)
        CHECK(o.calls == 1);
    env.finish();
}

TEST_CASE("a callback may destroy the client", "[http][cancel]") {
    Env env;
    Outcome slow;
    env.client->send(get(env.server->url("/delay/3000")), record(slow));
    bool first_done = false;
    env.client->send(get(env.server->url("/hello")),
                     [&](Result<HttpResponse> r, const HttpTransferInfo&) {
                         CHECK(r.ok());
                         first_done = true;
                         env.client.reset();
                     });
    REQUIRE(run_until(env.loop, [&] { return first_done; }));
    CHECK(slow.calls == 1);
    CHECK(slow.kind() == ErrorKind::Cancelled);
    env.finish();
}

TEST_CASE("bad requests fail with Validation, from the loop", "[http]") {
    Env env;
    auto expect_validation = [&](HttpRequest req) {
        Outcome o;
        env.client->send(std::move(req), record(o));
        CHECK(o.calls == 0);  // never from inside send()
        REQUIRE(run_until(env.loop, [&] { return o.calls > 0; }));
        REQUIRE_FALSE(o.ok());
        CHECK(o.kind() == ErrorKind::Validation);
        CHECK_FALSE(o.info.request_sent);
        return o.result->error().message;
    };
    CHECK(expect_validation(get("ftp://127.0.0.1/file")).find("http") != std::string::npos);
    expect_validation(get("file:///etc/passwd"));
    expect_validation(get("127.0.0.1/no-scheme"));
    expect_validation(get("http://[::1/"));  // libcurl's CURLE_URL_MALFORMAT
    expect_validation(get(env.server->url("/a b")));
    HttpRequest bad_method = get(env.server->url("/"));
    bad_method.method = "GET /x HTTP/1.1\r\nX:";
    expect_validation(bad_method);
    HttpRequest bad_header = get(env.server->url("/"));
    bad_header.headers = {{"X-Evil", "a\r\nInjected: 1"}};
    expect_validation(bad_header);
    // Framing is the client's: a Content-Length shorter than the body left the rest read
    // as a second request on the pooled connection, whose answer a later request got.
    for (const char* own : {"Content-Length", "transfer-encoding", "Connection", "TE", "Upgrade",
                            "Keep-Alive", "Trailer", "Proxy-Connection"}) {
        HttpRequest framed = get(env.server->url("/"));
        framed.method = "POST";
        framed.body = "AAAAGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
        framed.headers = {{own, "4"}};
        CHECK(expect_validation(framed).find(std::string("header '") + own +
                                             "' is set by the HTTP client") != std::string::npos);
        CHECK_FALSE(check_request(framed));
    }
    CHECK(check_request(get(env.server->url("/"))));
    HttpRequest vhost = get(env.server->url("/"));
    vhost.headers = {{"Host", "other.example"}};  // a virtual host by address: allowed
    CHECK(check_request(vhost));
    CHECK(env.server->requests() == 0);
    env.finish();
}

TEST_CASE("credentials and query strings stay out of error messages", "[http]") {
    Env env;
    std::string port = std::to_string(closed_port());
    Outcome o = env.fetch(get("http://user:s3cret@127.0.0.1:" + port + "/p?token=s3cret"));
    REQUIRE_FALSE(o.ok());
    CHECK(o.result->error().message.find("s3cret") == std::string::npos);
    env.finish();
}

TEST_CASE("TLS: an unreadable CA file is a Validation error", "[http][tls]") {
    Env env;
    HttpRequest req = get("https://127.0.0.1:" + std::to_string(env.server->port()) + "/");
    req.ca_file = "/nonexistent/ca.pem";
    req.timeout_ms = 2000;
    Outcome o = env.fetch(req);
    REQUIRE_FALSE(o.ok());
    CHECK(o.kind() == ErrorKind::Validation);
    env.finish();
}

TEST_CASE("a client destroyed after its loop closed is reported, and does not crash", "[http]") {
    Loop loop;
    auto client = std::make_unique<HttpClient>(loop);
    Outcome o;
    client->send(get("http://127.0.0.1:" + std::to_string(closed_port()) + "/"), record(o));
    CHECK_FALSE(loop.close_cleanly());  // the client's handles were still open: a bug
    client.reset();                     // must not close them twice
    CHECK(o.calls == 1);
    CHECK(o.kind() == ErrorKind::Cancelled);
}
