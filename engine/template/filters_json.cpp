// Serialising filters: tojson (Jinja2's htmlsafe_json_dumps over json.dumps(sort_keys=True))
// and pprint (Python's pprint.pformat).
#include "template/filters_util.h"

#include <algorithm>
#include <cmath>

namespace ferry::tmpl {

using namespace filter_impl;

namespace {

// ---- json.dumps ------------------------------------------------------------------------

[[noreturn]] void not_serializable(const Value& v) {
    raise(ErrorKind::Type,
          "Object of type " + std::string(type_name(v)) + " is not JSON serializable");
}

void append_json_float(double f, std::string& out) {
    if (std::isnan(f))
        out += "NaN";
    else if (std::isinf(f))
        out += f < 0 ? "-Infinity" : "Infinity";
    else
        append_float(f, out);
}

void append_hex4(unsigned v, std::string& out) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4)
        out += kHex[(v >> shift) & 15];
}

// ensure_ascii string escaping, plus htmlsafe_json_dumps' < > & ' replacements (which can
// only ever match inside strings).
void append_json_string(std::string_view s, std::string& out) {
    out += '"';
    for (char32_t c : utf8_decode(s)) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '<': out += "\\u003c"; break;
        case '>': out += "\\u003e"; break;
        case '&': out += "\\u0026"; break;
        case '\'': out += "\\u0027"; break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                out += char(c);
            } else if (c >= 0x10000) {
                char32_t v = c - 0x10000;
                append_hex4(0xD800 | unsigned(v >> 10), out);
                append_hex4(0xDC00 | unsigned(v & 0x3FF), out);
            } else {
                append_hex4(unsigned(c), out);
            }
        }
    }
    out += '"';
    check_built_size(out.size(), "tojson");  // up to twelve bytes a character
}

struct JsonWriter {
    const std::string* indent;  // nullptr: one line with ", " and ": "
    std::string out;

    void newline(int level) {
        // A wide indent times a deep or long value can outgrow memory long before the
        // template's output limit is checked.
        check_built_size(uint64_t(out.size()) + 1 + uint64_t(level) * indent->size(), "tojson");
        out += '\n';
        for (int i = 0; i < level; ++i)
            out += *indent;
    }

    void key(const Value& k) {
        switch (k.kind()) {
        case Kind::String: append_json_string(k.str(), out); return;
        case Kind::Int: out += '"' + std::to_string(k.as_int()) + '"'; return;
        case Kind::Bool: out += k.as_bool() ? "\"true\"" : "\"false\""; return;
        case Kind::None: out += "\"null\""; return;
        case Kind::Float: {
            std::string f;
            append_json_float(k.as_float(), f);
            append_json_string(f, out);
            return;
        }
        default:
            raise(ErrorKind::Type,
                  "keys must be str, int, float, bool or None, not " + std::string(type_name(k)));
        }
    }

    void sequence(const std::vector<Value>& items, int level) {
        ContainerDepth depth(items.size());
        if (items.empty()) {
            out += "[]";
            return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += indent ? "," : ", ";
            if (indent) newline(level + 1);
            value(items[i], level + 1);
            check_built_size(out.size(), "tojson");
        }
        if (indent) newline(level);
        out += ']';
    }

    void value(const Value& v, int level) {
        switch (v.kind()) {
        case Kind::None: out += "null"; return;
        case Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
        case Kind::Int: out += std::to_string(v.as_int()); return;
        case Kind::Float: append_json_float(v.as_float(), out); return;
        case Kind::String: append_json_string(v.str(), out); return;
        case Kind::List:
        case Kind::Tuple: sequence(v.list_obj().items, level); return;
        case Kind::Dict: {
            const auto& items = v.dict_obj().items();
            ContainerDepth depth(items.size());
            if (items.empty()) {
                out += "{}";
                return;
            }
            std::vector<Value> keys;
            keys.reserve(items.size());
            for (const auto& kv : items)
                keys.push_back(kv.first);
            out += '{';
            bool first = true;
            for (size_t i : sorted_order(keys, false)) {
                if (!first) out += indent ? "," : ", ";
                first = false;
                if (indent) newline(level + 1);
                key(items[i].first);
                out += ": ";
                value(items[i].second, level + 1);
                check_built_size(out.size(), "tojson");
            }
            if (indent) newline(level);
            out += '}';
            return;
        }
        case Kind::Object:
            // groupby's named tuples are tuples to json.
            if (const auto* items = group_tuple_items(v)) {
                sequence(*items, level);
                return;
            }
            not_serializable(v);
        case Kind::Undefined: not_serializable(v);
        }
    }
};

