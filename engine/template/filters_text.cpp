// Builtin filters over text: case, padding, trimming, replacing, truncation, wrapping
// (Python's textwrap), word counts and indentation. The HTML- and URL-shaped ones are in
// filters_html.cpp.
//
// Lengths and positions count code points, as Python's str does. A Markup (safe) subject
// stays Markup where markupsafe's str methods would keep it (upper, center, strip,
// indent, truncate...) and becomes plain text where Jinja2 builds a new str (title,
// replace, wordwrap, striptags).
#include "template/filters_util.h"

#include <algorithm>

namespace ferry::tmpl::filter_impl {

namespace {

std::u32string u32(const Value& s) {
    return utf8_decode(s.str());
}
std::string u8(std::u32string_view s) {
    return utf8_encode(s);
}

// f_title for ASCII text, byte by byte: ASCII case mapping is a-z <-> A-Z only.
std::string title_ascii(std::string_view s) {
    std::string out(s);
    bool word_start = true;
    for (char& c : out) {
        if (c == '-' || c == '(' || c == '{' || c == '[' || c == '<' ||
            char_is_space(char32_t(c))) {
            word_start = true;
            continue;
        }
        if (word_start && c >= 'a' && c <= 'z')
            c = char(c - 'a' + 'A');
        else if (!word_start && c >= 'A' && c <= 'Z')
            c = char(c - 'A' + 'a');
        word_start = false;
    }
    return out;
}

}  // namespace

// ---- case ------------------------------------------------------------------------------

Value f_upper(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_upper", args, {});
    Value s = soft_str(value);
    return str_result(str_upper(s.str()), s.is_safe());
}

Value f_lower(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_lower", args, {});
    Value s = soft_str(value);
    if (is_ascii_lower(s.str())) return s;  // nothing to change: no copy
    return str_result(str_lower(s.str()), s.is_safe());
}

Value f_capitalize(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_capitalize", args, {});
    Value s = soft_str(value);
    return str_result(capitalize(s.str()), s.is_safe());
}

Value f_title(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_title", args, {});
    Value s = soft_str(value);
    // "".join(item[0].upper() + item[1:].lower() for item in re.split(r"([-\s({\[<]+)", s)):
    // every run between separators gets an upper-cased first character.
    auto separator = [](char32_t c) {
        return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || char_is_space(c);
    };
    if (is_ascii(s.str())) return Value::string(title_ascii(s.str()));
    std::u32string cps = u32(s);
    std::string out;
    size_t i = 0;
    while (i < cps.size()) {
        if (separator(cps[i])) {
            utf8_append(cps[i++], out);
            continue;
        }
        size_t end = i;
        while (end < cps.size() && !separator(cps[end]))
            ++end;
        out += str_upper(u8(std::u32string_view(cps).substr(i, 1)));
        out += str_lower(u8(std::u32string_view(cps).substr(i + 1, end - i - 1)));
        i = end;
    }
    return Value::string(std::move(out));
}

// ---- padding, trimming, replacing --------------------------------------------------------

Value f_center(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_center", args, {"width"});
    Value s = soft_str(value);
    int64_t width = index_arg(r.get_or(0, Value::integer(80)));
    int64_t len = int64_t(utf8_length(s.str()));
    if (width <= len) return s;  // before subtracting: width may be -2**63
    int64_t marg = width - len;
    check_built_size(uint64_t(width), "center");
    // CPython's str.center: the odd space goes left only when width is odd.
    int64_t left = marg / 2 + (marg & width & 1);
    std::string out(size_t(left), ' ');
    out += s.str();
    out.append(size_t(marg - left), ' ');
    return str_result(std::move(out), s.is_safe());
}

namespace {

// One code point at s[i] (len set to its byte count); invalid bytes read as U+FFFD.
char32_t decode_at(std::string_view s, size_t i, size_t& len) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if (i + len > s.size()) len = s.size() - i;
    if (len == 1) return c < 0x80 ? c : U'\uFFFD';
    std::u32string cp = utf8_decode(s.substr(i, len));
    return cp.empty() ? U'\uFFFD' : cp[0];
}

// str.strip() with no argument, over UTF-8 bytes: only the ends are decoded.
// A printable ASCII byte other than space: never whitespace, never part of a multi-byte
// character.
bool solid_ascii(char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
}

std::string_view strip_space(std::string_view s) {
    // Most strings a template trims start and end with such a byte: nothing to decode.
    if (s.empty() || (solid_ascii(s.front()) && solid_ascii(s.back()))) return s;
    size_t b = 0, e = s.size(), len = 0;
    while (b < e && char_is_space(decode_at(s, b, len)))
        b += len;
    while (e > b) {
        size_t k = e - 1;
        while (k > b && (static_cast<unsigned char>(s[k]) & 0xc0) == 0x80)
            --k;
        if (!char_is_space(decode_at(s, k, len))) break;
        e = k;
    }
    return s.substr(b, e - b);
}

}  // namespace

