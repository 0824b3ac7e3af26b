#include "workflow/task_input.h"

#include "runtime/duration.h"
#include "workflow/loader_internal.h"

#include <algorithm>

namespace ferry::workflow {

const std::vector<std::string>& task_input_spec_keys() {
    static const std::vector<std::string> keys = {"type",   "required",    "default",    "enum",
                                                  "format", "description", "properties", "items"};
    return keys;
}

namespace {

const tmpl::Value* entry(const tmpl::Value& spec, const char* key) {
    return spec.is_dict() ? spec.dict_obj().find(key) : nullptr;
}

}  // namespace

void check_task_input(const tmpl::Value& spec, const tmpl::Value& value, const std::string& name,
                      bool written_only, std::vector<std::string>& problems) {
    if (!spec.is_dict()) return;
    if (written_only && value.is_string() && detail::is_template(value.str())) return;
    // Named only in a problem: every step start checks every input it gives.
    auto input = [&name] { return "input '" + name + "'"; };
    const tmpl::Value* type = entry(spec, "type");
    const std::string t = type && type->is_string() ? std::string(type->str()) : "any";
    if (!detail::type_matches(t, value)) {
        problems.push_back(input() + " must be " + detail::article_type(t) + ", got " +
                           detail::describe_value(value));
        return;
    }
    if (const tmpl::Value* format = entry(spec, "format");
        format && format->is_string() && format->str() == "duration" && value.is_string()) {
        if (Result<uint64_t> ms = parse_duration_ms(value.str()); !ms) {
            problems.push_back(input() + ": " + ms.error().message);
            return;
        }
    }
    if (const tmpl::Value* choices = entry(spec, "enum"); choices && choices->is_sequence()) {
        bool found = false;
        for (const tmpl::Value& c : choices->list_obj().items)
            found = found || tmpl::equals(c, value);
        if (!found) {
            problems.push_back(input() + " must be one of " +
                               detail::describe_values(choices->list_obj().items) + "; got " +
                               detail::describe_value(value));
            return;
        }
    }
    // An array's items, each as `items` declares it: for what `with:` writes as it is
    // (ferry validate) only. At run time a list may be long, and checking each item on
    // every start would cost every step: the task checks what it takes itself.
    if (const tmpl::Value* items = entry(spec, "items");
        written_only && items && items->is_dict() && value.is_sequence()) {
        const auto& list = value.list_obj().items;
        for (size_t i = 0; i < list.size(); ++i)
            check_task_input(*items, list[i], name + "[" + std::to_string(i) + "]", written_only,
                             problems);
        return;
    }
    const tmpl::Value* properties = entry(spec, "properties");
    if (!properties || !properties->is_dict() || !value.is_dict()) return;
    // The keys an object input takes are the ones declared: a misspelt one (page_sise)
    // would otherwise be dropped without a word and its default used.
    std::vector<std::string> known;
    for (const auto& [key, sub] : properties->dict_obj().items())
        if (key.is_string()) known.emplace_back(key.str());
    std::sort(known.begin(), known.end());  // a Lua table has no order of its own
    for (const auto& [key, sub] : value.dict_obj().items()) {
        const std::string k = key.is_string() ? std::string(key.str()) : tmpl::to_repr(key);
        if (detail::contains(known, k)) continue;
        std::string hint = detail::did_you_mean(k, known);
        problems.push_back(input() + " has no key '" + detail::clipped_name(k) + "'" +
                           (!hint.empty()   ? hint
                            : known.empty() ? " (it takes none)"
                                            : " (keys: " + detail::join(known) + ")"));
    }
    for (const auto& [key, sub] : properties->dict_obj().items()) {
        if (!key.is_string()) continue;
        const std::string path = name + "." + std::string(key.str());
        const tmpl::Value* v = value.dict_obj().find(key.str());
        if (!v || v->is_none()) {
            if (const tmpl::Value* r = entry(sub, "required"); r && r->is_bool() && r->as_bool())
                problems.push_back("input '" + path + "' is required" +
                                   (v ? ", and it is null" : ""));
            continue;
        }
        check_task_input(sub, *v, path, written_only, problems);
    }
}

}  // namespace ferry::workflow
