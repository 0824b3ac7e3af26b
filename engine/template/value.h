// The template engine's value model: Python's values as Jinja2 sees them.
//
// A Value is 16 bytes: a kind tag and either an immediate (bool, int64, double) or a pointer
// to a reference-counted heap object (string, list/tuple, dict, or an engine object such as
// a macro, a loop or a namespace). Copying a Value bumps a counter; containers are shared, so
// `list.append` in a template is seen through every reference, as in Python.
//
// Python semantics that templates can observe live here too: truthiness, ==, <, str(),
// repr(), float printing, and code-point string helpers.
#pragma once

#include "template/error.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::tmpl {

enum class Kind : uint8_t {
    Undefined,
    None,
    Bool,
    Int,
    Float,
    String,
    List,
    Tuple,
    Dict,
    Object,  // macros, loops, namespaces, cyclers, bound methods, dict views, modules...
};

// Storage for heap objects (heap.cpp): small blocks are recycled through per-thread free
// lists. A render makes and drops hundreds of strings, scopes and lists; recycling them costs
// a few instructions where malloc/free cost about a hundred once glibc's small per-thread
// cache is full.
void* heap_allocate(size_t size);
void heap_release(void* block, size_t size) noexcept;
// The bytes of the blocks this thread's lists hold, and freeing them (they refill as
// objects are freed again). For a long-lived process after a large job (`ferry serve`'s
// HeapTrimmer): the lists keep up to 65,536 blocks per size class.
size_t heap_pooled_bytes() noexcept;
void heap_release_pooled() noexcept;

struct HeapObject {
    mutable uint32_t refs = 0;
    // A list or dict a template may read but not change (in the padding after refs).
    mutable bool frozen = false;
    virtual ~HeapObject() = default;
    // The virtual destructor makes `delete` pass the most derived type's size.
    static void* operator new(size_t size) { return heap_allocate(size); }
    static void operator delete(void* block, size_t size) noexcept { heap_release(block, size); }
};

