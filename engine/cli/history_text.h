// Execution records as terminal text: what `executions list`, `show` and `diff` share.
#pragma once

#include "core/app.h"
#include "template/value.h"

#include <compare>
#include <cstdint>
#include <map>
#include <string>

namespace ferry::cli {

// A field as text for a terminal, on one line (printable: history holds vendors' and
// callers' words, and a line break in one would start what reads as another field).
std::string field(const tmpl::Value& v, const char* key);

// A field that is text of several lines (a workflow's source), controls shown.
std::string text_field(const tmpl::Value& v, const char* key);

// From one record timestamp to another, for the tables ("-" when either is missing).
std::string duration_between(const std::string& a, const std::string& b);

// 0 when the execution exists (its record in *record when asked); id may be the start of
// one (execution_id_of) and is then made its full id. Else the exit code, with the reason on
// stderr: 2 for an id that names none or several (invalid input), 1 when the store cannot
// say.
int check_exists(engine::App& app, std::string& id, std::string* record = nullptr);

// Where a step record is listed: its step's place in the workflow file (ids the file does
// not list after the rest, by id), the step's own record before its items, the items by
// number (fe[2] before fe[10], where the stored key order puts fe[10] first), then the key.
struct ListingPlace {
    size_t rank;
    std::string id;
    uint64_t item;  // 0: the step's own record; an item's index + 1
    std::string key;
    auto operator<=>(const ListingPlace&) const = default;
};

// The order `show` and `diff` list steps in: the workflow file's (the definition an
// execution ran, stored with its history by hash), an `on_step` note right after the step
// it reports on.
class StepOrder {
  public:
    // The steps of the definition `execution_record` names, after those already added (the
    // second execution of a diff adds the steps only its workflow has). A definition that
    // cannot be read back (missing, damaged, no longer loading) adds nothing: its steps
    // are then listed by id.
    void add_definition(engine::App& app, const tmpl::Value& execution_record);
    ListingPlace place(const std::string& key) const;

  private:
    std::map<std::string, size_t, std::less<>> ranks_;  // even: a file's step; odd: a note
    size_t next_rank_ = 0;
};

}  // namespace ferry::cli
