// Pieces of Python's number and string formatting shared by format.cpp (the `%` operator and
// str.format) and format_spec.cpp (the format mini-language). Internal to the engine.
#pragma once

#include "template/value.h"

#include <string>
#include <string_view>
#include <vector>

namespace ferry::tmpl::fmt {

// Python's PyOS_double_to_string: code is 'e', 'f', 'g' (or upper case) or 'r' (repr digits,
// precision ignored). alt is the '#' flag, add_dot_0 makes an integral result end in ".0"
// (repr and the spec-less format), no_neg_0 is the 'z' option. Never adds a '+' sign.
std::string double_to_string(double value, char code, int precision, bool alt, bool add_dot_0,
                             bool no_neg_0 = false);

// The decimal digits of an integer-valued double of any magnitude (Python's int(x) printed),
// for %d of a float beyond int64.
std::string integral_double_digits(double truncated);

// int(x) for a float as %d uses it: OverflowError for inf, ValueError for nan.
void check_float_to_int(double value);

// ascii(v): repr(v) with every non-ASCII code point escaped as \xNN, \uNNNN or \UNNNNNNNN
// (ascii_escape does the escaping alone).
std::string to_ascii(const Value& v);
std::string ascii_escape(std::string_view s);

// Python's `int` digits of v in base 2, 8, 10 or 16 (lower case), with a '-' for negatives.
std::string int_digits(int64_t v, int base);

// The code-point length of s and the byte offset of code point n (clamped to s.size()).
size_t cp_offset(std::string_view s, size_t n);

// Python's obj[key] with Python's errors (KeyError 'a', IndexError "list index out of range",
// TypeError "list indices must be integers or slices, not str"), unlike Jinja's get_item,
// which falls back to attributes and gives undefined values.
Value py_getitem(const Value& obj, const Value& key);

// str.format's engine. positional is nullptr for format_map (positional fields are then an
// error); named fields come from named, or from mapping when it is set (format_map). escape
// gives markupsafe's EscapeFormatter: each replacement is HTML-escaped unless it is safe.
std::string brace_format(Runtime& rt, std::string_view fmt, const std::vector<Value>* positional,
                         const Args* named, const Value* mapping, bool escape);

}  // namespace ferry::tmpl::fmt