Value f_trim(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_trim", args, {"chars"});
    const Value* chars = r.get(0);
    if (value.is_string() && (!chars || chars->is_none())) {
        // The common case: no decoding, and no copy when there is nothing to strip.
        std::string_view t = strip_space(value.str());
        if (t.size() == value.str().size()) return value;
        return Value::string(std::string(t), value.is_safe());
    }
    if (value.is_string() && !value.is_safe() && chars && chars->is_string()) {
        // ASCII strip characters can be matched byte by byte: no UTF-8 lead or
        // continuation byte is ASCII.
        std::string_view set = chars->str(), t = value.str();
        bool ascii = true;
        for (char c : set)
            ascii = ascii && static_cast<unsigned char>(c) < 0x80;
        if (ascii) {
            size_t b = 0, e = t.size();
            while (b < e && set.find(t[b]) != std::string_view::npos)
                ++b;
            while (e > b && set.find(t[e - 1]) != std::string_view::npos)
                --e;
            if (b == 0 && e == t.size()) return value;
            return Value::string(std::string(t.substr(b, e - b)));
        }
    }
    Value s = soft_str(value);
    std::u32string set;
    if (chars && !chars->is_none()) {
        if (!chars->is_string()) raise(ErrorKind::Type, "strip arg must be None or str");
        // Markup.strip escapes its argument.
        set = utf8_decode(s.is_safe() ? escaped_text(*chars) : std::string(chars->str()));
    }
    bool whitespace = !chars || chars->is_none();
    return str_result(u8(strip(u32(s), whitespace ? nullptr : &set)), s.is_safe());
}

Value f_replace(Runtime& rt, const Value& value, const Args& args) {
    bool autoescape = rt.eval_autoescape();
    // The usual replace('a', 'b') on plain text with nothing to replace: the same string,
    // before binding arguments by name (~100 replace calls a render of a ticket template).
    if (!autoescape && args.named.empty() && args.positional.size() == 2 && value.is_string() &&
        !value.is_safe() && args.positional[0].is_string() && args.positional[1].is_string()) {
        std::string_view old = args.positional[0].str();
        if (!old.empty() && value.str().find(old) == std::string_view::npos) return value;
    }
    ArgReader r("do_replace", args, {"old", "new", "count"});
    const Value& old = r.required(0);
    const Value& repl = r.required(1);
    const Value* count = r.get(2);
    int64_t n = (!count || count->is_none()) ? -1 : index_arg(*count);
    if (autoescape) {
        // Jinja2's do_replace under autoescape: a Markup `old` (or a Markup `new` into plain
        // text) escapes the subject first; Markup.replace then escapes plain arguments, and
        // the result stays Markup. Plain text with plain arguments is replaced as text.
        bool markup = old.is_safe() || (repl.is_safe() && !value.is_safe()) || value.is_safe();
        if (markup) {
            return Value::string(
                replace_all(escaped_text(value), escaped_text(old), escaped_text(repl), n), true);
        }
    }
    // Without autoescape Jinja2 works on str(s): the result is plain text.
    if (value.is_string() && old.is_string() && repl.is_string()) {
        // Nothing to replace: the same (plain) string, without copying it.
        if (!value.is_safe() && !old.str().empty() &&
            value.str().find(old.str()) == std::string_view::npos)
            return value;
        return Value::string(replace_all(value.str(), old.str(), repl.str(), n));
    }
    return Value::string(replace_all(to_str(value), to_str(old), to_str(repl), n));
}

// ---- truncate ------------------------------------------------------------------------

constexpr int64_t kTruncateLeeway = 5;  // Jinja2's policies["truncate.leeway"]

