// Printing values as Python does: str() and repr() of every kind, floats the shortest way
// that reads back the same.
#include "template/value.h"

#include "template/unicode_data.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

namespace ferry::tmpl {

void append_float(double f, std::string& out) {
    if (std::isnan(f)) {
        out += "nan";
        return;
    }
    if (std::isinf(f)) {
        out += f < 0 ? "-inf" : "inf";
        return;
    }
    // Shortest round-trip digits, then Python's layout: scientific when the decimal exponent
    // is < -4 or >= 16, else positional with at least one digit after the point.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
    std::string_view sci(buf, size_t(res.ptr - buf));
    size_t epos = sci.find('e');
    std::string_view mant = sci.substr(0, epos);
    int exp = 0;
    std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+'), sci.data() + sci.size(), exp);
    bool neg = mant.front() == '-';
    if (neg) mant.remove_prefix(1);
    std::string digits;
    for (char c : mant)
        if (c != '.') digits += c;
    if (neg) out += '-';
    if (exp < -4 || exp >= 16) {
        out += digits[0];
        if (digits.size() > 1) {
            out += '.';
            out.append(digits, 1);
        }
        char ebuf[16];
        std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
        out += ebuf;
        return;
    }
    if (exp < 0) {
        out += "0.";
        out.append(size_t(-exp - 1), '0');
        out += digits;
        return;
    }
    size_t int_len = size_t(exp) + 1;
    if (digits.size() <= int_len) {
        out += digits;
        out.append(int_len - digits.size(), '0');
        out += ".0";
    } else {
        out.append(digits, 0, int_len);
        out += '.';
        out.append(digits, int_len);
    }
}

void append_string_repr(std::string_view s, std::string& out) {
    bool has_single = s.find('\'') != std::string_view::npos;
    bool has_double = s.find('"') != std::string_view::npos;
    char quote = (has_single && !has_double) ? '"' : '\'';
    out += quote;
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c == static_cast<unsigned char>(quote)) {
                out += '\\';
                out += char(c);
            } else if (c < 0x20 || c == 0x7f) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\x%02x", c);
                out += buf;
            } else if (c >= 0x80) {
                // Non-ASCII: printable characters stay, others are escaped as Python's repr.
                size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
                std::string_view seq = s.substr(i, std::min(n, s.size() - i));
                std::u32string cps = utf8_decode(seq);
                char32_t cp = cps.empty() ? U'\uFFFD' : cps[0];
                if (uni::is_printable(cp)) {
                    out += seq;
                } else {
                    char buf[16];
                    if (cp <= 0xff)
                        std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(cp));
                    else if (cp <= 0xffff)
                        std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(cp));
                    else
                        std::snprintf(buf, sizeof buf, "\\U%08x", unsigned(cp));
                    out += buf;
                }
                i += seq.size() - 1;
            } else {
                out += char(c);
            }
        }
    }
    out += quote;
}

namespace {

void append_int(int64_t i, std::string& out) {
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof buf, i);
    out.append(buf, size_t(res.ptr - buf));
}

// The containers being printed, outermost first: one met again is printed as Python's
// reprlib does, [...] or {...}, instead of recursing forever.
thread_local std::vector<const void*> t_printing;

struct Printing {
    ContainerDepth depth;
    Printing(const void* container, size_t items) : depth(items) {
        t_printing.push_back(container);
    }
    ~Printing() { t_printing.pop_back(); }
    static bool active(const void* container) {
        return std::find(t_printing.begin(), t_printing.end(), container) != t_printing.end();
    }
};

void append_sequence_repr(const Value& v, std::string& out) {
    bool tuple = v.is_tuple();
    if (Printing::active(&v.list_obj())) {
        out += tuple ? "(...)" : "[...]";
        return;
    }
    Printing printing(&v.list_obj(), v.list_obj().items.size());
    out += tuple ? '(' : '[';
    const auto& items = v.list_obj().items;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        append_repr(items[i], out);
        check_built_size(out.size(), "the text of a list");
    }
    if (tuple && items.size() == 1) out += ',';
    out += tuple ? ')' : ']';
}

void append_dict_repr(const Value& v, std::string& out) {
    if (Printing::active(&v.dict_obj())) {
        out += "{...}";
        return;
    }
    Printing printing(&v.dict_obj(), v.dict_obj().items().size());
    out += '{';
    bool first = true;
    for (const auto& [k, val] : v.dict_obj().items()) {
        if (!first) out += ", ";
        first = false;
        append_repr(k, out);
        out += ": ";
        append_repr(val, out);
        check_built_size(out.size(), "the text of a dict");
    }
    out += '}';
}

}  // namespace

void append_str(const Value& v, std::string& out) {
    switch (v.kind()) {
    case Kind::Undefined:
        if (v.is_strict_undefined()) raise_undefined(v);
        return;
    case Kind::String: out += v.str(); return;
    case Kind::Int: append_int(v.as_int(), out); return;
    case Kind::Object: v.object_obj().str(out); return;
    default: append_repr(v, out);
    }
}

std::string to_str(const Value& v) {
    if (v.is_string()) return std::string(v.str());
    std::string out;
    append_str(v, out);
    return out;
}

void append_repr(const Value& v, std::string& out) {
    switch (v.kind()) {
    case Kind::Undefined:
        // StrictUndefined keeps Undefined's __repr__: printing a container holding one works.
        out += "Undefined";
        return;
    case Kind::None: out += "None"; return;
    case Kind::Bool: out += v.as_bool() ? "True" : "False"; return;
    case Kind::Int: append_int(v.as_int(), out); return;
    case Kind::Float: append_float(v.as_float(), out); return;
    case Kind::String:
        if (v.is_safe()) {
            out += "Markup(";
            append_string_repr(v.str(), out);
            out += ')';
        } else {
            append_string_repr(v.str(), out);
        }
        return;
    case Kind::List:
    case Kind::Tuple: append_sequence_repr(v, out); return;
    case Kind::Dict: append_dict_repr(v, out); return;
    case Kind::Object: v.object_obj().repr(out); return;
    }
}

std::string to_repr(const Value& v) {
    std::string out;
    append_repr(v, out);
    return out;
}

}  // namespace ferry::tmpl
