// Private to the HTTP client: the state shared by http_client.cpp (lifecycle, requests,
// delivery) and http_client_curl.cpp (the libcurl <-> libuv callbacks).
//
// The bridge follows curl's docs/examples/multi-uv.c and tarantool's src/curl.c. Who calls
// whom:
//   libuv (a uv_poll per socket, one uv_timer, one uv_check) -> curl_multi_socket_action
//   -> libcurl callbacks (socket, timer, open/close socket, write, header, progress), which
//      only record state and (un)watch sockets -> check_multi_info() after every
//      socket_action moves finished transfers to the ready queue -> the uv_check callback
//      delivers them. User callbacks therefore never run inside a libcurl callback, and each
//      runs exactly once because a transfer leaves `transfers` as its callback is called.
//
// Sockets are opened and closed through CURLOPT_OPENSOCKETFUNCTION/CLOSESOCKETFUNCTION so the
// uv_poll on an fd is always stopped before the fd is closed: polling a closed (or reused) fd
// is what curl/curl #3597 and libuv #1148 are about.
#pragma once

#include "runtime/http_client.h"
#include "runtime/http_text.h"

#include <curl/curl.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ferry {

namespace http_detail {

constexpr size_t kMaxHeaderBytes = 256 * 1024;  // all response headers of one transfer

// The URL as it may appear in a message: credentials and query strings often carry secrets.
inline std::string redact_url(std::string_view url) {
    std::string_view out = url.substr(0, url.find_first_of("?#"));
    const std::optional<UserInfo> info = url_user_info(out);
    if (!info) return std::string(out);
    return std::string(out.substr(0, info->start)) + std::string(out.substr(info->at + 1));
}

// uv_close, unless the Loop already closed the handle: a client destroyed after
// Loop::close_cleanly() (a bug the Loop reports) must not close it twice, which libuv asserts
// against. Such a handle is closed for good, so cb can free it at once.
inline void close_handle(uv_handle_t* h, uv_close_cb cb) {
    if (uv_is_closing(h))
        cb(h);
    else
        uv_close(h, cb);
}

}  // namespace http_detail

struct HttpClient::Impl {
    enum class State { Running, Done };

    struct Transfer {
        uint64_t id = 0;
        CURL* easy = nullptr;
        curl_slist* header_list = nullptr;
        HttpRequest req;
        HttpCallback done;
        State state = State::Running;
        HttpResponse resp;
        std::optional<Error> error;
        HttpTransferInfo info;
        uint64_t started_ns = 0;
        size_t header_bytes = 0;
        bool body_too_large = false;
        bool headers_too_large = false;
        bool out_of_memory = false;
        bool over_bodies_budget = false;  // Impl::max_bodies_in_flight
        size_t body_held = 0;             // counted in Impl::bodies_in_flight
        Impl* owner = nullptr;
        bool sent = false;     // upload progress seen, or the peer answered
        size_t body_read = 0;  // never_resend: bytes of req.body handed to libcurl
        char errbuf[CURL_ERROR_SIZE] = {};

        ~Transfer() { release(); }
        void release() {
            if (easy) curl_easy_cleanup(easy);
            if (header_list) curl_slist_free_all(header_list);
            easy = nullptr;
            header_list = nullptr;
        }
    };

    struct SocketWatch {
        uv_poll_t poll{};
        curl_socket_t fd = CURL_SOCKET_BAD;
        int events = 0;
        Impl* impl = nullptr;
    };

    Impl(Loop& l, size_t max_bodies);
    ~Impl();

    uint64_t send(HttpRequest request, HttpCallback done);
    void cancel(uint64_t id);
    Status configure(Transfer& t);
    void fail_later(std::unique_ptr<Transfer> t, Error error);
    void stop_transfer(Transfer& t);
    void socket_action(curl_socket_t fd, int flags);
    void check_multi_info();
    void complete(Transfer& t, CURLcode code);
    Error map_error(const Transfer& t, CURLcode code) const;
    void forget_socket(curl_socket_t fd);
    void schedule_check();
    void deliver_ready();
    void deliver(std::unique_ptr<Transfer> t);
    CURL* take_easy();
    void give_back_easy(CURL* easy);

    static int on_socket(CURL* easy, curl_socket_t fd, int what, void* clientp, void* socketp);
    static int on_curl_timer(CURLM* multi, long timeout_ms, void* clientp);
    static void on_poll(uv_poll_t* poll, int status, int events);
    static void on_uv_timer(uv_timer_t* timer);
    static void on_check(uv_check_t* check);
    static curl_socket_t on_open_socket(void* clientp, curlsocktype purpose, curl_sockaddr* addr);
    static int on_close_socket(void* clientp, curl_socket_t fd);
    static size_t on_body(char* data, size_t size, size_t nmemb, void* userp);
    static size_t on_read_body(char* buffer, size_t size, size_t nitems, void* userp);
    static size_t on_header(char* data, size_t size, size_t nitems, void* userp);
    static int on_progress(void* userp, curl_off_t, curl_off_t, curl_off_t, curl_off_t ulnow);

    Loop& loop;
    CURLM* multi = nullptr;
    uv_timer_t* timer = nullptr;  // curl's one timer (CURLMOPT_TIMERFUNCTION)
    uv_check_t* check = nullptr;  // delivers ready callbacks; runs zero-timeout kicks
    uv_idle_t* idle = nullptr;    // active while check has work: keeps poll from blocking
    std::unordered_map<uint64_t, std::unique_ptr<Transfer>> transfers;  // not yet delivered
    std::deque<uint64_t> ready;                                         // finished, in order
    std::unordered_map<curl_socket_t, SocketWatch*> sockets;
    // Easy handles of finished transfers, reset and kept for the next ones: a new handle
    // costs its state struct and receive buffer (tens of KB, allocated and freed per request
    // otherwise), and libcurl's docs recommend reusing them. At most kSpareEasy are kept.
    static constexpr size_t kSpareEasy = 64;
    std::vector<CURL*> spare_easy;
    uint64_t next_id = 1;
    uint64_t completed_count = 0;
    // Bytes of the running transfers' bodies, and their bound: a 120-item for_each of
    // requests to a vendor answering 15 MiB held 1.8 GiB.
    size_t bodies_in_flight = 0;
    size_t max_bodies_in_flight;
    bool kick_pending = false;  // curl asked for a 0 ms timeout
    bool closing = false;
    bool* destroyed_flag = nullptr;  // set while deliver_ready runs user callbacks
};

}  // namespace ferry
