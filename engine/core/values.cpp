#include "core/values.h"

#include "runtime/integration/secrets.h"

#include <rapidjson/filewritestream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace ferry::engine {

void to_rapidjson(const Value& v, rapidjson::Value& out, rapidjson::Document::AllocatorType& a) {
    switch (v.kind()) {
    case tmpl::Kind::None:
    case tmpl::Kind::Undefined: out.SetNull(); return;
    case tmpl::Kind::Bool: out.SetBool(v.as_bool()); return;
    case tmpl::Kind::Int: out.SetInt64(v.as_int()); return;
    case tmpl::Kind::Float: {
        double f = v.as_float();
        if (std::isfinite(f))
            out.SetDouble(f);
        else
            out.SetNull();
        return;
    }
    case tmpl::Kind::String:
        out.SetString(v.str().data(), rapidjson::SizeType(v.str().size()), a);
        return;
    case tmpl::Kind::List:
    case tmpl::Kind::Tuple: {
        out.SetArray();
        out.Reserve(rapidjson::SizeType(v.list_obj().items.size()), a);
        for (const Value& item : v.list_obj().items) {
            rapidjson::Value x;
            to_rapidjson(item, x, a);
            out.PushBack(x, a);
        }
        return;
    }
    case tmpl::Kind::Dict: {
        out.SetObject();
        for (const auto& [k, val] : v.dict_obj().items()) {
            rapidjson::Value name;
            if (k.is_string()) {
                name.SetString(k.str().data(), rapidjson::SizeType(k.str().size()), a);
            } else {
                std::string key = tmpl::to_str(k);
                name.SetString(key.data(), rapidjson::SizeType(key.size()), a);
            }
            rapidjson::Value x;
            to_rapidjson(val, x, a);
            out.AddMember(name, x, a);
        }
        return;
    }
    case tmpl::Kind::Object: out.SetNull(); return;
    }
}

Value from_rapidjson(const rapidjson::Value& j) {
    switch (j.GetType()) {
    case rapidjson::kNullType: return Value::none();
    case rapidjson::kFalseType: return Value::boolean(false);
    case rapidjson::kTrueType: return Value::boolean(true);
    case rapidjson::kNumberType:
        if (j.IsInt64()) return Value::integer(j.GetInt64());
        return Value::floating(j.GetDouble());
    case rapidjson::kStringType:
        return Value::string(std::string(j.GetString(), j.GetStringLength()));
    case rapidjson::kArrayType: {
        std::vector<Value> items;
        items.reserve(j.Size());
        for (const auto& x : j.GetArray())
            items.push_back(from_rapidjson(x));
        return Value::list(std::move(items));
    }
    case rapidjson::kObjectType: {
        Value d = Value::dict();
        d.dict_obj().reserve(j.MemberCount());
        for (const auto& m : j.GetObject()) {
            // Appended: the names are distinct (Lua tables have no repeats; request bodies
            // with a repeated name are refused, server/starter.cpp parse_json_body).
            d.dict_obj().append_new(
                Value::string(std::string(m.name.GetString(), m.name.GetStringLength())),
                from_rapidjson(m.value));
        }
        return d;
    }
    }
    return Value::none();
}

