// Reference cycles a render leaves behind. Values are reference counted, and a template can
// make a container hold itself, directly or not ({{ l.append(l) }}, {% set ns.me = ns %}),
// as Jinja2 can: counting never frees such a cycle, so every render that made one would leak
// it. The renderer notes each list, dict or namespace that took a value able to refer back
// (Runtime::note_cycle_suspect) and, when the render ends, frees the cycles among them that
// nothing outside refers to any more.
#pragma once

#include "template/value.h"

#include <vector>

namespace ferry::tmpl {

// CPython's cycle detection (gcmodule.c: subtract the references the objects hold among
// themselves; what still has references is reachable from outside, and so is all it reaches)
// over the containers reachable from the suspects. Lists, tuples and dicts report what they
// hold, objects through Object::report_held; an object that reports nothing counts as an
// outside reference, so nothing it may hold is freed. Unreachable lists and dicts are
// emptied, which frees every cycle among them: a cycle is only ever closed by a list, a dict
// or a namespace's dict taking a value. The suspects' own references are accounted for.
void free_unreachable_cycles(std::vector<Value> suspects);

}  // namespace ferry::tmpl
