#include "template/value.h"

#include <cmath>
#include <unordered_map>

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

void raise(ErrorKind kind, std::string message) {
    throw TemplateError(kind, std::move(message));
}

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

std::string object_type_repr(std::string_view type) {
    if (type == "NoneType") return "None";
    // Jinja2 names a type defined outside Python's builtins with its module.
    static constexpr std::pair<std::string_view, std::string_view> kModules[] = {
        {"Markup", "markupsafe"},
        {"Namespace", "jinja2.utils"},
        {"Cycler", "jinja2.utils"},
        {"Joiner", "jinja2.utils"},
        {"Macro", "jinja2.runtime"},
        {"LoopContext", "jinja2.runtime"},
        {"BlockReference", "jinja2.runtime"},
        {"TemplateReference", "jinja2.runtime"},
        {"TemplateModule", "jinja2.environment"},
        {"_GroupTuple", "jinja2.filters"},
    };
    for (const auto& [name, module] : kModules) {
        if (name == type) return std::string(module) + "." + std::string(type) + " object";
    }
    return std::string(type) + " object";
}

std::string UndefinedObj::message() const {
    if (missing_on.empty()) return hint.empty() ? "'undefined' is undefined" : hint;
    return "'" + object_type_repr(missing_on) + "' has no attribute '" + hint + "'";
}

Value Value::string(std::string s, bool safe) {
    return string(make_ref<StrObj>(std::move(s), safe));
}

Value Value::string(Ref<StrObj> s) {
    Value v(Kind::String);
    v.u_.p = s.get();
    ++v.u_.p->refs;
    return v;
}

Value Value::list(std::vector<Value> items) {
    return list(make_ref<ListObj>(std::move(items)));
}

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

Value Value::dict() {
    return dict(make_ref<DictObj>());
}

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

// Positions of the string keys by their text. The views point into the keys' own strings,
// which the dict holds and which never change.
struct DictObj::Index {
    std::unordered_map<std::string_view, uint32_t> positions;
    // Entries [0, covered) are in `positions`; entries appended since are added on the next
    // lookup, so a dict being filled pays nothing until someone reads it.
    size_t covered = 0;

    void cover(const Items& items) {
        positions.reserve(items.size());
        for (; covered < items.size(); ++covered) {
            const Value& k = items[covered].first;
            // A repeated key cannot occur (set() and append_new() keep keys distinct).
            if (k.is_string()) positions.emplace(k.str(), uint32_t(covered));
        }
    }
};

DictObj::DictObj() = default;
DictObj::DictObj(Items items) : items_(std::move(items)) {}
DictObj::~DictObj() = default;

const DictObj::Index* DictObj::index() const {
    if (items_.size() <= kScanLimit) return nullptr;
    if (!index_) index_ = std::make_unique<Index>();
    if (index_->covered < items_.size()) index_->cover(items_);
    return index_.get();
}

void DictObj::forget_index() {
    index_.reset();
}

size_t DictObj::position(std::string_view key) const {
    if (const Index* index = this->index()) {
        auto it = index->positions.find(key);
        return it == index->positions.end() ? npos : it->second;
    }
    for (size_t i = 0; i < items_.size(); ++i)
        if (items_[i].first.is_string() && same_name(items_[i].first.str(), key)) return i;
    return npos;
}

size_t DictObj::position(const Value& key) const {
    if (key.is_string()) return position(key.str());
    if (key.is_strict_undefined()) hash_value(key);  // raises, as Python hashes a key first
    for (size_t i = 0; i < items_.size(); ++i)
        if (equals(items_[i].first, key)) return i;
    return npos;
}

const Value* DictObj::find_indexed(std::string_view key) const {
    size_t i = position(key);
    return i == npos ? nullptr : &items_[i].second;
}

const Value* DictObj::find(const Value& key) const {
    size_t i = position(key);
    return i == npos ? nullptr : &items_[i].second;
}

void DictObj::set(Value key, Value value) {
    size_t i = position(key);
    if (i == npos)
        items_.emplace_back(std::move(key), std::move(value));
    else
        items_[i].second = std::move(value);
}

void DictObj::set(std::string_view key, Value value) {
    size_t i = position(key);
    if (i == npos)
        items_.emplace_back(Value::string(std::string(key)), std::move(value));
    else
        items_[i].second = std::move(value);
}

void DictObj::append_new(Value key, Value value) {
    items_.emplace_back(std::move(key), std::move(value));
}

bool DictObj::erase(const Value& key) {
    size_t i = position(key);
    if (i == npos) return false;
    items_.erase(items_.begin() + ptrdiff_t(i));
    forget_index();  // the positions after it moved
    return true;
}

void DictObj::clear() {
    forget_index();
    items_.clear();
}

std::pair<Value, Value> DictObj::pop_last() {
    std::pair<Value, Value> last = std::move(items_.back());
    items_.pop_back();
    if (index_ && index_->covered > items_.size()) {
        // Only the last position goes, so the rest of the index stays right.
        if (last.first.is_string()) index_->positions.erase(last.first.str());
        index_->covered = items_.size();
    }
    return last;
}