// Intrusive reference counting: cheaper than shared_ptr and keeps Value at 16 bytes.
template <class T>
class Ref {
  public:
    Ref() = default;
    Ref(T* p) : p_(p) { retain(); }  // NOLINT(google-explicit-constructor)
    Ref(const Ref& o) : p_(o.p_) { retain(); }
    Ref(Ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    template <class U>
    Ref(const Ref<U>& o) : p_(o.get()) {
        retain();
    }  // NOLINT(google-explicit-constructor)
    ~Ref() { release(); }
    Ref& operator=(Ref o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    T* get() const { return p_; }
    T* operator->() const { return p_; }
    T& operator*() const { return *p_; }
    explicit operator bool() const { return p_ != nullptr; }

  private:
    void retain() {
        if (p_) ++p_->refs;
    }
    void release() {
        if (p_ && --p_->refs == 0) delete p_;
    }
    T* p_ = nullptr;
};

template <class T, class... A>
Ref<T> make_ref(A&&... a) {
    return Ref<T>(new T(std::forward<A>(a)...));
}

class Value;
class Runtime;
struct Args;

// a == b for variable and key names, compared inline: names are short, and a call to memcmp
// per candidate showed in profiles. Eight bytes at a time: template names are often longer
// than a word (`contributing_factors`), and a byte loop cost ~4 instructions a byte.
inline bool same_name(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    size_t i = 0;
    for (; i + 8 <= a.size(); i += 8) {
        uint64_t x, y;
        std::memcpy(&x, a.data() + i, 8);
        std::memcpy(&y, b.data() + i, 8);
        if (x != y) return false;
    }
    for (; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}

struct StrObj : HeapObject {
    std::string text;
    bool safe = false;  // markupsafe.Markup: escape() leaves it alone, `+` escapes the other side
    explicit StrObj(std::string t, bool s = false) : text(std::move(t)), safe(s) {}
};

struct ListObj;
struct DictObj;
struct Object;

// Undefined values remember why they are undefined, for the error a later use raises.
struct UndefinedObj : HeapObject {
    std::string hint;  // e.g. "'ticket' is undefined"; an attribute's name when missing_on is set
    bool strict = false;
    // The type name (static storage) of a value that lacks the attribute `hint`: the message
    // is built only if an error needs it, as a template tests `x.y is defined` far more
    // often than it fails on one.
    std::string_view missing_on;
    UndefinedObj(std::string h, bool s, std::string_view on = {})
        : hint(std::move(h)), strict(s), missing_on(on) {}
    std::string message() const;
};

class Value {
  public:
    Value() : kind_(Kind::Undefined) { u_.p = nullptr; }
    Value(const Value& o) : kind_(o.kind_), u_(o.u_) {
        if (o.is_heap() && u_.p) ++u_.p->refs;
    }
    Value(Value&& o) noexcept : kind_(o.kind_), u_(o.u_) {
        o.kind_ = Kind::None;
        o.u_.p = nullptr;
    }
    Value& operator=(Value o) noexcept {
        std::swap(kind_, o.kind_);
        std::swap(u_, o.u_);
        return *this;
    }
    ~Value() {
        if (is_heap() && u_.p && --u_.p->refs == 0) delete u_.p;
    }

    static Value undefined(std::string hint = {}, bool strict = false);
    // obj.name where obj, of type type_name (static storage), has no such attribute.
    static Value missing_attribute(std::string_view type_name, std::string_view name, bool strict);
    static Value none() { return Value(Kind::None); }
    static Value boolean(bool b) {
        Value v(Kind::Bool);
        v.u_.b = b;
        return v;
    }
    static Value integer(int64_t i) {
        Value v(Kind::Int);
        v.u_.i = i;
        return v;
    }
    static Value floating(double f) {
        Value v(Kind::Float);
        v.u_.f = f;
        return v;
    }
    static Value string(std::string s, bool safe = false);
    static Value string(Ref<StrObj> s);
    static Value list(std::vector<Value> items = {});
    static Value tuple(std::vector<Value> items = {});
    static Value list(Ref<ListObj> l);
    static Value dict();
    static Value dict(Ref<DictObj> d);
    static Value object(Ref<Object> o);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::Undefined; }
    bool is_none() const { return kind_ == Kind::None; }
    bool is_bool() const { return kind_ == Kind::Bool; }
    bool is_int() const { return kind_ == Kind::Int; }  // not bool
    bool is_integral() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }
    bool is_float() const { return kind_ == Kind::Float; }
    bool is_number() const { return is_integral() || is_float(); }
    bool is_string() const { return kind_ == Kind::String; }
    bool is_list() const { return kind_ == Kind::List; }
    bool is_tuple() const { return kind_ == Kind::Tuple; }
    bool is_sequence() const { return kind_ == Kind::List || kind_ == Kind::Tuple; }
    bool is_dict() const { return kind_ == Kind::Dict; }
    bool is_object() const { return kind_ == Kind::Object; }

    bool as_bool() const { return u_.b; }
    // Int or Bool as a Python int.
    int64_t as_int() const { return kind_ == Kind::Bool ? (u_.b ? 1 : 0) : u_.i; }
    double as_float() const { return kind_ == Kind::Float ? u_.f : double(as_int()); }
    std::string_view str() const { return static_cast<StrObj*>(u_.p)->text; }
    bool is_safe() const { return kind_ == Kind::String && static_cast<StrObj*>(u_.p)->safe; }
    StrObj& str_obj() const { return *static_cast<StrObj*>(u_.p); }
    ListObj& list_obj() const;  // List or Tuple
    DictObj& dict_obj() const;
    Object& object_obj() const;
    UndefinedObj* undefined_obj() const { return static_cast<UndefinedObj*>(u_.p); }
    bool is_strict_undefined() const;
    const HeapObject* identity() const { return is_heap() ? u_.p : nullptr; }

  private:
    explicit Value(Kind k) : kind_(k) { u_.p = nullptr; }
    bool is_heap() const {
        return kind_ == Kind::String || kind_ == Kind::List || kind_ == Kind::Tuple ||
               kind_ == Kind::Dict || kind_ == Kind::Object || kind_ == Kind::Undefined;
    }

    Kind kind_;
    union {
        bool b;
        int64_t i;
        double f;
        HeapObject* p;
    } u_;
};

struct ListObj : HeapObject {
    std::vector<Value> items;
    ListObj() = default;
    explicit ListObj(std::vector<Value> v) : items(std::move(v)) {}
};

// An insertion-ordered dict, as Python's. Small dicts (nearly all of a template's) are
// scanned: a pass over a short contiguous vector beats hashing. Past kScanLimit entries, the
// first lookup builds a hash index of the string keys, kept up to date as entries are
// appended, so that reading a wide JSON object member by member stays linear.
struct DictObj : HeapObject {
    using Items = std::vector<std::pair<Value, Value>>;
    static constexpr size_t kScanLimit = 32;

