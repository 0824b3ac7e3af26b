// Errors are values: a kind that drives decisions (retry or not), a message for the user,
// and where known the place (FILE:LINE:COL) it came from. ARCHITECTURE.md decision 8.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ferry {

enum class ErrorKind {
    Validation,  // bad input, bad workflow, bad arguments
    Timeout,     // a deadline passed (step timeout, HTTP timeout)
    Http4xx,     // the peer answered 4xx
    Http5xx,     // the peer answered 5xx
    Network,     // connection refused/reset, DNS, TLS
    LuaError,    // a task raised
    Limit,       // instruction budget, memory cap, size caps
    Cancelled,   // shutdown or cancel
    NotFound,    // a record or file that does not exist
    Storage,     // LMDB or disk failure; a corrupt data dir
    Internal,    // a bug in Ferry
};

std::string_view to_string(ErrorKind kind);
std::optional<ErrorKind> error_kind_from_string(std::string_view name);

struct SourceLocation {
    std::string file;
    int line = 0;
    int column = 0;
};

struct Error {
    ErrorKind kind = ErrorKind::Internal;
    std::string message;
    std::optional<SourceLocation> location;

    // "FILE:LINE:COL: message" when a location is known, else "kind: message".
    std::string describe() const;
    // Whether retrying the same operation may succeed (network, timeout, 5xx).
    bool retryable() const;
};

inline Error make_error(ErrorKind kind, std::string message) {
    return Error{kind, std::move(message), std::nullopt};
}
inline Error make_error(ErrorKind kind, std::string message, SourceLocation where) {
    return Error{kind, std::move(message), std::move(where)};
}

// A value or an Error. Deliberately small: ok(), value(), error(), and operator bool.
template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    // By value: `for (auto& x : read().value())` would otherwise iterate a dead temporary.
    T value() && { return std::get<0>(std::move(v_)); }
    const Error& error() const { return std::get<1>(v_); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

  private:
    std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() {
    return Ok{};
}

}  // namespace ferry