DictObj::Items DictObj::release() {
    forget_index();
    return std::exchange(items_, {});
}

void DictObj::assign(Items items) {
    forget_index();
    items_ = std::move(items);
}

const Value* Args::find_named(std::string_view name) const {
    for (const auto& [k, v] : named)
        if (k == name) return &v;
    return nullptr;
}

namespace {

// ArgReader's errors, out of line: with the messages built inline, the constructor (run by
// most filter calls) had a 400-byte frame and saved six registers on every call.
}  // namespace

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

}  // namespace

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
std::optional<Value> Object::getattr(std::string_view) const {
    return std::nullopt;
}
std::optional<Value> Object::getitem(const Value&) const {
    return std::nullopt;
}
std::optional<Value> Object::slice(int64_t, int64_t, int64_t) const {
    return std::nullopt;
}
bool Object::setattr(std::string_view, Value) {
    return false;
}
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
    case Kind::Dict: return !v.dict_obj().items().empty();
    case Kind::Object: return v.object_obj().truthy();
    }
    return false;
}

namespace {
long double exact(const Value& v) {
    return v.is_float() ? static_cast<long double>(v.as_float())
                        : static_cast<long double>(v.as_int());
}
}  // namespace

namespace {

// A container already frozen is not entered again, so cyclic values (a template's
// l.append(l)) end; past kMaxContainerDepth nothing walks anyway. Recursive: the engine
// freezes every step's result, and a work list cost an allocation each time.
void freeze_at(const Value& v, int depth) {
    if (depth > kMaxContainerDepth) return;
    if (v.is_sequence()) {
        if (v.list_obj().frozen) return;
        v.list_obj().frozen = true;
        for (const Value& item : v.list_obj().items)
            if (item.is_sequence() || item.is_dict()) freeze_at(item, depth + 1);
    } else if (v.is_dict()) {
        if (v.dict_obj().frozen) return;
        v.dict_obj().frozen = true;
        for (const auto& [k, item] : v.dict_obj().items())
            if (item.is_sequence() || item.is_dict()) freeze_at(item, depth + 1);
    }
}

}  // namespace

void freeze(const Value& v) {
    freeze_at(v, 0);
}

void check_built_size(uint64_t bytes, std::string_view what) {
    if (bytes <= kMaxBuiltString) return;
    raise(ErrorKind::Limit, std::string(what) + " would build a string of " +
                                std::to_string(bytes) + " bytes, over the limit of " +
                                std::to_string(kMaxBuiltString));
}

void check_built_list(uint64_t items, std::string_view what) {
    if (items <= kMaxBuiltString / 16) return;
    raise(ErrorKind::Limit, std::string(what) + " would build a list of " + std::to_string(items) +
                                " items, over the limit of " +
                                std::to_string(kMaxBuiltString / 16));
}

thread_local int ContainerDepth::depth_ = 0;
thread_local Runtime* ContainerDepth::charged_ = nullptr;

ContainerDepth::ContainerDepth(size_t items) {
    // The level itself counts as one: [[[]]] * n walks n empty lists.
    if (charged_) charged_->count_walked(items + 1);
    if (++depth_ <= kMaxContainerDepth) return;
    --depth_;  // the destructor of a constructor that throws does not run
    raise(ErrorKind::Limit, "containers nest deeper than " + std::to_string(kMaxContainerDepth) +
                                " levels (a list or dict that contains itself?)");
}

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
        ContainerDepth depth(x.size());
        for (size_t i = 0; i < x.size(); ++i)
            if (!equals(x[i], y[i])) return false;
        return true;
    }
    case Kind::Dict: {
        const auto& x = a.dict_obj();
        const auto& y = b.dict_obj();
        if (&x == &y) return true;
        if (x.items().size() != y.items().size()) return false;
        ContainerDepth depth(x.items().size());
        for (const auto& [k, v] : x.items()) {
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
                               std::string(type_name(a)) + "' and '" + std::string(type_name(b)) +
                               "'");
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
        ContainerDepth depth(std::min(x.size(), y.size()));
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
    case Kind::Undefined:
        // Python hashes a key before it looks anything up, and StrictUndefined refuses:
        // a mistyped name used as a key (a dict literal, `in`, get, unique) is an error,
        // not a silent Undefined key, False or None.
        if (v.is_strict_undefined()) raise_undefined(v);
        return 0x51;
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
        ContainerDepth depth(v.list_obj().items.size());
        size_t h = 0x345678;
        for (const Value& item : v.list_obj().items)
            h = h * 1000003 ^ hash_value(item);
        return h;
    }
    case Kind::Object: return std::hash<const void*>()(v.identity());
    default: raise(ErrorKind::Type, "unhashable type: '" + std::string(type_name(v)) + "'");
    }
}

}  // namespace ferry::tmpl
