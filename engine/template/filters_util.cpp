// Python and Jinja2 building blocks the builtin filters share (see filters_util.h).
#include "template/filters_util.h"

#include <functional>

#include "template/unicode_data.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace ferry::tmpl::filter_impl {

// ---- errors --------------------------------------------------------------------------

void raise_filter_argument(std::string message) {
    raise(ErrorKind::Runtime, std::move(message));
}

int64_t index_arg(const Value& v) {
    if (v.is_integral()) return v.as_int();
    // No __index__, not even on StrictUndefined (special methods skip __getattr__).
    raise(ErrorKind::Type,
          "'" + std::string(type_name(v)) + "' object cannot be interpreted as an integer");
}

void raise_no_attribute(const Value& v, std::string_view name) {
    if (v.is_undefined()) raise_undefined(v);
    // AttributeError has no kind of its own; TypeError is the nearest.
    raise(ErrorKind::Type, "'" + std::string(type_name(v)) + "' object has no attribute '" +
                               std::string(name) + "'");
}

// ---- strings ---------------------------------------------------------------------------

Value soft_str(const Value& v) {
    if (v.is_string()) return v;
    return Value::string(to_str(v));
}

std::string escaped_text(const Value& v) {
    if (v.is_safe()) return std::string(v.str());
    if (v.is_object() && v.object_obj().html_safe()) return to_str(v);  // its __html__
    std::string out;
    if (v.is_string()) {
        append_html_escaped(v.str(), out);
    } else {
        append_html_escaped(to_str(v), out);
    }
    return out;
}

Value escape_value(const Value& v) {
    if (v.is_safe()) return v;
    return Value::string(escaped_text(v), true);
}

bool is_line_break(char32_t c) {
    switch (c) {
    case '\n':
    case '\r':
    case 0x0b:
    case 0x0c:
    case 0x1c:
    case 0x1d:
    case 0x1e:
    case 0x85:
    case 0x2028:
    case 0x2029: return true;
    default: return false;
    }
}

std::vector<std::u32string> splitlines(std::u32string_view s, bool keepends) {
    std::vector<std::u32string> lines;
    size_t start = 0, i = 0;
    while (i < s.size()) {
        if (!is_line_break(s[i])) {
            ++i;
            continue;
        }
        size_t eol = i + 1;
        if (s[i] == '\r' && eol < s.size() && s[eol] == '\n') ++eol;
        lines.emplace_back(s.substr(start, (keepends ? eol : i) - start));
        start = i = eol;
    }
    if (start < s.size()) lines.emplace_back(s.substr(start));
    return lines;
}

std::u32string strip(std::u32string_view s, const std::u32string* chars, bool left, bool right) {
    auto strippable = [&](char32_t c) {
        return chars ? chars->find(c) != std::u32string::npos : char_is_space(c);
    };
    size_t b = 0, e = s.size();
    if (left)
        while (b < e && strippable(s[b]))
            ++b;
    if (right)
        while (e > b && strippable(s[e - 1]))
            --e;
    return std::u32string(s.substr(b, e - b));
}

namespace {

constexpr size_t kShortNeedle = 16;  // below this the plain search is linear enough

// fail[i]: the length of the longest proper prefix of needle[0..i] that is also its suffix.
std::vector<size_t> kmp_table(std::u32string_view needle) {
    std::vector<size_t> fail(needle.size(), 0);
    for (size_t i = 1, k = 0; i < needle.size(); ++i) {
        while (k > 0 && needle[i] != needle[k])
            k = fail[k - 1];
        if (needle[i] == needle[k]) ++k;
        fail[i] = k;
    }
    return fail;
}

// The offset from first of the needle's first occurrence in [first, last); npos if none.
template <class It>
size_t kmp_search(It first, It last, std::u32string_view needle, const std::vector<size_t>& fail) {
    size_t k = 0, offset = 0;
    for (It it = first; it != last; ++it, ++offset) {
        while (k > 0 && *it != needle[k])
            k = fail[k - 1];
        if (*it == needle[k]) ++k;
        if (k == needle.size()) return offset + 1 - needle.size();
    }
    return std::u32string_view::npos;
}

}  // namespace

TextSearch::TextSearch(std::u32string_view needle)
    : needle_(needle), reversed_(needle.rbegin(), needle.rend()) {
    if (needle_.size() >= kShortNeedle) {
        fail_ = kmp_table(needle_);
        reversed_fail_ = kmp_table(reversed_);
    }
}

size_t TextSearch::find(std::u32string_view hay, size_t from) const {
    if (from > hay.size()) return std::u32string_view::npos;
    if (needle_.size() < kShortNeedle) return hay.find(needle_, from);
    size_t at = kmp_search(hay.begin() + long(from), hay.end(), needle_, fail_);
    return at == std::u32string_view::npos ? at : from + at;
}

