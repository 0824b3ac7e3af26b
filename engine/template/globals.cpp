// The global functions of Jinja2's default environment (jinja2.defaults.DEFAULT_NAMESPACE):
// range, dict, lipsum, cycler, joiner and namespace.
//
// Each lookup builds fresh objects: Values are not thread-safe to share, and a template
// that stores state in a cycler or namespace must not see another render's.
#include "template/filters_util.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace ferry::tmpl {

using namespace filter_impl;

namespace {

// Materialising range(10**9) for a loop would exhaust memory; Python iterates lazily, but a
// template doing that would never finish anyway.
constexpr int64_t kMaxRangeItems = 10'000'000;

[[noreturn]] void no_keywords(std::string_view function) {
    raise(ErrorKind::Type, std::string(function) + "() takes no keyword arguments");
}

// ---- range -----------------------------------------------------------------------------

struct RangeObj final : Object {
    int64_t start, stop, step;
    RangeObj(int64_t a, int64_t b, int64_t s) : start(a), stop(b), step(s) {}

    // range(-1, 2**63 - 1) has 2^63 items, one more than int64_t holds (its length read as
    // negative: `3 in r` was false, r[5] undefined): counted in 128 bits, and a length
    // past int64_t is CPython's OverflowError.
    __int128 size() const {
        __int128 lo = start, hi = stop, st = step;
        if (st > 0 && lo < hi) return (hi - lo - 1) / st + 1;
        if (st < 0 && lo > hi) return (lo - hi - 1) / (-st) + 1;
        return 0;
    }
    int64_t at(int64_t i) const { return int64_t((__int128)start + (__int128)i * step); }

