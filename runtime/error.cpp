#include "runtime/error.h"

namespace ferry {

namespace {
constexpr std::pair<ErrorKind, std::string_view> kNames[] = {
    {ErrorKind::Validation, "validation"}, {ErrorKind::Timeout, "timeout"},
    {ErrorKind::Http4xx, "http_4xx"},      {ErrorKind::Http5xx, "http_5xx"},
    {ErrorKind::Network, "network"},       {ErrorKind::LuaError, "lua_error"},
    {ErrorKind::Limit, "limit"},           {ErrorKind::Cancelled, "cancelled"},
    {ErrorKind::NotFound, "not_found"},    {ErrorKind::Storage, "storage"},
    {ErrorKind::Internal, "internal"},
};
}  // namespace

std::string_view to_string(ErrorKind kind) {
    for (const auto& [k, name] : kNames)
        if (k == kind) return name;
    return "internal";
}

std::optional<ErrorKind> error_kind_from_string(std::string_view name) {
    for (const auto& [k, n] : kNames)
        if (n == name) return k;
    // ctx.http's refusal by an open circuit breaker: nothing was sent; a later retry may pass.
    if (name == "circuit_open") return ErrorKind::Network;
    return std::nullopt;
}

std::string Error::describe() const {
    if (location && !location->file.empty()) {
        std::string out = location->file;
        if (location->line > 0) {
            out += ':' + std::to_string(location->line);
            if (location->column > 0) out += ':' + std::to_string(location->column);
        }
        return out + ": " + message;
    }
    return std::string(to_string(kind)) + ": " + message;
}

bool Error::retryable() const {
    return kind == ErrorKind::Network || kind == ErrorKind::Timeout || kind == ErrorKind::Http5xx;
}

}  // namespace ferry
