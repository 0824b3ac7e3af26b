// Python's printf-style formatting, `fmt % args` (PyUnicode_Format in Objects/unicodeobject.c),
// and its Markup variant (markupsafe's Markup.__mod__, which escapes every argument). The
// parsing follows CPython's step by step, since the order of its checks decides which error
// a bad format string raises.
#include "template/builtins.h"
#include "template/filters_util.h"
#include "template/format_internal.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ferry::tmpl {

namespace {

enum : unsigned { kLjust = 1, kSign = 2, kBlank = 4, kAlt = 8, kZero = 16 };

std::string escaped(std::string_view s) {
    std::string out;
    append_html_escaped(s, out);
    return out;
}

// markupsafe's escape(v): safe strings stay, anything else is str()'d and escaped.
std::string escape_str(const Value& v) {
    if (v.is_safe()) return std::string(v.str());
    return escaped(to_str(v));
}

[[noreturn]] void wrong_number_type(char32_t conv, const Value& v, bool escape) {
    // Under Markup.__mod__ the argument is a _MarkupEscapeHelper, whose name Python reports.
    std::string type(escape ? "_MarkupEscapeHelper" : type_name(v));
    std::string what = (conv == 'o' || conv == 'x' || conv == 'X') ? "an integer" : "a real number";
    raise(ErrorKind::Type,
          "%" + std::string(1, char(conv)) + " format: " + what + " is required, not " + type);
}

// int(v) as _MarkupEscapeHelper.__int__ does it (Python's int() of the wrapped value); a
// TypeError in there becomes %d's own.
Value python_int(const Value& v, char32_t conv) {
    if (v.is_integral()) return Value::integer(v.as_int());
    if (v.is_float()) {
        fmt::check_float_to_int(v.as_float());
        return v;
    }
    if (v.is_string()) {
        if (auto i = parse_int(v.str())) return Value::integer(*i);
        raise(ErrorKind::Value, "invalid literal for int() with base 10: " + to_repr(v));
    }
    if (v.is_undefined()) raise_undefined(v);
    wrong_number_type(conv, v, true);
}

// The digits of %d/%i/%u/%o/%x/%X (_PyUnicode_FormatLong): sign, '0x' prefix with '#',
// zero-extended to prec digits.
std::string format_integer(const Value& arg, char32_t conv, unsigned flags, int64_t prec,
                           bool escape) {
    bool index_only = conv == 'o' || conv == 'x' || conv == 'X';
    Value v = arg;
    if (escape) {
        if (index_only) wrong_number_type(conv, arg, true);
        v = python_int(arg, conv);
    }
    std::string digits;
    if (v.is_integral()) {
        digits = fmt::int_digits(v.as_int(), conv == 'o' ? 8 : index_only ? 16 : 10);
    } else if (v.is_float() && !index_only) {
        double f = v.as_float();
        fmt::check_float_to_int(f);
        digits = fmt::integral_double_digits(std::trunc(f));
    } else if (v.is_undefined() && !index_only) {
        raise_undefined(v);  // Undefined.__int__ raises
    } else {
        wrong_number_type(conv, v, false);
    }
    bool negative = digits[0] == '-';
    std::string sign = negative ? "-" : "";
    if (negative) digits.erase(0, 1);
    if (prec > int64_t(digits.size())) digits.insert(0, size_t(prec) - digits.size(), '0');
    std::string_view prefix;
    if ((flags & kAlt) && index_only) prefix = conv == 'o' ? "0o" : "0x";
    std::string out = sign;
    out += prefix;
    out += digits;
    if (conv == 'X')
        for (char& c : out)
            if (c >= 'a' && c <= 'x') c = char(c - 'a' + 'A');
    return out;
}

std::string format_floating(const Value& arg, char32_t conv, unsigned flags, int64_t prec,
                            bool escape) {
    double x = 0;
    if (arg.is_number()) {
        x = arg.as_float();
    } else if (arg.is_undefined()) {
        raise_undefined(arg);  // Undefined.__float__ raises
    } else if (escape && arg.is_string()) {
        auto f = parse_float(arg.str());
        if (!f) raise(ErrorKind::Value, "could not convert string to float: " + to_repr(arg));
        x = *f;
    } else if (escape) {
        raise(ErrorKind::Type, "float() argument must be a string or a real number, not '" +
                                   std::string(type_name(arg)) + "'");
    } else {
        raise(ErrorKind::Type, "must be real number, not " + std::string(type_name(arg)));
    }
    return fmt::double_to_string(x, char(conv), prec < 0 ? 6 : int(prec), flags & kAlt, false);
}

std::string format_char(const Value& arg, bool escape) {
    // The Markup helper has no __index__, so %c never accepts it.
    if (!escape) {
        if (arg.is_string() && utf8_length(arg.str()) == 1) return std::string(arg.str());
        if (arg.is_integral()) {
            int64_t c = arg.as_int();
            if (c < 0 || c > 0x10ffff) raise(ErrorKind::Overflow, "%c arg not in range(0x110000)");
            std::string out;
            utf8_append(char32_t(c), out);
            return out;
        }
    }
    raise(ErrorKind::Type, "%c requires int or char");
}

// unicode_format_arg_output: pad, sign and '0x' prefix placement for one converted argument.
void output_arg(std::string& out, const std::string& str, char32_t conv, unsigned flags,
                int64_t width, int64_t prec, bool sign) {
    char fill = (sign && (flags & kZero)) ? '0' : ' ';
    int64_t len = int64_t(utf8_length(str));
    if ((width == -1 || width <= len) && (prec == -1 || prec >= len) &&
        !(flags & (kSign | kBlank))) {
        out += str;
        return;
    }
    if ((conv == 's' || conv == 'r' || conv == 'a') && prec >= 0 && len > prec) len = prec;
    size_t pindex = 0;  // in code points; everything before the text proper is ASCII
    char signchar = 0;
    if (sign) {
        char first = str.empty() ? 0 : str[0];
        if (first == '-' || first == '+') {
            signchar = first;
            --len;
            ++pindex;
        } else if (flags & kSign) {
            signchar = '+';
        } else if (flags & kBlank) {
            signchar = ' ';
        } else {
            sign = false;
        }
    }
    if (width < len) width = len;
    if (sign) {
        if (fill != ' ') out += signchar;
        if (width > len) --width;
    }
    bool prefix = (flags & kAlt) && (conv == 'x' || conv == 'X' || conv == 'o');
    if (prefix) {
        if (fill != ' ') {
            out += '0';
            out += char(conv);
            pindex += 2;
        }
        width = std::max<int64_t>(0, width - 2);
        len -= 2;
    }
    if (width > len && !(flags & kLjust)) {
        out.append(size_t(width - len), fill);
        width = len;
    }
    if (fill == ' ') {
        if (sign) out += signchar;
        if (prefix) {
            out += '0';
            out += char(conv);
            pindex += 2;
        }
    }
    size_t begin = fmt::cp_offset(str, pindex);
    size_t end = begin + fmt::cp_offset(std::string_view(str).substr(begin), size_t(len));
    out.append(str, begin, end - begin);
    if (width > len) out.append(size_t(width - len), ' ');
}

bool is_mapping(const Value& v) {
    switch (v.kind()) {
    case Kind::Dict:
    case Kind::List:       // PyMapping_Check is true for anything with __getitem__
    case Kind::Undefined:  // Jinja's Undefined defines __getitem__ (to raise)
        return true;
    case Kind::Object: return v.object_obj().is_mapping() || v.object_obj().is_sequence_like();
    default: return false;
    }
}

class PercentFormatter {
  public:
    PercentFormatter(std::string_view fmt, const Value& args, bool escape)
        : fmt_(utf8_decode(fmt)), args_(args), escape_(escape) {
        if (args.is_tuple()) {
            arglen_ = int64_t(args.list_obj().items.size());
            argidx_ = 0;
        }
        if (!args.is_tuple() && is_mapping(args)) dict_ = &args;
        current_ = args;
    }