size_t TextSearch::rfind(std::u32string_view hay, size_t end) const {
    hay = hay.substr(0, std::min(end, hay.size()));
    if (needle_.size() < kShortNeedle) return hay.rfind(needle_);
    // The first match of the reversed needle in the reversed text is the last match.
    size_t at = kmp_search(hay.rbegin(), hay.rend(), reversed_, reversed_fail_);
    return at == std::u32string_view::npos ? at : hay.size() - at - needle_.size();
}

std::vector<std::u32string> split_whitespace(std::u32string_view s) {
    std::vector<std::u32string> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && char_is_space(s[i]))
            ++i;
        size_t b = i;
        while (i < s.size() && !char_is_space(s[i]))
            ++i;
        if (i > b) out.emplace_back(s.substr(b, i - b));
    }
    return out;
}

std::string replace_all(std::string_view s, std::string_view old, std::string_view repl,
                        int64_t count) {
    std::string out;
    if (count < 0) count = INT64_MAX;
    if (old.empty()) {
        // Python inserts the replacement before every character and at the end.
        std::u32string cps = utf8_decode(s);
        for (char32_t c : cps) {
            if (count > 0) {
                out += repl;
                --count;
                check_built_size(out.size(), "replace");
            }
            utf8_append(c, out);
        }
        if (count > 0) out += repl;
        return out;
    }
    size_t pos = 0;
    while (count > 0) {
        size_t hit = s.find(old, pos);
        if (hit == std::string_view::npos) break;
        out.append(s, pos, hit - pos);
        out += repl;
        check_built_size(out.size(), "replace");
        pos = hit + old.size();
        --count;
    }
    out.append(s, pos);
    return out;
}

// ---- character classes ------------------------------------------------------------------

bool is_word_char(char32_t c) {
    if (c < 0x80) {
        return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
    }
    return uni::is_alpha(c) || uni::is_numeric(c);
}

int decimal_value(char32_t c) {
    return uni::decimal_value(c);
}

bool is_titlecase_char(char32_t c) {
    // Category Lt: the digraphs and the Greek letters with prosgegrammeni.
    return c == 0x1C5 || c == 0x1C8 || c == 0x1CB || c == 0x1F2 || (c >= 0x1F88 && c <= 0x1F8F) ||
           (c >= 0x1F98 && c <= 0x1F9F) || (c >= 0x1FA8 && c <= 0x1FAF) || c == 0x1FBC ||
           c == 0x1FCC || c == 0x1FFC;
}

// glibc agrees with Python's Lowercase/Uppercase properties except on the titlecase letters,
// which it counts as both.
bool is_lower_char(char32_t c) {
    return char_is_lower(c) && !is_titlecase_char(c);
}
bool is_upper_char(char32_t c) {
    return char_is_upper(c) && !is_titlecase_char(c);
}

void append_title(char32_t c, std::string& out) {
    if (const char32_t* t = uni::title_special(c)) {
        for (; *t; ++t)
            utf8_append(*t, out);
        return;
    }
    out += str_upper(utf8_encode(std::u32string_view(&c, 1)));
}

std::string capitalize(std::string_view s) {
    std::u32string cps = utf8_decode(s);
    if (cps.empty()) return {};
    std::string out;
    append_title(cps[0], out);
    out += str_lower(utf8_encode(std::u32string_view(cps).substr(1)));
    return out;
}

bool str_islower(std::string_view s) {
    bool cased = false;
    for (char32_t c : utf8_decode(s)) {
        if (is_upper_char(c) || is_titlecase_char(c)) return false;
        if (is_lower_char(c)) cased = true;
    }
    return cased;
}

bool str_isupper(std::string_view s) {
    bool cased = false;
    for (char32_t c : utf8_decode(s)) {
        if (is_lower_char(c) || is_titlecase_char(c)) return false;
        if (is_upper_char(c)) cased = true;
    }
    return cased;
}

// ---- comparison ------------------------------------------------------------------------

namespace {

std::string_view op_text(CmpOp op) {
    switch (op) {
    case CmpOp::Lt: return "<";
    case CmpOp::Le: return "<=";
    case CmpOp::Gt: return ">";
    case CmpOp::Ge: return ">=";
    }
    return "<";
}

}  // namespace

