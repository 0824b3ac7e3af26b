// The server's own log lines (starting, resuming, a hook or schedule that could not run,
// stopping), in the same JSON line stream as the access and event lines, so that stderr is
// JSON lines only: {"at", "log": "server", "level": "info|warn|error", "message", ...}.
// `message` keeps the sentence a person reads ("listening on http://HOST:PORT ..."); the
// fields a program filters on (execution_id, schedule, hook...) come beside it.
#pragma once

#include "runtime/line_log.h"

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <utility>
#include <variant>

namespace ferry::engine::server {

class ServerLog {
  public:
    using Value = std::variant<std::string_view, int64_t>;
    using Fields = std::initializer_list<std::pair<std::string_view, Value>>;

    explicit ServerLog(LineLog& lines) : lines_(lines) {}

    void info(std::string_view message, Fields fields = {}) { add("info", message, fields); }
    void warn(std::string_view message, Fields fields = {}) { add("warn", message, fields); }
    void error(std::string_view message, Fields fields = {}) { add("error", message, fields); }
    // At a level decided elsewhere (the engine's notices, a task's log level).
    void at(std::string_view level, std::string_view message, Fields fields = {}) {
        add(level, message, fields);
    }
    // Writes what is buffered now: a line a reader waits for (listening), or the last ones.
    void flush() { lines_.flush(); }

  private:
    void add(std::string_view level, std::string_view message, Fields fields);
    LineLog& lines_;
};

}  // namespace ferry::engine::server
