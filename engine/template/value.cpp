#include "template/value.h"

#include "template/unicode_data.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>

namespace ferry::tmpl {

// ---- errors ---------------------------------------------------------------------------

std::string_view to_string(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::Syntax: return "TemplateSyntaxError";
    case ErrorKind::Undefined: return "UndefinedError";
    case ErrorKind::Type: return "TypeError";
    case ErrorKind::Value: return "ValueError";
    case ErrorKind::Key: return "KeyError";
    case ErrorKind::Index: return "IndexError";
    case ErrorKind::ZeroDivision: return "ZeroDivisionError";
    case ErrorKind::Overflow: return "OverflowError";
    case ErrorKind::NotFound: return "TemplateNotFound";
    case ErrorKind::Security: return "SecurityError";
    case ErrorKind::Limit: return "LimitError";
    case ErrorKind::Runtime: return "TemplateRuntimeError";
    }
    return "Error";
}

std::string TemplateError::describe() const {
    std::string out;
    if (!where_.file.empty()) out += where_.file;
    if (where_.line > 0) {
        out += ':' + std::to_string(where_.line);
        if (where_.column > 0) out += ':' + std::to_string(where_.column);
    }
    if (!out.empty()) out += ": ";
    out += to_string(kind_);
    out += ": ";
    out += message_;
    return out;
}

void raise(ErrorKind kind, std::string message) { throw TemplateError(kind, std::move(message)); }

// ---- construction -----------------------------------------------------------------------

Value Value::undefined(std::string hint, bool strict) {
    Value v(Kind::Undefined);
    if (!hint.empty() || strict) {
        v.u_.p = new UndefinedObj(std::move(hint), strict);
        ++v.u_.p->refs;
    }
    return v;
}

Value Value::missing_attribute(std::string_view type_name, std::string_view name, bool strict) {
    Value v(Kind::Undefined);
    v.u_.p = new UndefinedObj(std::string(name), strict, type_name);
    ++v.u_.p->refs;
    return v;
}

std::string UndefinedObj::message() const {
    if (missing_on.empty()) return hint.empty() ? "'undefined' is undefined" : hint;
    return "'" + std::string(missing_on) + " object' has no attribute '" + hint + "'";
}

Value Value::string(std::string s, bool safe) { return string(make_ref<StrObj>(std::move(s), safe)); }

Value Value::string(Ref<StrObj> s) {
    Value v(Kind::String);
    v.u_.p = s.get();
    ++v.u_.p->refs;
    return v;
}

Value Value::list(std::vector<Value> items) { return list(make_ref<ListObj>(std::move(items))); }

Value Value::tuple(std::vector<Value> items) {
    Value v = list(std::move(items));
    v.kind_ = Kind::Tuple;
    return v;
}

Value Value::list(Ref<ListObj> l) {
    Value v(Kind::List);
    v.u_.p = l.get();
    ++v.u_.p->refs;
    return v;
}

Value Value::dict() { return dict(make_ref<DictObj>()); }

Value Value::dict(Ref<DictObj> d) {
    Value v(Kind::Dict);
    v.u_.p = d.get();
    ++v.u_.p->refs;
    return v;
}

Value Value::object(Ref<Object> o) {
    Value v(Kind::Object);
    v.u_.p = o.get();
    ++v.u_.p->refs;
    return v;
}

bool Value::is_strict_undefined() const {
    return kind_ == Kind::Undefined && u_.p && undefined_obj()->strict;
}

// ---- containers -----------------------------------------------------------------------

const Value* DictObj::find(std::string_view key) const {
    for (const auto& [k, v] : items)
        if (k.is_string() && same_name(k.str(), key)) return &v;
    return nullptr;
}

const Value* DictObj::find(const Value& key) const {
    if (key.is_string()) return find(key.str());
    for (const auto& [k, v] : items)
        if (equals(k, key)) return &v;
    return nullptr;
}

void DictObj::set(Value key, Value value) {
    for (auto& [k, v] : items) {
        if (equals(k, key)) {
            v = std::move(value);
            return;
        }
    }
    items.emplace_back(std::move(key), std::move(value));
}