    DictObj();
    explicit DictObj(Items items);
    ~DictObj() override;
    DictObj(const DictObj&) = delete;
    DictObj& operator=(const DictObj&) = delete;

    const Items& items() const { return items_; }
    size_t size() const { return items_.size(); }
    bool empty() const { return items_.empty(); }

    // Inline for the small dicts nearly every lookup reads (a name, an attribute): the
    // call and the index check out of line cost as much as the scan itself.
    const Value* find(std::string_view key) const {
        if (items_.size() > kScanLimit) return find_indexed(key);
        for (const auto& [k, v] : items_)
            if (k.is_string() && same_name(k.str(), key)) return &v;
        return nullptr;
    }
    const Value* find(const Value& key) const;  // Python ==, so 1 and 1.0 and True match
    // dict[key] = value: a new key goes last, an existing one keeps its place.
    void set(Value key, Value value);
    // The same for a string key, made into a value only when it is new (a namespace's
    // `{% set ns.items = ... %}` in a loop replaces the same key each time).
    void set(std::string_view key, Value value);
    // Adds an entry whose key the caller knows is not in the dict yet (a fresh dict filled
    // from distinct names), without looking for it.
    void append_new(Value key, Value value);
    bool erase(const Value& key);
    void clear();
    // Removes and returns the last entry (dict.popitem); the dict must not be empty.
    std::pair<Value, Value> pop_last();
    // Empties the dict, handing over its entries.
    Items release();
    void reserve(size_t n) { items_.reserve(n); }
    // Replaces every entry; the keys must be distinct.
    void assign(Items items);

  private:
    struct Index;
    static constexpr size_t npos = size_t(-1);
    // The position of key's entry, or npos.
    size_t position(std::string_view key) const;
    size_t position(const Value& key) const;
    const Value* find_indexed(std::string_view key) const;
    // The index or nullptr while the dict is small; built on demand, hence mutable.
    const Index* index() const;
    void forget_index();

    Items items_;
    mutable std::unique_ptr<Index> index_;
};

// Arguments of a call: f(a, b, key=c).
struct Args {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> named;
    const Value* find_named(std::string_view name) const;
};

// Binds Args to a Python-style parameter list, raising TypeError on misuse the way Python
// does: too many positional arguments, unknown or duplicated keywords.
class ArgReader {
  public:
    // Inline: filters construct one on nearly every call (~500 a render of the incident
    // template), and inlined each call site's parameter count is a constant.
    ArgReader(std::string_view function, const Args& args,
              std::initializer_list<std::string_view> params)
        : function_(function), count_(std::min(params.size(), kMaxParams)) {
        // All kMaxParams pointers, a constant count the compiler writes with a few vector
        // stores; a loop to count_ became a `rep stos`, slow to start for so few bytes.
        for (const Value*& b : bound_)
            b = nullptr;
        for (size_t i = 0; i < count_; ++i)
            params_[i] = {params.begin()[i].data(), params.begin()[i].size()};
        if (args.positional.size() > count_)
            raise_too_many(function, count_, args.positional.size());
        for (size_t i = 0; i < args.positional.size(); ++i)
            bound_[i] = &args.positional[i];
        if (!args.named.empty()) bind_named(args);
    }
    // The argument for parameter i (by position or by name), or nullptr.
    const Value* get(size_t i) const { return i < count_ ? bound_[i] : nullptr; }
    Value get_or(size_t i, Value fallback) const {
        const Value* v = get(i);
        return v ? *v : std::move(fallback);
    }
    // Raise "FUNCTION() missing required argument: 'NAME'" unless parameter i was given.
    const Value& required(size_t i) const {
        if (const Value* v = get(i)) return *v;
        raise_missing(i);
    }

