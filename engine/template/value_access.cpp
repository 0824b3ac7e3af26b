// Reading into values as Python and Jinja2 do: `in`, len(), iteration, attributes, items
// and slices.
#include "template/value.h"

#include <algorithm>

namespace ferry::tmpl {

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
    case Kind::Dict:
        // A list or dict is no key: Python's `in` raises "unhashable type" (a tuple holding
        // one too), where a lookup would just miss.
        if (item.is_list() || item.is_dict() || item.is_tuple()) hash_value(item);
        return container.dict_obj().find(item) != nullptr;
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
    case Kind::Dict: return v.dict_obj().items().size();
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
        keys.reserve(v.dict_obj().items().size());
        for (const auto& kv : v.dict_obj().items())
            keys.push_back(kv.first);
        return keys;
    }
    case Kind::String: {
        std::vector<Value> chars;
        std::string_view s = v.str();
        for (size_t i = 0; i < s.size();) {
            size_t n = 1;
            unsigned char c = static_cast<unsigned char>(s[i]);
            if (c >= 0xf0)
                n = 4;
            else if (c >= 0xe0)
                n = 3;
            else if (c >= 0xc0)
                n = 2;
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
    default: raise(ErrorKind::Type, "'" + std::string(type_name(v)) + "' object is not iterable");
    }
}

namespace {

// A method looked up as an attribute (`text.upper`), called later.
struct BoundMethod final : Object {
    Value receiver;
    std::string name;
    BoundMethod(Value r, std::string_view n) : receiver(std::move(r)), name(n) {}
    std::string_view type_name() const override { return "builtin_function_or_method"; }
    void report_held(HeldVisitor& visitor) const override { visitor.held(receiver); }
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

// The data attributes of Python's numbers (int, bool, float): `x.real`, `x.imag`, and an
// integer's `numerator`/`denominator`.
std::optional<Value> number_attribute(const Value& obj, std::string_view name) {
    if (obj.is_integral()) {
        if (name == "real" || name == "numerator") return Value::integer(obj.as_int());
        if (name == "imag") return Value::integer(0);
        if (name == "denominator") return Value::integer(1);
    } else if (obj.is_float()) {
        if (name == "real") return obj;
        if (name == "imag") return Value::floating(0.0);
    }
    return std::nullopt;
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
    } else if (auto v = number_attribute(obj, name)) {
        return *v;
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
        } else if (auto v = number_attribute(obj, key.str())) {
            return *v;
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
        for (int64_t i = lo; i < hi; i += step)
            out(seq[size_t(i)]);
    } else {
        for (int64_t i = lo; i > hi; i += step)
            out(seq[size_t(i)]);
    }
}

}  // namespace

Value slice(const Value& obj, const std::optional<int64_t>& start,
            const std::optional<int64_t>& stop, const std::optional<int64_t>& step_opt) {
    // Undefined.__getitem__ raises, lenient or not, before Python looks at the step.
    if (obj.is_undefined()) raise_undefined(obj);
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
    if (obj.kind() == Kind::Object) {
        if (std::optional<size_t> len = obj.object_obj().length()) {
            int64_t lo, hi;
            slice_indices(int64_t(*len), start, stop, step, lo, hi);
            if (std::optional<Value> part = obj.object_obj().slice(lo, hi, step)) return *part;
        }
    }
    if (obj.is_dict()) raise(ErrorKind::Type, "unhashable type: 'slice'");  // d[slice(...)]
    raise(ErrorKind::Type, "'" + std::string(type_name(obj)) + "' object is not subscriptable");
}

}  // namespace ferry::tmpl
