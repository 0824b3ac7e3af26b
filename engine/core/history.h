// Reading an execution back from the store as the JSON users see (CLI and API alike).
#pragma once

#include "store/store.h"

#include <string>
#include <vector>

namespace ferry::engine {

// The execution as JSON ({"id","workflow","status","outputs","error","steps":{...}}), or
// "null" when there is none; with_attempts adds every step's attempt records.
std::string execution_json(store::Store& store, const std::string& id, bool pretty,
                           bool with_attempts);
// The same, compact and without attempts, from the records themselves as the engine wrote
// them (ExecutionSummary::records: before the store scrubbed them of secrets, so the answer
// is scrubbed here, in one pass), steps in key order. shown_size: the length of the
// record's leading part that holds exactly the shown fields, in their order (0: unknown,
// the fields are looked up in the record).
std::string execution_json(const std::string& execution_record,
                           const std::vector<store::KeyedJson>& step_records,
                           size_t shown_size = 0);

// The status of the execution's stored record ("running", "succeeded"...); "" when there is
// no such record.
std::string stored_status(store::Store& store, const std::string& id);

// Whether an execution record is a sub-workflow's (it names a parent): resume and serve
// leave those to their parents.
bool is_sub_workflow_record(const std::string& execution_record);
// The same for a stored execution; false when there is no such record.
bool is_sub_workflow_execution(store::Store& store, const std::string& id);

}  // namespace ferry::engine
