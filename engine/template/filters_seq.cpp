// Builtin filters over sequences: join, sort, dictsort, unique, min/max, groupby, map,
// select/reject(attr), batch, slice, sum and reverse.
//
// Sorting keys are computed once per item and compared with Python's `<` (py_compare),
// so incomparable keys and undefined attributes fail the way Python's sorted() does.
#include "template/filters_util.h"

#include <algorithm>
#include <unordered_map>

namespace ferry::tmpl::filter_impl {

namespace {

bool flag(const ArgReader& r, size_t i) {
    return r.get(i) && truthy(*r.get(i));
}

// environment.call_filter/call_test look the name up in a dict: anything but a string is
// simply not found.
std::string_view callee_name(const Value& name, std::string_view kind) {
    if (!name.is_string()) {
        raise(ErrorKind::Runtime, "No " + std::string(kind) + " named " + to_repr(name) + ".");
    }
    return name.str();
}

// Materialising a huge slice()/batch() result would exhaust memory before Python would
// notice; refuse the way Ferry refuses other runaway sizes.
void check_result_size(int64_t n) {
    if (n > 10'000'000) {
        raise(ErrorKind::Overflow, "filter result has too many items (limit 10000000)");
    }
}

}  // namespace

Value f_join(Runtime& rt, const Value& value, const Args& args) {
    ArgReader r("do_join", args, {"d", "attribute"});
    Value separator = r.get_or(0, Value::string(""));
    Value attribute = r.get_or(1, Value::none());
    ItemsView items(value);
    AttrGetter getter = make_attrgetter(attribute);
    auto item = [&](size_t i) { return attribute.is_none() ? items[i] : getter(rt, items[i]); };
    std::string out;
    auto join_text = [&](size_t n, const auto& part) {
        std::string sep = to_str(separator);
        for (size_t i = 0; i < n; ++i) {
            if (i) out += sep;
            append_str(part(i), out);
            check_built_size(out.size(), "join");
        }
        return Value::string(std::move(out));
    };
    if (!rt.eval_autoescape()) return join_text(items.size(), item);
    // Jinja2's do_join under autoescape: once the separator or an item is Markup, the join
    // is Markup and escapes every plain part (Markup.join); else it is plain text.
    std::vector<Value> parts;
    parts.reserve(items.size());
    bool markup = separator.is_safe();
    for (size_t i = 0; i < items.size(); ++i) {
        parts.push_back(item(i));
        markup = markup || parts.back().is_safe();
    }
    if (!markup) return join_text(parts.size(), [&](size_t i) { return parts[i]; });
    std::string sep_text = escaped_text(separator);
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i) out += sep_text;
        out += escaped_text(parts[i]);
        check_built_size(out.size(), "join");
    }
    return Value::string(std::move(out), true);
}

Value f_sort(Runtime& rt, const Value& value, const Args& args) {
    ArgReader r("do_sort", args, {"reverse", "case_sensitive", "attribute"});
    bool reverse = flag(r, 0);
    bool case_sensitive = flag(r, 1);
    MultiAttrGetter key = make_multi_attrgetter(r.get_or(2, Value::none()), !case_sensitive);
    std::vector<Value> items = iterate(value);
    std::vector<Value> keys;
    keys.reserve(items.size());
    for (const Value& item : items)
        keys.push_back(key(rt, item));
    std::vector<Value> out;
    out.reserve(items.size());
    for (size_t i : sorted_order(keys, reverse, key.single()))
        out.push_back(items[i]);
    return Value::list(std::move(out));
}

Value f_dictsort(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_dictsort", args, {"case_sensitive", "by", "reverse"});
    bool case_sensitive = flag(r, 0);
    Value by = r.get_or(1, Value::string("key"));
    bool reverse = flag(r, 2);
    size_t pos;
    if (by.is_string() && by.str() == "key")
        pos = 0;
    else if (by.is_string() && by.str() == "value")
        pos = 1;
    else
        raise_filter_argument("You can only sort by either \"key\" or \"value\"");
    if (!value.is_dict()) raise_no_attribute(value, "items");
    const auto& items = value.dict_obj().items();
    std::vector<Value> pairs, keys;
    pairs.reserve(items.size());
    keys.reserve(items.size());
    for (const auto& [k, v] : items) {
        pairs.push_back(Value::tuple({k, v}));
        const Value& key = pos == 0 ? k : v;
        keys.push_back(case_sensitive ? key : ignore_case(key));
    }
    std::vector<Value> out;
    out.reserve(pairs.size());
    for (size_t i : sorted_order(keys, reverse))
        out.push_back(std::move(pairs[i]));
    return Value::list(std::move(out));
}