bool DictObj::erase(const Value& key) {
    for (auto it = items.begin(); it != items.end(); ++it) {
        if (equals(it->first, key)) {
            items.erase(it);
            return true;
        }
    }
    return false;
}

const Value* Args::find_named(std::string_view name) const {
    for (const auto& [k, v] : named)
        if (k == name) return &v;
    return nullptr;
}

namespace {

// ArgReader's errors, out of line: with the messages built inline, the constructor (run by
// most filter calls) had a 400-byte frame and saved six registers on every call.
} // namespace

void ArgReader::raise_too_many(std::string_view function, size_t count, size_t given) {
    raise(ErrorKind::Type, std::string(function) + "() takes " + std::to_string(count) +
                               " positional argument" + (count == 1 ? "" : "s") + " but " +
                               std::to_string(given) + " were given");
}

namespace {

[[noreturn, gnu::noinline, gnu::cold]] void
raise_keyword(std::string_view function, std::string_view problem, std::string_view name) {
    raise(ErrorKind::Type,
          std::string(function) + "() " + std::string(problem) + " '" + std::string(name) + "'");
}

} // namespace

void ArgReader::bind_named(const Args& args) {
    for (const auto& [name, value] : args.named) {
        size_t idx = 0;
        while (idx < count_ && param(idx) != name)
            ++idx;
        if (idx == count_) raise_keyword(function_, "got an unexpected keyword argument", name);
        if (bound_[idx]) raise_keyword(function_, "got multiple values for argument", name);
        bound_[idx] = &value;
    }
}

void ArgReader::raise_missing(size_t i) const {
    std::string name(i < count_ ? param(i) : std::string_view());
    raise(ErrorKind::Type, std::string(function_) + "() missing required argument: '" + name + "'");
}

// ---- objects ---------------------------------------------------------------------------

void Object::repr(std::string& out) const {
    out += '<';
    out += type_name();
    out += " object>";
}
std::optional<Value> Object::getattr(std::string_view) const { return std::nullopt; }
std::optional<Value> Object::getitem(const Value&) const { return std::nullopt; }
bool Object::setattr(std::string_view, Value) { return false; }
Value Object::call(Runtime&, const Args&) {
    raise(ErrorKind::Type, "'" + std::string(type_name()) + "' object is not callable");
}
std::vector<Value> Object::iterate() const {
    raise(ErrorKind::Type, "'" + std::string(type_name()) + "' object is not iterable");
}
bool Object::contains(const Value& item) const {
    if (!is_iterable()) {
        raise(ErrorKind::Type,
              "argument of type '" + std::string(type_name()) + "' is not iterable");
    }
    for (const Value& v : iterate())
        if (tmpl::equals(v, item)) return true;
    return false;
}

// ---- Python semantics -------------------------------------------------------------------

std::string_view type_name(const Value& v) {
    switch (v.kind()) {
    case Kind::Undefined: return v.is_strict_undefined() ? "StrictUndefined" : "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return v.is_safe() ? "Markup" : "str";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Object: return v.object_obj().type_name();
    }
    return "object";
}

void raise_undefined(const Value& undefined) {
    const UndefinedObj* u = undefined.is_undefined() ? undefined.undefined_obj() : nullptr;
    raise(ErrorKind::Undefined, u ? u->message() : "'undefined' is undefined");
}

bool truthy(const Value& v) {
    switch (v.kind()) {
    case Kind::Undefined:
        if (v.is_strict_undefined()) raise_undefined(v);
        return false;
    case Kind::None: return false;
    case Kind::Bool: return v.as_bool();
    case Kind::Int: return v.as_int() != 0;
    case Kind::Float: return v.as_float() != 0.0;
    case Kind::String: return !v.str().empty();
    case Kind::List:
    case Kind::Tuple: return !v.list_obj().items.empty();
    case Kind::Dict: return !v.dict_obj().items.empty();
    case Kind::Object: return v.object_obj().truthy();
    }
    return false;
}

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
                    if (cp <= 0xff) std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(cp));
                    else if (cp <= 0xffff) std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(cp));
                    else std::snprintf(buf, sizeof buf, "\\U%08x", unsigned(cp));
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