    static constexpr size_t kMaxParams = 8;

  private:
    // Fixed arrays: filters bind arguments on every call, so no heap allocation here. They
    // are left uninitialised past count_: zero-filling them (a `rep stos`) cost more than
    // binding the arguments, 17% of a render's time.
    struct Name {
        const char* data;
        size_t size;
    };
    std::string_view param(size_t i) const { return {params_[i].data, params_[i].size}; }
    void bind_named(const Args& args);
    [[noreturn, gnu::noinline, gnu::cold]] void raise_missing(size_t i) const;
    // Out of line: with the messages built inline, each call site would grow a large frame.
    [[noreturn, gnu::noinline, gnu::cold]] static void raise_too_many(std::string_view function,
                                                                      size_t count, size_t given);

    std::string_view function_;
    size_t count_ = 0;
    Name params_[kMaxParams];
    const Value* bound_[kMaxParams];
};

// Engine objects: anything that is not a plain Python data value.
// What an Object reports its held values to (Object::report_held).
class HeldVisitor {
  public:
    virtual void held(const Value& v) = 0;
    virtual void held(const HeapObject* h) = 0;

  protected:
    ~HeldVisitor() = default;
};

struct Object : HeapObject {
    // A string with static storage: undefined values keep it to describe a missing attribute.
    virtual std::string_view type_name() const = 0;
    virtual void repr(std::string& out) const;
    virtual void str(std::string& out) const { repr(out); }
    virtual bool truthy() const { return true; }
    // Attribute lookup (obj.name); nullopt when the object has no such attribute.
    virtual std::optional<Value> getattr(std::string_view name) const;
    // Item lookup (obj[key]); nullopt when missing.
    virtual std::optional<Value> getitem(const Value& key) const;
    // `{% set obj.name = v %}`; false when the object does not allow it (only namespaces do).
    virtual bool setattr(std::string_view name, Value value);
    // Where setattr keeps the attribute, so `ns.x = ns.x + [v]` can append to a list only the
    // namespace holds; null when the object has no such attribute or does not store it.
    virtual Value* attribute_slot(std::string_view name) {
        (void)name;
        return nullptr;
    }
    virtual bool is_callable() const { return false; }
    virtual Value call(Runtime& rt, const Args& args);
    virtual bool is_iterable() const { return false; }
    // The items of an object that is a tuple in Python (groupby's namedtuple), which JSON
    // writes as an array; null for every other object.
    virtual const std::vector<Value>* tuple_items() const { return nullptr; }
    virtual std::vector<Value> iterate() const;
    // iterate() in a render: an object that makes its items (range) counts each against the
    // render's limits as it makes it, so a runaway stops before all are made.
    virtual std::vector<Value> iterate_counting(Runtime& rt) const {
        (void)rt;
        return iterate();
    }
    virtual std::optional<size_t> length() const { return std::nullopt; }
    // Whether it has a length at all, asked without computing it: a range of 2^63 items or
    // more has one, which length() raises on as Python's len() does.
    virtual bool has_length() const { return length().has_value(); }
    // Python's len() and __getitem__ by position (range, a groupby group): a dict view has
    // only the first, and so has a loop (the one object with a length that is not iterable).
    bool is_sequence_like() const { return has_length() && is_iterable() && !viewed_dict(); }
    // obj[lo:hi:step] with the indices already normalised against length() (Python's
    // slice.indices); nullopt when the object cannot be sliced (range can).
    virtual std::optional<Value> slice(int64_t lo, int64_t hi, int64_t step) const;
    virtual bool contains(const Value& item) const;
    virtual bool is_mapping() const { return false; }
    // The dict a view walks (dict.keys()/values()/items()): a `for` over the view raises
    // when the dict changes size, as a `for` over the dict does.
    virtual const Value* viewed_dict() const { return nullptr; }
    virtual bool equals(const Object& other) const { return this == &other; }
    // Whether str() is markup already (Python's __html__): autoescape prints it as it is.
    // Only an imported template module is (its rendered body); every other object's text
    // is escaped, as Jinja2 escapes whatever has no __html__.
    virtual bool html_safe() const { return false; }
    // Passes each heap object this one holds to the render's cycle collector (cycles.h).
    // An object that reports none is never freed by the collector, only by its count.
    virtual void report_held(HeldVisitor& visitor) const { (void)visitor; }
};

// Inline: filters and the evaluator reach containers through these on every access.
inline ListObj& Value::list_obj() const {
    return *static_cast<ListObj*>(u_.p);
}
inline DictObj& Value::dict_obj() const {
    return *static_cast<DictObj*>(u_.p);
}
inline Object& Value::object_obj() const {
    return *static_cast<Object*>(u_.p);
}

// The services a filter, test, method or engine object may need from the render in
// progress. Implemented by the renderer; filters never see templates or scopes.
class Runtime {
  public:
    virtual ~Runtime() = default;
    virtual Value call_filter(std::string_view name, const Value& subject, const Args& args) = 0;
    virtual bool call_test(std::string_view name, const Value& subject, const Args& args) = 0;
    virtual bool has_filter(std::string_view name) const = 0;
    virtual bool has_test(std::string_view name) const = 0;
    virtual Value call(const Value& callable, const Args& args) = 0;
    // An undefined value of the render's kind (strict or lenient), with a hint for errors.
    virtual Value make_undefined(std::string hint) = 0;
    virtual bool strict() const = 0;
    // Jinja2's eval_ctx.autoescape, which join, replace, urlize and xmlattr read: whether
    // the render is inside an autoescape block where the filter is called.
    virtual bool eval_autoescape() const { return false; }
    // `container` (a list, dict or namespace) took a value that may refer back to it, making
    // a reference cycle that counting cannot free: the render looks for unreachable cycles
    // among such containers when it ends (cycles.h).
    virtual void note_cycle_suspect(const Value& container) { (void)container; }
    // One unit of work against the render's time limit (an item an object makes).
    virtual void count_work() {}
    // `items` values walked (==, <, hashing, repr, tojson, pprint) against the time limit:
    // a list shared by reference ([x] * 1000 holds x once) is walked once per reference, so
    // a small value can stand for billions of items.
    virtual void count_walked(size_t items) { (void)items; }
};

// Whether v can hold other values (and so close a cycle when a container takes it).
inline bool may_hold_values(const Value& v) {
    return v.is_list() || v.is_tuple() || v.is_dict() || v.is_object();
}

// ---- Python semantics ---------------------------------------------------------------

// Python's type() name: 'int', 'str', 'list', 'dict', 'NoneType', 'Undefined'...
std::string_view type_name(const Value& v);
// jinja2.utils.object_type_repr of a type_name: how an undefined attribute names its object
// ("None", "dict object", "jinja2.utils.Namespace object").
std::string object_type_repr(std::string_view type);

// bool(v). Raises UndefinedError for a strict undefined.
bool truthy(const Value& v);

// Raise the error the use of this undefined value means (always throws).
[[noreturn]] void raise_undefined(const Value& undefined);

// str(v) appended to out. Raises for a strict undefined.
void append_str(const Value& v, std::string& out);
std::string to_str(const Value& v);
// repr(v) appended to out.
void append_repr(const Value& v, std::string& out);
std::string to_repr(const Value& v);
// Python's repr of a float: 1.0, 1e+20, 1e-05, 0.30000000000000004, inf, nan.
void append_float(double f, std::string& out);
// Python's repr of a str: single quotes unless the text has ' and no ".
void append_string_repr(std::string_view s, std::string& out);

// The largest string one operation may build (~, +, ljust, zfill, a %-format's width or
// precision), as the default output limit: a template that doubles a string 40 times, or
// asks for 'x'.ljust(2**62), stops with a Limit error instead of exhausting memory.
constexpr size_t kMaxBuiltString = 64u << 20;
// Raises Limit when an operation would build a string of `bytes`; what names it.
void check_built_size(uint64_t bytes, std::string_view what);
// The same bound for a list: 16 bytes a Value, so a list doubled in a loop stops as a string
// does. Raises Limit when an operation would build a list of `items`.
void check_built_list(uint64_t items, std::string_view what);

// Walks into containers (==, <, hash, repr, tojson, pprint) go at most this deep. A list
// that contains itself ({{ l.append(l) }}) or one nested in a loop would recurse until the
// stack overflows; Jinja2 raises RecursionError, Ferry a Limit error. One guard per level,
// told how many items the level walks, which are charged to the render in progress (its
// time limit: Runtime::count_walked):
//     ContainerDepth depth(items.size());  // raises past kMaxContainerDepth
constexpr int kMaxContainerDepth = 400;
class ContainerDepth {
  public:
    explicit ContainerDepth(size_t items);
    ~ContainerDepth() { --depth_; }
    ContainerDepth(const ContainerDepth&) = delete;
    ContainerDepth& operator=(const ContainerDepth&) = delete;