    std::string run() {
        std::string out;
        size_t n = fmt_.size();
        while (pos_ < n) {
            if (fmt_[pos_] != '%') {
                size_t start = pos_;
                while (pos_ < n && fmt_[pos_] != '%')
                    ++pos_;
                out += utf8_encode(std::u32string_view(fmt_).substr(start, pos_ - start));
                continue;
            }
            ++pos_;
            one_arg(out);
        }
        if (argidx_ < arglen_ && !dict_) {
            raise(ErrorKind::Type, "not all arguments converted during string formatting");
        }
        return out;
    }

  private:
    // The next character of a conversion spec; running out is "incomplete format".
    char32_t read() {
        if (pos_ >= fmt_.size()) raise(ErrorKind::Value, "incomplete format");
        return fmt_[pos_++];
    }

    Value next_arg() {
        if (argidx_ < arglen_) {
            ++argidx_;
            return arglen_ < 0 ? current_ : args_.list_obj().items[size_t(argidx_ - 1)];
        }
        raise(ErrorKind::Type, "not enough arguments for format string");
    }

    int64_t star_arg() {
        Value v = next_arg();
        // Under Markup every argument is wrapped in a helper object, never an int.
        if (escape_ || !v.is_integral()) raise(ErrorKind::Type, "* wants int");
        return v.as_int();
    }