void append_sequence_repr(const Value& v, std::string& out) {
    bool tuple = v.is_tuple();
    out += tuple ? '(' : '[';
    const auto& items = v.list_obj().items;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        append_repr(items[i], out);
    }
    if (tuple && items.size() == 1) out += ',';
    out += tuple ? ')' : ']';
}

void append_dict_repr(const Value& v, std::string& out) {
    out += '{';
    bool first = true;
    for (const auto& [k, val] : v.dict_obj().items) {
        if (!first) out += ", ";
        first = false;
        append_repr(k, out);
        out += ": ";
        append_repr(val, out);
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

namespace {
long double exact(const Value& v) {
    return v.is_float() ? static_cast<long double>(v.as_float())
                        : static_cast<long double>(v.as_int());
}
}  // namespace

bool equals(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return exact(a) == exact(b);
        return a.as_int() == b.as_int();
    }
    if (a.kind() != b.kind()) {
        if (a.is_strict_undefined()) raise_undefined(a);
        if (b.is_strict_undefined()) raise_undefined(b);
        return false;
    }
    switch (a.kind()) {
    case Kind::Undefined:
        if (a.is_strict_undefined()) raise_undefined(a);
        if (b.is_strict_undefined()) raise_undefined(b);
        return true;
    case Kind::None: return true;
    case Kind::String: return a.str() == b.str();
    case Kind::List:
    case Kind::Tuple: {
        const auto& x = a.list_obj().items;
        const auto& y = b.list_obj().items;
        if (&x == &y) return true;
        if (x.size() != y.size()) return false;
        for (size_t i = 0; i < x.size(); ++i)
            if (!equals(x[i], y[i])) return false;
        return true;
    }
    case Kind::Dict: {
        const auto& x = a.dict_obj();
        const auto& y = b.dict_obj();
        if (&x == &y) return true;
        if (x.items.size() != y.items.size()) return false;
        for (const auto& [k, v] : x.items) {
            const Value* other = y.find(k);
            if (!other || !equals(v, *other)) return false;
        }
        return true;
    }
    case Kind::Object: return a.object_obj().equals(b.object_obj());
    default: return false;
    }
}

namespace {

[[noreturn]] void raise_unorderable(const Value& a, const Value& b, std::string_view op) {
    raise(ErrorKind::Type, "'" + std::string(op) + "' not supported between instances of '" +
                               std::string(type_name(a)) + "' and '" +
                               std::string(type_name(b)) + "'");
}

}  // namespace

bool less_than(const Value& a, const Value& b, std::string_view op) {
    // Undefined's ordering operators raise UndefinedError in Jinja2, strict or not.
    if (a.is_undefined()) raise_undefined(a);
    if (b.is_undefined()) raise_undefined(b);
    if (a.is_number() && b.is_number()) {
        // long double holds every int64 and every double exactly, so this is Python's
        // exact int/float comparison.
        if (a.is_float() || b.is_float()) return exact(a) < exact(b);
        return a.as_int() < b.as_int();
    }
    if (a.kind() == Kind::String && b.kind() == Kind::String) return a.str() < b.str();
    if (a.is_sequence() && a.kind() == b.kind()) {
        const auto& x = a.list_obj().items;
        const auto& y = b.list_obj().items;
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!equals(x[i], y[i])) return less_than(x[i], y[i], op);
        }
        return x.size() < y.size();
    }
    raise_unorderable(a, b, op);
}

int compare(const Value& a, const Value& b) {
    if (less_than(a, b)) return -1;
    if (less_than(b, a)) return 1;
    return 0;
}

