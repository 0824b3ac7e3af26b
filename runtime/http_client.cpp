// HttpClient: request setup, cancel, shutdown and delivery of callbacks. The libcurl and
// libuv callbacks that move transfers along live in http_client_curl.cpp; the overview is at
// the top of http_client_impl.h.
#include "runtime/http_client.h"
#include "runtime/http_client_impl.h"
#include "runtime/utf8.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <mutex>
#include <stdexcept>
#include <string>

namespace ferry {

using namespace http_detail;

namespace {

void ensure_curl_global() {
    // curl_global_init is not thread-safe in every build; do it once, never clean up (other
    // libraries in the process may still use OpenSSL).
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// CR, LF or NUL in a header value or URL would let a caller inject request lines.
bool has_line_break(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

double ms_since(uint64_t start_ns) {
    return double(Loop::hrtime_ns() - start_ns) / 1e6;
}

template <class T>
void close_and_delete(T* handle) {
    handle->data = nullptr;
    close_handle(reinterpret_cast<uv_handle_t*>(handle),
                 [](uv_handle_t* h) { delete reinterpret_cast<T*>(h); });
}

}  // namespace

std::string header_value(const HttpHeaders& headers, std::string_view name) {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return {};
}

void set_header(HttpHeaders& headers, std::string_view name, std::string value) {
    for (auto& [n, v] : headers) {
        if (iequals(n, name)) {
            v = std::move(value);
            return;
        }
    }
    headers.emplace_back(std::string(name), std::move(value));
}

std::string HttpResponse::header(std::string_view name) const {
    return header_value(headers, name);
}

std::string url_syntax_problem(const std::string& url) {
    std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), curl_url_cleanup);
    if (!handle) return "out of memory";
    const CURLUcode parsed = curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0);
    return parsed == CURLUE_OK ? std::string() : curl_url_strerror(parsed);
}

std::string http_status_text(const HttpResponse& r, size_t limit) {
    std::string text = "HTTP " + std::to_string(r.status);
    if (r.body.find_first_not_of(" \t\r\n") == std::string::npos) return text;
    const size_t cut = utf8_cut(r.body, limit);
    text += ": " + to_valid_utf8(std::string_view(r.body).substr(0, cut));
    if (cut < r.body.size()) text += "...";
    return text;
}

HttpClient::Impl::Impl(Loop& l, size_t max_bodies) : loop(l), max_bodies_in_flight(max_bodies) {
    ensure_curl_global();
    multi = curl_multi_init();
    if (!multi) throw std::runtime_error("curl_multi_init failed");
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::on_curl_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    // libcurl's default keeps 4 idle connections per easy handle *currently added*; every
    // request is its own easy handle, so after a burst the cache shrank and closed the
    // connections the next burst needed (1 new connection per 6 requests at 50 in flight).
    // 64 was still too few: past 64 transfers at once to one host (ticket_bench at 200
    // executions in flight), every connection beyond them was closed after its request and
    // each later request paid a new one (1.24 connections per ticket, CPU per ticket +70 %).
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 512L);
    spare_easy.reserve(kSpareEasy);

    timer = new uv_timer_t;
    uv_timer_init(loop.raw(), timer);
    timer->data = this;
    check = new uv_check_t;
    uv_check_init(loop.raw(), check);
    check->data = this;
    uv_check_start(check, &Impl::on_check);
    uv_unref(reinterpret_cast<uv_handle_t*>(check));  // idle keeps the loop alive when needed
    idle = new uv_idle_t;
    uv_idle_init(loop.raw(), idle);
    idle->data = this;
}

HttpClient::Impl::~Impl() {
    closing = true;
    if (destroyed_flag) *destroyed_flag = true;
    // Every transfer still running ends as Cancelled; those already finished keep their
    // outcome. All callbacks run here, in completion order, because nothing will run later.
    for (auto& [id, t] : transfers) {
        if (t->state != State::Running) continue;
        stop_transfer(*t);
        t->error = make_error(ErrorKind::Cancelled, "HTTP client shut down");
        t->state = State::Done;
        ready.push_back(id);
    }
    // A callback may send() again; closing makes that a queued Cancelled, drained here too.
    while (!ready.empty()) {
        uint64_t id = ready.front();
        ready.pop_front();
        auto it = transfers.find(id);
        if (it == transfers.end()) continue;
        std::unique_ptr<Transfer> t = std::move(it->second);
        transfers.erase(it);
        deliver(std::move(t));
    }
    // "This callback may get invoked at any time when interacting with libcurl. This may even
    // happen after all transfers are done and is likely to happen during a call to
    // curl_multi_cleanup when cached connections are closed": on_socket and on_close_socket
    // run during this call and need *this, so the multi goes before the uv handles.
    for (CURL* easy : spare_easy)
        curl_easy_cleanup(easy);
    spare_easy.clear();
    curl_multi_cleanup(multi);
    multi = nullptr;
    while (!sockets.empty())
        forget_socket(sockets.begin()->first);
    close_and_delete(timer);
    close_and_delete(check);
    close_and_delete(idle);
}

