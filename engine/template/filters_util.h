// Helpers shared by the builtin filters, tests and globals (filters*.cpp, jinja_tests.cpp,
// globals.cpp). Internal to the engine: templates reach these only through find_filter,
// find_test and find_global.
//
// The helpers reproduce the pieces of Python and Jinja2 the filters are built from:
// make_attrgetter, rich comparison with Undefined, markupsafe's escaping rules, str methods
// that the value model does not provide (splitlines, strip, title case) and Python's own
// character classes (`\w`, `\d`, str.islower) on top of unicode_data.h.
#pragma once

#include "template/builtins.h"
#include "template/value.h"

#include <string>
#include <string_view>
#include <vector>

namespace ferry::tmpl::filter_impl {

// ---- errors --------------------------------------------------------------------------

// jinja2.exceptions.FilterArgumentError is a TemplateRuntimeError.
[[noreturn]] void raise_filter_argument(std::string message);
// "'float' object cannot be interpreted as an integer": an int (or bool) argument, as
// Python's __index__ demands.
int64_t index_arg(const Value& v);
// AttributeError for obj.name; Undefined raises its UndefinedError instead.
[[noreturn]] void raise_no_attribute(const Value& v, std::string_view name);

// ---- strings ---------------------------------------------------------------------------

// markupsafe.soft_str: str(v), keeping a Markup string's safe flag. Raises for a strict
// undefined as str() would.
Value soft_str(const Value& v);
// markupsafe.escape(v): safe strings unchanged, anything else str()'d and escaped.
Value escape_value(const Value& v);
std::string escaped_text(const Value& v);
// True when str.lower() would return s unchanged because it is ASCII without capitals: the
// lower filters then hand back the same string instead of a copy.
inline bool is_ascii_lower(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80 || (c >= 'A' && c <= 'Z')) return false;
    return true;
}