Value f_unique(Runtime& rt, const Value& value, const Args& args) {
    ArgReader r("do_unique", args, {"case_sensitive", "attribute"});
    AttrGetter key = make_attrgetter(r.get_or(1, Value::none()), !flag(r, 0));
    // A set of the keys seen: hash(), then ==, as Python's set does.
    std::unordered_multimap<size_t, Value> seen;
    std::vector<Value> out;
    for (const Value& item : ItemsView(value)) {
        Value k = key(rt, item);
        size_t h = hash_value(k);
        auto [lo, hi] = seen.equal_range(h);
        bool dup = std::any_of(lo, hi, [&](const auto& entry) { return equals(entry.second, k); });
        if (!dup) {
            seen.emplace(h, std::move(k));
            out.push_back(item);
        }
    }
    return Value::list(std::move(out));
}

namespace {

Value min_or_max(Runtime& rt, const Value& value, const Args& args, CmpOp op) {
    ArgReader r(op == CmpOp::Lt ? "do_min" : "do_max", args, {"case_sensitive", "attribute"});
    std::vector<Value> items = iterate(value);
    if (items.empty()) return rt.make_undefined("No aggregated item, sequence was empty.");
    AttrGetter key = make_attrgetter(r.get_or(1, Value::none()), !flag(r, 0));
    // min()/max() keep the first of equal items: replace only on a strict improvement.
    size_t best = 0;
    Value best_key = key(rt, items[0]);
    for (size_t i = 1; i < items.size(); ++i) {
        Value k = key(rt, items[i]);
        if (py_compare(k, best_key, op)) {
            best = i;
            best_key = std::move(k);
        }
    }
    return items[best];
}

}  // namespace

Value f_min(Runtime& rt, const Value& value, const Args& args) {
    return min_or_max(rt, value, args, CmpOp::Lt);
}

Value f_max(Runtime& rt, const Value& value, const Args& args) {
    return min_or_max(rt, value, args, CmpOp::Gt);
}

Value f_groupby(Runtime& rt, const Value& value, const Args& args) {
    ArgReader r("do_groupby", args, {"attribute", "default", "case_sensitive"});
    const Value& attribute = r.required(0);
    Value fallback = r.get_or(1, Value::none());
    bool case_sensitive = flag(r, 2);
    AttrGetter key = make_attrgetter(attribute, !case_sensitive, fallback);
    std::vector<Value> items = iterate(value);
    std::vector<Value> keys;
    keys.reserve(items.size());
    for (const Value& item : items)
        keys.push_back(key(rt, item));
    std::vector<size_t> order = sorted_order(keys, false);
    // itertools.groupby over the sorted items: runs of equal keys.
    AttrGetter real_key = make_attrgetter(attribute, false, fallback);
    std::vector<Value> groups;
    for (size_t i = 0; i < order.size();) {
        size_t j = i;
        std::vector<Value> members;
        while (j < order.size() && (j == i || equals(keys[order[i]], keys[order[j]]))) {
            members.push_back(items[order[j]]);
            ++j;
        }
        // Case-insensitive grouping shows the first member's own spelling of the key.
        Value grouper = case_sensitive ? keys[order[i]] : real_key(rt, members.front());
        groups.push_back(make_group_tuple(std::move(grouper), Value::list(std::move(members))));
        i = j;
    }
    return Value::list(std::move(groups));
}

Value f_map(Runtime& rt, const Value& value, const Args& args) {
    if (!truthy(value)) return Value::list();
    ItemsView items(value);
    std::vector<Value> out;
    out.reserve(items.size());
    const Value* attribute = args.find_named("attribute");
    if (args.positional.empty() && attribute) {
        Value fallback = Value::none();
        for (const auto& [name, v] : args.named) {
            if (name == "default") {
                fallback = v;
            } else if (name != "attribute") {
                std::string msg = "Unexpected keyword argument ";
                append_string_repr(name, msg);
                raise_filter_argument(msg);
            }
        }
        AttrGetter getter = make_attrgetter(*attribute, false, fallback);
        for (const Value& item : items)
            out.push_back(getter(rt, item));
        return Value::list(std::move(out));
    }
    if (args.positional.empty()) raise_filter_argument("map requires a filter argument");
    std::string_view name = callee_name(args.positional[0], "filter");
    Args rest;
    rest.positional.assign(args.positional.begin() + 1, args.positional.end());
    rest.named = args.named;
    for (const Value& item : items)
        out.push_back(rt.call_filter(name, item, rest));
    return Value::list(std::move(out));
}

namespace {

Value select_or_reject(Runtime& rt, const Value& value, const Args& args, bool select,
                       bool lookup_attr) {
    if (!truthy(value)) return Value::list();
    size_t off = 0;
    AttrGetter getter;
    if (lookup_attr) {
        if (args.positional.empty()) raise_filter_argument("Missing parameter for attribute name");
        getter = make_attrgetter(args.positional[0]);
        off = 1;
    }
    std::string_view test;
    Args rest;
    bool has_test = args.positional.size() > off;
    if (has_test) {
        test = callee_name(args.positional[off], "test");
        rest.positional.assign(args.positional.begin() + long(off) + 1, args.positional.end());
        rest.named = args.named;
    }
    ItemsView items(value);
    std::vector<Value> out;
    out.reserve(items.size());
    for (const Value& item : items) {
        Value subject = lookup_attr ? getter(rt, item) : item;
        bool passed = has_test ? rt.call_test(test, subject, rest) : truthy(subject);
        if (passed == select) out.push_back(item);
    }
    return Value::list(std::move(out));
}

}  // namespace