// ---- starting and stopping transfers ---------------------------------------------------------

uint64_t HttpClient::Impl::send(HttpRequest request, HttpCallback done) {
    auto t = std::make_unique<Transfer>();
    t->id = next_id++;
    t->req = std::move(request);
    t->done = std::move(done);
    t->started_ns = Loop::hrtime_ns();
    t->owner = this;
    uint64_t id = t->id;

    if (closing) {
        fail_later(std::move(t), make_error(ErrorKind::Cancelled, "HTTP client shut down"));
        return id;
    }
    Status configured = configure(*t);
    if (!configured) {
        fail_later(std::move(t), configured.error());
        return id;
    }
    // Adding the handle makes libcurl call the timer callback (timeout 0) to get the transfer
    // started; nothing happens on the wire before the loop runs.
    CURLMcode rc = curl_multi_add_handle(multi, t->easy);
    if (rc != CURLM_OK) {
        fail_later(std::move(t),
                   make_error(ErrorKind::Internal,
                              std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc)));
        return id;
    }
    transfers.emplace(id, std::move(t));
    return id;
}

// Errors found before the transfer starts still reach the callback from the loop, never from
// inside send().
void HttpClient::Impl::fail_later(std::unique_ptr<Transfer> t, Error error) {
    t->release();
    t->error = std::move(error);
    t->state = State::Done;
    t->info.duration_ms = ms_since(t->started_ns);
    uint64_t id = t->id;
    transfers.emplace(id, std::move(t));
    ready.push_back(id);
    schedule_check();
}

Status check_request(const HttpRequest& r) {
    std::string where = r.method + " " + redact_url(r.url);
    if (!is_http_token(r.method))
        return make_error(ErrorKind::Validation, "invalid HTTP method '" + r.method + "'");
    if (!istarts_with(r.url, "http://") && !istarts_with(r.url, "https://"))
        return make_error(ErrorKind::Validation,
                          where + ": only http:// and https:// URLs are allowed");
    if (url_has_space_or_control(r.url))
        return make_error(ErrorKind::Validation,
                          where + ": URL contains a space or a control character");
    for (const auto& [name, value] : r.headers) {
        if (!is_http_token(name))
            return make_error(ErrorKind::Validation,
                              where + ": invalid header name '" + name + "'");
        if (has_line_break(value)) {
            return make_error(ErrorKind::Validation, where + ": the value of header '" + name +
                                                         "' contains a line break or NUL");
        }
        // How the request is framed is the client's: a Content-Length a value passed on
        // set would end the request early and leave the rest of its body read as a second
        // request on a pooled connection (whose answer another request then gets). (A
        // Host stays a request's to give: an integration keeps its credentials from one
        // naming another host, IntegrationClient::build.)
        for (const char* own : {"Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
                                "Proxy-Connection", "TE", "Trailer", "Upgrade"}) {
            if (iequals(name, own))
                return make_error(ErrorKind::Validation,
                                  where + ": header '" + name +
                                      "' is set by the HTTP client, not by a request");
        }
    }
    return ok_status();
}