namespace {

// The shaped value if it differs from v, else nullopt (v is then used as it is).
std::optional<Value> reshaped(const Value& v, int depth, int max_depth) {
    switch (v.kind()) {
    case tmpl::Kind::None: return std::nullopt;
    case tmpl::Kind::Undefined: return Value::none();
    case tmpl::Kind::Object: {
        // A tuple that is an object (groupby's group) is the array JSON writes it as.
        const std::vector<Value>* items = v.object_obj().tuple_items();
        if (!items || depth >= max_depth) return Value::none();
        std::vector<Value> listed;
        listed.reserve(items->size());
        for (const Value& item : *items) {
            std::optional<Value> shaped = reshaped(item, depth + 1, max_depth);
            listed.push_back(shaped ? std::move(*shaped) : item);
        }
        return Value::list(std::move(listed));
    }
    case tmpl::Kind::Bool:
    case tmpl::Kind::Int: return std::nullopt;
    case tmpl::Kind::Float:
        if (std::isfinite(v.as_float())) return std::nullopt;
        return Value::none();
    case tmpl::Kind::String:
        if (!v.is_safe()) return std::nullopt;
        return Value::string(std::string(v.str()));
    case tmpl::Kind::List:
    case tmpl::Kind::Tuple:
    case tmpl::Kind::Dict: break;
    }
    if (depth >= max_depth) return Value::none();
    if (!v.is_dict()) {
        const auto& items = v.list_obj().items;
        std::optional<Value> out;
        for (size_t i = 0; i < items.size(); ++i) {
            std::optional<Value> item = reshaped(items[i], depth + 1, max_depth);
            if (!item && !out) continue;
            if (!out) {  // the first change: copy what came before it
                out = Value::list();
                out->list_obj().items.assign(items.begin(), items.begin() + ptrdiff_t(i));
            }
            out->list_obj().items.push_back(item ? std::move(*item) : items[i]);
        }
        if (!out && v.kind() == tmpl::Kind::Tuple) {
            out = Value::list();
            out->list_obj().items = items;
        }
        return out;
    }
    const auto& items = v.dict_obj().items();
    std::optional<Value> out;
    for (size_t i = 0; i < items.size(); ++i) {
        const auto& [k, val] = items[i];
        std::optional<Value> key;
        if (!k.is_string() || k.is_safe()) key = Value::string(tmpl::to_str(k));
        std::optional<Value> item = reshaped(val, depth + 1, max_depth);
        if (!key && !item && !out) continue;
        if (!out) {
            out = Value::dict();
            for (size_t j = 0; j < i; ++j)
                out->dict_obj().append_new(items[j].first, items[j].second);
        }
        out->dict_obj().set(key ? std::move(*key) : k, item ? std::move(*item) : val);
    }
    return out;
}

}  // namespace

Value json_shaped(const Value& v, int max_depth) {
    std::optional<Value> out = reshaped(v, 0, max_depth);
    return out ? std::move(*out) : v;
}

namespace {

// Writes straight from Values (no intermediate DOM): this is on the hot path of every
// stored record.
template <class Writer>
void write_key(const Value& k, Writer& w) {
    if (k.is_string()) {
        w.Key(k.str().data(), rapidjson::SizeType(k.str().size()));
    } else {
        std::string key = tmpl::to_str(k);
        w.Key(key.data(), rapidjson::SizeType(key.size()));
    }
}

// Containers deeper than this are written as null, as push_value_at pushes them: deeper
// than any JSON Ferry reads can nest, and a list that contains itself (a template's
// l.append(l)) would otherwise recurse until the stack overflows.
constexpr int kMaxWriteDepth = 256;

template <class Writer>
void write_value(const Value& v, Writer& w, int depth = 0) {
    if ((v.is_sequence() || v.is_dict()) && depth >= kMaxWriteDepth) {
        w.Null();
        return;
    }
    switch (v.kind()) {
    case tmpl::Kind::None:
    case tmpl::Kind::Undefined:
    case tmpl::Kind::Object: w.Null(); return;
    case tmpl::Kind::Bool: w.Bool(v.as_bool()); return;
    case tmpl::Kind::Int: w.Int64(v.as_int()); return;
    case tmpl::Kind::Float:
        if (std::isfinite(v.as_float()))
            w.Double(v.as_float());
        else
            w.Null();
        return;
    case tmpl::Kind::String: w.String(v.str().data(), rapidjson::SizeType(v.str().size())); return;
    case tmpl::Kind::List:
    case tmpl::Kind::Tuple:
        w.StartArray();
        for (const Value& item : v.list_obj().items)
            write_value(item, w, depth + 1);
        w.EndArray();
        return;
    case tmpl::Kind::Dict:
        w.StartObject();
        for (const auto& [k, val] : v.dict_obj().items()) {
            write_key(k, w);
            write_value(val, w, depth + 1);
        }
        w.EndObject();
        return;
    }
}

}  // namespace

void write_json(const Value& v, JsonWriter& w) {
    write_value(v, w);
}

void write_json_key(const Value& key, JsonWriter& w) {
    write_key(key, w);
}

std::string to_json_text(const Value& v) {
    ScratchBuffer buf;
    JsonWriter w(*buf);
    write_value(v, w);
    return buf.text();
}

std::string to_pretty_json(const Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    write_value(v, w);
    return std::string(buf.GetString(), buf.GetSize());
}

