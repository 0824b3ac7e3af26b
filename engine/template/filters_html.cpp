// Builtin filters shaped by HTML and URLs: striptags (markupsafe's, with html.unescape),
// urlize (jinja2.utils.urlize), urlencode and xmlattr.
#include "template/filters_util.h"

#include <algorithm>

namespace ferry::tmpl::filter_impl {

namespace {

std::string u8(std::u32string_view s) {
    return utf8_encode(s);
}

}  // namespace

// ---- striptags: markupsafe.Markup.striptags ----------------------------------------------

// html.unescape: numeric references, and HTML5 named references with or without the
// semicolon (the longest known prefix wins, as the standard says).
std::u32string html_unescape(const std::u32string& s) {
    if (s.find(U'&') == std::u32string::npos) return s;
    std::u32string out;
    size_t i = 0, n = s.size();
    auto hex = [](char32_t c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    };
    auto dec = [](char32_t c) { return c >= '0' && c <= '9'; };
    while (i < n) {
        if (s[i] != '&') {
            out += s[i++];
            continue;
        }
        size_t j = i + 1;
        if (j < n && s[j] == '#') {
            bool is_hex = j + 1 < n && (s[j + 1] == 'x' || s[j + 1] == 'X');
            size_t k = j + (is_hex ? 2 : 1), start = k;
            while (k < n && (is_hex ? hex(s[k]) : dec(s[k])))
                ++k;
            if (k == start) {  // "&#;" or "&#x;" is no reference
                out += s[i++];
                continue;
            }
            // Huge numbers are simply out of range.
            uint64_t num = 0;
            bool huge = false;
            for (size_t d = start; d < k; ++d) {
                uint32_t v = s[d] <= '9' ? s[d] - '0' : (s[d] | 0x20) - 'a' + 10;
                num = num * (is_hex ? 16 : 10) + v;
                if (num > 0x10FFFF) huge = true;
                if (num > 0xFFFFFFFFull) num = 0xFFFFFFFFull;
            }
            if (k < n && s[k] == ';') ++k;
            static constexpr char32_t kInvalid[32] = {
                0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
                0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
            if (!huge && num == 0) {
                out += U'\uFFFD';
            } else if (!huge && num == 0x0d) {
                out += U'\r';
            } else if (!huge && num >= 0x80 && num <= 0x9f) {
                out += kInvalid[num - 0x80];
            } else if (huge || (num >= 0xD800 && num <= 0xDFFF)) {
                out += U'\uFFFD';
            } else {
                char32_t c = char32_t(num);
                bool invalid = (c >= 0x1 && c <= 0x8) || (c >= 0xe && c <= 0x1f) ||
                               (c >= 0x7f && c <= 0x9f) || (c >= 0xfdd0 && c <= 0xfdef) ||
                               c == 0xb || (c & 0xfffe) == 0xfffe;
                if (!invalid) out += c;
            }
            i = k;
            continue;
        }
        // [^\t\n\f <&#;]{1,32};?
        size_t k = j;
        while (k < n && k - j < 32 && s[k] != '\t' && s[k] != '\n' && s[k] != '\f' && s[k] != ' ' &&
               s[k] != '<' && s[k] != '&' && s[k] != '#' && s[k] != ';') {
            ++k;
        }
        if (k == j) {
            out += s[i++];
            continue;
        }
        if (k < n && s[k] == ';') ++k;
        std::u32string name = s.substr(j, k - j);
        std::string name8 = u8(name);
        if (const std::string_view* text = find_html_entity(name8)) {
            out += utf8_decode(*text);
        } else {
            bool found = false;
            for (size_t x = name.size() - 1; x > 1; --x) {
                if (const std::string_view* t = find_html_entity(u8(name.substr(0, x)))) {
                    out += utf8_decode(*t);
                    out += name.substr(x);
                    found = true;
                    break;
                }
            }
            if (!found) {
                out += U'&';
                out += name;
            }
        }
        i = k;
    }
    return out;
}

namespace {

// re.sub("<!--.*?-->", "", s) then re.sub("<.*?>", "", s), both DOTALL.
std::u32string strip_tags(const std::u32string& s) {
    std::u32string no_comments;
    size_t i = 0;
    while (i < s.size()) {
        size_t open = s.find(U"<!--", i);
        size_t close = open == std::u32string::npos ? open : s.find(U"-->", open + 4);
        if (close == std::u32string::npos) {
            no_comments.append(s, i);
            break;
        }
        no_comments.append(s, i, open - i);
        i = close + 3;
    }
    std::u32string out;
    i = 0;
    while (i < no_comments.size()) {
        size_t open = no_comments.find(U'<', i);
        size_t close = open == std::u32string::npos ? open : no_comments.find(U'>', open + 1);
        if (close == std::u32string::npos) {
            out.append(no_comments, i);
            break;
        }
        out.append(no_comments, i, open - i);
        i = close + 1;
    }
    return out;
}

}  // namespace

Value f_striptags(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_striptags", args, {});
    std::string text = value.is_string() ? std::string(value.str()) : to_str(value);
    std::u32string stripped = strip_tags(utf8_decode(text));
    std::u32string collapsed;
    for (const auto& word : split_whitespace(stripped)) {
        if (!collapsed.empty()) collapsed += U' ';
        collapsed += word;
    }
    return Value::string(u8(html_unescape(collapsed)));
}

// ---- urlize: jinja2.utils.urlize ----------------------------------------------------------

namespace {

bool starts_with_ci(std::u32string_view s, size_t at, std::string_view prefix) {
    if (s.size() - std::min(at, s.size()) < prefix.size()) return false;
    for (size_t k = 0; k < prefix.size(); ++k) {
        char32_t c = s[at + k];
        if (c < 0x80) c = char32_t(std::tolower(int(c)));
        if (c != char32_t(prefix[k])) return false;
    }
    return true;
}

bool url_label_char(char32_t c) {
    return is_word_char(c) || c == '%' || c == '-';
}
bool ascii_alpha(char32_t c) {
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}
bool hex_or_digit(char32_t c) {
    return decimal_value(c) >= 0 || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

// (?::\d{1,5})?(?:[/?#]\S*)?$ from position p.
bool url_tail_ok(std::u32string_view m, size_t p) {
    size_t n = m.size();
    if (p < n && m[p] == ':') {
        size_t k = p + 1;
        while (k < n && decimal_value(m[k]) >= 0)
            ++k;
        if (k - p - 1 < 1 || k - p - 1 > 5) return false;
        p = k;
    }
    if (p == n) return true;
    if (m[p] != '/' && m[p] != '?' && m[p] != '#') return false;
    for (size_t k = p; k < n; ++k)
        if (char_is_space(m[k])) return false;
    return true;
}

// \[([\da-f]{0,4}:){2}([\da-f]{0,4}:?){1,6}] at m[p] == '['; the end after ']' or npos.
size_t match_ipv6(std::u32string_view m, size_t p) {
    size_t k = p + 1;
    while (k < m.size() && (hex_or_digit(m[k]) || m[k] == ':'))
        ++k;
    if (k >= m.size() || m[k] != ']') return std::u32string_view::npos;
    std::u32string_view body = m.substr(p + 1, k - p - 1);
    std::vector<size_t> runs;  // hex run lengths, split at colons
    size_t run = 0;
    for (char32_t c : body) {
        if (c == ':') {
            runs.push_back(run);
            run = 0;
        } else {
            ++run;
        }
    }
    size_t colons = runs.size();
    runs.push_back(run);  // after the last colon
    if (colons < 2 || runs[0] > 4 || runs[1] > 4) return std::u32string_view::npos;
    // The rest needs one `hex{0,4}:?` group per colon (or per 4 digits), at most 6.
    size_t groups = 0;
    for (size_t i = 2; i < runs.size(); ++i) {
        bool colon_after = i < colons;
        size_t g = (runs[i] + 3) / 4;
        if (colon_after && g == 0) g = 1;
        groups += g;
    }
    if (groups > 6) return std::u32string_view::npos;
    return k + 1;
}

// jinja2.utils._http_re.match(m).
bool match_http(std::u32string_view m) {
    size_t n = m.size();
    // (https?://|www\.) (([\w%-]+\.)+)? ([a-z]{2,63} | xn--[\w%]{2,59})
    size_t p = starts_with_ci(m, 0, "https://")  ? 8
               : starts_with_ci(m, 0, "http://") ? 7
               : starts_with_ci(m, 0, "www.")    ? 4
                                                 : 0;
    if (p) {
        std::vector<size_t> starts{p};
        size_t i = p;
        while (true) {
            size_t j = i;
            while (j < n && url_label_char(m[j]))
                ++j;
            if (j == i || j >= n || m[j] != '.') break;
            i = j + 1;
            starts.push_back(i);
        }
        for (size_t q : starts) {
            size_t k = q;
            while (k < n && ascii_alpha(m[k]))
                ++k;
            for (size_t len = 2; len <= std::min<size_t>(k - q, 63); ++len)
                if (url_tail_ok(m, q + len)) return true;
            if (starts_with_ci(m, q, "xn--")) {
                size_t e = q + 4;
                while (e < n && (is_word_char(m[e]) || m[e] == '%'))
                    ++e;
                for (size_t len = 2; len <= std::min<size_t>(e - q - 4, 59); ++len)
                    if (url_tail_ok(m, q + 4 + len)) return true;
            }
        }
    }
    // ([\w%-]{2,63}\.)+ (com|net|int|edu|gov|org|info|mil)
    {
        static constexpr std::string_view kTlds[] = {"com", "net", "int",  "edu",
                                                     "gov", "org", "info", "mil"};
        size_t i = 0;
        while (true) {
            size_t j = i;
            while (j < n && url_label_char(m[j]))
                ++j;
            if (j - i < 2 || j - i > 63 || j >= n || m[j] != '.') break;
            i = j + 1;
            for (std::string_view tld : kTlds)
                if (starts_with_ci(m, i, tld) && url_tail_ok(m, i + tld.size())) return true;
        }
    }
    // (https?://) (IPv4 | IPv6)
    p = starts_with_ci(m, 0, "https://") ? 8 : starts_with_ci(m, 0, "http://") ? 7 : 0;
    if (p) {
        size_t i = p;
        bool ipv4 = true;
        for (int part = 0; part < 4 && ipv4; ++part) {
            if (part) {
                if (i >= n || m[i] != '.') ipv4 = false;
                ++i;
            }
            size_t j = i;
            while (j < n && decimal_value(m[j]) >= 0)
                ++j;
            if (j == i || j - i > 3) ipv4 = false;
            i = j;
        }
        if (ipv4 && url_tail_ok(m, i)) return true;
        if (p < n && m[p] == '[') {
            size_t e = match_ipv6(m, p);
            if (e != std::u32string_view::npos && url_tail_ok(m, e)) return true;
        }
    }
    return false;
}

// ^\S+@\w[\w.-]*\.\w+$
// Jinja2's ^\S+@\w[\w.-]*\.\w+$. Only the last '@' can split it: the domain part takes no
// '@', so any earlier one leaves an '@' in its domain. (Trying every '@' and rescanning
// both sides for each was quadratic: 100 KB of '@' took 8 s.)
bool match_email(std::u32string_view m) {
    size_t at = m.rfind(U'@');
    if (at == std::u32string_view::npos || at == 0) return false;
    if (std::any_of(m.begin(), m.begin() + long(at), char_is_space)) return false;
    std::u32string_view d = m.substr(at + 1);
    if (d.empty() || !is_word_char(d[0])) return false;
    if (!std::all_of(d.begin(), d.end(),
                     [](char32_t c) { return is_word_char(c) || c == '.' || c == '-'; }))
        return false;
    size_t dot = d.rfind(U'.');
    if (dot == std::u32string_view::npos || dot < 1 || dot + 1 >= d.size()) return false;
    return std::all_of(d.begin() + long(dot) + 1, d.end(), is_word_char);
}

size_t count_of(std::u32string_view s, std::u32string_view sub) {
    size_t count = 0;
    for (size_t pos = s.find(sub); pos != std::u32string_view::npos;
         pos = s.find(sub, pos + sub.size())) {
        ++count;
    }
    return count;
}

bool ends_with(std::u32string_view s, std::u32string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool starts_with(std::u32string_view s, std::u32string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

struct UrlizeOptions {
    std::optional<int64_t> trim_limit;
    std::u32string rel_attr, target_attr;
    std::vector<std::u32string> extra_schemes;
};

std::u32string urlize_word(std::u32string word, const UrlizeOptions& o) {
    std::u32string head, middle = std::move(word), tail;
    // ^([(<]|&lt;)+
    size_t h = 0;
    while (true) {
        if (h < middle.size() && (middle[h] == '(' || middle[h] == '<'))
            ++h;
        else if (std::u32string_view(middle).substr(h, 4) == U"&lt;")
            h += 4;
        else
            break;
    }
    head = middle.substr(0, h);
    middle.erase(0, h);
    // ([)>.,\n]|&gt;)+$ : the leftmost start from which the rest is all such tokens.
    if (!middle.empty() &&
        (std::u32string_view(U")>.,\n").find(middle.back()) != std::u32string_view::npos ||
         ends_with(middle, U"&gt;"))) {
        size_t n = middle.size();
        std::vector<bool> ok(n + 1, false);
        ok[n] = true;
        for (size_t i = n; i-- > 0;) {
            char32_t c = middle[i];
            if ((c == ')' || c == '>' || c == '.' || c == ',' || c == '\n') && ok[i + 1])
                ok[i] = true;
            else if (std::u32string_view(middle).substr(i, 4) == U"&gt;" && ok[i + 4])
                ok[i] = true;
        }
        for (size_t i = 0; i < n; ++i) {
            if (ok[i]) {
                tail = middle.substr(i);
                middle.resize(i);
                break;
            }
        }
    }
    // Prefer balancing parentheses in URLs instead of ignoring a trailing character.
    static constexpr std::pair<std::u32string_view, std::u32string_view> kPairs[] = {
        {U"(", U")"}, {U"<", U">"}, {U"&lt;", U"&gt;"}};
    for (const auto& [open, close] : kPairs) {
        size_t start_count = count_of(middle, open);
        if (start_count <= count_of(middle, close)) continue;
        size_t moves = std::min(start_count, count_of(tail, close));
        for (size_t k = 0; k < moves; ++k) {
            size_t end_index = tail.find(close) + close.size();
            middle += tail.substr(0, end_index);
            tail.erase(0, end_index);
        }
    }
    auto trim = [&](const std::u32string& x) {
        if (o.trim_limit && int64_t(x.size()) > *o.trim_limit) {
            return x.substr(0, size_t(std::max<int64_t>(*o.trim_limit, 0))) + U"...";
        }
        return x;
    };
    if (match_http(middle)) {
        std::u32string href = starts_with(middle, U"https://") || starts_with(middle, U"http://")
                                  ? middle
                                  : U"https://" + middle;
        middle = U"<a href=\"" + href + U"\"" + o.rel_attr + o.target_attr + U">" + trim(middle) +
                 U"</a>";
    } else if (starts_with(middle, U"mailto:") &&
               match_email(std::u32string_view(middle).substr(7))) {
        middle = U"<a href=\"" + middle + U"\">" + middle.substr(7) + U"</a>";
    } else if (middle.find(U'@') != std::u32string::npos && !starts_with(middle, U"www.") &&
               middle.find(U':') == std::u32string::npos && match_email(middle)) {
        middle = U"<a href=\"mailto:" + middle + U"\">" + middle + U"</a>";
    } else {
        for (const auto& scheme : o.extra_schemes) {
            if (middle != scheme && starts_with(middle, scheme)) {
                middle = U"<a href=\"" + middle + U"\"" + o.rel_attr + o.target_attr + U">" +
                         middle + U"</a>";
            }
        }
    }
    return head + middle + tail;
}

// ^([\w.+-]{2,}:(/){0,2})$
bool valid_scheme(std::u32string_view s) {
    size_t i = 0;
    while (i < s.size() && (is_word_char(s[i]) || s[i] == '.' || s[i] == '+' || s[i] == '-'))
        ++i;
    if (i < 2 || i >= s.size() || s[i] != ':') return false;
    size_t slashes = s.size() - i - 1;
    return slashes <= 2 &&
           std::all_of(s.begin() + long(i) + 1, s.end(), [](char32_t c) { return c == '/'; });
}

}  // namespace

Value f_urlize(Runtime& rt, const Value& value, const Args& args) {
    ArgReader r("do_urlize", args,
                {"trim_url_limit", "nofollow", "target", "rel", "extra_schemes"});
    UrlizeOptions o;
    if (const Value* t = r.get(0); t && !t->is_none()) o.trim_limit = index_arg(*t);
    bool nofollow = r.get(1) && truthy(*r.get(1));
    Value target = r.get_or(2, Value::none());
    Value rel = r.get_or(3, Value::none());
    // rel: the given words, nofollow, and the policy's "noopener", sorted and deduplicated.
    std::vector<std::u32string> rel_parts;
    if (truthy(rel)) rel_parts = split_whitespace(utf8_decode(to_str(rel)));
    if (nofollow) rel_parts.push_back(U"nofollow");
    rel_parts.push_back(U"noopener");
    std::sort(rel_parts.begin(), rel_parts.end());
    rel_parts.erase(std::unique(rel_parts.begin(), rel_parts.end()), rel_parts.end());
    std::u32string rel_text;
    for (const auto& p : rel_parts)
        rel_text += (rel_text.empty() ? U"" : U" ") + p;
    o.rel_attr = U" rel=\"" + utf8_decode(escaped_text(Value::string(u8(rel_text)))) + U"\"";
    if (truthy(target)) o.target_attr = U" target=\"" + utf8_decode(escaped_text(target)) + U"\"";
    if (const Value* schemes = r.get(4); schemes && !schemes->is_none()) {
        for (const Value& scheme : iterate(*schemes)) {
            std::u32string s = utf8_decode(to_str(scheme));
            if (!scheme.is_string() || !valid_scheme(s)) {
                raise_filter_argument(to_repr(scheme) + " is not a valid URI scheme prefix.");
            }
            o.extra_schemes.push_back(std::move(s));
        }
    }
    // The text is escaped first (a Markup subject is already), then split on whitespace.
    std::u32string text = utf8_decode(escaped_text(value));
    std::u32string out;
    size_t i = 0;
    while (i < text.size()) {
        bool space = char_is_space(text[i]);
        size_t end = i;
        while (end < text.size() && char_is_space(text[end]) == space)
            ++end;
        std::u32string word = text.substr(i, end - i);
        out += space ? word : urlize_word(std::move(word), o);
        check_built_size(out.size(), "urlize");  // code points: at most its bytes
        i = end;
    }
    std::string linked = u8(out);
    check_built_size(linked.size(), "urlize");
    // Markup under autoescape (do_urlize), so printing does not escape the links again.
    return Value::string(std::move(linked), rt.eval_autoescape());
}

// ---- urlencode -----------------------------------------------------------------------

namespace {

// jinja2.utils.url_quote: UTF-8, %XX for all but [A-Za-z0-9_.~-] and the safe '/'; in a
// query string ('/' quoted too) spaces become '+'.
std::string url_quote(const Value& v, bool for_qs) {
    std::string text = v.is_string() ? std::string(v.str()) : to_str(v);
    std::string out;
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : text) {
        bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-' || c == '~' || (!for_qs && c == '/');
        if (safe) {
            out += char(c);
        } else if (for_qs && c == ' ') {
            out += '+';
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    check_built_size(out.size(), "urlencode");
    return out;
}

}  // namespace

Value f_urlencode(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_urlencode", args, {});
    bool iterable = value.is_sequence() || value.is_dict() || value.is_undefined() ||
                    (value.is_object() && value.object_obj().is_iterable());
    if (value.is_string() || !iterable) return Value::string(url_quote(value, false));
    std::string out;
    auto pair = [&](const Value& k, const Value& v) {
        if (!out.empty()) out += '&';
        out += url_quote(k, true);
        out += '=';
        out += url_quote(v, true);
    };
    if (value.is_dict()) {
        for (const auto& [k, v] : value.dict_obj().items())
            pair(k, v);
    } else {
        for (const Value& item : iterate(value)) {
            bool unpackable = item.is_sequence() || item.is_dict() || item.is_string() ||
                              item.is_undefined() ||
                              (item.is_object() && item.object_obj().is_iterable());
            if (!unpackable) {
                raise(ErrorKind::Type,
                      "cannot unpack non-iterable " + std::string(type_name(item)) + " object");
            }
            std::vector<Value> kv = iterate(item);
            if (kv.size() > 2) raise(ErrorKind::Value, "too many values to unpack (expected 2)");
            if (kv.size() < 2) {
                raise(ErrorKind::Value, "not enough values to unpack (expected 2, got " +
                                            std::to_string(kv.size()) + ")");
            }
            pair(kv[0], kv[1]);
        }
    }
    return Value::string(std::move(out));
}

// ---- xmlattr -------------------------------------------------------------------------

Value f_xmlattr(Runtime& rt, const Value& value, const Args& args) {
    ArgReader r("do_xmlattr", args, {"autospace"});
    bool autospace = !r.get(0) || truthy(*r.get(0));
    if (!value.is_dict()) raise_no_attribute(value, "items");
    std::string out;
    for (const auto& [key, v] : value.dict_obj().items()) {
        if (v.is_none() || v.is_undefined()) continue;
        if (!key.is_string()) {
            raise(ErrorKind::Type, "expected string or bytes-like object, got '" +
                                       std::string(type_name(key)) + "'");
        }
        // Debian's 3.1.2 carries the CVE-2024-22195 fix: [\s/>=] (ASCII) in a key is refused.
        for (char c : key.str()) {
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' ||
                c == '/' || c == '>' || c == '=') {
                raise(ErrorKind::Value, "Invalid character in attribute name: " + to_repr(key));
            }
        }
        if (!out.empty()) out += ' ';
        out += escaped_text(key);
        out += "=\"";
        out += escaped_text(v);
        out += '"';
    }
    if (autospace && !out.empty()) out.insert(out.begin(), ' ');
    return Value::string(std::move(out), rt.eval_autoescape());
}

}  // namespace ferry::tmpl::filter_impl
