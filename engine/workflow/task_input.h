// A value given for one of a task's inputs, held to what the task declares for it
// ({type, enum, format, properties}): the one check behind a step's start (engine/core)
// and `ferry validate`'s look at the values a workflow writes.
#pragma once

#include "template/value.h"

#include <string>
#include <vector>

namespace ferry::workflow {

// What a task's input entry may hold. An entry under `properties` holds the same, less
// `default`: a nested default would have to be written into a value the step gave.
const std::vector<std::string>& task_input_spec_keys();

// Appends one line per problem of `value` against `spec`, each beginning "input 'NAME'"
// (NAME dotted below the top: 'paginate.next'). `value` is present and not null. With
// `written_only`, strings that are templates are skipped: validate sees a step's `with:` as
// written, and their values are known only when the step runs.
void check_task_input(const tmpl::Value& spec, const tmpl::Value& value, const std::string& name,
                      bool written_only, std::vector<std::string>& problems);

}  // namespace ferry::workflow
