// The libcurl <-> libuv bridge of HttpClient: libcurl's multi callbacks (socket, timer,
// open/close socket) drive uv_poll and uv_timer, libuv's callbacks drive
// curl_multi_socket_action, and the easy-handle callbacks (body, header, progress) record
// the response. Each callback quotes the libcurl contract it obeys. Overview: the top of
// http_client_impl.h.
#include "runtime/http_client_impl.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace ferry {

using namespace http_detail;

// ---- libcurl -> libuv ---------------------------------------------------------------------

// CURLMOPT_SOCKETFUNCTION: "libcurl then expects the application to monitor the sockets for
// the specific activities and tell libcurl again when something happens on one of them."
int HttpClient::Impl::on_socket(CURL*, curl_socket_t fd, int what, void* clientp, void*) {
    auto* self = static_cast<Impl*>(clientp);
    if (what == CURL_POLL_REMOVE) {
        self->forget_socket(fd);
        return 0;
    }
    if (self->closing) return 0;  // curl_multi_cleanup only closes; nothing new to watch
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    // Watches are found by fd, not through curl_multi_assign's socketp: a watch may already be
    // gone (on_close_socket) when libcurl next mentions the socket.
    SocketWatch* w = nullptr;
    auto it = self->sockets.find(fd);
    if (it != self->sockets.end()) {
        w = it->second;
    } else {
        w = new SocketWatch;
        w->fd = fd;
        w->impl = self;
        if (uv_poll_init_socket(self->loop.raw(), &w->poll, fd) != 0) {
            delete w;  // never initialised, so never closed
            // "If this callback returns error, all transfers currently in progress in this
            // multi handle are aborted and made to fail."
            return -1;
        }
        w->poll.data = w;
        self->sockets.emplace(fd, w);
    }
    w->events = events;
    uv_poll_start(&w->poll, events, &Impl::on_poll);
    return 0;
}

// CURLMOPT_TIMERFUNCTION: "should install a single non-repeating timer with an expire time of
// timeout_ms milliseconds", "if this callback is called when a timer is already running, this
// new expire time replaces the former timeout", and "do not call libcurl directly from within
// the callback itself".
int HttpClient::Impl::on_curl_timer(CURLM*, long timeout_ms, void* clientp) {
    auto* self = static_cast<Impl*>(clientp);
    self->kick_pending = false;
    // "A timeout_ms value of -1 passed to this callback means you should delete the timer."
    if (timeout_ms < 0 || self->closing) {
        uv_timer_stop(self->timer);
        return 0;
    }
    if (timeout_ms == 0) {
        // "All other values are valid expire times ... including zero": run it from the check
        // phase of this iteration, outside this callback. A 0 ms uv_timer started from inside
        // a timer callback would fire within the same uv__run_timers pass, and a libcurl that
        // keeps asking for 0 would then starve I/O; multi-uv.c rounds up to 1 ms instead,
        // which costs every new transfer a millisecond.
        uv_timer_stop(self->timer);
        self->kick_pending = true;
        self->schedule_check();
        return 0;
    }
    uv_timer_start(self->timer, &Impl::on_uv_timer, uint64_t(timeout_ms), 0);
    return 0;
}

void HttpClient::Impl::on_uv_timer(uv_timer_t* timer) {
    auto* self = static_cast<Impl*>(timer->data);
    self->socket_action(CURL_SOCKET_TIMEOUT, 0);
}

void HttpClient::Impl::on_poll(uv_poll_t* poll, int status, int events) {
    auto* w = static_cast<SocketWatch*>(poll->data);
    Impl* self = w->impl;
    curl_socket_t fd = w->fd;
    int flags = 0;
    if (status < 0) {
        // A poll error (libuv reports POLLERR, a reset, as one) is not dropped: the transfer
        // would hang to its timeout (microsoft/CCF PR #7308). Nor is it passed on as
        // CURL_CSELECT_ERR, which fails the transfer outright ("select/poll returned
        // error"): told the socket is ready, libcurl reads or writes, meets the error itself,
        // and when the connection was a reused one the server had closed, sends the request
        // again on a fresh one (1-3 % of requests to a server closing idle connections
        // failed).
        flags = CURL_CSELECT_IN | CURL_CSELECT_OUT;
    } else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    self->socket_action(fd, flags);
    // libuv stops a poll handle that reported an error, while libcurl only calls on_socket
    // when what it wants changes: re-arm if libcurl still wants this very watch.
    if (status < 0 && !self->closing) {
        auto it = self->sockets.find(fd);
        if (it != self->sockets.end() && it->second == w)
            uv_poll_start(&w->poll, w->events, &Impl::on_poll);
    }
}