// ---- pprint.pformat ------------------------------------------------------------------------

// "<class 'int'>": how pprint's _safe_key orders values of types that do not compare.
std::string class_text(const Value& v) {
    return "<class '" + std::string(type_name(v)) + "'>";
}

bool safe_key_less(const Value& a, const Value& b) {
    bool comparable = (a.is_number() && b.is_number()) || (a.is_string() && b.is_string()) ||
                      (a.is_sequence() && a.kind() == b.kind());
    if (comparable) {
        try {
            return py_less(a, b);
        } catch (const TemplateError& e) {
            if (e.kind() != ErrorKind::Type) throw;
        }
    }
    return class_text(a) < class_text(b);
}

std::vector<size_t> pprint_dict_order(const Value& d) {
    const auto& items = d.dict_obj().items();
    std::vector<size_t> order(items.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
        return safe_key_less(items[x].first, items[y].first);
    });
    return order;
}

// PrettyPrinter._safe_repr: repr() with dict keys sorted.
void safe_repr(const Value& v, std::string& out) {
    ContainerDepth depth(v.is_dict()       ? v.dict_obj().items().size()
                         : v.is_sequence() ? v.list_obj().items.size()
                                           : 0);
    switch (v.kind()) {
    case Kind::Dict: {
        const auto& items = v.dict_obj().items();
        out += '{';
        bool first = true;
        for (size_t i : pprint_dict_order(v)) {
            if (!first) out += ", ";
            first = false;
            safe_repr(items[i].first, out);
            out += ": ";
            safe_repr(items[i].second, out);
            check_built_size(out.size(), "pprint");
        }
        out += '}';
        return;
    }
    case Kind::List:
    case Kind::Tuple: {
        const auto& items = v.list_obj().items;
        out += v.is_tuple() ? '(' : '[';
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += ", ";
            safe_repr(items[i], out);
            check_built_size(out.size(), "pprint");
        }
        if (v.is_tuple() && items.size() == 1) out += ',';
        out += v.is_tuple() ? ')' : ']';
        return;
    }
    case Kind::Undefined:
        // Undefined.__repr__, which StrictUndefined inherits without failing.
        out += "Undefined";
        return;
    default: append_repr(v, out);
    }
}

std::string safe_repr(const Value& v) {
    std::string out;
    safe_repr(v, out);
    return out;
}

int64_t width_of(std::string_view s) {
    return int64_t(utf8_length(s));
}

std::string str_repr(std::u32string_view s) {
    std::string out;
    append_string_repr(utf8_encode(s), out);
    return out;
}

struct PrettyPrinter {
    static constexpr int64_t kWidth = 80;
    std::string out;

    void format(const Value& v, int64_t indent, int64_t allowance, int level) {
        std::string rep = safe_repr(v);
        if (width_of(rep) > kWidth - indent - allowance) {
            switch (v.kind()) {
            case Kind::Dict: return pprint_dict(v, indent, allowance, level + 1);
            case Kind::List:
                out += '[';
                format_items(v.list_obj().items, indent, allowance + 1, level + 1);
                out += ']';
                return;
            case Kind::Tuple: {
                std::string_view endchar = v.list_obj().items.size() == 1 ? ",)" : ")";
                out += '(';
                format_items(v.list_obj().items, indent, allowance + int64_t(endchar.size()),
                             level + 1);
                out += endchar;
                return;
            }
            case Kind::String:
                // Markup has its own __repr__, so pprint leaves it on one line.
                if (!v.is_safe()) return pprint_str(v.str(), indent, allowance, level + 1);
                break;
            default: break;
            }
        }
        out += rep;
    }

    void pprint_dict(const Value& v, int64_t indent, int64_t allowance, int level) {
        const auto& items = v.dict_obj().items();
        out += '{';
        indent += 1;
        allowance += 1;
        std::string delim = ",\n" + std::string(size_t(indent), ' ');
        std::vector<size_t> order = pprint_dict_order(v);
        for (size_t n = 0; n < order.size(); ++n) {
            bool last = n + 1 == order.size();
            const auto& [key, value] = items[order[n]];
            std::string rep = safe_repr(key);
            out += rep;
            out += ": ";
            format(value, indent + width_of(rep) + 2, last ? allowance : 1, level);
            check_built_size(out.size(), "pprint");
            if (!last) out += delim;
        }
        out += '}';
    }