// True when every byte is ASCII: code points are then bytes, and text filters can work on
// the UTF-8 directly instead of decoding to UTF-32 (an allocation and a pass per call).
inline bool is_ascii(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

// A string result that is Markup when `safe`.
inline Value str_result(std::string s, bool safe) {
    return Value::string(std::move(s), safe);
}

// html.unescape (Python's): what striptags and Markup.unescape() apply.
std::u32string html_unescape(const std::u32string& s);

// str.splitlines(keepends): \n \r \r\n \v \f \x1c \x1d \x1e \x85 \u2028 \u2029 end lines.
std::vector<std::u32string> splitlines(std::u32string_view s, bool keepends = false);
bool is_line_break(char32_t c);
// str.strip(chars); chars == nullptr strips whitespace (str.isspace).
std::u32string strip(std::u32string_view s, const std::u32string* chars, bool left = true,
                     bool right = true);
// str.split() with no separator: runs of whitespace separate, ends are dropped.
std::vector<std::u32string> split_whitespace(std::u32string_view s);
// str.replace(old, new, count) by code point (count < 0: all).
std::string replace_all(std::string_view s, std::string_view old, std::string_view repl,
                        int64_t count);
// str.find / rfind over code points, linear in the text: std::u32string_view::find tries
// the needle at every position (a 100,000-character needle in a 200,000-character text
// took 4 s a call; CPython's fastsearch does not). Short needles keep the plain search.
class TextSearch {
  public:
    explicit TextSearch(std::u32string_view needle);
    // The first occurrence at or after from; npos if none.
    size_t find(std::u32string_view hay, size_t from = 0) const;
    // The last occurrence that ends at or before end; npos if none.
    size_t rfind(std::u32string_view hay, size_t end = std::u32string_view::npos) const;

  private:
    std::u32string needle_, reversed_;
    // Knuth-Morris-Pratt failure tables (libstdc++'s boyer_moore_searcher builds its own
    // table in quadratic time for a needle like "aaa...ab": 1.4 s for 100,000 characters).
    std::vector<size_t> fail_, reversed_fail_;
};
// str.capitalize: first character title-cased, the rest lower-cased (full mappings).
std::string capitalize(std::string_view s);
// str.islower / str.isupper.
bool str_islower(std::string_view s);
bool str_isupper(std::string_view s);

// ---- Python's character classes (unicode_data.h, plus the titlecase letters) -----------

bool is_word_char(char32_t c);   // re's \w for str patterns: str.isalnum() or '_'
int decimal_value(char32_t c);   // 0-9 for a Unicode decimal digit (re's \d), else -1
bool is_lower_char(char32_t c);  // Unicode Lowercase, as str.islower sees one character
bool is_upper_char(char32_t c);  // Unicode Uppercase
bool is_titlecase_char(char32_t c);
void append_title(char32_t c, std::string& out);  // str.title() of one character
// html.entities.html5[name] (filters_entities.cpp, generated); nullptr when unknown.
const std::string_view* find_html_entity(std::string_view name);

// ---- numbers ---------------------------------------------------------------------------

// Python's int(s, base) and float(s) over str: surrounding whitespace, any Unicode
// decimal digits, underscores between digits. nullopt where Python raises ValueError.
// int() results beyond 64 bits raise OverflowError (Ferry's ints are 64-bit).
std::optional<int64_t> py_int_from_string(std::string_view s, int64_t base);
std::optional<double> py_float_from_string(std::string_view s);
// Python's float(v): TypeError / ValueError with Python's messages when it would fail.
double py_float(const Value& v);
// int(f) for a float: truncation; OverflowError for inf or beyond 64 bits, ValueError NaN.
int64_t float_to_int(double f);
// Python's round(x, ndigits) for a float (correctly rounded, half-even on the exact value).
double round_float(double x, int64_t ndigits);
// Python's round(i, ndigits) for an int with ndigits < 0 (half-even).
int64_t round_int(int64_t i, int64_t ndigits);

// ---- comparison ------------------------------------------------------------------------

enum class CmpOp { Lt, Le, Gt, Ge };
// Python's `a OP b` for template values: Undefined's comparison operators raise
// UndefinedError; incomparable types raise TypeError naming the operator and both types
// in order; sequences compare item by item.
bool py_compare(const Value& a, const Value& b, CmpOp op);
inline bool py_less(const Value& a, const Value& b) {
    return py_compare(a, b, CmpOp::Lt);
}
// Python's `a + b` for sum(): numbers, and concatenation of lists or tuples.
Value py_add(const Value& a, const Value& b);
// Python's `a % b` as the odd/even/divisibleby tests use it.
Value py_mod(const Value& a, const Value& b);

// ---- attribute getters (jinja2.filters.make_attrgetter) ---------------------------------

// _prepare_attribute_parts: None -> [], "a.0.b" -> ["a", 0, "b"], anything else -> [attr].
std::vector<Value> attribute_parts(const Value& attribute);

struct AttrGetter {
    std::vector<Value> parts;
    Value default_value = Value::none();  // replaces undefined lookups unless None
    bool lower_strings = false;           // postprocess=ignore_case
    Value operator()(Runtime& rt, const Value& item) const;
};
AttrGetter make_attrgetter(const Value& attribute, bool ignore_case = false,
                           Value default_value = Value::none());

// make_multi_attrgetter: "a,b.c" gives one key per comma-separated path.
struct MultiAttrGetter {
    std::vector<std::vector<Value>> paths;
    bool lower_strings = false;
    // The list of the keys, compared as Python compares lists; a single attribute's key
    // bare (no list per item), to be compared with == before < (sorted_order's
    // equal_first), which is how Python compares one-item lists.
    Value operator()(Runtime& rt, const Value& item) const;
    bool single() const { return paths.size() == 1; }
};
MultiAttrGetter make_multi_attrgetter(const Value& attribute, bool ignore_case);

// ignore_case: str.lower() for strings, anything else unchanged.
Value ignore_case(const Value& v);

// sorted(items, key=keys[i], reverse): a stable sort comparing keys with Python's `<`
// (equal_first: keys that are == are not compared with <, as the items of a list).
std::vector<size_t> sorted_order(const std::vector<Value>& keys, bool reverse,
                                 bool equal_first = false);

// The two-item named tuple groupby returns: prints and unpacks as a tuple, and has
// .grouper and .list attributes.
Value make_group_tuple(Value grouper, Value list);
// The group tuple's items when v is one (tojson serialises it as a list).
const std::vector<Value>* group_tuple_items(const Value& v);

// ---- filters (defined in filters*.cpp, registered in filters.cpp) ------------------------

#define FERRY_FILTER(name) Value name(Runtime& rt, const Value& value, const Args& args)
// filters_text.cpp
FERRY_FILTER(f_capitalize);
FERRY_FILTER(f_center);
FERRY_FILTER(f_indent);
FERRY_FILTER(f_lower);
FERRY_FILTER(f_replace);
FERRY_FILTER(f_title);
FERRY_FILTER(f_trim);
FERRY_FILTER(f_truncate);
FERRY_FILTER(f_upper);
FERRY_FILTER(f_wordcount);
FERRY_FILTER(f_wordwrap);
// filters_html.cpp
FERRY_FILTER(f_striptags);
FERRY_FILTER(f_urlencode);
FERRY_FILTER(f_urlize);
FERRY_FILTER(f_xmlattr);
// filters_seq.cpp
FERRY_FILTER(f_batch);
FERRY_FILTER(f_dictsort);
FERRY_FILTER(f_groupby);
FERRY_FILTER(f_join);
FERRY_FILTER(f_map);
FERRY_FILTER(f_max);
FERRY_FILTER(f_min);
FERRY_FILTER(f_reject);
FERRY_FILTER(f_rejectattr);
FERRY_FILTER(f_reverse);
FERRY_FILTER(f_select);
FERRY_FILTER(f_selectattr);
FERRY_FILTER(f_slice);
FERRY_FILTER(f_sort);
FERRY_FILTER(f_sum);
FERRY_FILTER(f_unique);
// filters_json.cpp
FERRY_FILTER(f_pprint);
FERRY_FILTER(f_tojson);
#undef FERRY_FILTER

// pprint.pformat(v) with the default width of 80.
std::string pformat(const Value& v);

}  // namespace ferry::tmpl::filter_impl