    std::string_view type_name() const override { return "range"; }
    void repr(std::string& out) const override {
        out += "range(" + std::to_string(start) + ", " + std::to_string(stop);
        if (step != 1) out += ", " + std::to_string(step);
        out += ')';
    }
    bool truthy() const override { return size() > 0; }
    std::optional<Value> getattr(std::string_view name) const override;
    std::optional<Value> getitem(const Value& key) const override {
        if (!key.is_integral()) return std::nullopt;
        __int128 n = size(), i = key.as_int();
        if (i < 0) i += n;
        if (i < 0 || i >= n) return std::nullopt;
        return Value::integer(at(int64_t(i)));
    }
    bool is_iterable() const override { return true; }
    std::vector<Value> iterate() const override { return make_items(nullptr); }
    std::vector<Value> iterate_counting(Runtime& rt) const override { return make_items(&rt); }
    std::vector<Value> make_items(Runtime* counting) const {
        const __int128 n = size();
        if (n > kMaxRangeItems) {
            raise(ErrorKind::Overflow, "range() has too many items to iterate (limit " +
                                           std::to_string(kMaxRangeItems) + ")");
        }
        std::vector<Value> out;
        // Made against a render's time limit, a runaway's items are not all reserved up front.
        out.reserve(counting ? std::min<size_t>(size_t(n), size_t(1) << 16) : size_t(n));
        for (int64_t i = 0; i < n; ++i) {
            if (counting) counting->count_work();
            out.push_back(Value::integer(at(i)));
        }
        return out;
    }
    bool has_length() const override { return true; }
    std::optional<size_t> length() const override {
        if (size() > INT64_MAX)
            raise(ErrorKind::Overflow, "Python int too large to convert to C ssize_t");
        return size_t(size());
    }
    // As CPython's range: r[lo:hi:k] is range(r[lo], r[hi], r.step * k), indices in range.
    std::optional<Value> slice(int64_t lo, int64_t hi, int64_t k) const override {
        __int128 new_step = (__int128)step * k;
        if (new_step > INT64_MAX || new_step < INT64_MIN)
            raise(ErrorKind::Overflow, "Python int too large to convert to C ssize_t");
        return Value::object(make_ref<RangeObj>(at(lo), at(hi), int64_t(new_step)));
    }
    // The item's place in the range (past int64_t in one of 2^63 items or more), if it is in it.
    std::optional<__int128> position_of(const Value& item) const {
        int64_t v;
        if (item.is_integral()) {
            v = item.as_int();
        } else if (item.is_float() && item.as_float() == std::floor(item.as_float()) &&
                   std::fabs(item.as_float()) < 9.2e18) {
            v = int64_t(item.as_float());
        } else {
            // Python compares each element with ==, which a StrictUndefined refuses.
            if (item.is_strict_undefined() && size() > 0) raise_undefined(item);
            return std::nullopt;
        }
        __int128 off = (__int128)v - start;
        if (off % step != 0) return std::nullopt;
        __int128 i = off / step;
        if (i < 0 || i >= size()) return std::nullopt;
        return i;
    }
    std::optional<int64_t> index_of(const Value& item) const {
        std::optional<__int128> i = position_of(item);
        // Past int64_t in a range of more items than that (Python's would be exact).
        if (i && *i > INT64_MAX)
            raise(ErrorKind::Overflow, "Python int too large to convert to C ssize_t");
        return i ? std::optional<int64_t>(int64_t(*i)) : std::nullopt;
    }
    bool contains(const Value& item) const override { return position_of(item).has_value(); }
    bool equals(const Object& other) const override {
        const auto* r = dynamic_cast<const RangeObj*>(&other);
        if (!r) return false;
        const __int128 n = size();
        if (n != r->size()) return false;
        if (n == 0) return true;
        if (start != r->start) return false;
        return n == 1 || step == r->step;
    }
};

// range.count / range.index, bound to their range.
struct RangeMethod final : Object {
    Ref<RangeObj> range;
    bool index;
    RangeMethod(Ref<RangeObj> r, bool i) : range(std::move(r)), index(i) {}
    std::string_view type_name() const override { return "builtin_function_or_method"; }
    void repr(std::string& out) const override {
        out += index ? "<built-in method index of range object>"
                     : "<built-in method count of range object>";
    }
    bool is_callable() const override { return true; }
    Value call(Runtime&, const Args& args) override {
        if (!args.named.empty()) no_keywords(index ? "range.index" : "range.count");
        if (args.positional.size() != 1) {
            raise(ErrorKind::Type, std::string(index ? "index" : "count") +
                                       "() takes exactly one argument (" +
                                       std::to_string(args.positional.size()) + " given)");
        }
        // count() needs no position: 0 or 1 in a range of any size, as in Python.
        if (!index) return Value::integer(range->contains(args.positional[0]) ? 1 : 0);
        auto i = range->index_of(args.positional[0]);
        if (!i) raise(ErrorKind::Value, to_repr(args.positional[0]) + " is not in range");
        return Value::integer(*i);
    }
};

std::optional<Value> RangeObj::getattr(std::string_view name) const {
    if (name == "start") return Value::integer(start);
    if (name == "stop") return Value::integer(stop);
    if (name == "step") return Value::integer(step);
    if (name == "count" || name == "index") {
        // The method keeps the range alive: hand it a reference of its own.
        return Value::object(
            make_ref<RangeMethod>(Ref<RangeObj>(const_cast<RangeObj*>(this)), name == "index"));
    }
    return std::nullopt;
}

Value make_range(const Args& args) {
    if (!args.named.empty()) no_keywords("range");
    const auto& p = args.positional;
    if (p.empty()) raise(ErrorKind::Type, "range expected at least 1 argument, got 0");
    if (p.size() > 3) {
        raise(ErrorKind::Type,
              "range expected at most 3 arguments, got " + std::to_string(p.size()));
    }
    int64_t start = 0, stop, step = 1;
    if (p.size() == 1) {
        stop = index_arg(p[0]);
    } else {
        start = index_arg(p[0]);
        stop = index_arg(p[1]);
        if (p.size() == 3) step = index_arg(p[2]);
    }
    if (step == 0) raise(ErrorKind::Value, "range() arg 3 must not be zero");
    return Value::object(make_ref<RangeObj>(start, stop, step));
}

// ---- dict and namespace ------------------------------------------------------------------

// dict(*args, **kwargs): a mapping or an iterable of pairs, then the keywords.
constexpr size_t kScannedKeywords = 8;
Ref<DictObj> build_dict(const Args& args) {
    auto d = make_ref<DictObj>();
    if (args.positional.size() > 1) {
        raise(ErrorKind::Type,
              "dict expected at most 1 argument, got " + std::to_string(args.positional.size()));
    }
    if (!args.positional.empty()) {
        const Value& src = args.positional[0];
        if (src.is_dict() && args.named.size() <= kScannedKeywords) {
            // `dict(d, key=value)` in a loop (workflows.md's way to add a key) copies d each
            // time, as Python does; finding the few keywords by a scan of the copy, not
            // through an index of every key built for them, leaves the copy the only cost
            // (an index per call made 10,000 keys 20x slower than Jinja2).
            DictObj::Items items = src.dict_obj().items();
            for (const auto& [name, value] : args.named) {
                auto same = [&](const auto& entry) {
                    return entry.first.is_string() && same_name(entry.first.str(), name);
                };
                if (auto it = std::find_if(items.begin(), items.end(), same); it != items.end())
                    it->second = value;
                else
                    items.emplace_back(Value::string(name), value);
            }
            d->assign(std::move(items));
            return d;
        }
        if (src.is_dict()) {
            d->assign(src.dict_obj().items());
        } else {
            if (src.is_undefined()) raise_undefined(src);  // Undefined.keys fails
            std::vector<Value> items = iterate(src);
            for (size_t i = 0; i < items.size(); ++i) {
                const Value& item = items[i];
                bool iterable = item.is_string() || item.is_sequence() || item.is_dict() ||
                                (item.is_object() && item.object_obj().is_iterable());
                if (!iterable) {
                    raise(ErrorKind::Type, "cannot convert dictionary update sequence element #" +
                                               std::to_string(i) + " to a sequence");
                }
                std::vector<Value> kv = iterate(item);
                if (kv.size() != 2) {
                    raise(ErrorKind::Value, "dictionary update sequence element #" +
                                                std::to_string(i) + " has length " +
                                                std::to_string(kv.size()) + "; 2 is required");
                }
                hash_value(kv[0]);  // unhashable keys raise TypeError
                d->set(std::move(kv[0]), std::move(kv[1]));
            }
        }
    }
    // Reserved: `namespace(a=[], b=[], c=[])` grew its storage three times.
    d->reserve(d->size() + args.named.size());
    for (const auto& [k, v] : args.named)
        d->set(Value::string(k), v);
    return d;
}

// jinja2.utils.Namespace: attributes live in a dict; `{% set ns.x = 1 %}` writes it.
struct Namespace final : Object {
    Ref<DictObj> attrs;
    explicit Namespace(Ref<DictObj> a) : attrs(std::move(a)) {}
    std::string_view type_name() const override { return "Namespace"; }
    void repr(std::string& out) const override {
        out += "<Namespace ";
        append_repr(Value::dict(attrs), out);
        out += '>';
    }
    std::optional<Value> getattr(std::string_view name) const override {
        if (const Value* v = attrs->find(name)) return *v;
        return std::nullopt;
    }
    bool setattr(std::string_view name, Value value) override {
        attrs->set(name, std::move(value));
        return true;
    }
    Value* attribute_slot(std::string_view name) override {
        return const_cast<Value*>(attrs->find(name));  // the namespace owns attrs
    }
    void report_held(HeldVisitor& visitor) const override { visitor.held(attrs.get()); }
};

// ---- cycler and joiner -----------------------------------------------------------------

struct Cycler final : Object {
    std::vector<Value> items;
    size_t pos = 0;
    explicit Cycler(std::vector<Value> i) : items(std::move(i)) {}
    std::string_view type_name() const override { return "Cycler"; }
    void report_held(HeldVisitor& visitor) const override {
        for (const Value& v : items)
            visitor.held(v);
    }
    // object.__repr__ without the address, which would differ on every run anyway.
    void repr(std::string& out) const override { out += "<jinja2.utils.Cycler object>"; }
    std::optional<Value> getattr(std::string_view name) const override;
    Value next() {
        Value current = items[pos];
        pos = (pos + 1) % items.size();
        return current;
    }
};

struct CyclerMethod final : Object {
    Ref<Cycler> cycler;
    bool reset;
    CyclerMethod(Ref<Cycler> c, bool r) : cycler(std::move(c)), reset(r) {}
    std::string_view type_name() const override { return "method"; }
    void report_held(HeldVisitor& visitor) const override { visitor.held(cycler.get()); }
    void repr(std::string& out) const override {
        out += reset ? "<bound method Cycler.reset of " : "<bound method Cycler.next of ";
        cycler->repr(out);
        out += '>';
    }
    bool is_callable() const override { return true; }
    Value call(Runtime&, const Args& args) override {
        ArgReader(reset ? "Cycler.reset" : "Cycler.next", args, {});
        if (!reset) return cycler->next();
        cycler->pos = 0;
        return Value::none();
    }
};

std::optional<Value> Cycler::getattr(std::string_view name) const {
    if (name == "current") return items[pos];
    if (name == "items") return Value::tuple(items);
    if (name == "pos") return Value::integer(int64_t(pos));
    if (name == "next" || name == "__next__" || name == "reset") {
        return Value::object(
            make_ref<CyclerMethod>(Ref<Cycler>(const_cast<Cycler*>(this)), name == "reset"));
    }
    return std::nullopt;
}

struct Joiner final : Object {
    Value sep;
    bool used = false;
    explicit Joiner(Value s) : sep(std::move(s)) {}
    std::string_view type_name() const override { return "Joiner"; }
    void repr(std::string& out) const override { out += "<jinja2.utils.Joiner object>"; }
    bool is_callable() const override { return true; }
    Value call(Runtime&, const Args& args) override {
        ArgReader("Joiner.__call__", args, {});
        if (!used) {
            used = true;
            return Value::string("");
        }
        return sep;
    }
    std::optional<Value> getattr(std::string_view name) const override {
        if (name == "sep") return sep;
        if (name == "used") return Value::boolean(used);
        return std::nullopt;
    }
};

// ---- lipsum ----------------------------------------------------------------------------

constexpr std::string_view kLoremWords[] = {
    "a",          "ac",          "accumsan",     "ad",           "adipiscing",  "aenean",
    "aliquam",    "aliquet",     "amet",         "ante",         "aptent",      "arcu",
    "at",         "auctor",      "augue",        "bibendum",     "blandit",     "class",
    "commodo",    "condimentum", "congue",       "consectetuer", "consequat",   "conubia",
    "convallis",  "cras",        "cubilia",      "cum",          "curabitur",   "curae",
    "cursus",     "dapibus",     "diam",         "dictum",       "dictumst",    "dignissim",
    "dis",        "dolor",       "donec",        "dui",          "duis",        "egestas",
    "eget",       "eleifend",    "elementum",    "elit",         "enim",        "erat",
    "eros",       "est",         "et",           "etiam",        "eu",          "euismod",
    "facilisi",   "facilisis",   "fames",        "faucibus",     "felis",       "fermentum",
    "feugiat",    "fringilla",   "fusce",        "gravida",      "habitant",    "habitasse",
    "hac",        "hendrerit",   "hymenaeos",    "iaculis",      "id",          "imperdiet",
    "in",         "inceptos",    "integer",      "interdum",     "ipsum",       "justo",
    "lacinia",    "lacus",       "laoreet",      "lectus",       "leo",         "libero",
    "ligula",     "litora",      "lobortis",     "lorem",        "luctus",      "maecenas",
    "magna",      "magnis",      "malesuada",    "massa",        "mattis",      "mauris",
    "metus",      "mi",          "molestie",     "mollis",       "montes",      "morbi",
    "mus",        "nam",         "nascetur",     "natoque",      "nec",         "neque",
    "netus",      "nibh",        "nisi",         "nisl",         "non",         "nonummy",
    "nostra",     "nulla",       "nullam",       "nunc",         "odio",        "orci",
    "ornare",     "parturient",  "pede",         "pellentesque", "penatibus",   "per",
    "pharetra",   "phasellus",   "placerat",     "platea",       "porta",       "porttitor",
    "posuere",    "potenti",     "praesent",     "pretium",      "primis",      "proin",
    "pulvinar",   "purus",       "quam",         "quis",         "quisque",     "rhoncus",
    "ridiculus",  "risus",       "rutrum",       "sagittis",     "sapien",      "scelerisque",
    "sed",        "sem",         "semper",       "senectus",     "sit",         "sociis",
    "sociosqu",   "sodales",     "sollicitudin", "suscipit",     "suspendisse", "taciti",
    "tellus",     "tempor",      "tempus",       "tincidunt",    "torquent",    "tortor",
    "tristique",  "turpis",      "ullamcorper",  "ultrices",     "ultricies",   "urna",
    "ut",         "varius",      "vehicula",     "vel",          "velit",       "venenatis",
    "vestibulum", "vitae",       "vivamus",      "viverra",      "volutpat",    "vulputate",
};

// Jinja2's generate_lorem_ipsum draws from Python's random module, so its text differs on
// every call. Ferry runs the same algorithm on a fixed-seed generator instead: the text is
// equally plausible and renders are reproducible.
struct LoremRandom {
    uint64_t state = 0x9E3779B97F4A7C15ull;
    uint64_t next() {  // splitmix64
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    int64_t randrange(int64_t lo, int64_t hi) {
        if (hi <= lo) {
            raise(ErrorKind::Value, "empty range for randrange() (" + std::to_string(lo) + ", " +
                                        std::to_string(hi) + ", " + std::to_string(hi - lo) + ")");
        }
        return lo + int64_t(next() % uint64_t(hi - lo));
    }
};

Value lipsum(const Args& args) {
    ArgReader r("generate_lorem_ipsum", args, {"n", "html", "min", "max"});
    int64_t n = index_arg(r.get_or(0, Value::integer(5)));
    bool html = !r.get(1) || truthy(*r.get(1));
    int64_t min = index_arg(r.get_or(2, Value::integer(20)));
    int64_t max = index_arg(r.get_or(3, Value::integer(100)));
    // Up to n * max words: refuse sizes that could only exhaust memory.
    if ((__int128)std::max<int64_t>(n, 0) * std::max<int64_t>(max, 0) > 10'000'000) {
        raise(ErrorKind::Limit, "lipsum() was asked for too much text");
    }
    LoremRandom rnd;
    constexpr int64_t kWords = int64_t(std::size(kLoremWords));
    std::vector<std::string> paragraphs;
    for (int64_t k = 0; k < n; ++k) {
        bool next_capitalized = true;
        int64_t last_comma = 0, last_fullstop = 0;
        std::string_view last;
        std::string p;
        int64_t count = rnd.randrange(min, max);
        for (int64_t idx = 0; idx < count; ++idx) {
            std::string_view choice;
            do {
                choice = kLoremWords[rnd.randrange(0, kWords)];
            } while (choice == last);
            last = choice;
            std::string word(choice);
            if (next_capitalized) {
                word = capitalize(word);
                next_capitalized = false;
            }
            if (idx - rnd.randrange(3, 8) > last_comma) {
                last_comma = idx;
                last_fullstop += 2;
                word += ',';
            }
            if (idx - rnd.randrange(10, 20) > last_fullstop) {
                last_comma = last_fullstop = idx;
                word += '.';
                next_capitalized = true;
            }
            if (!p.empty()) p += ' ';
            p += word;
        }
        if (!p.empty() && p.back() == ',')
            p.back() = '.';
        else if (p.empty() || p.back() != '.')
            p += '.';
        paragraphs.push_back(std::move(p));
    }
    std::string out;
    for (size_t i = 0; i < paragraphs.size(); ++i) {
        if (html) {
            if (i) out += '\n';
            out += "<p>";
            append_html_escaped(paragraphs[i], out);
            out += "</p>";
        } else {
            if (i) out += "\n\n";
            out += paragraphs[i];
        }
    }
    return Value::string(std::move(out), html);
}

// ---- the callables themselves ------------------------------------------------------------

enum class Builtin { Range, Dict, Lipsum, Cycler, Joiner, Namespace };

struct BuiltinCallable final : Object {
    Builtin which;
    explicit BuiltinCallable(Builtin w) : which(w) {}
    std::string_view type_name() const override {
        return which == Builtin::Lipsum ? "function" : "type";
    }
    void repr(std::string& out) const override {
        switch (which) {
        case Builtin::Range: out += "<class 'range'>"; break;
        case Builtin::Dict: out += "<class 'dict'>"; break;
        case Builtin::Lipsum: out += "<function generate_lorem_ipsum>"; break;
        case Builtin::Cycler: out += "<class 'jinja2.utils.Cycler'>"; break;
        case Builtin::Joiner: out += "<class 'jinja2.utils.Joiner'>"; break;
        case Builtin::Namespace: out += "<class 'jinja2.utils.Namespace'>"; break;
        }
    }
    bool is_callable() const override { return true; }
    bool equals(const Object& other) const override {
        const auto* b = dynamic_cast<const BuiltinCallable*>(&other);
        return b && b->which == which;
    }
    Value call(Runtime&, const Args& args) override {
        switch (which) {
        case Builtin::Range: return make_range(args);
        case Builtin::Dict: return Value::dict(build_dict(args));
        case Builtin::Lipsum: return lipsum(args);
        case Builtin::Cycler:
            if (!args.named.empty()) {
                raise(ErrorKind::Type, "Cycler.__init__() got an unexpected keyword argument '" +
                                           args.named.front().first + "'");
            }
            if (args.positional.empty()) {
                raise(ErrorKind::Runtime, "at least one item has to be provided");
            }
            return Value::object(make_ref<Cycler>(args.positional));
        case Builtin::Joiner: {
            ArgReader r("Joiner.__init__", args, {"sep"});
            return Value::object(make_ref<Joiner>(r.get_or(0, Value::string(", "))));
        }
        case Builtin::Namespace: return Value::object(make_ref<Namespace>(build_dict(args)));
        }
        return Value::none();
    }
};

}  // namespace

Value find_global(std::string_view name) {
    Builtin which;
    if (name == "range")
        which = Builtin::Range;
    else if (name == "dict")
        which = Builtin::Dict;
    else if (name == "lipsum")
        which = Builtin::Lipsum;
    else if (name == "cycler")
        which = Builtin::Cycler;
    else if (name == "joiner")
        which = Builtin::Joiner;
    else if (name == "namespace")
        which = Builtin::Namespace;
    else
        return Value::undefined();
    return Value::object(make_ref<BuiltinCallable>(which));
}

}  // namespace ferry::tmpl
