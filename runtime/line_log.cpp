#include "runtime/line_log.h"

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

}  // namespace ferry