Value f_truncate(Runtime&, const Value& value, const Args& args) {
    // The usual truncate(N) of a string already short enough: its bytes bound its characters,
    // so it is returned before the arguments are bound (a ticket's table cells are ~1k
    // instructions each otherwise).
    if (args.named.empty() && args.positional.size() == 1 && args.positional[0].is_int() &&
        value.is_string() && args.positional[0].as_int() >= 3 &&
        int64_t(value.str().size()) - kTruncateLeeway <= args.positional[0].as_int())
        return value;
    ArgReader r("do_truncate", args, {"length", "killwords", "end", "leeway"});
    Value length = r.get_or(0, Value::integer(255));
    bool killwords = r.get(1) && truthy(*r.get(1));
    Value end = r.get_or(2, Value::string("..."));
    Value leeway = r.get_or(3, Value::none());
    if (leeway.is_none()) leeway = Value::integer(kTruncateLeeway);
    if (!end.is_string()) {
        raise(ErrorKind::Type, "object of type '" + std::string(type_name(end)) + "' has no len()");
    }
    // `assert length >= len(end)`: Undefined's comparisons fail.
    if (length.is_undefined()) raise_undefined(length);
    if (leeway.is_undefined()) raise_undefined(leeway);
    if (!length.is_number() || !leeway.is_number()) {
        raise(ErrorKind::Type, "'<' not supported between instances of '" +
                                   std::string(type_name(length)) + "' and 'int'");
    }
    int64_t end_len = int64_t(utf8_length(end.str()));
    if (length.as_float() < double(end_len)) {
        raise(ErrorKind::Runtime,
              "expected length >= " + std::to_string(end_len) + ", got " + to_str(length));
    }
    if (leeway.as_float() < 0) {
        raise(ErrorKind::Runtime, "expected leeway >= 0, got " + to_str(leeway));
    }
    auto n = tmpl::length(value);
    if (!n || !(value.is_string() || value.is_undefined())) {
        if (!n) {
            raise(ErrorKind::Type,
                  "object of type '" + std::string(type_name(value)) + "' has no len()");
        }
    }
    if (double(*n) <= length.as_float() + leeway.as_float()) return value;
    if (!value.is_string()) raise_no_attribute(value, "rsplit");
    if (!length.is_integral()) {
        raise(ErrorKind::Type,
              "slice indices must be integers or None or have an __index__ method");
    }
    int64_t cut = length.as_int() - end_len;
    if (is_ascii(value.str())) {  // code points are bytes: cut the UTF-8 directly
        std::string_view head = value.str().substr(0, size_t(std::max<int64_t>(cut, 0)));
        if (!killwords) {
            size_t space = head.rfind(' ');
            if (space != std::string_view::npos) head = head.substr(0, space);
        }
        return markup_concat(head, value.is_safe(), end.str(), end.is_safe());
    }
    std::u32string s = u32(value);
    std::u32string head = s.substr(0, size_t(std::max<int64_t>(cut, 0)));
    if (!killwords) {
        // s[:cut].rsplit(" ", 1)[0]
        size_t space = head.rfind(U' ');
        if (space != std::u32string::npos) head.resize(space);
    }
    return markup_concat(u8(head), value.is_safe(), end.str(), end.is_safe());
}

// ---- wordwrap: Python's textwrap.TextWrapper -------------------------------------------