bool py_compare(const Value& a, const Value& b, CmpOp op) {
    // Undefined (lenient too) fails on every ordering operator.
    if (a.is_undefined()) raise_undefined(a);
    if (b.is_undefined()) raise_undefined(b);
    bool comparable = (a.is_number() && b.is_number()) || (a.is_string() && b.is_string());
    if (a.is_sequence() && a.kind() == b.kind()) {
        const auto& x = a.list_obj().items;
        const auto& y = b.list_obj().items;
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!equals(x[i], y[i])) return py_compare(x[i], y[i], op);
        }
        switch (op) {
        case CmpOp::Lt: return x.size() < y.size();
        case CmpOp::Le: return x.size() <= y.size();
        case CmpOp::Gt: return x.size() > y.size();
        case CmpOp::Ge: return x.size() >= y.size();
        }
    }
    if (!comparable) {
        raise(ErrorKind::Type,
              "'" + std::string(op_text(op)) + "' not supported between instances of '" +
                  std::string(type_name(a)) + "' and '" + std::string(type_name(b)) + "'");
    }
    switch (op) {
    case CmpOp::Lt: return less_than(a, b);
    case CmpOp::Le: return less_than(a, b) || equals(a, b);
    case CmpOp::Gt: return less_than(b, a);
    case CmpOp::Ge: return less_than(b, a) || equals(a, b);
    }
    return false;
}

Value py_add(const Value& a, const Value& b) {
    if (a.is_undefined()) raise_undefined(a);
    if (b.is_undefined()) raise_undefined(b);
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return Value::floating(a.as_float() + b.as_float());
        return Value::integer(checked_add(a.as_int(), b.as_int()));
    }
    if ((a.is_list() && b.is_list()) || (a.is_tuple() && b.is_tuple())) {
        std::vector<Value> out = a.list_obj().items;
        const auto& more = b.list_obj().items;
        out.insert(out.end(), more.begin(), more.end());
        return a.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
    if (a.is_string() && b.is_string())
        return Value::string(std::string(a.str()) + std::string(b.str()));
    if (a.is_string() || a.is_sequence()) {
        raise(ErrorKind::Type, "can only concatenate " + std::string(type_name(a)) + " (not \"" +
                                   std::string(type_name(b)) + "\") to " +
                                   std::string(type_name(a)));
    }
    raise(ErrorKind::Type, "unsupported operand type(s) for +: '" + std::string(type_name(a)) +
                               "' and '" + std::string(type_name(b)) + "'");
}

Value py_mod(const Value& a, const Value& b) {
    if (a.is_undefined()) raise_undefined(a);
    if (a.is_string()) return Value::string(percent_format(a.str(), b, a.is_safe()), a.is_safe());
    if (b.is_undefined()) raise_undefined(b);
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) {
            if (b.as_float() == 0.0) raise(ErrorKind::ZeroDivision, "float modulo");
            return Value::floating(float_mod(a.as_float(), b.as_float()));
        }
        if (b.as_int() == 0) raise(ErrorKind::ZeroDivision, "integer modulo by zero");
        return Value::integer(floor_mod(a.as_int(), b.as_int()));
    }
    raise(ErrorKind::Type, "unsupported operand type(s) for %: '" + std::string(type_name(a)) +
                               "' and '" + std::string(type_name(b)) + "'");
}

// ---- attribute getters -------------------------------------------------------------------

