// The top-level members of a JSON object's text, each value's text as it lies there, found
// by RapidJSON's reader without building a document. For texts Ferry wrote itself (stored
// records, its own answers): a few of their fields spliced into another text cost one scan,
// where a parse into values and writing them again cost most of a `?wait=` answer.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry {

// Key (unescaped) and the value's text, in text order (a key written twice is there twice).
using JsonMembers = std::vector<std::pair<std::string, std::string_view>>;

// nullopt when the text is not one JSON object (leading and trailing whitespace allowed).
// The views point into `json`. The reader checks the syntax, not the UTF-8: a text from
// outside is checked first (parse_json_body, the store's scrub).
std::optional<JsonMembers> json_members(const std::string& json);
// The views would outlive a temporary text.
std::optional<JsonMembers> json_members(std::string&&) = delete;

// The value of the first member named `key`, or nullptr.
const std::string_view* json_member(const JsonMembers& members, std::string_view key);

// `{"key":value,...}` of those of `keys` the members have, in the order of `keys`, each
// value as it lies (the first of a key written twice). The keys are written as they are:
// names that need no JSON escaping.
std::string json_object_of(const JsonMembers& members, std::span<const char* const> keys);

}  // namespace ferry