    // While one lives, walks on this thread charge their items to `runtime` (a render
    // sets itself; nested renders restore the outer one).
    class Charging {
      public:
        explicit Charging(Runtime* runtime) : previous_(charged_) { charged_ = runtime; }
        ~Charging() { charged_ = previous_; }
        Charging(const Charging&) = delete;
        Charging& operator=(const Charging&) = delete;

      private:
        Runtime* previous_;
    };

  private:
    static thread_local int depth_;
    static thread_local Runtime* charged_;
};

// Marks v and every list and dict inside it read-only for templates: list.append,
// dict.update and the other mutating methods then raise (ErrorKind::Security, as Jinja2's
// ImmutableSandboxedEnvironment). The workflow engine freezes what it hands expressions
// (inputs, vars, step results, execution), which are also its record of the run.
void freeze(const Value& v);

// Python ==.
bool equals(const Value& a, const Value& b);
// Python a < b, raising TypeError ("'<' not supported between instances of 'int' and
// 'str'") when Python would. op is the operator named in that message.
bool less_than(const Value& a, const Value& b, std::string_view op = "<");
// -1, 0, 1 for sorting; raises TypeError for incomparable values.
int compare(const Value& a, const Value& b);
// hash(v); raises TypeError for unhashable values (list, dict).
size_t hash_value(const Value& v);

// `item in container`, raising TypeError for non-containers.
bool contains(const Value& container, const Value& item);
// len(v), or nullopt when v has no length.
std::optional<size_t> length(const Value& v);
// iter(v) materialised: list/tuple items, dict keys, string code points, iterable objects.
// Undefined gives nothing (strict undefined raises); anything else raises TypeError.
std::vector<Value> iterate(const Value& v);

// The items iterate() would give, borrowed from a list or tuple instead of copied (a copy is
// an allocation and a reference count per item). Only for code that runs no template code
// while it reads them (filters, unpacking): a `for` body could append to the list it walks.
class ItemsView {
  public:
    explicit ItemsView(const Value& v) : keep_(v) {
        if (v.is_sequence()) {
            items_ = &v.list_obj().items;
        } else {
            owned_ = iterate(v);
            items_ = &owned_;
        }
    }
    ItemsView(const ItemsView&) = delete;
    ItemsView& operator=(const ItemsView&) = delete;
    std::vector<Value>::const_iterator begin() const { return items_->begin(); }
    std::vector<Value>::const_iterator end() const { return items_->end(); }
    size_t size() const { return items_->size(); }
    bool empty() const { return items_->empty(); }
    const Value& operator[](size_t i) const { return (*items_)[i]; }