namespace {

// rapidjson 1.1.0's writers quote a RawNumber (fixed upstream later): a number read as
// written goes out as the raw value it is.
template <class Stream>
struct RawNumberPrettyWriter : rapidjson::PrettyWriter<Stream> {
    explicit RawNumberPrettyWriter(Stream& out) : rapidjson::PrettyWriter<Stream>(out) {
        this->SetIndent(' ', 2);
    }
    bool RawNumber(const char* text, rapidjson::SizeType length, bool) {
        return this->RawValue(text, length, rapidjson::kNumberType);
    }
};

// A rapidjson input stream over a text that arrives in pieces.
class PieceStream {
  public:
    using Ch = char;
    explicit PieceStream(const std::function<std::string()>& next) : next_(next) { fill(); }
    Ch Peek() const { return pos_ < piece_.size() ? piece_[pos_] : '\0'; }
    Ch Take() {
        if (pos_ == piece_.size()) return '\0';
        Ch c = piece_[pos_++];
        ++taken_;
        if (pos_ == piece_.size()) fill();
        return c;
    }
    size_t Tell() const { return taken_; }
    // Output (in situ parsing) is not supported; rapidjson asks only of streams it writes.
    Ch* PutBegin() { return nullptr; }
    void Put(Ch) {}
    void Flush() {}
    size_t PutEnd(Ch*) { return 0; }

  private:
    void fill() {
        piece_ = next_();
        pos_ = 0;
    }
    const std::function<std::string()>& next_;
    std::string piece_;
    size_t pos_ = 0;
    size_t taken_ = 0;
};

template <class InputStream, class OutputStream>
bool reformat_pretty(InputStream& in, OutputStream& out) {
    RawNumberPrettyWriter<OutputStream> w(out);
    rapidjson::Reader reader;
    // Iterative: nesting depth costs no stack. Numbers as written: a reformat changes layout
    // only.
    constexpr unsigned kFlags =
        rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag;
    return !reader.Parse<kFlags>(in, w).IsError();
}

}  // namespace

bool print_pretty_json(const std::function<std::string()>& next, std::FILE* file) {
    char buffer[64 * 1024];
    rapidjson::FileWriteStream out(file, buffer, sizeof buffer);
    PieceStream in(next);
    bool ok = reformat_pretty(in, out);
    out.Flush();
    return ok;
}

namespace {

struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// The same few key strings ("status", "output", "idempotency_key"...) for every record and
// context dict: shared, they cost one reference count each instead of a heap string per dict
// (13 allocations per stored record, and ~450 B of every live execution's context). Values
// are confined to the loop thread, so a per-thread table keeps the counts single-threaded.
// Bounded: keys are meant to be literals, but nothing stops a caller passing data.
Value interned_key(const char* key) {
    thread_local std::unordered_map<std::string, Value, KeyHash, std::equal_to<>> table;
    std::string_view k(key);
    auto it = table.find(k);
    if (it != table.end()) return it->second;
    Value v = Value::string(std::string(k));
    if (table.size() < 512) table.emplace(std::string(k), v);
    return v;
}

}  // namespace

Value dict_of(std::initializer_list<std::pair<const char*, Value>> items) {
    Value d = Value::dict();
    d.dict_obj().reserve(items.size());
    for (const auto& [k, v] : items)
        d.dict_obj().append_new(interned_key(k), v);  // the caller's literal names
    return d;
}

Value error_value(const Error& e, const std::string& traceback) {
    Value v = dict_of({{"kind", str(std::string(to_string(e.kind)))}, {"message", str(e.message)}});
    if (e.location && !e.location->file.empty()) {
        v.dict_obj().set(str("file"), str(e.location->file));
        v.dict_obj().set(str("line"), Value::integer(e.location->line));
    }
    if (!traceback.empty()) v.dict_obj().set(str("traceback"), str(traceback));
    return v;
}

const Value* dict_get(const Value& dict, std::string_view key) {
    if (!dict.is_dict()) return nullptr;
    return dict.dict_obj().find(key);
}

std::string dict_text(const Value& dict, std::string_view key) {
    const Value* v = dict_get(dict, key);
    return v && v->is_string() ? std::string(v->str()) : std::string();
}

bool dict_flag(const Value& dict, std::string_view key) {
    const Value* v = dict_get(dict, key);
    return v && v->is_bool() && v->as_bool();
}

Value str(std::string s) {
    return Value::string(std::move(s));
}

namespace {

// Deeper than JSON nests a value (json_lua::kMaxDepth is 256); a cycle cannot be, but the
// walk is bounded anyway.
constexpr int kMaxFitDepth = 300;

struct JsonFitWalk {
    uint64_t left;
    JsonFitNotes* notes;

