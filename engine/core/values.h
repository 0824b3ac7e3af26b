// Conversions between the engine's value model (template Values) and JSON (RapidJSON),
// used at the edges: Lua task results, stored records, HTTP bodies, CLI output.
#pragma once

#include "runtime/error.h"
#include "runtime/json_writer.h"
#include "template/value.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <functional>
#include <optional>
#include <string>

namespace ferry::engine {

using tmpl::Value;

// Non-JSON values (undefined, macros, loops...) become null; tuples become arrays; dict keys
// that are not strings are written as their str().
void to_rapidjson(const Value& v, rapidjson::Value& out, rapidjson::Document::AllocatorType& a);
Value from_rapidjson(const rapidjson::Value& v);
// Compact JSON text, keys in insertion order, non-ASCII kept as UTF-8.
std::string to_json_text(const Value& v);
// The same, appended to a writer (records built field by field, engine/core/records.cpp).
void write_json(const Value& v, JsonWriter& w);
// A dict key as write_json writes one: a string as it is, any other key as its str().
void write_json_key(const Value& key, JsonWriter& w);
// v as it comes back from a trip through JSON (or Lua tables): undefined, none and objects
// are none (but an object that is a tuple, groupby's group, a list), non-finite floats
// none, tuples lists, dict keys strings, Markup plain text, and
// containers nested deeper than max_depth none. Subtrees with nothing to change are shared,
// not copied: for a plain JSON-like value this only walks it.
Value json_shaped(const Value& v, int max_depth);
// Indented JSON text (2 spaces), for humans.
std::string to_pretty_json(const Value& v);
// The same indentation for a JSON text that arrives in pieces (next() gives the next one,
// empty at the end), reformatted as it is read and written to file as it is made: no values
// are built and memory stays at a piece whatever the text's size; numbers keep their
// spelling. False when the text is not JSON (what was written by then stays written).
bool print_pretty_json(const std::function<std::string()>& next, std::FILE* file);

// Convenience builders for dict values.
Value dict_of(std::initializer_list<std::pair<const char*, Value>> items);
const Value* dict_get(const Value& dict, std::string_view key);
// Whether dict[key] is the boolean true (absent, null or any other value: false).
bool dict_flag(const Value& dict, std::string_view key);
// dict[key] when it is a string; empty when it is absent or anything else (or dict is not
// a dict): a record's text field.
std::string dict_text(const Value& dict, std::string_view key);
Value str(std::string s);
// An error as step and execution records hold it: kind, message, the file and line it
// names, and a Lua traceback when there is one.
Value error_value(const Error& e, const std::string& traceback = {});
// Whether a computed value can be kept as JSON, where every value ends up.
enum class JsonFit {
    fits,
    // An infinity or a NaN (`1e308 * 10`), which JSON has no form for.
    non_finite,
    // Longer than max_bytes as JSON text. A list shared by reference ([x] * 1000 holds x
    // once) is written once per reference, so a small value can stand for gigabytes.
    too_large,
    // An object JSON has no form for (a range, a dict's keys() or items(), a macro).
    not_json,
};
// What json_fit saw besides the verdict: the object that is not JSON, and whether v holds
// tuples that are objects (groupby's groups), which json_shaped turns into lists.
struct JsonFitNotes {
    const Value* not_json = nullptr;
    bool object_tuples = false;
    uint64_t bytes = 0;  // the JSON text's length, as far as the walk went
};
// Walks v counting the length of its JSON text (as JsonWriter writes it: escapes included;
// a key that is not a string about as long as its str()), stopping at the first
// non-finite number or once past max_bytes: at most ~max_bytes values are visited.
// Containers nested deeper than JSON may nest (json_lua::kMaxDepth) are not walked into.
JsonFit json_fit(const Value& v, uint64_t max_bytes, JsonFitNotes* notes = nullptr);
// Whether a string anywhere in v (keys included) contains needle.
bool holds_text(const Value& v, std::string_view needle);
// A request's `headers` (a dict) with each credential header's value (Authorization,
// Cookie, X-API-Key...: runtime is_credential_header) shown as "[REDACTED]", as every
// record shows it whatever its value; nothing when it has none to hide.
std::optional<Value> credential_headers_redacted(const Value& headers);
// Whether a header entry is a credential header shown so (its value is not in the record).
bool hidden_credential_header(const Value& name, const Value& value);
// Whether `headers` holds a credential header shown so (a record's input: the value it
// had is not there to send again).
bool credential_header_redacted(const Value& headers);

}  // namespace ferry::engine
