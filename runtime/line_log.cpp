#include "runtime/line_log.h"

#include "runtime/timestamp.h"

#include <cerrno>
#include <unistd.h>

namespace ferry {

namespace {
constexpr size_t kWriteAtOnce = 64 * 1024;
}

LineLog::LineLog(Loop& loop, int fd) : loop_(loop), fd_(fd) {
    iteration_id_ = loop_.on_iteration([this] { flush(); });
}

LineLog::~LineLog() {
    loop_.remove_iteration(iteration_id_);
    flush();
}

void LineLog::add(std::string_view line) {
    // The first line of an iteration makes sure the iteration ends without sleeping in poll.
    if (buffer_.empty()) loop_.wake();
    buffer_.append(line);
    buffer_.push_back('\n');
    if (buffer_.size() >= kWriteAtOnce) flush();
}

void LineLog::flush() {
    size_t done = 0;
    while (done < buffer_.size()) {
        ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += size_t(n);
    }
    buffer_.clear();
}

// Room for a whole line at once: the default 256 bytes grew twice per line.
JsonLogLine::JsonLogLine(std::string_view kind) : buffer_(nullptr, 1024), out_(buffer_) {
    out_.StartObject();
    char at[kRfc3339Max];
    field("at", std::string_view(at, format_rfc3339(int64_t(now_unix_ms()), at)));
    field("log", kind);
}

void JsonLogLine::field(std::string_view key, std::string_view text) {
    name(key);
    out_.String(text.data(), rapidjson::SizeType(text.size()));
}

void JsonLogLine::field(std::string_view key, int64_t n) {
    name(key);
    out_.Int64(n);
}

void JsonLogLine::field(std::string_view key, double x) {
    name(key);
    out_.Double(x);
}

void JsonLogLine::field(std::string_view key, bool b) {
    name(key);
    out_.Bool(b);
}

std::string_view JsonLogLine::finish() {
    out_.EndObject();
    return {buffer_.GetString(), buffer_.GetSize()};
}

void JsonLogLine::name(std::string_view key) {
    out_.Key(key.data(), rapidjson::SizeType(key.size()));
}

}  // namespace ferry