    // The length of a leaf's JSON text, as JsonWriter writes it.
    static uint64_t text_size(const Value& v) {
        char digits[32];
        switch (v.kind()) {
        case tmpl::Kind::String: return json_escaped_size(v.str()) + 2;
        case tmpl::Kind::Int:
            return uint64_t(std::to_chars(digits, digits + sizeof digits, v.as_int()).ptr - digits);
        case tmpl::Kind::Float:
            if (!std::isfinite(v.as_float())) return 4;  // a key's str(): 'nan', '-inf'
            return uint64_t(write_json_double(digits, v.as_float()) - digits);
        case tmpl::Kind::Bool: return v.as_bool() ? 4 : 5;
        default: return 4;  // null
        }
    }
    bool spend(uint64_t bytes) {
        if (bytes > left) return false;
        left -= bytes;
        return true;
    }
    JsonFit walk_items(const std::vector<Value>& items, int depth) {
        if (!spend(2)) return JsonFit::too_large;
        if (depth >= kMaxFitDepth) return JsonFit::fits;
        for (const Value& item : items) {
            if (!spend(1)) return JsonFit::too_large;  // the comma
            if (JsonFit f = walk(item, depth + 1); f != JsonFit::fits) return f;
        }
        return JsonFit::fits;
    }
    JsonFit walk(const Value& v, int depth) {
        switch (v.kind()) {
        case tmpl::Kind::Float:
            if (!std::isfinite(v.as_float())) return JsonFit::non_finite;
            break;
        case tmpl::Kind::List:
        case tmpl::Kind::Tuple: return walk_items(v.list_obj().items, depth);
        case tmpl::Kind::Object:
            if (const std::vector<Value>* items = v.object_obj().tuple_items()) {
                if (notes) notes->object_tuples = true;
                return walk_items(*items, depth);
            }
            if (notes) notes->not_json = &v;
            return JsonFit::not_json;
        case tmpl::Kind::Dict:
            if (!spend(2)) return JsonFit::too_large;
            if (depth >= kMaxFitDepth) return JsonFit::fits;
            for (const auto& [key, item] : v.dict_obj().items()) {
                // A key that is not a string is written as its str(), about as long.
                if (!spend(text_size(key) + 2)) return JsonFit::too_large;
                if (JsonFit f = walk(item, depth + 1); f != JsonFit::fits) return f;
            }
            return JsonFit::fits;
        default: break;
        }
        return spend(text_size(v)) ? JsonFit::fits : JsonFit::too_large;
    }
};

}  // namespace

JsonFit json_fit(const Value& v, uint64_t max_bytes, JsonFitNotes* notes) {
    JsonFitWalk walk{max_bytes, notes};
    JsonFit fit = walk.walk(v, 0);
    if (notes) notes->bytes = max_bytes - walk.left;
    return fit;
}

bool holds_text(const Value& v, std::string_view needle) {
    if (v.is_string()) return v.str().find(needle) != std::string_view::npos;
    if (v.is_sequence()) {
        for (const Value& item : v.list_obj().items)
            if (holds_text(item, needle)) return true;
    } else if (v.is_dict()) {
        for (const auto& [key, item] : v.dict_obj().items())
            if (holds_text(key, needle) || holds_text(item, needle)) return true;
    }
    return false;
}

namespace {

bool is_credential_name(const Value& name) {
    return name.is_string() && is_credential_header(name.str());
}

bool shown_redacted(const Value& value) {
    return value.is_string() && value.str() == kRedacted;
}

}  // namespace

bool hidden_credential_header(const Value& name, const Value& value) {
    return is_credential_name(name) && shown_redacted(value);
}

std::optional<Value> credential_headers_redacted(const Value& headers) {
    if (!headers.is_dict()) return std::nullopt;
    auto to_hide = [](const Value& name, const Value& value) {
        return is_credential_name(name) && !shown_redacted(value);
    };
    const auto& items = headers.dict_obj().items();
    if (std::none_of(items.begin(), items.end(),
                     [&](const auto& item) { return to_hide(item.first, item.second); }))
        return std::nullopt;
    Value scrubbed = Value::dict();
    for (const auto& [name, value] : items)
        scrubbed.dict_obj().set(name, to_hide(name, value) ? Value::string(std::string(kRedacted))
                                                           : value);
    return scrubbed;
}

bool credential_header_redacted(const Value& headers) {
    if (!headers.is_dict()) return false;
    const auto& items = headers.dict_obj().items();
    return std::any_of(items.begin(), items.end(), [](const auto& item) {
        return hidden_credential_header(item.first, item.second);
    });
}

}  // namespace ferry::engine