    void format_items(const std::vector<Value>& items, int64_t indent, int64_t allowance,
                      int level) {
        indent += 1;
        std::string delim = ",\n" + std::string(size_t(indent), ' ');
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += delim;
            bool last = i + 1 == items.size();
            format(items[i], indent, last ? allowance : 1, level);
            check_built_size(out.size(), "pprint");
        }
    }

    void pprint_str(std::string_view text, int64_t indent, int64_t allowance, int level) {
        std::u32string s = utf8_decode(text);
        std::vector<std::string> chunks;
        std::vector<std::u32string> lines = splitlines(s, true);
        if (level == 1) {
            indent += 1;
            allowance += 1;
        }
        int64_t max_width1 = kWidth - indent, max_width = kWidth - indent;
        std::string rep;
        for (size_t i = 0; i < lines.size(); ++i) {
            const std::u32string& line = lines[i];
            bool last_line = i + 1 == lines.size();
            rep = str_repr(line);
            if (last_line) max_width1 -= allowance;
            if (width_of(rep) <= max_width1) {
                chunks.push_back(rep);
                continue;
            }
            // re.findall(r'\S*\s*', line) without the final empty match.
            std::vector<std::u32string> parts;
            for (size_t p = 0; p < line.size();) {
                size_t q = p;
                while (q < line.size() && !char_is_space(line[q]))
                    ++q;
                while (q < line.size() && char_is_space(line[q]))
                    ++q;
                parts.push_back(line.substr(p, q - p));
                p = q;
            }
            int64_t max_width2 = max_width;
            std::u32string current;
            for (size_t j = 0; j < parts.size(); ++j) {
                std::u32string candidate = current + parts[j];
                if (j + 1 == parts.size() && last_line) max_width2 -= allowance;
                if (width_of(str_repr(candidate)) > max_width2) {
                    if (!current.empty()) chunks.push_back(str_repr(current));
                    current = parts[j];
                } else {
                    current = std::move(candidate);
                }
            }
            if (!current.empty()) chunks.push_back(str_repr(current));
        }
        if (chunks.size() == 1) {
            out += rep;
            return;
        }
        if (level == 1) out += '(';
        for (size_t i = 0; i < chunks.size(); ++i) {
            if (i) {
                out += '\n';
                out.append(size_t(indent), ' ');
            }
            out += chunks[i];
        }
        if (level == 1) out += ')';
    }
};

}  // namespace

std::string to_json(const Value& v, std::optional<int> indent) {
    std::string spaces;
    if (indent) {
        check_built_size(uint64_t(std::max(*indent, 0)), "a JSON indent");
        spaces.assign(size_t(std::max(*indent, 0)), ' ');
    }
    JsonWriter w{indent ? &spaces : nullptr, {}};
    w.value(v, 0);
    return std::move(w.out);
}

std::string filter_impl::pformat(const Value& v) {
    PrettyPrinter p;
    p.format(v, 0, 0, 0);
    return std::move(p.out);
}

Value filter_impl::f_tojson(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_tojson", args, {"indent"});
    Value indent = r.get_or(0, Value::none());
    std::string text;
    if (indent.is_none()) {
        JsonWriter w{nullptr, {}};
        w.value(value, 0);
        text = std::move(w.out);
    } else {
        // json.dumps takes a str indent as is and multiplies ' ' by an int one.
        std::string unit;
        if (indent.is_string()) {
            unit = std::string(indent.str());
        } else if (indent.is_integral()) {
            int64_t width = std::max<int64_t>(indent.as_int(), 0);
            check_built_size(uint64_t(width), "tojson's indent");
            unit.assign(size_t(width), ' ');
        } else {
            raise(ErrorKind::Type, "can't multiply sequence by non-int of type '" +
                                       std::string(type_name(indent)) + "'");
        }
        JsonWriter w{&unit, {}};
        w.value(value, 0);
        text = std::move(w.out);
    }
    return Value::string(std::move(text), true);
}

Value filter_impl::f_pprint(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_pprint", args, {});
    return Value::string(pformat(value));
}

}  // namespace ferry::tmpl
