// Python's str.format (Objects/stringlib/unicode_format.h), and Python's obj[key] which it and
// `%` formatting use. The parsing follows CPython's step by step, since the order of its
// checks decides which error a bad format string raises. `%` formatting is in
// format_percent.cpp, the format mini-language in format_spec.cpp.
#include "template/builtins.h"
#include "template/format_internal.h"
#include "template/unicode_data.h"

#include <cstdio>

namespace ferry::tmpl {

// ---- Python item access ------------------------------------------------------------------

namespace fmt {

Value py_getitem(const Value& obj, const Value& key) {
    auto sequence_index = [&](size_t size, std::string_view what) -> size_t {
        if (!key.is_integral()) {
            if (key.is_strict_undefined()) raise_undefined(key);
            raise(ErrorKind::Type, std::string(what) + " indices must be integers or slices, not " +
                                       std::string(type_name(key)));
        }
        int64_t i = key.as_int();
        if (i < 0) i += int64_t(size);
        if (i < 0 || i >= int64_t(size))
            raise(ErrorKind::Index, std::string(what) + " index out of range");
        return size_t(i);
    };
    switch (obj.kind()) {
    case Kind::Dict:
        hash_value(key);  // unhashable keys raise TypeError, as in Python
        if (const Value* v = obj.dict_obj().find(key)) return *v;
        raise(ErrorKind::Key, to_repr(key));
    case Kind::List:
    case Kind::Tuple: {
        const auto& items = obj.list_obj().items;
        return items[sequence_index(items.size(), obj.is_list() ? "list" : "tuple")];
    }
    case Kind::String: {
        if (!key.is_integral()) {
            raise(ErrorKind::Type,
                  "string indices must be integers, not '" + std::string(type_name(key)) + "'");
        }
        std::u32string cps = utf8_decode(obj.str());
        std::string out;
        utf8_append(cps[sequence_index(cps.size(), "string")], out);
        return Value::string(std::move(out), obj.is_safe());
    }
    case Kind::Undefined: raise_undefined(obj);
    case Kind::Object:
        if (auto v = obj.object_obj().getitem(key)) return *v;
        if (obj.object_obj().is_sequence_like()) {  // a range or a groupby group (a tuple)
            bool range = obj.object_obj().type_name() == "range";
            if (!key.is_integral()) sequence_index(0, range ? "range" : "tuple");  // raises
            raise(ErrorKind::Index,
                  range ? "range object index out of range" : "tuple index out of range");
        }
        raise(ErrorKind::Key, to_repr(key));
    default:
        raise(ErrorKind::Type, "'" + std::string(type_name(obj)) + "' object is not subscriptable");
    }
}

}  // namespace fmt

// ---- str.format ---------------------------------------------------------------------------

namespace {

// The digits of a field name or index, or -1 when it is not all decimal digits.
int64_t field_integer(std::u32string_view s) {
    if (s.empty()) return -1;
    int64_t acc = 0;
    for (char32_t c : s) {
        int d = uni::decimal_value(c);
        if (d < 0) return -1;
        if (acc > (INT64_MAX - d) / 10)
            raise(ErrorKind::Value, "Too many decimal digits in format string");
        acc = acc * 10 + d;
    }
    return acc;
}

struct Field {
    std::u32string_view name;
    std::u32string_view spec;
    char32_t conversion = 0;
    bool spec_needs_expanding = false;
};

class BraceFormatter {
  public:
    BraceFormatter(Runtime& rt, const std::vector<Value>* positional, const Args* named,
                   const Value* mapping, bool escape)
        : rt_(rt), positional_(positional), named_(named), mapping_(mapping), escape_(escape) {}