Status HttpClient::Impl::configure(Transfer& t) {
    const HttpRequest& r = t.req;
    if (Status checked = check_request(r); !checked) return checked;
    std::string where = r.method + " " + redact_url(r.url);
    // curl_slist_append returns NULL on failure and leaves the list alone.
    auto append = [&t](const std::string& line) {
        curl_slist* next = curl_slist_append(t.header_list, line.c_str());
        if (next) t.header_list = next;
        return next != nullptr;
    };
    bool has_content_type = false;
    bool has_expect = false;
    bool appended = true;
    for (const auto& [name, value] : r.headers) {
        has_content_type = has_content_type || iequals(name, "Content-Type");
        has_expect = has_expect || iequals(name, "Expect");
        // "Name;" is libcurl's spelling of a header with an empty value ("Name:" removes it).
        appended = appended && append(value.empty() ? name + ";" : name + ": " + value);
    }
    // No waiting for "100 Continue" (a server that ignores it costs a second per request),
    // and no default form content type on a body the caller did not label.
    if (!has_expect) appended = appended && append("Expect:");
    if (!has_content_type) appended = appended && append("Content-Type:");

    t.easy = take_easy();
    if (!t.easy || !appended) return make_error(ErrorKind::Internal, "out of memory");
    CURL* e = t.easy;
    CURLcode rc = CURLE_OK;
    auto set = [&rc](CURLcode c) {
        if (rc == CURLE_OK) rc = c;
    };
    set(curl_easy_setopt(e, CURLOPT_URL, r.url.c_str()));
    set(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"));
    set(curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
    set(curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L));  // integrations decide on redirects
    // No SIGALRM-based DNS timeouts: signals and a multi-handle event loop do not mix.
    set(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L));
    set(curl_easy_setopt(e, CURLOPT_PRIVATE, &t));
    set(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.errbuf));
    set(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::on_body));
    set(curl_easy_setopt(e, CURLOPT_WRITEDATA, &t));
    set(curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::on_header));
    set(curl_easy_setopt(e, CURLOPT_HEADERDATA, &t));
    set(curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L));
    set(curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, &Impl::on_progress));
    set(curl_easy_setopt(e, CURLOPT_XFERINFODATA, &t));
    set(curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Impl::on_open_socket));
    set(curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this));
    set(curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &Impl::on_close_socket));
    set(curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this));
    // Clamped: a timeout past LONG_MAX ms (2^63, from a task) turned negative in the cast.
    auto as_long = [](uint64_t ms) { return long(std::min<uint64_t>(ms, uint64_t(LONG_MAX))); };
    set(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, as_long(r.timeout_ms)));
    set(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, as_long(r.connect_timeout_ms)));
    set(curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L));
    if (r.never_resend && r.body.empty()) set(curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L));
    set(curl_easy_setopt(e, CURLOPT_USERAGENT, "ferry/0.1"));
    // No Accept-Encoding, and answers are not decoded: libcurl refuses a coding it does not
    // know (a server's "Content-Encoding: UTF-8"), which turned a 201 the vendor had acted on
    // into a network error. An answer compressed unasked reaches the task as it came, and
    // the ticket tasks name its coding (tickets.answer_summary).
    set(curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.header_list));
    // Fails early when Content-Length announces too much; on_body enforces it otherwise.
    set(curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(r.max_response_bytes)));
    set(curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, r.verify_tls ? 1L : 0L));
    set(curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, r.verify_tls ? 2L : 0L));
    if (!r.ca_file.empty()) set(curl_easy_setopt(e, CURLOPT_CAINFO, r.ca_file.c_str()));
    if (!r.client_cert.empty()) {
        set(curl_easy_setopt(e, CURLOPT_SSLCERT, r.client_cert.c_str()));
        set(curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM"));
    }
    if (!r.client_key.empty()) {
        set(curl_easy_setopt(e, CURLOPT_SSLKEY, r.client_key.c_str()));
        set(curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM"));
    }
    if (!r.client_cert.empty() || !r.client_key.empty()) {
        // Without a passphrase set, OpenSSL asks for an encrypted key's on the terminal (or
        // reads stdin): the loop, and the whole server, stopped there. An empty one makes
        // such a key fail the request at once ("unable to set private key file").
        set(curl_easy_setopt(e, CURLOPT_KEYPASSWD, ""));
    }

    bool body_method = r.method == "POST" || r.method == "PUT" || r.method == "PATCH";
    if (r.method == "HEAD") {
        set(curl_easy_setopt(e, CURLOPT_NOBODY, 1L));
    } else if (!r.body.empty() || body_method) {
        // The body stays owned by t.req for the life of the transfer (POSTFIELDS does not
        // copy), and an empty body still sends "Content-Length: 0".
        set(curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(r.body.size())));
        if (r.never_resend && !r.body.empty()) {
            // No CURLOPT_SEEKFUNCTION: libcurl's resend needs a rewind, which then fails
            // (CURLE_SEND_FAIL_REWIND) instead of sending the body twice.
            set(curl_easy_setopt(e, CURLOPT_POST, 1L));
            set(curl_easy_setopt(e, CURLOPT_READFUNCTION, &Impl::on_read_body));
            set(curl_easy_setopt(e, CURLOPT_READDATA, &t));
        } else {
            set(curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data()));
        }
        if (r.method != "POST") set(curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str()));
    } else if (r.method == "GET") {
        set(curl_easy_setopt(e, CURLOPT_HTTPGET, 1L));
    } else {
        set(curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str()));
    }
    if (rc != CURLE_OK)
        return make_error(ErrorKind::Internal,
                          where + ": curl_easy_setopt: " + curl_easy_strerror(rc));
    return ok_status();
}

