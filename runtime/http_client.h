// Outbound HTTP: libcurl's multi interface driven by the libuv loop
// (curl_multi_socket_action with uv_poll and uv_timer; the multi-uv.c pattern).
//
// send() never blocks. The completion callback runs on the loop thread, never from inside a
// libcurl callback, exactly once per request (cancel() included, with ErrorKind::Cancelled).
// Connections are reused across requests to the same host (one multi handle, shared
// connection cache). TLS verification is on unless a request turns it off.
#pragma once

#include "runtime/error.h"
#include "runtime/http_text.h"
#include "runtime/loop.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ferry {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The value of the first header with this name (case-insensitive), or empty.
std::string header_value(const HttpHeaders& headers, std::string_view name);
// Replaces the value of the first header with this name (case-insensitive), or adds one.
void set_header(HttpHeaders& headers, std::string_view name, std::string value);

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    HttpHeaders headers;
    std::string body;
    uint64_t timeout_ms = 30000;  // whole transfer
    uint64_t connect_timeout_ms = 10000;
    bool verify_tls = true;
    std::string ca_file;      // custom CA bundle (PEM)
    std::string client_cert;  // mutual TLS: client certificate (PEM file)
    std::string client_key;   // mutual TLS: its key (PEM file)
    size_t max_response_bytes = 16u << 20;
    // Never sent twice by libcurl. On a reused keep-alive connection that the peer closed
    // without answering, libcurl silently sends the request again on a new one; for a
    // request that must not be repeated (a create) that would be a duplicate. Such a body
    // is fed through a read callback that cannot rewind, so where libcurl would resend the
    // transfer fails instead (Network, request_sent: the caller decides), and the request
    // may still use a kept-alive connection. Without a body there is nothing to refuse a
    // rewind of, so it goes on a fresh connection, whose first send is never repeated.
    bool never_resend = false;
};

// What HttpClient::send refuses before anything is sent (Validation): a bad method, a URL
// that is not http(s) or holds a space or control character, a bad header name or a value
// with a line break, and the headers that frame the request (Content-Length,
// Transfer-Encoding, Connection and the other hop-by-hop ones), which are the client's. A
// dry run checks its preview with it, so it shows no request the send refuses.
Status check_request(const HttpRequest& request);

struct HttpResponse {
    long status = 0;
    HttpHeaders headers;  // names as received; lookups are case-insensitive
    std::string body;
    double duration_ms = 0;
    // The value of the first header with this name (case-insensitive), or empty.
    std::string header(std::string_view name) const;
};

// How a failed answer is told: "HTTP 503: BODY" (its first `limit` bytes, cut at a
// character, not UTF-8 repaired) or "HTTP 503" when the body is blank, as the Lua tasks'
// ferry.text.http_status tells it. The receiver's own words are what an operator acts on.
std::string http_status_text(const HttpResponse& r, size_t limit = 200);

// What libcurl finds wrong with an absolute URL, in its words ("Bad IPv6 address", "Port
// number was not a decimal number between 0 and 65535"), or "" when it parses: checked
// where URLs are configured, so that validate says it and not the first request.
std::string url_syntax_problem(const std::string& url);

// What happened on the wire, even when the transfer failed: whether the request was (at
// least partly) sent decides whether a failure is ambiguous (the peer may have acted on it).
struct HttpTransferInfo {
    bool request_sent = false;
    double duration_ms = 0;
};

using HttpCallback = std::function<void(Result<HttpResponse>, const HttpTransferInfo&)>;

class HttpClient {
  public:
    // Response bodies being received by all of this client's transfers together (each is
    // also capped by its request's max_response_bytes): the transfer that would pass it
    // stops with a Network error (which ctx.http retries after its backoff), so a fan-out of
    // large answers cannot hold gigabytes outside every other limit.
    static constexpr size_t kDefaultMaxBodiesInFlight = size_t(256) << 20;

    explicit HttpClient(Loop& loop, size_t max_bodies_in_flight = kDefaultMaxBodiesInFlight);
    ~HttpClient();  // cancels every transfer still running (callbacks get Cancelled)
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Starts a transfer; returns its id (never 0). Errors: Network (refused, reset, DNS,
    // TLS, the bodies in flight past their bound), Timeout, Limit (response larger than
    // max_response_bytes), Validation (bad URL, a scheme other than http/https, a bad method or
    // header, an unusable CA/client cert file), Cancelled. Redirects are not followed: a 3xx is a
    // response like any other.
    uint64_t send(HttpRequest request, HttpCallback done);
    // Aborts a transfer; its callback runs with Cancelled (on a later loop iteration).
    void cancel(uint64_t id);
    size_t in_flight() const;
    uint64_t completed() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ferry
