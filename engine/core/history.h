// Reading an execution back from the store as the JSON users see (CLI and API alike).
#pragma once

#include "store/store.h"

#include <string>

namespace ferry::engine {

// The execution as JSON ({"id","workflow","status","outputs","error","steps":{...}}), or
// "null" when there is none; with_attempts adds every step's attempt records.
std::string execution_json(store::Store& store, const std::string& id, bool pretty,
                           bool with_attempts);

// The status of the execution's stored record ("running", "succeeded"...); "" when there is
// no such record.
std::string stored_status(store::Store& store, const std::string& id);

}  // namespace ferry::engine