namespace {

// textwrap hard-codes ASCII whitespace so that U+00A0 stays a non-breaking space.
bool tw_space(char32_t c) {
    return c == '\t' || c == '\n' || c == 0x0b || c == 0x0c || c == '\r' || c == ' ';
}
bool tw_letter(char32_t c) {
    return is_word_char(c) && decimal_value(c) < 0;
}  // [^\d\W]
bool tw_word_punct(char32_t c) {  // [\w!"'&.,?]
    return is_word_char(c) || c == '!' || c == '"' || c == '\'' || c == '&' || c == '.' ||
           c == ',' || c == '?';
}

// At s[i]: two or more hyphens followed by a word character (an em-dash between words).
bool tw_em_dash_at(const std::u32string& s, size_t i) {
    size_t k = i;
    while (k < s.size() && s[k] == '-')
        ++k;
    return k - i >= 2 && k < s.size() && is_word_char(s[k]);
}

// TextWrapper.wordsep_re.split(text), empty chunks dropped. The regex is
//   ( ws+
//   | (?<=wp) -{2,} (?=\w)
//   | nws+? ( -(?: (?<=lt{2}-) | (?<=lt-lt-)) (?= lt -? lt)   # a hyphenated word
//           | (?=ws|\Z)                                       # the end of a word
//           | (?<=wp) (?=-{2,}\w) ) )                         # before an em-dash
// and every position of the text starts a match, so the chunks tile it.
std::vector<std::u32string> tw_split_hyphens(const std::u32string& s) {
    std::vector<std::u32string> chunks;
    size_t n = s.size();
    auto letter = [&](size_t i) { return i < n && tw_letter(s[i]); };
    size_t p = 0;
    while (p < n) {
        size_t end;
        if (tw_space(s[p])) {
            end = p;
            while (end < n && tw_space(s[end]))
                ++end;
        } else if (p > 0 && tw_word_punct(s[p - 1]) && tw_em_dash_at(s, p)) {
            end = p;
            while (s[end] == '-')
                ++end;
        } else {
            size_t e = p + 1;
            while (true) {
                if (e < n && s[e] == '-' &&
                    ((e >= 2 && letter(e - 2) && letter(e - 1)) ||
                     (e >= 3 && letter(e - 3) && s[e - 2] == '-' && letter(e - 1))) &&
                    letter(e + 1) &&
                    (letter(e + 2) || (e + 2 < n && s[e + 2] == '-' && letter(e + 3)))) {
                    end = e + 1;
                    break;
                }
                if (e == n || tw_space(s[e])) {
                    end = e;
                    break;
                }
                if (tw_word_punct(s[e - 1]) && tw_em_dash_at(s, e)) {
                    end = e;
                    break;
                }
                ++e;
            }
        }
        chunks.push_back(s.substr(p, end - p));
        p = end;
    }
    return chunks;
}

// TextWrapper.wordsep_simple_re: runs of whitespace and runs of anything else.
std::vector<std::u32string> tw_split_simple(const std::u32string& s) {
    std::vector<std::u32string> chunks;
    size_t p = 0;
    while (p < s.size()) {
        bool space = tw_space(s[p]);
        size_t end = p;
        while (end < s.size() && tw_space(s[end]) == space)
            ++end;
        chunks.push_back(s.substr(p, end - p));
        p = end;
    }
    return chunks;
}

bool blank(std::u32string_view chunk) {
    return std::all_of(chunk.begin(), chunk.end(), char_is_space);  // chunk.strip() == ''
}

// Python's TextWrapper._wrap_chunks, over chunks kept in reverse (the next one last). A
// long word is cut a line at a time; what was cut off it is skipped by an offset, where
// textwrap copies the rest of the word at every cut (quadratic: a 2 MB word took tens of
// seconds, and a render's deadline is not checked inside a filter).
struct Wrapper {
    int64_t width;
    bool break_long_words;
    bool break_on_hyphens;  // truthiness, for long words

    struct Chunks {
        std::vector<std::u32string> reversed;
        size_t skip = 0;  // of reversed.back(): what was cut off it already
        bool empty() const { return reversed.empty(); }
        std::u32string_view next() const {
            return std::u32string_view(reversed.back()).substr(skip);
        }
        std::u32string take() {
            std::u32string out = skip ? std::u32string(next()) : std::move(reversed.back());
            reversed.pop_back();
            skip = 0;
            return out;
        }
        void drop() {
            reversed.pop_back();
            skip = 0;
        }
    };

    void handle_long_word(Chunks& chunks, std::vector<std::u32string>& line,
                          int64_t cur_len) const {
        int64_t space_left = width < 1 ? 1 : width - cur_len;
        if (break_long_words) {
            int64_t end = space_left;
            std::u32string_view chunk = chunks.next();
            if (break_on_hyphens && int64_t(chunk.size()) > space_left) {
                // Break after the last hyphen that has something other than hyphens before it.
                size_t limit = size_t(std::max<int64_t>(space_left, 0));
                std::u32string_view head = chunk.substr(0, limit);
                size_t hyphen = head.rfind(U'-');
                if (hyphen != std::u32string_view::npos && hyphen > 0 &&
                    head.substr(0, hyphen).find_first_not_of(U'-') != std::u32string_view::npos) {
                    end = int64_t(hyphen) + 1;
                }
            }
            size_t cut = size_t(std::clamp<int64_t>(end, 0, int64_t(chunk.size())));
            line.emplace_back(chunk.substr(0, cut));
            chunks.skip += cut;  // an empty rest stays, as textwrap leaves chunks[-1] = ''
        } else if (line.empty()) {
            line.push_back(chunks.take());
        }
    }

    std::vector<std::u32string> wrap_chunks(std::vector<std::u32string> pieces) const {
        std::vector<std::u32string> lines;
        std::reverse(pieces.begin(), pieces.end());
        Chunks chunks{std::move(pieces)};
        while (!chunks.empty()) {
            std::vector<std::u32string> line;
            int64_t cur_len = 0;
            if (blank(chunks.next()) && !lines.empty()) chunks.drop();
            while (!chunks.empty()) {
                int64_t l = int64_t(chunks.next().size());
                if (cur_len + l > width) break;
                line.push_back(chunks.take());
                cur_len += l;
            }
            if (!chunks.empty() && int64_t(chunks.next().size()) > width) {
                handle_long_word(chunks, line, cur_len);
                cur_len = 0;
                for (const auto& c : line)
                    cur_len += int64_t(c.size());
            }
            if (!line.empty() && blank(line.back())) {
                cur_len -= int64_t(line.back().size());
                line.pop_back();
            }
            if (!line.empty()) {
                std::u32string joined;
                for (const auto& c : line)
                    joined += c;
                lines.push_back(std::move(joined));
            }
        }
        return lines;
    }
};

}  // namespace

