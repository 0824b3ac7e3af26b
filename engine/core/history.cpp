#include "core/history.h"

#include "core/values.h"
#include "runtime/integration/secrets.h"
#include "template/environment.h"

#include <rapidjson/reader.h>

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

// A NUL-terminated text read by rapidjson. Not rapidjson::StringStream: the reader works on a
// copy of that one and writes its position back only after calling the handler, so Tell()
// in a handler would lag behind.
struct TextStream {
    using Ch = char;
    const char* at;
    const char* begin;
    Ch Peek() const { return *at; }
    Ch Take() { return *at++; }
    size_t Tell() const { return size_t(at - begin); }
    Ch* PutBegin() { return nullptr; }  // read only
    void Put(Ch) {}
    void Flush() {}
    size_t PutEnd(Ch*) { return 0; }
};

// Where each top-level member's value lies in a JSON object's text, found by rapidjson's
// reader without building anything: in the handler, the stream is just past a key's closing
// quote, and just past a value at its last event.
class MemberSpans : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, MemberSpans> {
  public:
    MemberSpans(std::string_view text, const TextStream& in) : text_(text), in_(in) {}

    std::vector<std::pair<std::string, std::string_view>> members;

    bool Default() { return depth_ != 1 || end_value(); }
    bool String(const char*, rapidjson::SizeType, bool) { return Default(); }
    bool Key(const char* name, rapidjson::SizeType length, bool) {
        if (depth_ != 1) return true;
        key_.assign(name, length);
        size_t at = in_.Tell();  // whitespace, ':', whitespace, then the value
        while (at < text_.size() && text_[at] != ':')
            ++at;
        start_ = text_.find_first_not_of(" \t\n\r", at + 1);
        return start_ != std::string_view::npos;
    }
    bool StartObject() { return ++depth_, true; }
    bool EndObject(rapidjson::SizeType) { return --depth_ != 1 || end_value(); }
    bool StartArray() { return depth_ == 0 ? false : (++depth_, true); }
    bool EndArray(rapidjson::SizeType) { return --depth_ != 1 || end_value(); }

  private:
    bool end_value() {
        members.emplace_back(std::move(key_), text_.substr(start_, in_.Tell() - start_));
        return true;
    }
    std::string_view text_;
    const TextStream& in_;
    int depth_ = 0;
    std::string key_;
    size_t start_ = 0;
};

// The execution record's shown fields as they lie in its text (the record is JSON the
// engine wrote, compact, so each value goes out as it is): no parse into values and no
// writing them again, which was most of a `?wait=` answer's cost. Empty when the text is not
// a JSON object.
std::string shown_fields_text(const std::string& record) {
    TextStream in{record.c_str(), record.c_str()};
    MemberSpans spans(record, in);
    rapidjson::Reader reader;
    if (!reader.Parse(in, spans) || spans.members.empty()) return {};
    std::string text = "{";
    for (const char* k : kShownFields) {
        for (const auto& [key, raw] : spans.members) {
            if (key != k) continue;
            if (text.size() > 1) text += ',';
            text += '"';
            text += key;
            text += "\":";
            text += raw;
            break;
        }
    }
    text += '}';
    return text;
}

}  // namespace

namespace {

std::string compose_execution_json(const std::string& execution_record,
                                   const std::vector<store::KeyedJson>& step_records,
                                   size_t shown_size) {
    // The step records go out as stored (they are compact JSON objects written by the
    // engine): splicing them skips parsing and writing again what is most of the answer
    // (a `?wait=` answer of ferry serve, `ferry run`'s output).
    std::string text;
    if (shown_size > 1 && shown_size <= execution_record.size()) {
        size_t total = shown_size + 16;
        for (const auto& kj : step_records)
            total += kj.key.size() + kj.json.size() + 8;
        text.reserve(total);
        text.append(execution_record, 0, shown_size);
        text += '}';
    } else {
        text = shown_fields_text(execution_record);
        if (text.empty()) text = to_json_text(execution_fields(execution_record));
    }
    text.pop_back();  // the closing brace: "steps" goes last
    text += text.size() > 1 ? R"(,"steps":{)" : R"("steps":{)";
    bool first = true;
    for (const auto& kj : step_records) {
        if (!first) text += ',';
        first = false;
        text += to_json_text(str(kj.key));
        text += ':';
        text += kj.json;
    }
    text += "}}";
    return text;
}

}  // namespace

std::string execution_json(const std::string& execution_record,
                           const std::vector<store::KeyedJson>& step_records, size_t shown_size) {
    std::string text = compose_execution_json(execution_record, step_records, shown_size);
    Redactor::instance().redact_json_in_place(text);
    return text;
}

std::string execution_json(store::Store& store, const std::string& id, bool pretty,
                           bool with_attempts) {
    auto rec = store.get_execution(id);
    if (!rec || !rec.value()) return "null";
    auto records = store.steps(id);
    if (!pretty && !with_attempts) {
        static const std::vector<store::KeyedJson> kNone;
        return compose_execution_json(*rec.value(), records ? records.value() : kNone, 0);
    }
    Value out = execution_fields(*rec.value());
    Value steps = Value::dict();
    if (records) {
        for (const auto& kj : records.value()) {
            Value step = tmpl::value_from_json(kj.json);
            if (with_attempts) {
                auto attempts = store.attempts(id, kj.key);
                if (attempts) {
                    Value list = Value::list();
                    for (const auto& a : attempts.value()) {
                        Value attempt = tmpl::value_from_json(a.json);
                        fill_from_step(attempt, step);
                        list.list_obj().items.push_back(std::move(attempt));
                    }
                    step.dict_obj().set(str("attempts"), list);
                }
            }
            steps.dict_obj().append_new(str(kj.key),
                                        std::move(step));  // the store's keys are distinct
        }
    }
    out.dict_obj().set(str("steps"), steps);
    return pretty ? to_pretty_json(out) : to_json_text(out);
}

std::string stored_status(store::Store& store, const std::string& id) {
    auto rec = store.get_execution(id);
    if (!rec || !rec.value()) return "";
    const tmpl::Value v = tmpl::value_from_json(*rec.value());
    const tmpl::Value* st = dict_get(v, "status");
    return st && st->is_string() ? std::string(st->str()) : "";
}

bool is_sub_workflow_record(const std::string& execution_record) {
    // The record's own key, not the text: an input may hold a key "parent" too.
    const tmpl::Value v = tmpl::value_from_json(execution_record);
    return dict_get(v, "parent") != nullptr;
}

bool is_sub_workflow_execution(store::Store& store, const std::string& id) {
    auto rec = store.get_execution(id);
    return rec && rec.value() && is_sub_workflow_record(*rec.value());
}

}  // namespace ferry::engine
