// Execution records as terminal text: what `executions list`, `show` and `diff` share.
#pragma once

#include "core/app.h"
#include "template/value.h"

#include <string>

namespace ferry::cli {

// A field as text for a terminal, on one line (printable: history holds vendors' and
// callers' words, and a line break in one would start what reads as another field).
std::string field(const tmpl::Value& v, const char* key);

// A field that is text of several lines (a workflow's source), controls shown.
std::string text_field(const tmpl::Value& v, const char* key);

// From one record timestamp to another, for the tables ("-" when either is missing).
std::string duration_between(const std::string& a, const std::string& b);

// 0 when the execution exists (its record in *record when asked); else the exit code, with
// the reason on stderr: 2 for an id that names none (invalid input), 1 when the store cannot
// say.
int check_exists(engine::App& app, const std::string& id, std::string* record = nullptr);

}  // namespace ferry::cli
