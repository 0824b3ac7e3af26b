// What a task remembers across its attempts (Task::remember): named JSON values its owner
// keeps durably, read back by the attempts that follow.
#include "runtime/json_members.h"
#include "runtime/json_writer.h"
#include "runtime/scheduler.h"

#include <algorithm>

namespace ferry {

namespace {

using MemoValues = std::vector<std::pair<std::string, std::string>>;

std::string memo_text(const MemoValues& values) {
    rapidjson::StringBuffer out;
    out.Put('{');
    bool first = true;
    for (const auto& [name, json] : values) {
        if (!first) out.Put(',');
        first = false;
        out.Put('"');
        append_json_escaped(out, name);
        out.Put('"');
        out.Put(':');
        std::memcpy(out.Push(json.size()), json.data(), json.size());
    }
    out.Put('}');
    return std::string(out.GetString(), out.GetSize());
}

}  // namespace

bool Task::keep_memo(const std::string& memo_json, MemoKeeper keeper) {
    auto memo = std::make_unique<Memo>();
    if (!memo_json.empty()) {
        std::optional<JsonMembers> members = json_members(memo_json);
        if (!members) return false;
        for (auto& [name, value] : *members) {
            // A name written twice: the last one is what was remembered last.
            std::erase_if(memo->values, [&](const auto& v) { return v.first == name; });
            memo->values.emplace_back(std::move(name), std::string(value));
        }
    }
    memo->keeper = std::move(keeper);
    memo_ = std::move(memo);
    return true;
}

const std::string* Task::remembered(std::string_view name) const {
    if (!memo_) return nullptr;
    for (const auto& [n, json] : memo_->values)
        if (n == name) return &json;
    return nullptr;
}

Result<std::string> Task::remember(std::string_view name, std::string value_json) {
    if (!memo_)
        return make_error(ErrorKind::Validation, "this task has nowhere to keep what it remembers "
                                                 "(it does not run as a workflow step)");
    MemoValues values = memo_->values;
    auto it =
        std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == name; });
    if (value_json.empty()) {
        if (it != values.end()) values.erase(it);
    } else if (it != values.end()) {
        it->second = std::move(value_json);
    } else {
        values.emplace_back(std::string(name), std::move(value_json));
    }
    std::string text = memo_text(values);
    if (text.size() > kMaxMemoBytes)
        return make_error(ErrorKind::Limit, "what the task remembers would take " +
                                                std::to_string(text.size()) +
                                                " bytes as JSON, more than the " +
                                                std::to_string(kMaxMemoBytes >> 10) +
                                                " KiB a step keeps (remember ids and names, "
                                                "not documents)");
    memo_->values = std::move(values);
    return text;
}

}  // namespace ferry
