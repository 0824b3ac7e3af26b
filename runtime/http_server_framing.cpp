// What this server checks itself of the request framing, past what http_parser does
// (Debian builds it lenient): a proxy in front may read a lenient request differently from
// us (request smuggling), so whatever RFC 9112 refuses is refused here. The chunk-size line
// scanner and the fold detection run ahead of the parser over the raw bytes
// (http_server_conn.cpp feeds them); the head checks run once the head is complete
// (http_server_parse.cpp).
#include "runtime/http_server_impl.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace ferry {
namespace http_server_detail {

bool starts_with_method_token(std::string_view text) {
    size_t sp = text.find(' ');
    return sp != std::string_view::npos && sp > 0 && sp <= 32 && is_http_token(text.substr(0, sp));
}

// Whether the raw target's path (before any query) holds %2F: RFC 3986 keeps an encoded
// slash apart from a slash, and routing on the decoded path would do otherwise.
bool encoded_slash_in_path(std::string_view target) {
    std::string_view path = target.substr(0, target.find_first_of("?#"));
    for (size_t i = path.find('%'); i != std::string_view::npos; i = path.find('%', i + 1))
        if (i + 2 < path.size() && path[i + 1] == '2' && (path[i + 2] == 'F' || path[i + 2] == 'f'))
            return true;
    return false;
}

namespace {

// A Host value as RFC 9112 3.2 allows it: uri-host [":" port], the host a registered name
// (letters, digits, "-._~", sub-delims, %XX) or a bracketed IP literal. Empty is allowed
// (a target without an authority).
bool valid_host(std::string_view v) {
    size_t host_end = 0;
    if (!v.empty() && v.front() == '[') {
        size_t close = v.find(']');
        if (close == std::string_view::npos || close < 2) return false;
        for (char ch : v.substr(1, close - 1))
            if (!std::isxdigit(static_cast<unsigned char>(ch)) && ch != ':' && ch != '.')
                return false;
        host_end = close + 1;
    } else {
        host_end = std::min(v.find(':'), v.size());
        for (char ch : v.substr(0, host_end))
            if (!std::isalnum(static_cast<unsigned char>(ch)) &&
                std::string_view("-._~!$&'()*+,;=%").find(ch) == std::string_view::npos)
                return false;
    }
    if (host_end == v.size()) return true;
    std::string_view port = v.substr(host_end);
    if (port.front() != ':' || port.size() > 6) return false;
    unsigned number = 0;
    for (char ch : port.substr(1)) {
        if (!std::isdigit(static_cast<unsigned char>(ch))) return false;
        number = number * 10 + unsigned(ch - '0');
    }
    return number <= 65535;  // ":" alone is allowed (port = *DIGIT)
}

}  // namespace

// What Debian's http_parser (built without HTTP_PARSER_STRICT) lets through and RFC 9112
// refuses: a proxy in front may read such a head differently from us (request smuggling),
// so it is answered 400 and the connection closed.
bool framing_is_strict(Connection* c, const Exchange& ex, const http_parser* p) {
    const ServerRequest& req = ex.req;
    if (ex.folded) {
        c->fail(400, "bad_request", "header line folding (obs-fold) is not accepted");
        return false;
    }
    if (p->method == HTTP_CONNECT) {
        // Its target is an authority, not a path, and what follows is a tunnel.
        c->fail(501, "not_implemented", "CONNECT is not implemented: this server is no proxy");
        return false;
    }
    size_t hosts = 0, encodings = 0;
    // Fields read as one value: two of them are answered 400 rather than the first taken,
    // since a proxy in front may check the other (who the caller is, which request this is).
    // Content-Type too: a form's submit picks its parser by it.
    constexpr std::string_view kSingletons[] = {"Authorization", "Idempotency-Key", "Last-Event-ID",
                                                "Content-Type"};
    size_t singleton_seen[std::size(kSingletons)] = {};
    for (const auto& [name, value] : req.headers) {
        for (size_t i = 0; i < std::size(kSingletons); ++i) {
            if (!iequals(name, kSingletons[i]) || ++singleton_seen[i] == 1) continue;
            c->fail(400, "bad_request",
                    "the request has more than one " + std::string(kSingletons[i]) + " header");
            return false;
        }
        if (!is_http_token(name)) {  // "Transfer-Encoding : chunked" reaches us as a name
            c->fail(400, "bad_request",
                    "a header name must be a token (no spaces or separators before the colon)");
            return false;
        }
        if (value.find_first_of("\r\n") != std::string::npos) {
            c->fail(400, "bad_request", "header line folding (obs-fold) is not accepted");
            return false;
        }
        // RFC 9110 5.5: no control characters (http_parser checks all but the first byte).
        if (std::any_of(value.begin(), value.end(), [](char ch) {
                auto b = static_cast<unsigned char>(ch);
                return (b < 0x20 && b != '\t') || b == 0x7F;
            })) {
            c->fail(400, "bad_request", "a header value must not hold control characters");
            return false;
        }
        if (iequals(name, "Host") && !valid_host(value)) {
            c->fail(400, "bad_request", "the Host header is not a host name with an optional port");
            return false;
        }
        if (iequals(name, "Host")) ++hosts;
        if (iequals(name, "Transfer-Encoding")) ++encodings;
    }
    if (p->http_minor >= 1 && hosts != 1) {
        c->fail(400, "bad_request", "an HTTP/1.1 request needs exactly one Host header");
        return false;
    }
    if (encodings > 0 && p->http_minor == 0) {
        // RFC 9112 6.1: such framing is faulty; an HTTP/1.0 proxy in front knows no chunks.
        c->fail(400, "bad_request", "an HTTP/1.0 request cannot have a Transfer-Encoding");
        return false;
    }
    if (encodings > 0) {
        std::string te = req.header("Transfer-Encoding");
        size_t b = te.find_first_not_of(" \t"), e = te.find_last_not_of(" \t");
        if (encodings > 1 || b == std::string::npos ||
            !iequals(te.substr(b, e - b + 1), "chunked") || !(p->flags & F_CHUNKED)) {
            c->fail(501, "not_implemented", "only Transfer-Encoding: chunked is supported");
            return false;
        }
    }
    return true;
}

const char* Connection::chunk_framing_problem(const char* p, const char* end) {
    const uint64_t at = consumed_total + uint64_t(p - inbuf.data());
    if (at < chunk_scan_at) p += std::min<uint64_t>(chunk_scan_at - at, uint64_t(end - p));
    const char* problem = nullptr;
    for (; p < end && !problem; ++p) {
        const char ch = *p;
        if (chunk_crlf_pending > 0) {
            if (ch != (chunk_crlf_pending == 2 ? '\r' : '\n'))
                problem = "a chunk's data must end with CRLF";
            else if (--chunk_crlf_pending == 0)
                chunk_line = ChunkLine::Size;
            continue;
        }
        switch (chunk_line) {
        case ChunkLine::None:
            chunk_scan_at = consumed_total + uint64_t(p - inbuf.data());
            return nullptr;
        case ChunkLine::AfterHead:  // the head's last LF (checked as such), then the line
            chunk_line = ChunkLine::Size;
            if (ch == '\n') continue;
            [[fallthrough]];
        case ChunkLine::Size:
            if (std::isxdigit(static_cast<unsigned char>(ch))) break;
            if (ch == ';')
                chunk_line = ChunkLine::Extension;
            else if (ch == ' ' || ch == '\t')
                chunk_line = ChunkLine::Blank;
            else if (ch == '\n')
                problem = "a chunk-size line must end with CRLF";
            else
                chunk_line = ChunkLine::None;  // CR ends it; anything else is the parser's
            break;
        case ChunkLine::Blank:  // only before an extension (RFC 9112 7.1.1: BWS ";")
            if (ch == ';')
                chunk_line = ChunkLine::Extension;
            else if (ch != ' ' && ch != '\t')
                problem = "malformed request: blanks after a chunk size must lead to ';' and "
                          "an extension";
            break;
        case ChunkLine::Extension: {
            auto b = static_cast<unsigned char>(ch);
            if (ch == '\r')
                chunk_line = ChunkLine::None;
            else if ((b < 0x20 && ch != '\t') || b == 0x7F)
                problem = ch == '\n' ? "a chunk-size line must end with CRLF"
                                     : "malformed request: a control character in a chunk "
                                       "extension";
            break;
        }
        }
    }
    chunk_scan_at = consumed_total + uint64_t(p - inbuf.data());
    return problem;
}

void Connection::note_parsed_blank_tail(size_t n) {
    size_t k = n;
    bool lf = false;
    while (k > 0 && std::strchr(" \t\r\n", inbuf[k - 1]) && inbuf[k - 1] != '\0') {
        lf = lf || inbuf[k - 1] == '\n';
        --k;
    }
    parsed_blank_tail_has_lf = k == 0 ? parsed_blank_tail_has_lf || lf : lf;
}

bool Connection::blank_before_holds_lf(const char* at) const {
    for (const char* q = at; q > inbuf.data();) {
        --q;
        if (*q == '\n') return true;
        if (*q != ' ' && *q != '\t' && *q != '\r') return false;
    }
    return parsed_blank_tail_has_lf;
}

}  // namespace http_server_detail
}  // namespace ferry