size_t hash_value(const Value& v) {
    switch (v.kind()) {
    case Kind::Undefined: return 0x51;
    case Kind::None: return 0x4e;
    case Kind::Bool:
    case Kind::Int: return std::hash<int64_t>()(v.as_int());
    case Kind::Float: {
        double f = v.as_float();
        if (f == std::floor(f) && std::fabs(f) < 9e18)
            return std::hash<int64_t>()(static_cast<int64_t>(f));
        return std::hash<double>()(f);
    }
    case Kind::String: return std::hash<std::string_view>()(v.str());
    case Kind::Tuple: {
        size_t h = 0x345678;
        for (const Value& item : v.list_obj().items) h = h * 1000003 ^ hash_value(item);
        return h;
    }
    case Kind::Object: return std::hash<const void*>()(v.identity());
    default:
        raise(ErrorKind::Type, "unhashable type: '" + std::string(type_name(v)) + "'");
    }
}

bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
    case Kind::String:
        if (!item.is_string()) {
            if (item.is_strict_undefined()) raise_undefined(item);
            raise(ErrorKind::Type, "'in <string>' requires string as left operand, not " +
                                       std::string(type_name(item)));
        }
        return container.str().find(item.str()) != std::string_view::npos;
    case Kind::List:
    case Kind::Tuple:
        for (const Value& v : container.list_obj().items)
            if (equals(v, item)) return true;
        return false;
    case Kind::Dict: return container.dict_obj().find(item) != nullptr;
    case Kind::Undefined:
        if (container.is_strict_undefined()) raise_undefined(container);
        return false;
    case Kind::Object: return container.object_obj().contains(item);
    default:
        raise(ErrorKind::Type,
              "argument of type '" + std::string(type_name(container)) + "' is not iterable");
    }
}

std::optional<size_t> length(const Value& v) {
    switch (v.kind()) {
    case Kind::String: return utf8_length(v.str());
    case Kind::List:
    case Kind::Tuple: return v.list_obj().items.size();
    case Kind::Dict: return v.dict_obj().items.size();
    case Kind::Undefined:
        if (v.is_strict_undefined()) raise_undefined(v);
        return 0;
    case Kind::Object: return v.object_obj().length();
    default: return std::nullopt;
    }
}

std::vector<Value> iterate(const Value& v) {
    switch (v.kind()) {
    case Kind::List:
    case Kind::Tuple: return v.list_obj().items;
    case Kind::Dict: {
        std::vector<Value> keys;
        keys.reserve(v.dict_obj().items.size());
        for (const auto& kv : v.dict_obj().items) keys.push_back(kv.first);
        return keys;
    }
    case Kind::String: {
        std::vector<Value> chars;
        std::string_view s = v.str();
        for (size_t i = 0; i < s.size();) {
            size_t n = 1;
            unsigned char c = static_cast<unsigned char>(s[i]);
            if (c >= 0xf0) n = 4;
            else if (c >= 0xe0) n = 3;
            else if (c >= 0xc0) n = 2;
            n = std::min(n, s.size() - i);
            chars.push_back(Value::string(std::string(s.substr(i, n))));
            i += n;
        }
        return chars;
    }
    case Kind::Undefined:
        if (v.is_strict_undefined()) raise_undefined(v);
        return {};
    case Kind::Object: return v.object_obj().iterate();
    default:
        raise(ErrorKind::Type, "'" + std::string(type_name(v)) + "' object is not iterable");
    }
}

