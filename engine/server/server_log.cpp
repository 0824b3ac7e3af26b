#include "server/server_log.h"

namespace ferry::engine::server {

void ServerLog::add(std::string_view level, std::string_view message, Fields fields) {
    JsonLogLine line("server");
    line.field("level", level);
    line.field("message", message);
    for (const auto& [key, value] : fields) {
        if (const auto* text = std::get_if<std::string_view>(&value))
            line.field(key, *text);
        else
            line.field(key, std::get<int64_t>(value));
    }
    lines_.add(line.finish());
}

}  // namespace ferry::engine::server
