// The methods of dict (with its keys/values/items views), list and tuple, for methods.cpp.
// They mutate in place: a list or dict is shared by every reference to it, as in Python.
#include "template/methods_internal.h"

#include <algorithm>
#include <numeric>

namespace ferry::tmpl {

using namespace methods;

namespace {

// ---- dict views ------------------------------------------------------------------------------

// dict.keys(), dict.values(), dict.items(): live views of the dict, as in Python.
struct DictView final : Object {
    enum class Which { Keys, Values, Items };
    Value dict;
    Which which;
    DictView(Value d, Which w) : dict(std::move(d)), which(w) {}
    void report_held(HeldVisitor& visitor) const override { visitor.held(dict); }
    const Value* viewed_dict() const override { return &dict; }

    const DictObj& d() const { return dict.dict_obj(); }
    std::string_view type_name() const override {
        switch (which) {
        case Which::Keys: return "dict_keys";
        case Which::Values: return "dict_values";
        default: return "dict_items";
        }
    }
    void repr(std::string& out) const override {
        out += type_name();
        out += "([";
        bool first = true;
        for (const Value& v : iterate()) {
            if (!first) out += ", ";
            first = false;
            append_repr(v, out);
        }
        out += "])";
    }
    bool truthy() const override { return !d().items().empty(); }
    bool is_iterable() const override { return true; }
    std::vector<Value> iterate() const override {
        std::vector<Value> out;
        out.reserve(d().items().size());
        for (const auto& [k, v] : d().items()) {
            switch (which) {
            case Which::Keys: out.push_back(k); break;
            case Which::Values: out.push_back(v); break;
            default: out.push_back(Value::tuple({k, v})); break;
            }
        }
        return out;
    }
    std::optional<size_t> length() const override { return d().items().size(); }
    bool contains(const Value& item) const override {
        switch (which) {
        case Which::Keys: hash_value(item); return d().find(item) != nullptr;
        case Which::Values:
            for (const auto& kv : d().items())
                if (tmpl::equals(kv.second, item)) return true;
            return false;
        default: {
            if (!item.is_tuple() || item.list_obj().items.size() != 2) return false;
            const Value& key = item.list_obj().items[0];
            hash_value(key);
            const Value* v = d().find(key);
            return v && tmpl::equals(*v, item.list_obj().items[1]);
        }
        }
    }
    bool equals(const Object& other) const override {
        // Keys and items views compare as sets; values views only by identity.
        auto* o = dynamic_cast<const DictView*>(&other);
        if (!o) return false;
        if (o == this) return true;
        if (which == Which::Values || o->which == Which::Values) return false;
        if (which != o->which || d().items().size() != o->d().items().size()) return false;
        for (const Value& v : iterate())
            if (!o->contains(v)) return false;
        return true;
    }
};

Value view(const Value& dict, DictView::Which which) {
    return Value::object(make_ref<DictView>(dict, which));
}

// ---- dict -----------------------------------------------------------------------------------

constexpr std::string_view kDictMethods[] = {"clear",      "copy",   "fromkeys", "get",
                                             "items",      "keys",   "pop",      "popitem",
                                             "setdefault", "update", "values"};

// dict.update's argument: a mapping, or an iterable of key/value pairs.
void update_from(DictObj& d, const Value& other) {
    if (other.is_dict()) {
        auto items = other.dict_obj().items();  // a copy: d.update(d) must work
        for (auto& [k, v] : items)
            d.set(k, v);
        return;
    }
    if (other.is_object() && other.object_obj().is_mapping()) {
        for (const Value& k : other.object_obj().iterate()) {
            auto v = other.object_obj().getitem(k);
            if (!v) raise(ErrorKind::Key, to_repr(k));
            hash_value(k);
            d.set(k, *v);
        }
        return;
    }
    std::vector<Value> seq = iterate(other);
    for (size_t i = 0; i < seq.size(); ++i) {
        const Value& item = seq[i];
        bool iterable = item.is_sequence() || item.is_string() || item.is_dict() ||
                        (item.is_object() && item.object_obj().is_iterable());
        if (!iterable) {
            raise(ErrorKind::Type, "cannot convert dictionary update sequence element #" +
                                       std::to_string(i) + " to a sequence");
        }
        std::vector<Value> pair = iterate(item);
        if (pair.size() != 2) {
            raise(ErrorKind::Value, "dictionary update sequence element #" + std::to_string(i) +
                                        " has length " + std::to_string(pair.size()) +
                                        "; 2 is required");
        }
        hash_value(pair[0]);
        d.set(pair[0], pair[1]);
    }
}

Value dict_method(Runtime&, const Value& self, std::string_view name, const Args& args) {
    DictObj& d = self.dict_obj();
    const auto& pos = args.positional;
    if (name == "keys" || name == "values" || name == "items") {
        no_args(args, "dict." + std::string(name));
        return view(self, name == "keys"     ? DictView::Which::Keys
                          : name == "values" ? DictView::Which::Values
                                             : DictView::Which::Items);
    }
    if (name == "get") {
        positional(args, "dict.get", "get", 1, 2);
        hash_value(pos[0]);
        if (const Value* v = d.find(pos[0])) return *v;
        return pos.size() > 1 ? pos[1] : Value::none();
    }
    if (name == "pop") {
        positional(args, "dict.pop", "pop", 1, 2);
        hash_value(pos[0]);
        if (const Value* v = d.find(pos[0])) {
            Value out = *v;
            d.erase(pos[0]);
            return out;
        }
        if (pos.size() > 1) return pos[1];
        raise(ErrorKind::Key, to_repr(pos[0]));
    }
    if (name == "popitem") {
        no_args(args, "dict.popitem");
        if (d.items().empty()) raise(ErrorKind::Key, "'popitem(): dictionary is empty'");
        auto [k, v] = d.pop_last();
        return Value::tuple({std::move(k), std::move(v)});
    }
    if (name == "setdefault") {
        positional(args, "dict.setdefault", "setdefault", 1, 2);
        hash_value(pos[0]);
        if (const Value* v = d.find(pos[0])) return *v;
        Value dflt = pos.size() > 1 ? pos[1] : Value::none();
        d.set(pos[0], dflt);
        return dflt;
    }
    if (name == "update") {
        if (pos.size() > 1) {
            raise(ErrorKind::Type,
                  "update expected at most 1 argument, got " + std::to_string(pos.size()));
        }
        if (!pos.empty()) update_from(d, pos[0]);
        for (const auto& [k, v] : args.named)
            d.set(Value::string(k), v);
        return Value::none();
    }
    if (name == "copy") {
        no_args(args, "dict.copy");
        auto copy = make_ref<DictObj>();
        copy->assign(d.items());
        return Value::dict(copy);
    }
    if (name == "clear") {
        no_args(args, "dict.clear");
        d.clear();
        return Value::none();
    }
    // fromkeys: a classmethod, callable on an instance; the instance plays no part.
    positional(args, "dict.fromkeys", "fromkeys", 1, 2);
    Value value = pos.size() > 1 ? pos[1] : Value::none();
    auto out = make_ref<DictObj>();
    for (const Value& k : iterate(pos[0])) {
        hash_value(k);
        out->set(k, value);
    }
    return Value::dict(out);
}

// ---- list and tuple ------------------------------------------------------------------------

constexpr std::string_view kListMethods[] = {"append", "clear",   "copy",   "count",
                                             "extend", "index",   "insert", "pop",
                                             "remove", "reverse", "sort"};

// Python's list.sort: timsort, whose comparisons (and so which TypeError an unorderable pair
// raises, and where NaNs end up) are reproduced exactly for lists of fewer than 64 items: a
// leading run, reversed if strictly descending, extended by binary insertion. Longer lists
// use a stable merge sort, which orders consistently comparable items identically.
std::vector<size_t> python_sort_order(const std::vector<Value>& keys, bool reverse) {
    size_t n = keys.size();
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    if (reverse) std::reverse(order.begin(), order.end());
    auto lt = [&](size_t a, size_t b) { return less_than(keys[a], keys[b]); };
    if (n >= 64) {
        std::stable_sort(order.begin(), order.end(), lt);
    } else if (n >= 2) {
        size_t run = 2;
        if (lt(order[1], order[0])) {
            while (run < n && lt(order[run], order[run - 1]))
                ++run;
            std::reverse(order.begin(), order.begin() + long(run));
        } else {
            while (run < n && !lt(order[run], order[run - 1]))
                ++run;
        }
        for (size_t start = run; start < n; ++start) {
            size_t pivot = order[start];
            size_t l = 0, r = start;
            while (l < r) {
                size_t p = l + ((r - l) >> 1);
                if (lt(pivot, order[p]))
                    r = p;
                else
                    l = p + 1;
            }
            std::move_backward(order.begin() + long(l), order.begin() + long(start),
                               order.begin() + long(start) + 1);
            order[l] = pivot;
        }
    }
    if (reverse) std::reverse(order.begin(), order.end());
    return order;
}

// list.index / tuple.index bounds: ints (None is not accepted), clamped like a slice.
size_t clamp_bound(const Value& v, size_t len) {
    if (!v.is_integral()) {
        raise(ErrorKind::Type, "slice indices must be integers or have an __index__ method");
    }
    int64_t i = v.as_int();
    if (i < 0) i = std::max<int64_t>(0, i + int64_t(len));
    return size_t(std::min<int64_t>(i, int64_t(len)));
}

Value sequence_index(const Value& self, const Args& args, bool tuple) {
    positional(args, tuple ? "tuple.index" : "list.index", "index", 1, 3);
    const auto& items = self.list_obj().items;
    size_t start = args.positional.size() > 1 ? clamp_bound(args.positional[1], items.size()) : 0;
    size_t stop =
        args.positional.size() > 2 ? clamp_bound(args.positional[2], items.size()) : items.size();
    // Compare against the live list: an item's __eq__ cannot mutate it here.
    for (size_t i = start; i < stop && i < items.size(); ++i)
        if (equals(items[i], args.positional[0])) return Value::integer(int64_t(i));
    if (tuple) raise(ErrorKind::Value, "tuple.index(x): x not in tuple");
    raise(ErrorKind::Value, to_repr(args.positional[0]) + " is not in list");
}

Value sequence_count(const Value& self, const Args& args, bool tuple) {
    const Value& x = one_arg(args, tuple ? "tuple.count" : "list.count");
    int64_t n = 0;
    for (const Value& item : self.list_obj().items)
        if (equals(item, x)) ++n;
    return Value::integer(n);
}

Value list_method(Runtime& rt, const Value& self, std::string_view name, const Args& args) {
    auto& items = self.list_obj().items;
    const auto& pos = args.positional;
    if (name == "append") {
        items.push_back(one_arg(args, "list.append"));
        return Value::none();
    }
    if (name == "extend") {
        std::vector<Value> more = iterate(one_arg(args, "list.extend"));
        items.insert(items.end(), more.begin(), more.end());
        return Value::none();
    }
    if (name == "insert") {
        positional(args, "list.insert", "insert", 2, 2);
        int64_t i = index_value(pos[0]);
        int64_t n = int64_t(items.size());
        if (i < 0) i = std::max<int64_t>(0, i + n);
        i = std::min(i, n);
        items.insert(items.begin() + long(i), pos[1]);
        return Value::none();
    }
    if (name == "pop") {
        positional(args, "list.pop", "pop", 0, 1);
        int64_t i = pos.empty() ? -1 : index_value(pos[0]);
        if (items.empty()) raise(ErrorKind::Index, "pop from empty list");
        int64_t n = int64_t(items.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) raise(ErrorKind::Index, "pop index out of range");
        Value out = items[size_t(i)];
        items.erase(items.begin() + long(i));
        return out;
    }
    if (name == "remove") {
        const Value& x = one_arg(args, "list.remove");
        for (size_t i = 0; i < items.size(); ++i) {
            if (equals(items[i], x)) {
                items.erase(items.begin() + long(i));
                return Value::none();
            }
        }
        raise(ErrorKind::Value, "list.remove(x): x not in list");
    }
    if (name == "index") return sequence_index(self, args, false);
    if (name == "count") return sequence_count(self, args, false);
    if (name == "copy") {
        no_args(args, "list.copy");
        return Value::list(items);
    }
    if (name == "clear") {
        no_args(args, "list.clear");
        items.clear();
        return Value::none();
    }
    if (name == "reverse") {
        no_args(args, "list.reverse");
        std::reverse(items.begin(), items.end());
        return Value::none();
    }
    // sort(*, key=None, reverse=False)
    auto bound = keywords(args, "sort", {"key", "reverse"}, 0);
    bool reverse = bound[1] ? index_value(*bound[1]) != 0 : false;
    std::vector<Value> keys = items;
    if (bound[0] && !bound[0]->is_none()) {
        for (Value& k : keys) {
            Args call;
            call.positional.push_back(k);
            k = rt.call(*bound[0], call);
        }
    }
    std::vector<Value> snapshot = items;
    std::vector<size_t> order = python_sort_order(keys, reverse);
    for (size_t i = 0; i < order.size(); ++i)
        items[i] = snapshot[order[i]];
    return Value::none();
}

template <size_t N>
bool listed(const std::string_view (&names)[N], std::string_view name) {
    return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

}  // namespace

namespace methods {

bool is_dict_method(std::string_view name) {
    return listed(kDictMethods, name);
}
bool is_list_method(std::string_view name) {
    return listed(kListMethods, name);
}

namespace {

constexpr std::string_view kDictMutators[] = {"clear", "pop", "popitem", "setdefault", "update"};
constexpr std::string_view kListMutators[] = {"append", "clear",  "extend",  "insert",
                                              "pop",    "remove", "reverse", "sort"};

// As Jinja2's ImmutableSandboxedEnvironment words it, plus what to do instead.
[[noreturn]] void raise_frozen(std::string_view type, std::string_view name) {
    raise(ErrorKind::Security,
          "access to attribute '" + std::string(name) + "' of '" + std::string(type) +
              "' object is unsafe: workflow data (inputs, vars, steps, execution) is read-only; "
              "build a new value instead (a + [x], dict(a, key=value))");
}

// A mutator given a value that can hold others (a list, a dict, an object, or an iterable of
// them for extend) may have made self hold itself: the render checks self when it ends.
void note_if_cycle_possible(Runtime& rt, const Value& self, const Args& args) {
    bool possible = std::any_of(args.positional.begin(), args.positional.end(), may_hold_values) ||
                    std::any_of(args.named.begin(), args.named.end(),
                                [](const auto& named) { return may_hold_values(named.second); });
    if (possible) rt.note_cycle_suspect(self);
}

}  // namespace

Value call_dict_method(Runtime& rt, const Value& self, std::string_view name, const Args& args) {
    const bool mutates = listed(kDictMutators, name);
    if (self.dict_obj().frozen && mutates) raise_frozen("dict", name);
    Value out = dict_method(rt, self, name, args);
    if (mutates) note_if_cycle_possible(rt, self, args);
    return out;
}

Value call_list_method(Runtime& rt, const Value& self, std::string_view name, const Args& args) {
    const bool mutates = listed(kListMutators, name);
    if (self.list_obj().frozen && mutates) raise_frozen("list", name);
    Value out = list_method(rt, self, name, args);
    if (mutates) note_if_cycle_possible(rt, self, args);
    return out;
}

Value call_tuple_method(const Value& self, std::string_view name, const Args& args) {
    return name == "index" ? sequence_index(self, args, true) : sequence_count(self, args, true);
}

}  // namespace methods

}  // namespace ferry::tmpl
