#include "core/history.h"

#include "core/values.h"
#include "runtime/integration/secrets.h"
#include "runtime/json_members.h"
#include "runtime/utf8.h"
#include "template/environment.h"

#include <functional>
#include <optional>
#include <string_view>
#include <utility>

namespace ferry::engine {

using tmpl::Value;

namespace {

// A settled unit's last attempt names the step record's fields it shares instead of
// repeating them (records.cpp, persist_unit): put them back, so readers see whole attempts.
void fill_from_step(Value& attempt, const Value& step) {
    if (!attempt.is_dict() || !attempt.dict_obj().find("same_as_step")) return;
    // Rebuilt in order: the shared fields go where the marker is, as they were written.
    std::vector<std::pair<Value, Value>> items;
    for (auto& [key, value] : attempt.dict_obj().release()) {
        if (!(key.is_string() && key.str() == "same_as_step")) {
            items.emplace_back(std::move(key), std::move(value));
            continue;
        }
        if (!value.is_list()) continue;
        for (const Value& field : value.list_obj().items) {
            if (!field.is_string()) continue;
            const Value* v = step.is_dict() ? step.dict_obj().find(field.str()) : nullptr;
            items.emplace_back(field, v ? *v : Value::none());
        }
    }
    attempt.dict_obj().assign(std::move(items));
}

// The execution record's fields users see, in the order they see them ("steps" comes last);
// id, workflow and status are in every record.
constexpr const char* kShownFields[] = {"id",      "workflow",     "status",      "dry_run",
                                        "trigger", "trigger_info", "inputs",      "outputs",
                                        "error",   "created_at",   "finished_at", "parent"};

Value execution_fields(const std::string& record) {
    Value exec = tmpl::value_from_json(record);
    Value out = Value::dict();
    for (const char* k : kShownFields) {
        if (const Value* v = dict_get(exec, k)) out.dict_obj().set(str(k), *v);
    }
    return out;
}

// The execution record's shown fields as they lie in its text (the record is JSON the
// engine wrote, compact, so each value goes out as it is): no parse into values and no
// writing them again, which was most of a `?wait=` answer's cost. Empty when the text is not
// a JSON object.
std::string shown_fields_text(const std::string& record) {
    std::optional<JsonMembers> members = json_members(record);
    if (!members || members->empty()) return {};
    return json_object_of(*members, kShownFields);
}

}  // namespace

std::string execution_summary_json(const std::string& execution_record) {
    std::string text = shown_fields_text(execution_record);
    return text.empty() ? to_json_text(execution_fields(execution_record)) : text;
}

namespace {

// `{` + the shown fields + `"steps":{`: what comes before the step entries. shown_size: see
// execution_json.
std::string execution_head(const std::string& execution_record, size_t shown_size) {
    std::string text;
    if (shown_size > 1 && shown_size <= execution_record.size()) {
        text.assign(execution_record, 0, shown_size);
        text += '}';
    } else {
        text = execution_summary_json(execution_record);
    }
    text.pop_back();  // the closing brace: "steps" goes last
    text += text.size() > 1 ? R"(,"steps":{)" : R"("steps":{)";
    return text;
}

constexpr std::string_view kExecutionTail = "}}";

// `"key":`, after a comma unless it is the first entry: the step's text follows.
void append_step_key(std::string& text, bool first, const std::string& key) {
    if (!first) text += ',';
    text += to_json_text(str(key));
    text += ':';
}

// The step records go out as stored (they are compact JSON objects written by the engine):
// splicing them skips parsing and writing again what is most of the answer (a `?wait=`
// answer of ferry serve, `ferry run`'s output).
std::string compose_execution_json(const std::string& execution_record,
                                   const std::vector<store::KeyedJson>& step_records,
                                   size_t shown_size) {
    std::string text = execution_head(execution_record, shown_size);
    size_t total = text.size() + kExecutionTail.size();
    for (const auto& kj : step_records)
        total += kj.key.size() + kj.json.size() + 8;
    text.reserve(total);
    for (size_t i = 0; i < step_records.size(); ++i) {
        append_step_key(text, i == 0, step_records[i].key);
        text += step_records[i].json;
    }
    text += kExecutionTail;
    return text;
}

// A stored step record, the shared fields put back into its last attempt (fill_from_step),
// as values: for a record the text splicing below cannot take apart.
std::string step_with_attempts_by_value(const std::string& step_json,
                                        const std::vector<store::KeyedJson>& attempts) {
    Value step = tmpl::value_from_json(step_json);
    if (!step.is_dict()) return step_json;
    Value list = Value::list();
    for (const auto& a : attempts) {
        Value attempt = tmpl::value_from_json(a.json);
        fill_from_step(attempt, step);
        list.list_obj().items.push_back(std::move(attempt));
    }
    step.dict_obj().set(str("attempts"), list);
    return to_json_text(step);
}

void append_member(std::string& out, std::string_view key, std::string_view raw) {
    if (out.back() != '{') out += ',';
    out += to_json_text(str(std::string(key)));
    out += ':';
    out += raw;
}

// An attempt record as readers see it, spliced from the record texts: one written with the
// `same_as_step` marker gets the step record's fields it names, in the marker's place.
// False when a text cannot be taken apart as the engine writes them.
bool append_attempt(std::string& out, const std::string& attempt, const std::string& step_json,
                    std::optional<JsonMembers>& step) {
    if (attempt.find("\"same_as_step\"") == std::string::npos) {
        out += attempt;
        return true;
    }
    auto members = json_members(attempt);
    if (!members) return false;
    if (!step) step = json_members(step_json);
    if (!step) return false;
    out += '{';
    for (const auto& [key, raw] : *members) {
        if (key != "same_as_step") {
            append_member(out, key, raw);
            continue;
        }
        Value fields = tmpl::value_from_json(std::string(raw));
        if (!fields.is_list()) continue;
        for (const Value& field : fields.list_obj().items) {
            if (!field.is_string()) continue;
            std::string_view value = "null";
            for (const auto& [k, v] : *step) {
                if (k == field.str()) value = v;  // the last one, as a parse would keep
            }
            append_member(out, field.str(), value);
        }
    }
    out += '}';
    return true;
}

// `"key":{...step...,"attempts":[...]}` appended to out.
void append_step_with_attempts(std::string& out, const store::KeyedJson& step,
                               const std::vector<store::KeyedJson>& attempts) {
    const std::string& json = step.json;
    size_t close = json.find_last_not_of(" \t\n\r");
    size_t open = json.find_first_not_of(" \t\n\r");
    size_t mark = out.size();
    bool spliced = close != std::string::npos && json[open] == '{' && json[close] == '}';
    if (spliced) {
        out.append(json, 0, close);
        bool empty = json.find_first_not_of(" \t\n\r", open + 1) == close;
        out += empty ? "\"attempts\":[" : ",\"attempts\":[";
        std::optional<JsonMembers> step_members;
        for (size_t i = 0; spliced && i < attempts.size(); ++i) {
            if (i) out += ',';
            spliced = append_attempt(out, attempts[i].json, json, step_members);
        }
        out += "]}";
    }
    if (!spliced) {
        out.resize(mark);
        out += step_with_attempts_by_value(json, attempts);
    }
}

}  // namespace

std::optional<ExecutionPieces> ExecutionPieces::open(store::Store& store, const std::string& id,
                                                     bool with_attempts, bool with_changes) {
    auto rec = store.get_execution(id);
    if (!rec || !rec.value()) return std::nullopt;
    return ExecutionPieces(store, id, with_attempts, with_changes, execution_head(*rec.value(), 0));
}

ExecutionPieces::ExecutionPieces(store::Store& store, std::string id, bool with_attempts,
                                 bool with_changes, std::string head)
    : store_(&store), id_(id), with_attempts_(with_attempts), with_changes_(with_changes),
      head_(std::move(head)), steps_(store, std::move(id)) {}

Result<std::string> ExecutionPieces::next(size_t max_bytes) {
    std::string piece;
    if (stage_ == Stage::Head) {
        piece = std::move(head_);
        stage_ = Stage::Steps;
    }
    while (stage_ == Stage::Steps && piece.size() < max_bytes) {
        Result<const store::KeyedJson*> step = steps_.next();
        if (!step) return step.error();
        if (!step.value()) {
            stage_ = Stage::Tail;
            break;
        }
        const store::KeyedJson& kj = *step.value();
        append_step_key(piece, first_step_, kj.key);
        first_step_ = false;
        if (!with_attempts_) {
            piece += kj.json;
            continue;
        }
        auto attempts = store_->attempts(id_, kj.key);
        if (!attempts) return attempts.error();
        append_step_with_attempts(piece, kj, attempts.value());
    }
    if (stage_ == Stage::Tail && piece.size() < max_bytes) {
        if (with_changes_) {
            auto changes = store_->changes(id_);
            if (!changes) return changes.error();
            piece += "},\"changes\":[";
            bool first = true;
            for (const store::KeyedJson& change : changes.value()) {
                if (!first) piece += ',';
                first = false;
                piece += change.json;
            }
            piece += "]}";
        } else {
            piece += kExecutionTail;
        }
        stage_ = Stage::Done;
    }
    return piece;
}

StepRecords::StepRecords(store::Store& store, std::string id, size_t page)
    : store_(&store), id_(std::move(id)), page_size_(page) {}

Result<const store::KeyedJson*> StepRecords::next() {
    if (at_ == page_.size()) {
        if (last_page_) return nullptr;
        std::string after = page_.empty() ? std::string() : std::move(page_.back().key);
        auto page = store_->steps(id_, after, page_size_);
        if (!page) return page.error();
        page_ = std::move(page).value();
        at_ = 0;
        last_page_ = page_.size() < page_size_;
        if (page_.empty()) return nullptr;
    }
    return &page_[at_++];
}

std::string execution_json(const std::string& execution_record,
                           const std::vector<store::KeyedJson>& step_records, size_t shown_size) {
    std::string text = compose_execution_json(execution_record, step_records, shown_size);
    Redactor::instance().redact_json_in_place(text);
    // As the store repairs what it keeps (store.cpp scrub_history): the answer is JSON.
    if (invalid_utf8_at(text) != std::string::npos) text = to_valid_utf8(text);
    return text;
}

// Composed from the stored texts a page of steps at a time: memory stays near the answer's
// size, where values for every record took ~15 times that (a 40,000-item for_each: 34 MB of
// JSON, 500 MB of values).
Result<std::string> execution_json(store::Store& store, const std::string& id, bool with_attempts) {
    std::optional<ExecutionPieces> pieces = ExecutionPieces::open(store, id, with_attempts);
    if (!pieces) return std::string("null");
    std::string text;
    while (true) {
        Result<std::string> piece = pieces->next(ExecutionPieces::kPieceBytes);
        if (!piece) return piece.error();
        if (piece.value().empty()) return text;
        text += piece.value();
    }
}

Status print_execution_json(store::Store& store, const std::string& id, bool pretty,
                            bool with_attempts, std::FILE* file, bool with_changes) {
    std::optional<ExecutionPieces> pieces =
        ExecutionPieces::open(store, id, with_attempts, with_changes);
    if (!pieces) {
        std::fputs("null", file);
        return ok_status();
    }
    std::optional<Error> failed;
    std::function<std::string()> next = [&]() -> std::string {
        if (failed) return {};
        Result<std::string> piece = pieces->next(ExecutionPieces::kPieceBytes);
        if (!piece) failed = piece.error();
        return piece ? std::move(piece).value() : std::string();
    };
    bool written = true;
    if (pretty) {
        written = print_pretty_json(next, file);
    } else {
        for (std::string piece = next(); !piece.empty(); piece = next())
            std::fwrite(piece.data(), 1, piece.size(), file);
    }
    if (failed) return *failed;
    if (!written)
        return make_error(ErrorKind::Storage,
                          "the stored records of execution " + id + " are not JSON");
    return ok_status();
}

std::string stored_text(store::Store& store, const std::string& id, const char* field) {
    auto rec = store.get_execution(id);
    if (!rec || !rec.value()) return "";
    const tmpl::Value v = tmpl::value_from_json(*rec.value());
    const tmpl::Value* text = dict_get(v, field);
    return text && text->is_string() ? std::string(text->str()) : "";
}

bool is_sub_workflow_record(const std::string& execution_record) {
    // The record's own key, not the text: an input may hold a key "parent" too. A record
    // that does not parse is said to be damaged by whoever reads it for what it holds.
    try {
        const tmpl::Value v = tmpl::value_from_json(execution_record);
        return dict_get(v, "parent") != nullptr;
    } catch (const tmpl::TemplateError&) {
        return false;
    }
}

bool is_sub_workflow_execution(store::Store& store, const std::string& id) {
    auto rec = store.get_execution(id);
    return rec && rec.value() && is_sub_workflow_record(*rec.value());
}

std::string stored_parent(store::Store& store, const std::string& id) {
    auto rec = store.get_execution(id);
    if (!rec || !rec.value()) return "";
    const tmpl::Value v = tmpl::value_from_json(*rec.value());
    const tmpl::Value* parent = dict_get(v, "parent");
    const tmpl::Value* execution = parent ? dict_get(*parent, "execution") : nullptr;
    return execution && execution->is_string() ? std::string(execution->str()) : "";
}

std::string stored_top(store::Store& store, const std::string& id) {
    std::string top = id;
    for (int depth = 0; depth < 64; ++depth) {
        std::string up = stored_parent(store, top);
        if (up.empty()) break;
        top = std::move(up);
    }
    return top;
}

}  // namespace ferry::engine
