// Python's str methods (Objects/unicodeobject.c), by code point (the case mappings and the
// is* predicates are in str_case.cpp), plus markupsafe's Markup behaviour for a safe
// receiver: the methods Markup wraps escape their string arguments and return Markup (upper,
// replace, strip...), join and format escape what they insert, split and partition return
// Markup pieces, and the rest (casefold, removeprefix...) return str.
#include "template/builtins.h"
#include "template/filters_util.h"
#include "template/format_internal.h"
#include "template/methods_internal.h"

#include <algorithm>

namespace ferry::tmpl {

using namespace methods;
using filter_impl::TextSearch;

namespace {

using U32 = std::u32string;
using U32View = std::u32string_view;

constexpr int64_t kMax = INT64_MAX;

// The methods, with markupsafe 2.1's treatment of each for a Markup receiver.
enum class MarkupRule {
    Plain,    // inherited from str: returns str (or a non-string)
    Wrapped,  // escapes string arguments, returns Markup
    Pieces,   // returns Markup pieces (split, rsplit, splitlines, partition, rpartition)
    Own,      // Markup's own version (join, format) or a Markup-only method
};

struct MethodInfo {
    std::string_view name;
    MarkupRule rule;
    bool markup_only = false;
};

constexpr MethodInfo kMethods[] = {
    {"capitalize", MarkupRule::Wrapped}, {"casefold", MarkupRule::Plain},
    {"center", MarkupRule::Wrapped},     {"count", MarkupRule::Plain},
    {"endswith", MarkupRule::Plain},     {"expandtabs", MarkupRule::Wrapped},
    {"find", MarkupRule::Plain},         {"format", MarkupRule::Own},
    {"format_map", MarkupRule::Plain},   {"index", MarkupRule::Plain},
    {"isalnum", MarkupRule::Plain},      {"isalpha", MarkupRule::Plain},
    {"isascii", MarkupRule::Plain},      {"isdecimal", MarkupRule::Plain},
    {"isdigit", MarkupRule::Plain},      {"isidentifier", MarkupRule::Plain},
    {"islower", MarkupRule::Plain},      {"isnumeric", MarkupRule::Plain},
    {"isprintable", MarkupRule::Plain},  {"isspace", MarkupRule::Plain},
    {"istitle", MarkupRule::Plain},      {"isupper", MarkupRule::Plain},
    {"join", MarkupRule::Own},           {"ljust", MarkupRule::Wrapped},
    {"lower", MarkupRule::Wrapped},      {"lstrip", MarkupRule::Wrapped},
    {"maketrans", MarkupRule::Plain},    {"partition", MarkupRule::Pieces},
    {"removeprefix", MarkupRule::Plain}, {"removesuffix", MarkupRule::Plain},
    {"replace", MarkupRule::Wrapped},    {"rfind", MarkupRule::Plain},
    {"rindex", MarkupRule::Plain},       {"rjust", MarkupRule::Wrapped},
    {"rpartition", MarkupRule::Pieces},  {"rsplit", MarkupRule::Pieces},
    {"rstrip", MarkupRule::Wrapped},     {"split", MarkupRule::Pieces},
    {"splitlines", MarkupRule::Pieces},  {"startswith", MarkupRule::Plain},
    {"strip", MarkupRule::Wrapped},      {"swapcase", MarkupRule::Wrapped},
    {"title", MarkupRule::Wrapped},      {"translate", MarkupRule::Wrapped},
    {"upper", MarkupRule::Wrapped},      {"zfill", MarkupRule::Wrapped},
    {"escape", MarkupRule::Own, true},   {"striptags", MarkupRule::Own, true},
    {"unescape", MarkupRule::Own, true},
};

const MethodInfo* find_method(std::string_view name) {
    for (const auto& m : kMethods)
        if (m.name == name) return &m;
    return nullptr;
}

[[noreturn]] void type_error(std::string message) {
    raise(ErrorKind::Type, std::move(message));
}

std::string tname(const Value& v) {
    return std::string(type_name(v));
}

// "'int'", built without `"'" + std::string`, which trips a false GCC 12 -Wrestrict warning.
std::string quoted_type(const Value& v) {
    std::string out(1, '\'');
    out += type_name(v);
    out += '\'';
    return out;
}

U32 U(std::string_view s) {
    return utf8_decode(s);
}
std::string E(U32View s) {
    return utf8_encode(s);
}

std::string escaped(std::string_view s) {
    std::string out;
    append_html_escaped(s, out);
    return out;
}

// markupsafe.escape(v) as a safe Value.
Value markup_escape(const Value& v) {
    if (v.is_safe()) return v;
    return Value::string(escaped(to_str(v)), true);
}

// ---- searching ----------------------------------------------------------------------------

// Python's ADJUST_INDICES: slice-style start and end, clamped to [0, len].
void adjust_indices(int64_t& start, int64_t& end, int64_t len) {
    if (end > len) {
        end = len;
    } else if (end < 0) {
        end += len;
        if (end < 0) end = 0;
    }
    if (start < 0) {
        start += len;
        if (start < 0) start = 0;
    }
}

const Value& str_arg(const Value& v, std::string_view prefix = "") {
    if (!v.is_string()) type_error(std::string(prefix) + "must be str, not " + tname(v));
    return v;
}

struct Window {
    U32 hay;
    int64_t start = 0, end = kMax;
};

// find/count/index/startswith's (sub, start=None, end=None) with start and end applied.
Window window(std::string_view s, const Args& args) {
    Window w{U(s)};
    const auto& pos = args.positional;
    w.start = slice_bound(pos.size() > 1 ? &pos[1] : nullptr).value_or(0);
    w.end = slice_bound(pos.size() > 2 ? &pos[2] : nullptr).value_or(kMax);
    adjust_indices(w.start, w.end, int64_t(w.hay.size()));
    return w;
}

// str.find/rfind: the code-point index of sub within [start, end), or -1.
int64_t find_in(const Window& w, U32View sub, bool reverse) {
    if (w.end - w.start < int64_t(sub.size())) return -1;
    U32View part = U32View(w.hay).substr(size_t(w.start), size_t(w.end - w.start));
    TextSearch search(sub);
    size_t at = reverse ? search.rfind(part) : search.find(part);
    return at == U32View::npos ? -1 : w.start + int64_t(at);
}

int64_t count_in(const Window& w, U32View sub) {
    if (w.end - w.start < int64_t(sub.size())) return 0;
    if (sub.empty()) return w.end - w.start + 1;
    U32View part = U32View(w.hay).substr(size_t(w.start), size_t(w.end - w.start));
    int64_t n = 0;
    TextSearch search(sub);
    for (size_t at = search.find(part); at != U32View::npos;
         at = search.find(part, at + sub.size()))
        ++n;
    return n;
}

// startswith/endswith of one prefix (Python's tailmatch).
bool tail_match(const Window& w, U32View sub, bool at_end) {
    int64_t end = w.end - int64_t(sub.size());
    if (end < w.start) return false;
    if (sub.empty()) return true;
    size_t at = at_end ? size_t(end) : size_t(w.start);
    return U32View(w.hay).substr(at, sub.size()) == sub;
}

Value starts_or_ends(std::string_view s, std::string_view name, const Args& args) {
    legacy(args, "", name, 1, 3);
    Window w = window(s, args);
    const Value& prefix = args.positional[0];
    bool at_end = name == "endswith";
    if (prefix.is_tuple()) {
        for (const Value& p : prefix.list_obj().items) {
            if (!p.is_string()) {
                type_error("tuple for " + std::string(name) + " must only contain str, not " +
                           tname(p));
            }
            if (tail_match(w, U(p.str()), at_end)) return Value::boolean(true);
        }
        return Value::boolean(false);
    }
    if (!prefix.is_string()) {
        type_error(std::string(name) + " first arg must be str or a tuple of str, not " +
                   tname(prefix));
    }
    return Value::boolean(tail_match(w, U(prefix.str()), at_end));
}

// ---- splitting ----------------------------------------------------------------------------

U32 strip_impl(U32View s, const Value* chars, std::string_view name, bool left, bool right) {
    U32 set;
    bool whitespace = !chars || chars->is_none();
    if (!whitespace) {
        if (!chars->is_string()) type_error(std::string(name) + " arg must be None or str");
        set = U(chars->str());
    }
    auto strippable = [&](char32_t c) {
        return whitespace ? char_is_space(c) : set.find(c) != U32::npos;
    };
    size_t b = 0, e = s.size();
    if (left)
        while (b < e && strippable(s[b]))
            ++b;
    if (right)
        while (e > b && strippable(s[e - 1]))
            --e;
    return U32(s.substr(b, e - b));
}

std::vector<U32> split_impl(U32View s, const Value* sep_arg, int64_t maxsplit, bool reverse) {
    int64_t maxcount = maxsplit < 0 ? kMax : maxsplit;
    std::vector<U32> out;
    if (!sep_arg || sep_arg->is_none()) {
        // Runs of whitespace separate; leading and trailing whitespace gives no empty piece.
        if (!reverse) {
            size_t i = 0, n = s.size();
            while (maxcount-- > 0) {
                while (i < n && char_is_space(s[i]))
                    ++i;
                if (i == n) break;
                size_t j = i++;
                while (i < n && !char_is_space(s[i]))
                    ++i;
                out.emplace_back(s.substr(j, i - j));
            }
            if (i < n) {
                while (i < n && char_is_space(s[i]))
                    ++i;
                if (i != n) out.emplace_back(s.substr(i));
            }
        } else {
            int64_t i = int64_t(s.size()) - 1;
            while (maxcount-- > 0) {
                while (i >= 0 && char_is_space(s[size_t(i)]))
                    --i;
                if (i < 0) break;
                int64_t j = i--;
                while (i >= 0 && !char_is_space(s[size_t(i)]))
                    --i;
                out.emplace_back(s.substr(size_t(i + 1), size_t(j - i)));
            }
            if (i >= 0) {
                while (i >= 0 && char_is_space(s[size_t(i)]))
                    --i;
                if (i >= 0) out.emplace_back(s.substr(0, size_t(i + 1)));
            }
            std::reverse(out.begin(), out.end());
        }
        return out;
    }
    if (!sep_arg->is_string()) type_error("must be str or None, not " + tname(*sep_arg));
    U32 sep = U(sep_arg->str());
    if (sep.empty()) raise(ErrorKind::Value, "empty separator");
    TextSearch search(sep);
    if (!reverse) {
        size_t i = 0;
        while (maxcount-- > 0) {
            size_t at = search.find(s, i);
            if (at == U32View::npos) break;
            out.emplace_back(s.substr(i, at - i));
            i = at + sep.size();
        }
        out.emplace_back(s.substr(i));
    } else {
        size_t end = s.size();
        while (maxcount-- > 0 && end >= sep.size()) {
            size_t at = search.rfind(s, end);
            if (at == U32View::npos) break;
            out.emplace_back(s.substr(at + sep.size(), end - at - sep.size()));
            end = at;
        }
        out.emplace_back(s.substr(0, end));
        std::reverse(out.begin(), out.end());
    }
    return out;
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

std::vector<U32> splitlines_impl(U32View s, bool keepends) {
    std::vector<U32> out;
    size_t i = 0, n = s.size();
    while (i < n) {
        size_t j = i;
        while (i < n && !is_line_break(s[i]))
            ++i;
        size_t eol = i;
        if (i < n) {
            if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
                i += 2;
            else
                ++i;
            if (keepends) eol = i;
        }
        out.emplace_back(s.substr(j, eol - j));
    }
    return out;
}

// ---- padding ------------------------------------------------------------------------------

char32_t fill_char(const Args& args, size_t index) {
    if (args.positional.size() <= index) return ' ';
    const Value& f = args.positional[index];
    if (!f.is_string())
        type_error("The fill character must be a unicode character, not " + tname(f));
    U32 cps = U(f.str());
    if (cps.size() != 1) type_error("The fill character must be exactly one character long");
    return cps[0];
}

std::string pad(std::string_view s, int64_t left, int64_t right, char32_t fill) {
    std::string one, out;
    utf8_append(fill, one);
    for (int64_t i = 0; i < left; ++i)
        out += one;
    out += s;
    for (int64_t i = 0; i < right; ++i)
        out += one;
    return out;
}

std::string justify(std::string_view s, std::string_view qual, std::string_view name,
                    const Args& args) {
    positional(args, qual, name, 1, 2);
    int64_t width = index_value(args.positional[0]);
    char32_t fill = fill_char(args, 1);
    int64_t len = int64_t(utf8_length(s));
    if (len >= width) return std::string(s);
    // Up to 4 bytes a character of fill (saturating: width may be near 2**63).
    check_built_size(uint64_t(width) > kMaxBuiltString ? uint64_t(width) : uint64_t(width) * 4,
                     "str." + std::string(name));
    int64_t marg = width - len;
    if (name == "ljust") return pad(s, 0, marg, fill);
    if (name == "rjust") return pad(s, marg, 0, fill);
    int64_t left = marg / 2 + (marg & width & 1);  // CPython's rounding, quirk included
    return pad(s, left, marg - left, fill);
}

std::string zfill(std::string_view s, std::string_view qual, const Args& args) {
    int64_t width = index_value(one_arg(args, qual));
    int64_t len = int64_t(utf8_length(s));
    if (len >= width) return std::string(s);
    check_built_size(uint64_t(width), "str.zfill");
    std::string out(size_t(width - len), '0');
    out += s;
    size_t fill = size_t(width - len);
    if (out[fill] == '+' || out[fill] == '-') {
        out[0] = out[fill];
        out[fill] = '0';
    }
    return out;
}

std::string expandtabs(std::string_view s, const Args& args) {
    auto bound = keywords(args, "expandtabs", {"tabsize"}, 1);
    int64_t tabsize = bound[0] ? index_value(*bound[0]) : 8;
    U32 out;
    int64_t column = 0;
    for (char32_t c : U(s)) {
        if (c == '\t') {
            if (tabsize > 0) {
                int64_t spaces = tabsize - column % tabsize;
                check_built_size(uint64_t(out.size()) + uint64_t(spaces), "str.expandtabs");
                out.append(size_t(spaces), U' ');
                column += spaces;
            }
        } else {
            out += c;
            ++column;
            if (c == '\n' || c == '\r') column = 0;
        }
    }
    return E(out);
}

// ---- replace, join, translate -------------------------------------------------------------

std::string replace(std::string_view s, std::string_view qual, const Args& args) {
    positional(args, qual, "replace", 2, 3);
    const auto& pos = args.positional;
    for (size_t i = 0; i < 2; ++i) {
        if (!pos[i].is_string()) {
            type_error("replace() argument " + std::to_string(i + 1) + " must be str, not " +
                       tname(pos[i]));
        }
    }
    int64_t count = pos.size() > 2 ? index_value(pos[2]) : -1;
    if (count < 0) count = kMax;
    std::string_view old = pos[0].str(), repl = pos[1].str();
    std::string out;
    if (old.empty()) {
        // An empty pattern matches before every code point and at the end.
        U32 cps = U(s);
        size_t i = 0;
        for (; i <= cps.size() && count > 0; ++i, --count) {
            out += repl;
            check_built_size(out.size(), "str.replace");
            if (i < cps.size()) utf8_append(cps[i], out);
        }
        if (i < cps.size()) out += E(U32View(cps).substr(i));
        return out;
    }
    size_t i = 0;
    while (count-- > 0) {
        size_t at = s.find(old, i);
        if (at == std::string_view::npos) break;
        out.append(s, i, at - i);
        out += repl;
        check_built_size(out.size(), "str.replace");
        i = at + old.size();
    }
    out.append(s, i);
    return out;
}

Value join(const Value& self, const Args& args) {
    const Value& seq = one_arg(args, tname(self) + ".join");
    bool iterable = seq.is_sequence() || seq.is_string() || seq.is_dict() || seq.is_undefined() ||
                    (seq.is_object() && seq.object_obj().is_iterable());
    if (!iterable && !self.is_safe()) type_error("can only join an iterable");
    std::vector<Value> items = iterate(seq);
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += self.str();
        if (self.is_safe()) {
            out += markup_escape(items[i]).str();
        } else if (items[i].is_string()) {
            out += items[i].str();
        } else {
            type_error("sequence item " + std::to_string(i) + ": expected str instance, " +
                       tname(items[i]) + " found");
        }
        check_built_size(out.size(), "str.join");
    }
    return Value::string(std::move(out), self.is_safe());
}

// str.translate(table): table[ord(c)] is a str, an int code point, or None to delete;
// characters the table lacks (LookupError) stay.
std::string translate(Runtime&, std::string_view s, const Value& table) {
    U32 out;
    for (char32_t c : U(s)) {
        Value key = Value::integer(int64_t(c));
        std::optional<Value> mapped;
        if (table.is_dict()) {
            if (const Value* v = table.dict_obj().find(key)) mapped = *v;
        } else if (table.is_sequence()) {
            if (c < table.list_obj().items.size()) mapped = table.list_obj().items[c];
        } else if (table.is_object()) {
            mapped = table.object_obj().getitem(key);
        } else if (table.is_string()) {
            U32 t = U(table.str());
            if (c < t.size()) mapped = Value::string(E(U32View(t).substr(c, 1)));
        } else {
            type_error(quoted_type(table) + " object is not subscriptable");
        }
        if (!mapped) {
            out += c;
        } else if (mapped->is_none()) {
            continue;
        } else if (mapped->is_integral()) {
            int64_t cp = mapped->as_int();
            if (cp < 0 || cp > 0x10ffff)
                raise(ErrorKind::Value, "character mapping must be in range(0x110000)");
            out += char32_t(cp);
        } else if (mapped->is_string()) {
            out += U(mapped->str());
            check_built_size(out.size(), "str.translate");  // code points: at most its bytes
        } else {
            type_error("character mapping must return integer, None or str");
        }
    }
    std::string translated = E(out);
    check_built_size(translated.size(), "str.translate");
    return translated;
}

// str.maketrans(x[, y[, z]]): a static method, callable on any str.
Value maketrans(const Args& args) {
    positional(args, "str.maketrans", "maketrans", 1, 3);
    const auto& pos = args.positional;
    auto table = make_ref<DictObj>();
    if (pos.size() == 1) {
        if (!pos[0].is_dict()) {
            type_error("if you give only one argument to maketrans it must be a dict");
        }
        for (const auto& [k, v] : pos[0].dict_obj().items()) {
            if (k.is_integral()) {
                table->set(Value::integer(k.as_int()), v);
            } else if (k.is_string() && utf8_length(k.str()) == 1) {
                table->set(Value::integer(int64_t(U(k.str())[0])), v);
            } else if (k.is_string()) {
                raise(ErrorKind::Value, "string keys in translate table must be of length 1");
            } else {
                type_error("keys in translate table must be strings or integers");
            }
        }
        return Value::dict(table);
    }
    for (size_t i = 0; i < pos.size(); ++i) {
        if (!pos[i].is_string()) {
            type_error(i == 2 ? "maketrans() argument 3 must be str, not " + tname(pos[i])
                              : "maketrans() argument " + std::to_string(i + 1) +
                                    " must be str, not " + tname(pos[i]));
        }
    }
    U32 x = U(pos[0].str()), y = U(pos[1].str());
    if (x.size() != y.size()) {
        raise(ErrorKind::Value, "the first two maketrans arguments must have equal length");
    }
    for (size_t i = 0; i < x.size(); ++i)
        table->set(Value::integer(int64_t(x[i])), Value::integer(int64_t(y[i])));
    if (pos.size() > 2)
        for (char32_t c : U(pos[2].str()))
            table->set(Value::integer(int64_t(c)), Value::none());
    return Value::dict(table);
}

Value pieces(const std::vector<U32>& parts, bool safe) {
    std::vector<Value> out;
    out.reserve(parts.size());
    for (const U32& p : parts)
        out.push_back(Value::string(E(p), safe));
    return Value::list(std::move(out));
}

Value partition(std::string_view s, const Value& sep, bool reverse, bool safe) {
    if (!sep.is_string()) type_error("must be str, not " + tname(sep));
    std::string_view x = sep.str();
    if (x.empty()) raise(ErrorKind::Value, "empty separator");
    size_t at = reverse ? s.rfind(x) : s.find(x);
    auto str = [&](std::string_view v) { return Value::string(std::string(v), safe); };
    if (at == std::string_view::npos) {
        if (reverse) return Value::tuple({str(""), str(""), str(s)});
        return Value::tuple({str(s), str(""), str("")});
    }
    return Value::tuple({str(s.substr(0, at)), str(x), str(s.substr(at + x.size()))});
}

// ---- dispatch -----------------------------------------------------------------------------

Value call(Runtime& rt, const Value& self, std::string_view name, const Args& args) {
    std::string_view s = self.str();
    bool safe = self.is_safe();
    std::string qual = tname(self) + "." + std::string(name);
    const auto& pos = args.positional;
    auto str = [](std::string v) { return Value::string(std::move(v)); };

    if (name == "upper" || name == "lower" || name == "casefold" || name == "swapcase" ||
        name == "title" || name == "capitalize") {
        no_args(args, qual);
        if (name == "upper") return str(do_upper(s));
        if (name == "lower") return str(do_lower(s));
        if (name == "casefold") return str(do_casefold(s));
        if (name == "swapcase") return str(do_swapcase(s));
        if (name == "title") return str(do_title(s));
        return str(do_capitalize(s));
    }
    if (name.substr(0, 2) == "is") {
        no_args(args, qual);
        return predicate(name, s);
    }
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        positional(args, qual, name, 0, 1);
        return str(E(strip_impl(U(s), pos.empty() ? nullptr : &pos[0], name, name != "rstrip",
                                name != "lstrip")));
    }
    if (name == "split" || name == "rsplit") {
        auto bound = keywords(args, name, {"sep", "maxsplit"}, 2);
        int64_t maxsplit = bound[1] ? index_value(*bound[1]) : -1;
        return pieces(split_impl(U(s), bound[0], maxsplit, name == "rsplit"), safe);
    }
    if (name == "splitlines") {
        auto bound = keywords(args, name, {"keepends"}, 1);
        bool keepends = bound[0] ? index_value(*bound[0]) != 0 : false;
        return pieces(splitlines_impl(U(s), keepends), safe);
    }
    if (name == "startswith" || name == "endswith") return starts_or_ends(s, name, args);
    if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
        legacy(args, qual, name, 1, 3);
        const Value& sub = str_arg(pos[0]);
        int64_t at = find_in(window(s, args), U(sub.str()), name[0] == 'r');
        if (at < 0 && name.find("index") != std::string_view::npos)
            raise(ErrorKind::Value, "substring not found");
        return Value::integer(at);
    }
    if (name == "count") {
        legacy(args, qual, name, 1, 3);
        const Value& sub = str_arg(pos[0]);
        return Value::integer(count_in(window(s, args), U(sub.str())));
    }
    if (name == "replace") return str(replace(s, qual, args));
    if (name == "join") return join(self, args);
    if (name == "center" || name == "ljust" || name == "rjust")
        return str(justify(s, qual, name, args));
    if (name == "zfill") return str(zfill(s, qual, args));
    if (name == "expandtabs") return str(expandtabs(s, args));
    if (name == "partition" || name == "rpartition") {
        const Value& sep = one_arg(args, qual);
        return partition(s, safe ? markup_escape(sep) : sep, name == "rpartition", safe);
    }
    if (name == "removeprefix" || name == "removesuffix") {
        const Value& affix = one_arg(args, qual);
        if (!affix.is_string())
            type_error(std::string(name) + "() argument must be str, not " + tname(affix));
        std::string_view a = affix.str();
        if (name == "removeprefix" && s.substr(0, a.size()) == a) s.remove_prefix(a.size());
        if (name == "removesuffix" && !a.empty() && s.size() >= a.size() &&
            s.substr(s.size() - a.size()) == a)
            s.remove_suffix(a.size());
        return str(std::string(s));
    }
    if (name == "format") {
        return Value::string(fmt::brace_format(rt, s, &pos, &args, nullptr, safe), safe);
    }
    if (name == "format_map") {
        const Value& mapping = one_arg(args, qual);
        return str(fmt::brace_format(rt, s, nullptr, nullptr, &mapping, false));
    }
    if (name == "translate") return str(translate(rt, s, one_arg(args, qual)));
    if (name == "maketrans") return maketrans(args);
    if (name == "escape") return markup_escape(one_arg(args, "Markup.escape"));
    if (name == "unescape") {
        // Markup.unescape(): html.unescape of the text, a plain str again.
        no_args(args, "Markup.unescape");
        return str(utf8_encode(filter_impl::html_unescape(utf8_decode(s))));
    }
    // striptags: Markup.striptags() is what the striptags filter applies to a Markup.
    no_args(args, "Markup.striptags");
    return rt.call_filter("striptags", self, Args{});
}

}  // namespace

namespace methods {

bool is_str_method(std::string_view name, bool safe) {
    const MethodInfo* m = find_method(name);
    return m && (safe || !m->markup_only);
}

Value call_str_method(Runtime& rt, const Value& self, std::string_view name, const Args& args) {
    const MethodInfo* m = find_method(name);
    if (!self.is_safe() || m->rule != MarkupRule::Wrapped) return call(rt, self, name, args);
    // markupsafe's _simple_escaping_wrapper: escape the string arguments, run the str
    // method, mark the result safe.
    Args escaped_args = args;
    for (Value& v : escaped_args.positional)
        if (v.is_string()) v = markup_escape(v);
    for (auto& kv : escaped_args.named)
        if (kv.second.is_string()) kv.second = markup_escape(kv.second);
    Value result = call(rt, self, name, escaped_args);
    return Value::string(std::string(result.str()), true);
}

}  // namespace methods

}  // namespace ferry::tmpl