    void one_arg(std::string& out) {
        if (pos_ < fmt_.size() && fmt_[pos_] == '%') {
            ++pos_;
            out += '%';
            return;
        }
        unsigned flags = 0;
        int64_t width = -1, prec = -1;
        if (pos_ < fmt_.size() && fmt_[pos_] == '(') read_key();
        char32_t ch;
        for (;;) {
            ch = read();
            if (ch == '-')
                flags |= kLjust;
            else if (ch == '+')
                flags |= kSign;
            else if (ch == ' ')
                flags |= kBlank;
            else if (ch == '#')
                flags |= kAlt;
            else if (ch == '0')
                flags |= kZero;
            else
                break;
        }
        if (ch == '*') {
            width = star_arg();
            if (width < 0) {
                flags |= kLjust;
                width = -width;
            }
            ch = read();
        } else if (ch >= '0' && ch <= '9') {
            width = ch - '0';
            while ((ch = read()) >= '0' && ch <= '9') {
                if (width > (INT64_MAX - int64_t(ch - '0')) / 10)
                    raise(ErrorKind::Value, "width too big");
                width = width * 10 + (ch - '0');
            }
        }
        if (ch == '.') {
            prec = 0;
            ch = read();
            if (ch == '*') {
                prec = star_arg();
                if (prec > INT32_MAX || prec < INT32_MIN)
                    raise(ErrorKind::Overflow, "Python int too large to convert to C int");
                if (prec < 0) prec = 0;
                ch = read();
            } else if (ch >= '0' && ch <= '9') {
                prec = ch - '0';
                while ((ch = read()) >= '0' && ch <= '9') {
                    if (prec > (INT32_MAX - int64_t(ch - '0')) / 10)
                        raise(ErrorKind::Value, "precision too big");
                    prec = prec * 10 + (ch - '0');
                }
            }
        }
        if (ch == 'h' || ch == 'l' || ch == 'L') ch = read();  // C length modifiers: ignored

        if (width > 0) check_built_size(uint64_t(width), "a %-format's width");
        if (prec > 0) check_built_size(uint64_t(prec), "a %-format's precision");
        Value v = next_arg();
        std::string str;
        bool sign = false;
        switch (ch) {
        case 's': str = escape_ ? escape_str(v) : to_str(v); break;
        case 'r': str = escape_ ? escaped(to_repr(v)) : to_repr(v); break;
        case 'a':
            // Under Markup, ascii() sees the argument helper's repr: the escaped repr.
            str = fmt::ascii_escape(escape_ ? escaped(to_repr(v)) : to_repr(v));
            break;
        case 'd':
        case 'i':
        case 'u':
        case 'o':
        case 'x':
        case 'X':
            str = format_integer(v, ch, flags, prec, escape_);
            sign = true;
            break;
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
            str = format_floating(v, ch, flags, prec, escape_);
            sign = true;
            break;
        case 'c': str = format_char(v, escape_); break;
        default: {
            char buf[96];
            std::snprintf(buf, sizeof buf, "unsupported format character '%c' (0x%x) at index %zu",
                          (ch >= 31 && ch <= 126) ? char(ch) : '?', unsigned(ch), pos_ - 1);
            raise(ErrorKind::Value, buf);
        }
        }
        output_arg(out, str, ch, flags, width, prec, sign);
        if (dict_ && argidx_ < arglen_) {
            raise(ErrorKind::Type, "not all arguments converted during mapping formatting");
        }
    }

    // %(name)s: the argument becomes dict[name], matching parentheses included in the name.
    void read_key() {
        if (!dict_) raise(ErrorKind::Type, "format requires a mapping");
        ++pos_;
        size_t start = pos_;
        int depth = 1;
        while (depth > 0 && pos_ < fmt_.size()) {
            char32_t c = fmt_[pos_++];
            if (c == ')')
                --depth;
            else if (c == '(')
                ++depth;
        }
        if (depth > 0) raise(ErrorKind::Value, "incomplete format key");
        std::string key = utf8_encode(std::u32string_view(fmt_).substr(start, pos_ - 1 - start));
        current_ = fmt::py_getitem(*dict_, Value::string(std::move(key)));
        arglen_ = -1;
        argidx_ = -2;
    }

    std::u32string fmt_;
    const Value& args_;
    bool escape_;
    size_t pos_ = 0;
    // CPython's counters: a lone (non-tuple) argument has arglen -1 and argidx -2, so it is
    // taken exactly once.
    int64_t arglen_ = -1;
    int64_t argidx_ = -2;
    const Value* dict_ = nullptr;
    Value current_;
};

}  // namespace

std::string percent_format(std::string_view fmt, const Value& args, bool escape_args) {
    // A groupby group is a namedtuple: `'%s: %s' % group` takes its two items.
    if (const std::vector<Value>* items = filter_impl::group_tuple_items(args))
        return PercentFormatter(fmt, Value::tuple(*items), escape_args).run();
    return PercentFormatter(fmt, args, escape_args).run();
}

}  // namespace ferry::tmpl