  private:
    Value keep_;  // the list stays alive however the caller's reference ends
    std::vector<Value> owned_;
    const std::vector<Value>* items_;
};

// Jinja2's environment.getattr(obj, name): a Python attribute (a method of str, dict,
// list...) first, then obj[name]. Missing gives an undefined naming what was missing.
Value get_attribute(Runtime& rt, const Value& obj, std::string_view name);
// Jinja2's environment.getitem(obj, key): obj[key] first, then the attribute named key.
Value get_item(Runtime& rt, const Value& obj, const Value& key);
// obj[start:stop:step] for str, list and tuple (Python slicing, by code point).
Value slice(const Value& obj, const std::optional<int64_t>& start,
            const std::optional<int64_t>& stop, const std::optional<int64_t>& step);

// ---- Python methods of builtin types (methods.cpp) ------------------------------------

// True when type(v) has a method of that name that templates may call ("upper", "items"...).
bool has_method(const Value& receiver, std::string_view name);
// receiver.name(*args, **kwargs).
Value call_method(Runtime& rt, const Value& receiver, std::string_view name, const Args& args);

// ---- Strings --------------------------------------------------------------------------

// Decode UTF-8 into code points; invalid bytes decode as U+FFFD.
std::u32string utf8_decode(std::string_view s);
void utf8_append(char32_t cp, std::string& out);
std::string utf8_encode(std::u32string_view s);
size_t utf8_length(std::string_view s);
// Python's str.upper/lower/... over code points (full case mapping: 'ß'.upper() == 'SS').
std::string str_upper(std::string_view s);
std::string str_lower(std::string_view s);
char32_t char_upper(char32_t c);
char32_t char_lower(char32_t c);
bool char_is_space(char32_t c);  // str.isspace
bool char_is_alpha(char32_t c);
bool char_is_digit(char32_t c);
bool char_is_alnum(char32_t c);
bool char_is_upper(char32_t c);
bool char_is_lower(char32_t c);

// HTML escaping as markupsafe.escape: & < > ' " (to &amp; &lt; &gt; &#39; &#34;).
void append_html_escaped(std::string_view s, std::string& out);
// Python's str + str where either side may be Markup (markupsafe): once one side is, the
// other is escaped and the result is Markup; else plain concatenation.
Value markup_concat(std::string_view a, bool a_safe, std::string_view b, bool b_safe);

// Parse Python int()/float() literals the way the int and float filters need.
std::optional<int64_t> parse_int(std::string_view s, int base = 10);
std::optional<double> parse_float(std::string_view s);
// Takes an optional sign off lower-case number text (into negative); then "inf", "infinity"
// or "nan" as float() spells them give their value, anything else nullopt.
std::optional<double> take_sign_and_special_float(std::string_view& body, bool& negative);

// Python integer arithmetic that raises OverflowError instead of wrapping: Python ints are
// unbounded, Ferry's are 64-bit, and a silent wrap would print a wrong number.
int64_t checked_add(int64_t a, int64_t b);
int64_t checked_sub(int64_t a, int64_t b);
int64_t checked_mul(int64_t a, int64_t b);
int64_t floor_div(int64_t a, int64_t b);  // raises ZeroDivisionError
int64_t floor_mod(int64_t a, int64_t b);
double float_floor_div(double a, double b);
double float_mod(double a, double b);

}  // namespace ferry::tmpl
