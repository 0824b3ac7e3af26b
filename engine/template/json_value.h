// JSON text -> Value as value_from_json (environment.h) reads it, for a reader that runs the
// parse itself: `ferry run --inputs-file` notes repeated keys with their place in the same
// pass (runtime/json_repeats.h), which value_from_json has no room for.
#pragma once

#include "template/value.h"

#include <rapidjson/document.h>

namespace ferry::tmpl {

// Full precision so floats parse exactly as Python's json module parses them; iterative so
// that deeply nested input cannot exhaust the C++ stack.
inline constexpr unsigned kJsonReadFlags = rapidjson::kParseFullPrecisionFlag |
                                           rapidjson::kParseNanAndInfFlag |
                                           rapidjson::kParseIterativeFlag;
// Workflow inputs are JSON proper: NaN and Infinity (Python's json, which `ferry render`
// follows) have no JSON form, and a number given as NaN was recorded as null.
inline constexpr unsigned kJsonInputReadFlags =
    kJsonReadFlags & ~unsigned(rapidjson::kParseNanAndInfFlag);

// A parsed document as a Value: ints stay ints, keys keep their order (a repeated key keeps
// its last value). Raises TemplateError, without a location, for an integer beyond 64 bits
// and for nesting deeper than 512 levels.
Value value_from_json_document(const rapidjson::Value& doc);

}  // namespace ferry::tmpl
