// Jinja2's builtin filters, tests and global functions.
//
// Each filter or test is a plain function over Values; it reaches the render in progress
// only through Runtime (to call another filter or test, call a macro, or make an undefined).
// Errors are raised as TemplateError without a location: the renderer adds the place of the
// expression that applied the filter.
#pragma once

#include "template/value.h"

#include <string_view>

namespace ferry::tmpl {

using FilterFn = Value (*)(Runtime& rt, const Value& subject, const Args& args);
using TestFn = bool (*)(Runtime& rt, const Value& subject, const Args& args);

// nullptr when no builtin filter or test has that name.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

// Global functions of Jinja2's default environment: range, dict, lipsum, cycler, joiner,
// namespace. Returns an undefined Value when name is not one of them.
Value find_global(std::string_view name);

// printf-style formatting as Python's `fmt % args` (used by the `format` filter and the
// `%` operator). args is a tuple for several values, a dict for %(name)s, else one value.
// escape_args: fmt is Markup (a safe string), so, as markupsafe's Markup.__mod__, every
// argument is HTML-escaped unless it is safe itself; the caller marks the result safe.
std::string percent_format(std::string_view fmt, const Value& args, bool escape_args = false);

// Python's str.format(*args, **kwargs) (used by the str.format method).
std::string brace_format(Runtime& rt, std::string_view fmt, const Args& args);

// Python's format(value, spec) for one replacement field, e.g. spec ".2f" or ">10".
std::string format_spec(const Value& value, std::string_view spec);

// The `tojson` filter's serialisation: keys sorted, non-ASCII as \uXXXX, and < > & '
// escaped as \u003c \u003e \u0026 \u0027 (Jinja2's htmlsafe_json_dumps). indent as json.dumps.
std::string to_json(const Value& v, std::optional<int> indent);

}  // namespace ferry::tmpl
