// Diffs are data (ARCHITECTURE.md decision 7): resource changes as RFC 6902 JSON Patch,
// and changed workflow definitions as unified text diffs.
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>

namespace ferry::store {

// The RFC 6902 patch (a JSON array text) that turns `before` into `after`: add, remove and
// replace operations with RFC 6901 pointers ('~' -> '~0', '/' -> '~1'). Objects are compared
// key by key; arrays element by element by index, with trailing adds/removes. Equal
// documents give "[]".
std::string json_patch(const rapidjson::Value& before, const rapidjson::Value& after);
// The same over JSON texts; an unparsable text is treated as a JSON string holding it.
std::string json_patch(const std::string& before_json, const std::string& after_json);

// A change record as users read it. The engine stores a change as {"step", "kind", "id",
// "at", "before", "after"}: its patch follows from before and after, so it is derived here,
// when the record is read, and spliced in before "before". Writing it with every change
// cost a second copy of the resource (a created ticket's whole record) in the history and
// the diff's CPU on the loop. A record that already holds a patch (written before this),
// or another object, comes back as it is; one that is no JSON object (a damaged record)
// comes back as nullopt, for the reader to report: spliced into an export or an answer, it
// made them invalid JSON behind a success.
std::optional<std::string> change_with_patch(std::string record);

// Applies a patch (for tests and for `executions diff` consistency checks). Returns false on
// a malformed patch or a path that does not exist.
bool apply_json_patch(rapidjson::Document& doc, const rapidjson::Value& patch);

// A unified diff (3 lines of context, "--- a_label" / "+++ b_label" headers) of two texts,
// line-based (LCS/Myers); empty when equal.
std::string unified_diff(const std::string& a, const std::string& b, const std::string& a_label,
                         const std::string& b_label);

}  // namespace ferry::store