    std::string build(std::u32string_view s, int depth) {
        if (depth <= 0) raise(ErrorKind::Value, "Max string recursion exceeded");
        std::string out;
        size_t pos = 0;
        while (pos < s.size()) {
            // MarkupIterator_next: literal text up to a brace, then maybe a field.
            size_t start = pos;
            char32_t c = 0;
            bool markup = false;
            while (pos < s.size()) {
                c = s[pos++];
                if (c == '{' || c == '}') {
                    markup = true;
                    break;
                }
            }
            bool at_end = pos >= s.size();
            size_t len = pos - start;
            if (c == '}' && (at_end || s[pos] != '}'))
                raise(ErrorKind::Value, "Single '}' encountered in format string");
            if (at_end && c == '{')
                raise(ErrorKind::Value, "Single '{' encountered in format string");
            if (!at_end) {
                if (c == s[pos]) {  // '{{' or '}}': one brace of literal text
                    ++pos;
                    markup = false;
                } else {
                    --len;
                }
            }
            out += utf8_encode(s.substr(start, len));
            if (markup) render(parse_field(s, pos), out, depth);
        }
        return out;
    }

  private:
    static Field parse_field(std::u32string_view s, size_t& pos) {
        Field f;
        size_t start = pos;
        char32_t c = 0;
        while (pos < s.size()) {
            c = s[pos++];
            if (c == '{') raise(ErrorKind::Value, "unexpected '{' in field name");
            if (c == '[') {
                while (pos < s.size() && s[pos] != ']')
                    ++pos;
                continue;
            }
            if (c == '}' || c == ':' || c == '!') break;
        }
        f.name = s.substr(start, pos - 1 - start);
        if (c == '!' || c == ':') {
            if (c == '!') {
                if (pos >= s.size()) {
                    raise(ErrorKind::Value, "end of string while looking for conversion specifier");
                }
                f.conversion = s[pos++];
                if (pos < s.size()) {
                    char32_t next = s[pos++];
                    if (next == '}') return f;
                    if (next != ':')
                        raise(ErrorKind::Value, "expected ':' after conversion specifier");
                }
            }
            size_t spec_start = pos;
            int count = 1;
            while (pos < s.size()) {
                char32_t d = s[pos++];
                if (d == '{') {
                    f.spec_needs_expanding = true;
                    ++count;
                } else if (d == '}' && --count == 0) {
                    f.spec = s.substr(spec_start, pos - 1 - spec_start);
                    return f;
                }
            }
            raise(ErrorKind::Value, "unmatched '{' in format spec");
        }
        if (c != '}') raise(ErrorKind::Value, "expected '}' before end of string");
        return f;
    }

    void render(const Field& f, std::string& out, int depth) {
        Value obj = field_object(f.name);
        switch (f.conversion) {
        case 0: break;
        case 'r': obj = Value::string(to_repr(obj)); break;
        case 's': obj = Value::string(to_str(obj)); break;
        case 'a': obj = Value::string(fmt::to_ascii(obj)); break;
        default: {
            std::string msg = "Unknown conversion specifier ";
            if (f.conversion > 32 && f.conversion < 127) {
                msg += char(f.conversion);
            } else {
                char buf[16];
                std::snprintf(buf, sizeof buf, "\\x%x", unsigned(f.conversion));
                msg += buf;
            }
            raise(ErrorKind::Value, msg);
        }
        }
        std::string spec = f.spec_needs_expanding ? build(f.spec, depth - 1) : utf8_encode(f.spec);
        if (!escape_) {
            out += format_spec(obj, spec);
        } else if (obj.is_safe()) {
            // Markup.__html_format__
            if (!spec.empty())
                raise(ErrorKind::Value, "Unsupported format specification for Markup.");
            out += obj.str();
        } else {
            append_html_escaped(format_spec(obj, spec), out);
        }
    }