void HttpClient::Impl::socket_action(curl_socket_t fd, int flags) {
    int running = 0;
    curl_multi_socket_action(multi, fd, flags, &running);
    // Always drain, whatever `running` says: a transfer may end on the timeout path too
    // (the flaw in multi-uv.c's on_timeout).
    check_multi_info();
}

void HttpClient::Impl::check_multi_info() {
    int pending = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &pending)) {
        if (msg->msg != CURLMSG_DONE) continue;
        // "The data the returned pointer points to does not survive calling
        // curl_multi_cleanup, curl_multi_remove_handle or curl_easy_cleanup": copy first.
        CURL* easy = msg->easy_handle;
        CURLcode code = msg->data.result;
        char* priv = nullptr;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        complete(*reinterpret_cast<Transfer*>(priv), code);
    }
}

void HttpClient::Impl::complete(Transfer& t, CURLcode code) {
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    if (code == CURLE_OK) {
        t.resp.status = status;
    } else {
        t.error = map_error(t, code);
        t.resp = HttpResponse{};
    }
    stop_transfer(t);
    t.resp.duration_ms = t.info.duration_ms;
    t.state = State::Done;
    ready.push_back(t.id);
    schedule_check();
}

Error HttpClient::Impl::map_error(const Transfer& t, CURLcode code) const {
    std::string what = t.req.method + " " + redact_url(t.req.url) + ": ";
    std::string detail = t.errbuf[0] ? std::string(trim(t.errbuf)) : curl_easy_strerror(code);
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT: return make_error(ErrorKind::Timeout, what + detail);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    // A CA bundle or client certificate that cannot be used: retrying will not help.
    case CURLE_SSL_CERTPROBLEM:
        // OpenSSL refuses a key that is not the certificate's with libcurl's "unable to set
        // private key file", which names neither.
        if (detail.find("private key") != std::string::npos && !t.req.client_cert.empty())
            detail += " (is it the key of the client certificate " + t.req.client_cert +
                      ", unencrypted PEM?)";
        return make_error(ErrorKind::Validation, what + detail);
    case CURLE_SSL_CACERT_BADFILE: return make_error(ErrorKind::Validation, what + detail);
    case CURLE_FILESIZE_EXCEEDED:
        return make_error(ErrorKind::Limit, what + "response body larger than " +
                                                std::to_string(t.req.max_response_bytes) +
                                                " bytes");
    case CURLE_WRITE_ERROR:
        if (t.body_too_large)
            return make_error(ErrorKind::Limit, what + "response body larger than " +
                                                    std::to_string(t.req.max_response_bytes) +
                                                    " bytes");
        if (t.headers_too_large)
            return make_error(ErrorKind::Limit, what + "response headers larger than " +
                                                    std::to_string(kMaxHeaderBytes) + " bytes");
        if (t.out_of_memory) return make_error(ErrorKind::Internal, what + "out of memory");
        if (t.over_bodies_budget)
            return make_error(ErrorKind::Network,
                              what +
                                  "stopped receiving: the responses this process is "
                                  "receiving hold more than " +
                                  std::to_string(t.owner->max_bodies_in_flight) +
                                  " bytes in all (too many large answers at once)");
        return make_error(ErrorKind::Network, what + detail);
    case CURLE_SEND_FAIL_REWIND:  // only never_resend bodies cannot rewind
        return make_error(ErrorKind::Network,
                          what + "the reused connection closed without an answer after the "
                                 "request was sent; not sent again (it may have been acted on)");
    case CURLE_OUT_OF_MEMORY: {
        // libcurl says "out of memory" when one header line passes its own 100 KiB cap
        // (CURL_MAX_HTTP_HEADER), before our header callback sees it. Once a status line
        // has come, that is what happened: the server's answer, not this process.
        long status = 0;
        curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
        if (status > 0)
            return make_error(ErrorKind::Limit,
                              what +
                                  "a response header line longer than libcurl's 100 KiB "
                                  "limit (status " +
                                  std::to_string(status) + ")");
        return make_error(ErrorKind::Internal, what + detail);
    }
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_UNKNOWN_OPTION: return make_error(ErrorKind::Internal, what + detail);
    default:
        // A server that requires a client certificate and got none ends the TLS session
        // (its "certificate required" alert may arrive after the handshake, or not be
        // read): libcurl then says only "getpeername() failed ... not connected" or a
        // receive failure, which reads as a network problem.
        if (t.req.client_cert.empty() && t.req.url.starts_with("https://") &&
            (code == CURLE_SSL_CONNECT_ERROR || code == CURLE_RECV_ERROR ||
             code == CURLE_SEND_ERROR || code == CURLE_GOT_NOTHING ||
             detail.find("getpeername") != std::string::npos ||
             detail.find("certificate required") != std::string::npos))
            detail += " (none was sent: if the server requires a client certificate, it ends "
                      "the connection so; see the integration's tls.client_cert)";
        return make_error(ErrorKind::Network, what + detail);
    }
}

