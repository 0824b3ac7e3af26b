// Log lines for a file descriptor (stderr), written once per loop iteration.
//
// `ferry serve` logs a JSON line per request and per execution event: about eight lines per
// webhook under load, each its own write(2) when stderr is unbuffered (8 % of the loop's
// CPU). Lines are kept in memory and written together at the end of the iteration that
// made them (a line added while the loop would sleep wakes it first, so nothing waits for
// the next request). A process killed with -9 loses at most that iteration's lines; a
// normal exit and the destructor write them.
#pragma once

#include "runtime/json_writer.h"
#include "runtime/loop.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry {

class LineLog {
  public:
    LineLog(Loop& loop, int fd);
    ~LineLog();  // writes what is buffered
    LineLog(const LineLog&) = delete;
    LineLog& operator=(const LineLog&) = delete;

    // Appends one line (a newline is added). Written at the end of this loop iteration, or
    // at once past 64 KiB buffered.
    void add(std::string_view line);
    // Writes everything buffered now (retrying short writes; errors drop the lines, as a
    // failed fprintf to stderr would).
    void flush();
    size_t buffered() const { return buffer_.size(); }

  private:
    Loop& loop_;
    int fd_;
    std::string buffer_;
    uint64_t iteration_id_ = 0;
};

// One JSON log line, {"at": NOW, "log": KIND, ...}, written field by field (no Value tree
// per line: eight lines per request). Every line `ferry serve` logs is made here.
class JsonLogLine {
  public:
    explicit JsonLogLine(std::string_view kind);
    void field(std::string_view key, std::string_view text);
    void field(std::string_view key, const char* text) {  // not the bool overload
        field(key, std::string_view(text));
    }
    void field(std::string_view key, int64_t n);
    void field(std::string_view key, double x);
    void field(std::string_view key, bool b);
    // The line's text; the line is complete after this.
    std::string_view finish();

  private:
    void name(std::string_view key);
    rapidjson::StringBuffer buffer_;
    JsonWriter out_;
};

}  // namespace ferry