    Value field_object(std::u32string_view name) {
        size_t split = name.find_first_of(U".[");
        std::u32string_view first = name.substr(0, split);
        std::u32string_view rest = split == std::u32string_view::npos ? U"" : name.substr(split);
        int64_t index = field_integer(first);
        if (first.empty() || index != -1) {
            // Numbered fields: all automatic ({}) or all manual ({0}), never mixed.
            if (auto_state_ == AutoState::Init)
                auto_state_ = first.empty() ? AutoState::Auto : AutoState::Manual;
            if (auto_state_ == AutoState::Manual && first.empty()) {
                raise(ErrorKind::Value, "cannot switch from manual field specification to "
                                        "automatic field numbering");
            }
            if (auto_state_ == AutoState::Auto && !first.empty()) {
                raise(ErrorKind::Value, "cannot switch from automatic field numbering to "
                                        "manual field specification");
            }
            if (first.empty()) index = next_auto_++;
        }
        Value obj;
        if (index == -1) {
            Value key = Value::string(utf8_encode(first));
            if (mapping_) {
                obj = fmt::py_getitem(*mapping_, key);
            } else if (const Value* v = named_ ? named_->find_named(key.str()) : nullptr) {
                obj = *v;
            } else {
                raise(ErrorKind::Key, to_repr(key));
            }
        } else {
            if (!positional_) raise(ErrorKind::Value, "Format string contains positional fields");
            if (index >= int64_t(positional_->size())) {
                // Markup.format runs string.Formatter, which just indexes the args tuple.
                if (escape_) raise(ErrorKind::Index, "tuple index out of range");
                raise(ErrorKind::Index, "Replacement index " + std::to_string(index) +
                                            " out of range for positional args tuple");
            }
            obj = (*positional_)[size_t(index)];
        }
        size_t pos = 0;
        while (pos < rest.size()) {
            char32_t c = rest[pos++];
            std::u32string_view part;
            bool attribute = c == '.';
            if (attribute) {
                size_t end = rest.find_first_of(U".[", pos);
                if (end == std::u32string_view::npos) end = rest.size();
                part = rest.substr(pos, end - pos);
                pos = end;
            } else if (c == '[') {
                size_t end = rest.find(U']', pos);
                if (end == std::u32string_view::npos)
                    raise(ErrorKind::Value, "Missing ']' in format string");
                part = rest.substr(pos, end - pos);
                pos = end + 1;
            } else {
                raise(ErrorKind::Value, "Only '.' or '[' may follow ']' in format field specifier");
            }
            if (part.empty()) raise(ErrorKind::Value, "Empty attribute in format string");
            obj = attribute ? attribute_of(obj, utf8_encode(part)) : item_of(obj, part);
        }
        return obj;
    }

    // Python's getattr(obj, name): no fallback to items, unlike Jinja's attribute lookup.
    Value attribute_of(const Value& obj, const std::string& name) {
        if (obj.is_undefined()) raise_undefined(obj);
        if (obj.is_object()) {
            if (auto v = obj.object_obj().getattr(name)) return *v;
        } else if (has_method(obj, name)) {
            return get_attribute(rt_, obj, name);
        } else if (obj.is_number()) {
            // The data attributes of int and float.
            bool integral = obj.is_integral();
            if (name == "real")
                return integral ? Value::integer(obj.as_int()) : Value::floating(obj.as_float());
            if (name == "imag") return integral ? Value::integer(0) : Value::floating(0.0);
            if (integral && name == "numerator") return Value::integer(obj.as_int());
            if (integral && name == "denominator") return Value::integer(1);
        }
        // Python raises AttributeError, which Ferry has no kind for.
        std::string message(type_name(obj));
        message.insert(0, 1, '\'');
        message += "' object has no attribute '" + name + "'";
        raise(ErrorKind::Runtime, std::move(message));
    }

    static Value item_of(const Value& obj, std::u32string_view part) {
        int64_t index = field_integer(part);
        if (index == -1) return fmt::py_getitem(obj, Value::string(utf8_encode(part)));
        return fmt::py_getitem(obj, Value::integer(index));
    }

    enum class AutoState { Init, Auto, Manual };

    Runtime& rt_;
    const std::vector<Value>* positional_;
    const Args* named_;
    const Value* mapping_;
    bool escape_;
    AutoState auto_state_ = AutoState::Init;
    int64_t next_auto_ = 0;
};

}  // namespace

namespace fmt {

std::string brace_format(Runtime& rt, std::string_view fmt, const std::vector<Value>* positional,
                         const Args* named, const Value* mapping, bool escape) {
    BraceFormatter f(rt, positional, named, mapping, escape);
    return f.build(utf8_decode(fmt), 2);
}

}  // namespace fmt

std::string brace_format(Runtime& rt, std::string_view fmt, const Args& args) {
    return fmt::brace_format(rt, fmt, &args.positional, &args, nullptr, false);
}

}  // namespace ferry::tmpl
