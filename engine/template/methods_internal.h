// Shared by methods.cpp (argument checks, dispatch, int and float methods),
// methods_containers.cpp (dict, list, tuple) and str_methods.cpp: checking a call's arguments
// the way CPython's builtin methods do, so that a misuse raises the same TypeError text.
// Internal to the engine.
//
// CPython's builtins check their arguments in one of a few styles, each with its own wording:
//   no_args     str.upper()          "str.upper() takes no arguments (1 given)"
//   one_arg     str.join(x)          "str.join() takes exactly one argument (0 given)"
//   positional  str.center(w[, f])   "center expected at least 1 argument, got 0"
//   legacy      str.find(s[, a[, b]]) "find() takes at least 1 argument (0 given)"
//   keywords    str.split(sep=, maxsplit=)  "'x' is an invalid keyword argument for split()"
// The first four take no keyword arguments: "str.center() takes no keyword arguments".
#pragma once

#include "template/value.h"

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::tmpl::methods {

// qualname is "str.upper", name is "upper".
void no_args(const Args& args, std::string_view qualname);
const Value& one_arg(const Args& args, std::string_view qualname);
void positional(const Args& args, std::string_view qualname, std::string_view name, size_t min,
                size_t max);
void legacy(const Args& args, std::string_view qualname, std::string_view name, size_t min,
            size_t max);
// Binds positional and keyword arguments to params (the first max_positional of which may be
// given by position); unbound parameters are nullptr.
std::vector<const Value*> keywords(const Args& args, std::string_view name,
                                   std::initializer_list<std::string_view> params,
                                   size_t max_positional);

// An argument that must be an int (Python's __index__): "'str' object cannot be interpreted
// as an integer".
int64_t index_value(const Value& v);
// A slice bound of str.find and friends: an int, or None for the default.
std::optional<int64_t> slice_bound(const Value* v);

// dict, list and tuple methods (methods_containers.cpp).
bool is_dict_method(std::string_view name);
bool is_list_method(std::string_view name);
Value call_dict_method(Runtime& rt, const Value& self, std::string_view name, const Args& args);
Value call_list_method(Runtime& rt, const Value& self, std::string_view name, const Args& args);
Value call_tuple_method(const Value& self, std::string_view name, const Args& args);

// str case mappings and predicates (str_case.cpp): predicate is "isalpha", "istitle"...
std::string do_upper(std::string_view s);
std::string do_lower(std::string_view s);
std::string do_casefold(std::string_view s);
std::string do_swapcase(std::string_view s);
std::string do_title(std::string_view s);
std::string do_capitalize(std::string_view s);
Value predicate(std::string_view name, std::string_view s);

// The str methods (str_methods.cpp). safe is the receiver's Markup flag: Markup has a few
// methods of its own.
bool is_str_method(std::string_view name, bool safe);
Value call_str_method(Runtime& rt, const Value& self, std::string_view name, const Args& args);

}  // namespace ferry::tmpl::methods