namespace {

std::vector<Value> path_parts(std::string_view attr) {
    std::vector<Value> parts;
    size_t start = 0;
    while (true) {
        size_t dot = attr.find('.', start);
        std::string_view part =
            attr.substr(start, dot == std::string_view::npos ? dot : dot - start);
        // `int(x) if x.isdigit() else x`: "0" indexes a list, "name" looks up a key.
        std::u32string cps = utf8_decode(part);
        bool digits = !cps.empty() && std::all_of(cps.begin(), cps.end(),
                                                  [](char32_t c) { return decimal_value(c) >= 0; });
        std::optional<int64_t> index;
        if (digits) index = py_int_from_string(part, 10);
        parts.push_back(index ? Value::integer(*index) : Value::string(std::string(part)));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return parts;
}

}  // namespace

std::vector<Value> attribute_parts(const Value& attribute) {
    if (attribute.is_none()) return {};
    if (attribute.is_string()) return path_parts(attribute.str());
    return {attribute};
}

Value ignore_case(const Value& v) {
    if (v.is_string() && !is_ascii_lower(v.str()))
        return Value::string(str_lower(v.str()), v.is_safe());
    return v;
}

Value AttrGetter::operator()(Runtime& rt, const Value& item) const {
    Value v = item;
    for (const Value& part : parts) {
        v = get_item(rt, v, part);
        if (!default_value.is_none() && v.is_undefined()) v = default_value;
    }
    return lower_strings ? ignore_case(v) : v;
}

AttrGetter make_attrgetter(const Value& attribute, bool lower, Value default_value) {
    AttrGetter g;
    g.parts = attribute_parts(attribute);
    g.lower_strings = lower;
    g.default_value = std::move(default_value);
    return g;
}

// Always a list, as Jinja2's make_multi_attrgetter returns: lists compare item by item
// with == before <, so equal keys are never ordered with < (items whose `due` is null on
// every one sort as they came; bare keys raised "'<' not supported between NoneType").
Value MultiAttrGetter::operator()(Runtime& rt, const Value& item) const {
    if (single()) {  // a list per item was most of a sort's allocations
        Value v = item;
        for (const Value& part : paths[0])
            v = get_item(rt, v, part);
        return lower_strings ? ignore_case(v) : v;
    }
    std::vector<Value> keys;
    keys.reserve(paths.size());
    for (const auto& parts : paths) {
        Value v = item;
        for (const Value& part : parts)
            v = get_item(rt, v, part);
        keys.push_back(lower_strings ? ignore_case(v) : v);
    }
    return Value::list(std::move(keys));
}

MultiAttrGetter make_multi_attrgetter(const Value& attribute, bool lower) {
    MultiAttrGetter g;
    g.lower_strings = lower;
    if (attribute.is_string()) {
        std::string_view s = attribute.str();
        size_t start = 0;
        while (true) {
            size_t comma = s.find(',', start);
            std::string_view piece =
                s.substr(start, comma == std::string_view::npos ? comma : comma - start);
            g.paths.push_back(path_parts(piece));
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
    } else {
        g.paths.push_back(attribute_parts(attribute));
    }
    return g;
}

std::vector<size_t> sorted_order(const std::vector<Value>& keys, bool reverse, bool equal_first) {
    std::vector<size_t> order(keys.size());
    std::iota(order.begin(), order.end(), size_t(0));
    auto less = [equal_first](const Value& a, const Value& b) {
        return !(equal_first && equals(a, b)) && py_less(a, b);
    };
    // Python's sorted(reverse=True) keeps equal items in their original order too, which a
    // stable sort on the mirrored comparison gives.
    auto before = [&](size_t x, size_t y) {
        return reverse ? less(keys[y], keys[x]) : less(keys[x], keys[y]);
    };
    if (order.size() <= 16) {
        // Insertion sort, stable too: std::stable_sort allocates a buffer even for the few
        // items a template usually sorts.
        for (size_t i = 1; i < order.size(); ++i) {
            size_t moving = order[i], j = i;
            for (; j > 0 && before(moving, order[j - 1]); --j)
                order[j] = order[j - 1];
            order[j] = moving;
        }
        return order;
    }
    std::stable_sort(order.begin(), order.end(), before);
    return order;
}

// ---- groupby's named tuple ---------------------------------------------------------------

namespace {

struct GroupTuple final : Object {
    std::vector<Value> items;  // grouper, list
    GroupTuple(Value g, Value l) : items{std::move(g), std::move(l)} {}
    void report_held(HeldVisitor& visitor) const override {
        for (const Value& v : items)
            visitor.held(v);
    }

    std::string_view type_name() const override { return "_GroupTuple"; }
    const std::vector<Value>* tuple_items() const override { return &items; }
    void repr(std::string& out) const override {
        // _GroupTuple.__repr__ is tuple.__repr__.
        out += '(';
        append_repr(items[0], out);
        out += ", ";
        append_repr(items[1], out);
        out += ')';
    }
    std::optional<Value> getattr(std::string_view name) const override {
        if (name == "grouper") return items[0];
        if (name == "list") return items[1];
        return std::nullopt;
    }
    std::optional<Value> getitem(const Value& key) const override {
        if (!key.is_integral()) return std::nullopt;
        int64_t i = key.as_int();
        if (i < 0) i += 2;
        if (i < 0 || i > 1) return std::nullopt;
        return items[size_t(i)];
    }
    bool is_iterable() const override { return true; }
    std::vector<Value> iterate() const override { return items; }
    std::optional<size_t> length() const override { return 2; }
    bool contains(const Value& item) const override {
        return tmpl::equals(items[0], item) || tmpl::equals(items[1], item);
    }
    bool equals(const Object& other) const override {
        const auto* g = dynamic_cast<const GroupTuple*>(&other);
        return g && tmpl::equals(items[0], g->items[0]) && tmpl::equals(items[1], g->items[1]);
    }
};

}  // namespace

Value make_group_tuple(Value grouper, Value list) {
    return Value::object(make_ref<GroupTuple>(std::move(grouper), std::move(list)));
}

const std::vector<Value>* group_tuple_items(const Value& v) {
    return v.is_object() ? v.object_obj().tuple_items() : nullptr;
}

}  // namespace ferry::tmpl::filter_impl