namespace {

// A method looked up as an attribute (`text.upper`), called later.
struct BoundMethod final : Object {
    Value receiver;
    std::string name;
    BoundMethod(Value r, std::string_view n) : receiver(std::move(r)), name(n) {}
    std::string_view type_name() const override { return "builtin_function_or_method"; }
    void repr(std::string& out) const override {
        out += "<built-in method " + name + " of " + std::string(tmpl::type_name(receiver)) +
               " object>";
    }
    bool is_callable() const override { return true; }
    Value call(Runtime& rt, const Args& args) override {
        return call_method(rt, receiver, name, args);
    }
};

Value undefined_attribute(Runtime& rt, const Value& obj, std::string_view name) {
    return Value::missing_attribute(type_name(obj), name, rt.strict());
}

std::optional<int64_t> index_of(const Value& key) {
    if (key.is_integral()) return key.as_int();
    return std::nullopt;
}

std::optional<Value> lookup_item(const Value& obj, const Value& key) {
    switch (obj.kind()) {
    case Kind::Dict:
        if (const Value* v = obj.dict_obj().find(key)) return *v;
        return std::nullopt;
    case Kind::List:
    case Kind::Tuple: {
        auto idx = index_of(key);
        if (!idx) return std::nullopt;
        const auto& items = obj.list_obj().items;
        int64_t i = *idx < 0 ? *idx + int64_t(items.size()) : *idx;
        if (i < 0 || i >= int64_t(items.size())) return std::nullopt;
        return items[size_t(i)];
    }
    case Kind::String: {
        auto idx = index_of(key);
        if (!idx) return std::nullopt;
        std::u32string cps = utf8_decode(obj.str());
        int64_t i = *idx < 0 ? *idx + int64_t(cps.size()) : *idx;
        if (i < 0 || i >= int64_t(cps.size())) return std::nullopt;
        std::string out;
        utf8_append(cps[size_t(i)], out);
        return Value::string(std::move(out), obj.is_safe());
    }
    case Kind::Object: return obj.object_obj().getitem(key);
    default: return std::nullopt;
    }
}

}  // namespace

Value get_attribute(Runtime& rt, const Value& obj, std::string_view name) {
    if (obj.is_undefined()) raise_undefined(obj);
    if (obj.is_object()) {
        if (auto v = obj.object_obj().getattr(name)) return *v;
        if (auto v = obj.object_obj().getitem(Value::string(std::string(name)))) return *v;
        return undefined_attribute(rt, obj, name);
    }
    if (has_method(obj, name)) return Value::object(make_ref<BoundMethod>(obj, name));
    if (obj.is_dict()) {
        if (const Value* v = obj.dict_obj().find(name)) return *v;
    }
    return undefined_attribute(rt, obj, name);
}

Value get_item(Runtime& rt, const Value& obj, const Value& key) {
    if (obj.is_undefined()) raise_undefined(obj);
    if (auto v = lookup_item(obj, key)) return *v;
    if (key.is_string()) {
        if (obj.is_object()) {
            if (auto v = obj.object_obj().getattr(key.str())) return *v;
        } else if (has_method(obj, key.str())) {
            return Value::object(make_ref<BoundMethod>(obj, key.str()));
        }
        return undefined_attribute(rt, obj, key.str());
    }
    return rt.make_undefined("'" + std::string(type_name(obj)) + " object' has no element " +
                             to_repr(key));
}

namespace {

// Python's slice.indices(): clamp start/stop for a sequence of length len.
void slice_indices(int64_t len, const std::optional<int64_t>& start,
                   const std::optional<int64_t>& stop, int64_t step, int64_t& lo, int64_t& hi) {
    auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
        if (!v) return dflt;
        int64_t x = *v;
        if (x < 0) {
            x += len;
            if (x < 0) x = step < 0 ? -1 : 0;
        } else if (x >= len) {
            x = step < 0 ? len - 1 : len;
        }
        return x;
    };
    lo = adjust(start, step < 0 ? len - 1 : 0);
    hi = adjust(stop, step < 0 ? -1 : len);
}

template <class Seq, class Out>
void take_slice(const Seq& seq, const std::optional<int64_t>& start,
                const std::optional<int64_t>& stop, int64_t step, Out&& out) {
    int64_t lo, hi;
    slice_indices(int64_t(seq.size()), start, stop, step, lo, hi);
    if (step > 0) {
        for (int64_t i = lo; i < hi; i += step) out(seq[size_t(i)]);
    } else {
        for (int64_t i = lo; i > hi; i += step) out(seq[size_t(i)]);
    }
}

}  // namespace