// Stops polling fd and closes its watch; the uv_poll is freed in its close callback.
// uv_close on a poll handle stops it, which takes the fd out of epoll at once.
void HttpClient::Impl::forget_socket(curl_socket_t fd) {
    auto it = sockets.find(fd);
    if (it == sockets.end()) return;
    SocketWatch* w = it->second;
    sockets.erase(it);
    w->impl = nullptr;
    close_handle(reinterpret_cast<uv_handle_t*>(&w->poll),
                 [](uv_handle_t* h) { delete static_cast<SocketWatch*>(h->data); });
}

// CURLOPT_OPENSOCKETFUNCTION: "return the newly created socket or CURL_SOCKET_BAD in case no
// connection could be established or another error was detected".
curl_socket_t HttpClient::Impl::on_open_socket(void* clientp, curlsocktype purpose,
                                               curl_sockaddr* addr) {
    auto* self = static_cast<Impl*>(clientp);
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;  // FTP's accept socket only
    int fd = ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd < 0) return CURL_SOCKET_BAD;
    // A watch left on this fd number belongs to a socket closed behind our back; drop it
    // before libcurl asks to poll the new one.
    self->forget_socket(fd);
    return fd;
}

// CURLOPT_CLOSESOCKETFUNCTION: "return 0 on success and 1 if there was an error". The poll
// must stop before the fd closes: libuv must never watch a closed or recycled fd.
int HttpClient::Impl::on_close_socket(void* clientp, curl_socket_t fd) {
    static_cast<Impl*>(clientp)->forget_socket(fd);
    return ::close(fd) == 0 ? 0 : 1;
}

// CURLOPT_WRITEFUNCTION: "If that amount differs from the amount passed to your callback
// function, it signals an error condition to the library. This causes the transfer to get
// aborted and the libcurl function used returns CURLE_WRITE_ERROR."
size_t HttpClient::Impl::on_body(char* data, size_t size, size_t nmemb, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    size_t n = size * nmemb;
    t->sent = true;
    if (n > t->req.max_response_bytes - std::min(t->resp.body.size(), t->req.max_response_bytes)) {
        t->body_too_large = true;
        return 0;
    }
    Impl& client = *t->owner;
    if (n > client.max_bodies_in_flight -
                std::min(client.bodies_in_flight, client.max_bodies_in_flight)) {
        t->over_bodies_budget = true;
        return 0;
    }
    try {
        t->resp.body.append(data, n);
    } catch (...) {  // nothing may be thrown through libcurl
        t->out_of_memory = true;
        return 0;
    }
    t->body_held += n;
    client.bodies_in_flight += n;
    return n;
}

// CURLOPT_READFUNCTION (never_resend bodies): "Your function must then return the actual
// number of bytes that it stored in that memory area. Returning 0 will signal end-of-file".
size_t HttpClient::Impl::on_read_body(char* buffer, size_t size, size_t nitems, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    size_t n = std::min(size * nitems, t->req.body.size() - t->body_read);
    std::memcpy(buffer, t->req.body.data() + t->body_read, n);
    t->body_read += n;
    return n;
}

// CURLOPT_HEADERFUNCTION: called once per complete header line, status line and final blank
// line included; and again for each response when there are several (1xx interim responses).
size_t HttpClient::Impl::on_header(char* data, size_t size, size_t nitems, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    size_t n = size * nitems;
    t->sent = true;  // the peer answered, so it saw (part of) the request
    t->header_bytes += n;
    if (t->header_bytes > kMaxHeaderBytes) {
        t->headers_too_large = true;
        return 0;
    }
    std::string_view line = trim(std::string_view(data, n));
    try {
        if (line.starts_with("HTTP/")) {
            t->resp.headers.clear();  // a new response begins; keep only the final one
        } else if (!line.empty() && (data[0] == ' ' || data[0] == '\t')) {
            if (!t->resp.headers.empty()) {  // obsolete line folding: continues the last value
                t->resp.headers.back().second += ' ';
                t->resp.headers.back().second += line;
            }
        } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
            t->resp.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                                         std::string(trim(line.substr(colon + 1))));
        }
    } catch (...) {
        t->out_of_memory = true;
        return 0;
    }
    return n;
}

// CURLOPT_XFERINFOFUNCTION: upload progress means part of the body reached the socket.
int HttpClient::Impl::on_progress(void* userp, curl_off_t, curl_off_t, curl_off_t,
                                  curl_off_t ulnow) {
    if (ulnow > 0) static_cast<Transfer*>(userp)->sent = true;
    return 0;  // non-zero would abort the transfer
}

}  // namespace ferry