Value f_wordwrap(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_wordwrap", args,
                {"width", "break_long_words", "wrapstring", "break_on_hyphens"});
    int64_t width = index_arg(r.get_or(0, Value::integer(79)));
    bool break_long = !r.get(1) || truthy(*r.get(1));
    Value wrapstring = r.get_or(2, Value::none());
    if (wrapstring.is_none()) wrapstring = Value::string("\n");  // env.newline_sequence
    const Value* hyph = r.get(3);
    // textwrap splits on hyphens only when break_on_hyphens `is True`.
    bool hyphen_regex = !hyph || (hyph->is_bool() && hyph->as_bool());
    bool hyphen_truthy = !hyph || truthy(*hyph);
    if (!value.is_string()) raise_no_attribute(value, "splitlines");
    if (!wrapstring.is_string()) {
        raise(ErrorKind::Type, "sequence item 0: expected str instance, " +
                                   std::string(type_name(wrapstring)) + " found");
    }
    Wrapper w{width, break_long, hyphen_truthy};
    // A Markup wrapstring escapes what it joins (Markup.join).
    bool safe = wrapstring.is_safe();
    auto piece = [&](std::string text) {
        if (!safe) return text;
        std::string out;
        append_html_escaped(text, out);
        return out;
    };
    std::string out;
    bool first_paragraph = true;
    for (const std::u32string& para : splitlines(u32(value))) {
        if (!first_paragraph) out += wrapstring.str();
        first_paragraph = false;
        if (width <= 0) {
            raise(ErrorKind::Value, "invalid width " + std::to_string(width) + " (must be > 0)");
        }
        auto chunks = hyphen_regex ? tw_split_hyphens(para) : tw_split_simple(para);
        bool first_line = true;
        for (const auto& line : w.wrap_chunks(std::move(chunks))) {
            if (!first_line) out += wrapstring.str();
            first_line = false;
            out += piece(u8(line));
            check_built_size(out.size(), "wordwrap");
        }
    }
    return Value::string(std::move(out), safe);
}

Value f_wordcount(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_wordcount", args, {});
    Value s = soft_str(value);
    int64_t words = 0;
    bool in_word = false;
    for (char32_t c : u32(s)) {
        bool w = is_word_char(c);
        if (w && !in_word) ++words;
        in_word = w;
    }
    return Value::integer(words);
}

// ---- indent --------------------------------------------------------------------------

Value f_indent(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_indent", args, {"width", "first", "blank"});
    Value width = r.get_or(0, Value::integer(4));
    bool first = r.get(1) && truthy(*r.get(1));
    bool blank_lines = r.get(2) && truthy(*r.get(2));
    std::string indention;
    if (width.is_string()) {
        indention = std::string(width.str());
    } else if (width.is_integral()) {
        int64_t spaces = std::max<int64_t>(width.as_int(), 0);
        check_built_size(uint64_t(spaces), "indent");
        indention.assign(size_t(spaces), ' ');
    } else {
        if (width.is_undefined()) raise_undefined(width);  // " " * Undefined fails
        raise(ErrorKind::Type,
              "can't multiply sequence by non-int of type '" + std::string(type_name(width)) + "'");
    }
    // `s += newline` needs a str.
    if (value.is_undefined()) raise_undefined(value);
    if (!value.is_string()) {
        raise(ErrorKind::Type, "unsupported operand type(s) for +=: '" +
                                   std::string(type_name(value)) + "' and 'str'");
    }
    std::u32string s = u32(value);
    s += U'\n';  // "this quirk is necessary for splitlines method"
    std::vector<std::u32string> lines = splitlines(s);
    // At most one indention a line (both sizes are bounded, so the product fits).
    check_built_size(uint64_t(indention.size()) * (lines.size() + 1) + s.size() * 4, "indent");
    std::string out;
    if (blank_lines) {
        for (size_t i = 0; i < lines.size(); ++i) {
            if (i) {
                out += '\n';
                out += indention;
            }
            out += u8(lines[i]);
        }
    } else {
        out += u8(lines[0]);
        for (size_t i = 1; i < lines.size(); ++i) {
            out += '\n';
            if (!lines[i].empty()) out += indention;
            out += u8(lines[i]);
        }
    }
    if (first) out = indention + out;
    return str_result(std::move(out), value.is_safe());
}

}  // namespace ferry::tmpl::filter_impl
