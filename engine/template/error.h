// Template errors: a kind, a message and (once known) the place in a template file.
//
// Inside the engine errors travel as a C++ exception (TemplateError) because a failing
// filter can sit many evaluator frames deep; the public API (environment.h) turns them back
// into values at the boundary.
#pragma once

#include <exception>
#include <string>
#include <string_view>

namespace ferry::tmpl {

// Mirrors the Python exception Jinja2 would raise, so messages read the same.
enum class ErrorKind {
    Syntax,        // TemplateSyntaxError
    Undefined,     // UndefinedError
    Type,          // TypeError
    Value,         // ValueError
    Key,           // KeyError
    Index,         // IndexError
    ZeroDivision,  // ZeroDivisionError
    Overflow,      // OverflowError (ints beyond 64 bits, huge repetitions)
    NotFound,      // TemplateNotFound / TemplatesNotFound
    Security,      // a path outside the search path
    Limit,         // recursion depth, include/extends loops, runaway output
    Runtime,       // TemplateRuntimeError and anything else
};

std::string_view to_string(ErrorKind kind);

struct Location {
    std::string file;  // the template name as loaded (relative to the search path)
    int line = 0;      // 1-based; 0 when unknown
    int column = 0;    // 1-based; 0 when unknown
};

class TemplateError : public std::exception {
  public:
    TemplateError(ErrorKind kind, std::string message, Location where = {})
        : kind_(kind), message_(std::move(message)), where_(std::move(where)) {}

    ErrorKind kind() const { return kind_; }
    const std::string& message() const { return message_; }
    const Location& where() const { return where_; }
    bool has_location() const { return where_.line > 0; }
    void set_location(Location where) { where_ = std::move(where); }

    // "FILE:LINE:COL: message" (the form `ferry render` prints).
    std::string describe() const;
    const char* what() const noexcept override { return message_.c_str(); }

  private:
    ErrorKind kind_;
    std::string message_;
    Location where_;
};

[[noreturn]] void raise(ErrorKind kind, std::string message);

}  // namespace ferry::tmpl