Value f_select(Runtime& rt, const Value& value, const Args& args) {
    return select_or_reject(rt, value, args, true, false);
}

Value f_reject(Runtime& rt, const Value& value, const Args& args) {
    return select_or_reject(rt, value, args, false, false);
}

Value f_selectattr(Runtime& rt, const Value& value, const Args& args) {
    return select_or_reject(rt, value, args, true, true);
}

Value f_rejectattr(Runtime& rt, const Value& value, const Args& args) {
    return select_or_reject(rt, value, args, false, true);
}

Value f_batch(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_batch", args, {"linecount", "fill_with"});
    const Value& linecount = r.required(0);
    Value fill_with = r.get_or(1, Value::none());
    std::vector<Value> out, tmp;
    // `len(tmp) == linecount`: a non-int linecount never matches, as in Python.
    auto full = [&] { return equals(Value::integer(int64_t(tmp.size())), linecount); };
    for (const Value& item : iterate(value)) {
        if (full()) {
            out.push_back(Value::list(std::move(tmp)));
            tmp.clear();
        }
        tmp.push_back(item);
    }
    if (!tmp.empty()) {
        if (!fill_with.is_none() &&
            py_compare(Value::integer(int64_t(tmp.size())), linecount, CmpOp::Lt)) {
            int64_t missing = index_arg(linecount) - int64_t(tmp.size());
            check_result_size(missing);
            tmp.insert(tmp.end(), size_t(missing), fill_with);
        }
        out.push_back(Value::list(std::move(tmp)));
    }
    return Value::list(std::move(out));
}

Value f_slice(Runtime&, const Value& value, const Args& args) {
    ArgReader r("do_slice", args, {"slices", "fill_with"});
    const Value& slices_v = r.required(0);
    Value fill_with = r.get_or(1, Value::none());
    std::vector<Value> seq = iterate(value);
    int64_t length = int64_t(seq.size());
    if (slices_v.is_undefined()) raise_undefined(slices_v);  // length // Undefined fails
    if (slices_v.is_float()) {
        if (slices_v.as_float() == 0.0)
            raise(ErrorKind::ZeroDivision, "float floor division by zero");
        index_arg(slices_v);
    }
    int64_t slices = index_arg(slices_v);
    int64_t per_slice = floor_div(length, slices);
    int64_t with_extra = floor_mod(length, slices);
    check_result_size(slices);
    std::vector<Value> out;
    int64_t offset = 0;
    for (int64_t n = 0; n < slices; ++n) {
        int64_t start = offset + n * per_slice;
        if (n < with_extra) ++offset;
        int64_t end = offset + (n + 1) * per_slice;
        start = std::clamp<int64_t>(start, 0, length);
        end = std::clamp<int64_t>(end, start, length);
        std::vector<Value> tmp(seq.begin() + start, seq.begin() + end);
        if (!fill_with.is_none() && n >= with_extra) tmp.push_back(fill_with);
        out.push_back(Value::list(std::move(tmp)));
    }
    return Value::list(std::move(out));
}

Value f_sum(Runtime& rt, const Value& value, const Args& args) {
    ArgReader r("do_sum", args, {"attribute", "start"});
    Value attribute = r.get_or(0, Value::none());
    Value total = r.get_or(1, Value::integer(0));
    if (total.is_string()) {
        raise(ErrorKind::Type, "sum() can't sum strings [use ''.join(seq) instead]");
    }
    AttrGetter getter = make_attrgetter(attribute);
    for (const Value& item : ItemsView(value)) {
        total = py_add(total, attribute.is_none() ? item : getter(rt, item));
    }
    return total;
}

Value f_reverse(Runtime&, const Value& value, const Args& args) {
    ArgReader("do_reverse", args, {});
    if (value.is_string()) {
        std::u32string cps = utf8_decode(value.str());
        std::reverse(cps.begin(), cps.end());
        return Value::string(utf8_encode(cps), value.is_safe());
    }
    bool iterable = value.is_sequence() || value.is_dict() || value.is_undefined() ||
                    (value.is_object() && value.object_obj().is_iterable());
    if (!iterable) raise_filter_argument("argument must be iterable");
    // reversed(seq) for lists: Ferry returns a list, which iterates the same way.
    std::vector<Value> items = iterate(value);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
}

}  // namespace ferry::tmpl::filter_impl
