// What a task leaves on record (logs, changes, records), bounded as its memory is: it all
// goes into the history, which no step should fill.
#include "runtime/json_writer.h"
#include "runtime/scheduler.h"

#include "runtime/integration/secrets.h"
#include "runtime/timestamp.h"
#include "runtime/utf8.h"

namespace ferry {

void cut_for_the_record(std::string& message) {
    if (message.size() > Task::kMaxLogText) {
        size_t cut = utf8_cut(message, Task::kMaxLogText);
        // Never inside a secret: the record's redaction finds secrets whole, and one cut in
        // two would keep its first part.
        cut = Redactor::instance().safe_cut(message, cut);
        const size_t dropped = message.size() - cut;
        message.resize(cut);
        message += "... (" + std::to_string(dropped) + " more bytes cut)";
    }
    // Records are JSON: bytes that are not UTF-8 (print("\255"), a Latin-1 text, a vendor's
    // bytes quoted in an error) are kept as U+FFFD.
    if (invalid_utf8_at(message) != std::string::npos) message = to_valid_utf8(message);
}

bool Task::charge_record(size_t bytes) {
    bytes += 64;  // the entry's own fields
    if (recorded_bytes_ + bytes > kRecordBudget) return false;
    recorded_bytes_ += bytes;
    return true;
}

std::string fields_not_stored(std::string_view why) {
    rapidjson::StringBuffer out;
    JsonWriter w(out);
    w.StartObject();
    w.Key("fields_not_stored");
    w.String(why.data(), rapidjson::SizeType(why.size()));
    w.EndObject();
    return std::string(out.GetString(), out.GetSize());
}

void Task::log(std::string level, std::string message, std::string fields_json) {
    if (logs_dropped_) return;
    cut_for_the_record(message);
    // Fields are a JSON object: cut, they would not be one; the entry says what happened.
    if (fields_json.size() > kMaxLogText)
        fields_json = fields_not_stored(
            std::to_string(fields_json.size()) + " bytes of JSON, more than the " +
            std::to_string(kMaxLogText >> 10) + " KiB a log entry keeps");
    if (!charge_record(message.size() + fields_json.size())) {
        logs_dropped_ = true;
        logs_.push_back({"warn",
                         "the task logged more than " + std::to_string(kRecordBudget >> 20) +
                             " MiB with its changes: later log entries are dropped",
                         {},
                         now_unix_ms()});
        return;
    }
    logs_.push_back({std::move(level), std::move(message), std::move(fields_json), now_unix_ms()});
}

bool Task::record_change(TaskChange change) {
    if (!charge_record(change.kind.size() + change.id.size() + change.before.GetAllocator().Size() +
                       change.after.GetAllocator().Size()))
        return false;
    changes_.push_back(std::move(change));
    return true;
}

bool Task::record(std::string kind, std::string json) {
    if (!charge_record(kind.size() + json.size())) return false;
    records_.push_back({std::move(kind), std::move(json)});
    return true;
}

}  // namespace ferry