// Takes the easy handle out of the multi (libcurl then drops or caches its connection, calling
// on_socket with CURL_POLL_REMOVE) and records what reached the wire.
void HttpClient::Impl::stop_transfer(Transfer& t) {
    bodies_in_flight -= t.body_held;  // delivered or dropped now: no longer received
    t.body_held = 0;
    if (!t.easy) return;
    long request_size = 0;
    curl_easy_getinfo(t.easy, CURLINFO_REQUEST_SIZE, &request_size);
    t.info.request_sent = t.sent || request_size > 0;
    t.info.duration_ms = ms_since(t.started_ns);
    if (multi && curl_multi_remove_handle(multi, t.easy) == CURLM_OK) {
        give_back_easy(t.easy);
        t.easy = nullptr;
    }
    t.release();
}

CURL* HttpClient::Impl::take_easy() {
    if (spare_easy.empty()) return curl_easy_init();
    CURL* easy = spare_easy.back();
    spare_easy.pop_back();
    return easy;
}

// curl_easy_reset forgets every option of the last request (URL, headers, body, callbacks,
// TLS files) but keeps what libcurl shares per handle on purpose: buffers, the TLS session
// cache (keyed by host and the TLS options that must match) and the DNS cache. Connections
// belong to the multi's cache either way.
void HttpClient::Impl::give_back_easy(CURL* easy) {
    if (spare_easy.size() >= kSpareEasy || closing) {
        curl_easy_cleanup(easy);
        return;
    }
    curl_easy_reset(easy);
    spare_easy.push_back(easy);  // within the capacity reserved at construction: no throw
}

void HttpClient::Impl::cancel(uint64_t id) {
    auto it = transfers.find(id);
    if (it == transfers.end()) return;  // unknown, or its callback already ran
    Transfer& t = *it->second;
    // Finished but not yet delivered: the caller has stopped caring, so it hears Cancelled
    // too; the callback is still pending, so it still runs exactly once.
    t.error = make_error(ErrorKind::Cancelled, "request cancelled");
    t.resp = HttpResponse{};
    if (t.state == State::Done) return;
    stop_transfer(t);
    t.state = State::Done;
    ready.push_back(id);
    schedule_check();
}

// ---- delivery --------------------------------------------------------------------------------

void HttpClient::Impl::schedule_check() {
    // An active idle handle turns the next poll into a non-blocking one, so on_check runs in
    // this iteration (or the next one if we are in the check phase already).
    if (!closing) uv_idle_start(idle, [](uv_idle_t*) {});
}

void HttpClient::Impl::on_check(uv_check_t* check) {
    auto* self = static_cast<Impl*>(check->data);
    if (self->kick_pending) {
        self->kick_pending = false;
        self->socket_action(CURL_SOCKET_TIMEOUT, 0);  // the 0 ms timeout libcurl asked for
    }
    self->deliver_ready();  // may destroy *self
}

void HttpClient::Impl::deliver_ready() {
    bool destroyed = false;
    destroyed_flag = &destroyed;
    // Only what is ready now: a cancel() made by one of these callbacks is reported on a
    // later iteration, never from inside the callback that called it.
    size_t n = ready.size();
    while (n-- > 0 && !ready.empty()) {
        uint64_t id = ready.front();
        ready.pop_front();
        auto it = transfers.find(id);
        if (it == transfers.end()) continue;
        std::unique_ptr<Transfer> t = std::move(it->second);
        transfers.erase(it);
        deliver(std::move(t));
        if (destroyed) return;  // a callback destroyed the client; *this is gone
    }
    destroyed_flag = nullptr;
    if (ready.empty() && !kick_pending) uv_idle_stop(idle);
}

// Runs the user callback. The transfer has already left `transfers`, so nothing can deliver
// it twice, even if the callback destroys the client.
void HttpClient::Impl::deliver(std::unique_ptr<Transfer> t) {
    ++completed_count;
    Loop& l = loop;
    HttpCallback done = std::move(t->done);
    HttpTransferInfo info = t->info;
    Result<HttpResponse> result = t->error ? Result<HttpResponse>(std::move(*t->error))
                                           : Result<HttpResponse>(std::move(t->resp));
    t.reset();
    if (done) l.guarded([&] { done(std::move(result), info); });
}

// ---- public interface -------------------------------------------------------------------------

HttpClient::HttpClient(Loop& loop, size_t max_bodies_in_flight)
    : impl_(std::make_unique<Impl>(loop, max_bodies_in_flight)) {}
HttpClient::~HttpClient() = default;

uint64_t HttpClient::send(HttpRequest request, HttpCallback done) {
    return impl_->send(std::move(request), std::move(done));
}
void HttpClient::cancel(uint64_t id) {
    impl_->cancel(id);
}
size_t HttpClient::in_flight() const {
    return impl_->transfers.size();
}
uint64_t HttpClient::completed() const {
    return impl_->completed_count;
}

}  // namespace ferry