Value slice(const Value& obj, const std::optional<int64_t>& start,
            const std::optional<int64_t>& stop, const std::optional<int64_t>& step_opt) {
    int64_t step = step_opt.value_or(1);
    if (step == 0) raise(ErrorKind::Value, "slice step cannot be zero");
    if (obj.is_string()) {
        std::u32string cps = utf8_decode(obj.str());
        std::string out;
        take_slice(cps, start, stop, step, [&](char32_t c) { utf8_append(c, out); });
        return Value::string(std::move(out), obj.is_safe());
    }
    if (obj.is_sequence()) {
        std::vector<Value> out;
        take_slice(obj.list_obj().items, start, stop, step,
                   [&](const Value& v) { out.push_back(v); });
        return obj.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
    if (obj.is_undefined()) raise_undefined(obj);
    raise(ErrorKind::Type, "'" + std::string(type_name(obj)) + "' object is not subscriptable");
}

// ---- integers ----------------------------------------------------------------------------

int64_t checked_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
    return r;
}
int64_t checked_sub(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
    return r;
}
int64_t checked_mul(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
    return r;
}
int64_t floor_div(int64_t a, int64_t b) {
    if (b == 0) raise(ErrorKind::ZeroDivision, "integer division or modulo by zero");
    if (a == INT64_MIN && b == -1)
        raise(ErrorKind::Overflow, "integer result does not fit in 64 bits");
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}
int64_t floor_mod(int64_t a, int64_t b) {
    if (b == 0) raise(ErrorKind::ZeroDivision, "integer division or modulo by zero");
    if (b == -1) return 0;
    int64_t m = a % b;
    if (m != 0 && ((m < 0) != (b < 0))) m += b;
    return m;
}
double float_floor_div(double a, double b) {
    if (b == 0.0) raise(ErrorKind::ZeroDivision, "float floor division by zero");
    return std::floor(a / b);
}
double float_mod(double a, double b) {
    if (b == 0.0) raise(ErrorKind::ZeroDivision, "float modulo");
    double m = std::fmod(a, b);
    if (m != 0.0 && ((m < 0) != (b < 0))) m += b;
    if (m == 0.0) m = std::copysign(0.0, b);
    return m;
}

std::optional<int64_t> parse_int(std::string_view s, int base) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
        s.remove_suffix(1);
    bool neg = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        neg = s.front() == '-';
        s.remove_prefix(1);
    }
    if (base == 16 || base == 8 || base == 2 || base == 0) {
        if (s.size() > 2 && s[0] == '0') {
            char p = char(s[1] | 0x20);
            int b = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
            if (b && (base == 0 || base == b)) {
                base = b;
                s.remove_prefix(2);
            }
        }
        if (base == 0) base = 10;
    }
    if (s.empty()) return std::nullopt;
    std::string digits;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '_') {
            if (i == 0 || i + 1 == s.size() || s[i + 1] == '_') return std::nullopt;
            continue;
        }
        digits += s[i];
    }
    uint64_t mag = 0;
    auto res = std::from_chars(digits.data(), digits.data() + digits.size(), mag, base);
    if (res.ec != std::errc() || res.ptr != digits.data() + digits.size()) return std::nullopt;
    if (neg) {
        if (mag > uint64_t(INT64_MAX) + 1) return std::nullopt;
        return int64_t(0 - mag);
    }
    if (mag > uint64_t(INT64_MAX)) return std::nullopt;
    return int64_t(mag);
}

std::optional<double> parse_float(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
        s.remove_suffix(1);
    if (s.empty()) return std::nullopt;
    std::string t;
    for (char c : s)
        if (c != '_') t += char(std::tolower(static_cast<unsigned char>(c)));
    std::string_view body = t;
    bool neg = false;
    if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
        neg = body[0] == '-';
        body.remove_prefix(1);
    }
    if (body == "inf" || body == "infinity") return neg ? -HUGE_VAL : HUGE_VAL;
    if (body == "nan") return std::nan("");
    double d = 0;
    auto res = std::from_chars(body.data(), body.data() + body.size(), d);
    if (res.ec == std::errc::result_out_of_range) {
        d = HUGE_VAL;
    } else if (res.ec != std::errc() || res.ptr != body.data() + body.size()) {
        return std::nullopt;
    }
    return neg ? -d : d;
}

}  // namespace ferry::tmpl
