// Reading an execution back from the store as the JSON users see (CLI and API alike).
#pragma once

#include "store/store.h"

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::engine {

// The execution as JSON ({"id","workflow","status","outputs","error","steps":{...}}),
// compact, or "null" when there is none; with_attempts adds every step's attempt records.
// An error when the store cannot be read.
Result<std::string> execution_json(store::Store& store, const std::string& id, bool with_attempts);
// The same written to file as it is read, indented when pretty: a page of steps in memory
// at a time, whatever the execution's size. An error when the store cannot be read or its
// records are not JSON (what was written by then stays written).
// with_changes adds the resource changes the execution recorded, as "changes": [...] (the
// audit export: an archive that outlives a prune keeps what Ferry changed elsewhere).
Status print_execution_json(store::Store& store, const std::string& id, bool pretty,
                            bool with_attempts, std::FILE* file, bool with_changes = false);
// The same, compact and without attempts, from the records themselves as the engine wrote
// them (ExecutionSummary::records: before the store scrubbed them of secrets, so the answer
// is scrubbed here, in one pass), steps in key order. shown_size: the length of the
// record's leading part that holds exactly the shown fields, in their order (0: unknown,
// the fields are looked up in the record).
std::string execution_json(const std::string& execution_record,
                           const std::vector<store::KeyedJson>& step_records,
                           size_t shown_size = 0);

// An execution record's fields users see (execution_json's, without the steps), compact: an
// entry of an execution list. The record's bookkeeping (its workflow file's path, the
// definition's hash, the owning process) is not shown.
std::string execution_summary_json(const std::string& execution_record);

// An execution's step records in key order, read a page at a time (each page in a read
// transaction of its own): a for_each of 40,000 items is never all in memory.
class StepRecords {
  public:
    // kPage bounds what one read holds up (an answer streamed while others are served);
    // kBulkPage serves a reader that goes through every record anyway (the CLI, a replay).
    static constexpr size_t kPage = 64;
    static constexpr size_t kBulkPage = 1000;
    StepRecords(store::Store& store, std::string id, size_t page = kPage);
    // The next record, valid until the next call; nullptr after the last. An error when the
    // store cannot be read.
    Result<const store::KeyedJson*> next();

  private:
    store::Store* store_;
    std::string id_;
    size_t page_size_;
    std::vector<store::KeyedJson> page_;
    size_t at_ = 0;
    bool last_page_ = false;
};

// A stored execution's JSON (execution_json, compact) in pieces, for answers too large to
// build whole. Each next() reads its steps in a read transaction of its own, so the steps of
// a running execution may be read at different moments (each step record whole, as stored).
class ExecutionPieces {
  public:
    static constexpr size_t kPieceBytes = 256 * 1024;

    // nullopt when there is no such execution (or its record cannot be read).
    static std::optional<ExecutionPieces> open(store::Store& store, const std::string& id,
                                               bool with_attempts, bool with_changes = false);
    // The text's next piece: its start, then whole steps until the piece reaches max_bytes,
    // then its end; empty once the whole text was given.
    Result<std::string> next(size_t max_bytes);

  private:
    enum class Stage { Head, Steps, Tail, Done };
    ExecutionPieces(store::Store& store, std::string id, bool with_attempts, bool with_changes,
                    std::string head);

    store::Store* store_;
    std::string id_;
    bool with_attempts_;
    bool with_changes_;
    std::string head_;  // `{` and the execution's fields up to `"steps":{`
    StepRecords steps_;
    Stage stage_ = Stage::Head;
    bool first_step_ = true;
};

// A text field of the execution's stored record ("status": "running", "workflow"...); ""
// when there is no such record or field.
std::string stored_text(store::Store& store, const std::string& id, const char* field);
inline std::string stored_status(store::Store& store, const std::string& id) {
    return stored_text(store, id, "status");
}

// Whether an execution record is a sub-workflow's (it names a parent): resume and serve
// leave those to their parents.
bool is_sub_workflow_record(const std::string& execution_record);
// The same for a stored execution; false when there is no such record.
bool is_sub_workflow_execution(store::Store& store, const std::string& id);
// The execution a stored sub-workflow execution belongs to; "" for a top-level one (or none).
std::string stored_parent(store::Store& store, const std::string& id);
// The owner token its last record names (the process that ran it); "" when none.
inline std::string stored_owner(store::Store& store, const std::string& id) {
    return stored_text(store, id, "owner");
}
// The top-level execution of a stored sub-workflow's chain (id itself for a top-level one):
// they resume together. Bounded: a record naming itself as parent is no endless loop.
std::string stored_top(store::Store& store, const std::string& id);

}  // namespace ferry::engine
