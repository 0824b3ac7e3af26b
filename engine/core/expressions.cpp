#include "core/expressions.h"

#include "core/values.h"
#include "runtime/json_lua.h"
#include "template/parser.h"
#include "workflow/loader.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace ferry::engine {

namespace {

Error template_error(const tmpl::TemplateError& e, const std::string& where) {
    return template_failure(e, where + ": " + e.message());
}

// A StrictUndefined that reached the end of an expression is an error, not a null.
void check_defined(const Value& v) {
    if (v.is_undefined()) tmpl::raise_undefined(v);
}

// The dict of vars being filled, and what it holds now, made once asked for.
struct LiveVars {
    const Value& dict;
    std::optional<Value> snapshot;
    const Value& now() {
        if (!snapshot) {
            snapshot = Value::dict();
            snapshot->dict_obj().assign(tmpl::DictObj::Items(dict.dict_obj().items()));
        }
        return *snapshot;
    }
};

// `v` with each place it holds the live vars (read whole: `b: "{{ vars }}"`) replaced by
// what they hold now, or nullopt when it holds them nowhere: kept as is, the var would hold
// itself and see the vars written below it. Containers are rebuilt only on the way to a
// replacement; a computed value holds nothing but JSON's kinds (check_json_fit).
std::optional<Value> without_live_vars(const Value& v, LiveVars& live, int depth) {
    if (depth > tmpl::kMaxContainerDepth) return std::nullopt;
    if (v.is_dict()) {
        if (&v.dict_obj() == &live.dict.dict_obj()) return live.now();
        tmpl::DictObj::Items items;
        bool changed = false;
        for (const auto& [key, item] : v.dict_obj().items()) {
            std::optional<Value> kept = without_live_vars(item, live, depth + 1);
            changed |= kept.has_value();
            items.emplace_back(key, kept ? std::move(*kept) : item);
        }
        if (!changed) return std::nullopt;
        Value copy = Value::dict();
        copy.dict_obj().assign(std::move(items));
        return copy;
    }
    if (v.is_sequence()) {
        std::vector<Value> items;
        bool changed = false;
        for (const Value& item : v.list_obj().items) {
            std::optional<Value> kept = without_live_vars(item, live, depth + 1);
            changed |= kept.has_value();
            items.push_back(kept ? std::move(*kept) : item);
        }
        if (!changed) return std::nullopt;
        return v.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    }
    return std::nullopt;
}

}  // namespace

void check_json_fit(Value& v) {
    JsonFitNotes notes;
    switch (json_fit(v, json_lua::kMaxEncodedBytes, &notes)) {
    case JsonFit::fits:
        if (notes.object_tuples) v = json_shaped(v, json_lua::kMaxDepth);
        return;
    case JsonFit::not_json: {
        const Value& what = *notes.not_json;
        const bool listable = what.object_obj().is_iterable();
        throw tmpl::TemplateError(
            tmpl::ErrorKind::Value,
            std::string(listable ? "the value holds a " : "the value holds ") +
                std::string(tmpl::type_name(what)) + ", which JSON has no form for" +
                (listable ? " (add | list: \"{{ ... | list }}\")" : ""));
    }
    case JsonFit::non_finite:
        throw tmpl::TemplateError(tmpl::ErrorKind::Value,
                                  "the value is infinite or NaN, which JSON has no form for");
    case JsonFit::too_large:
        throw tmpl::TemplateError(
            tmpl::ErrorKind::Limit,
            "the value is larger than " + std::to_string(json_lua::kMaxEncodedBytes >> 20) +
                " MiB as JSON, the most one value may be (a list repeated inside itself?)");
    }
}

Error template_failure(const tmpl::TemplateError& e, std::string message) {
    return make_error(e.kind() == tmpl::ErrorKind::Limit ? ErrorKind::Limit : ErrorKind::Validation,
                      std::move(message));
}

Expressions::Expressions(std::shared_ptr<const tmpl::Loader> templates)
    : env_(std::move(templates), tmpl::RenderOptions{true, 16u << 20, 100, kMaxRenderMs}) {}

Result<const Expressions::Compiled*> Expressions::compile(std::string_view text,
                                                          const std::string& where) {
    auto it = cache_.find(text);
    if (it != cache_.end()) return it->second.get();
    auto compiled = std::make_unique<Compiled>();
    try {
        std::string inner;
        if (workflow::is_single_expression(std::string(text), &inner)) {
            compiled->expr = tmpl::parse_expression(inner, where);
        } else {
            compiled->text = env_.from_string(std::string(text), where);
        }
    } catch (const tmpl::TemplateError& e) {
        return template_error(e, where);
    }
    const Compiled* raw = compiled.get();
    cache_.emplace(std::string(text), std::move(compiled));
    return raw;
}

Result<Value> Expressions::evaluate(std::string_view text, const Value& context,
                                    const std::string& where) {
    return evaluate_expression(text, context, where, true);
}

Result<Value> Expressions::evaluate_any(std::string_view text, const Value& context,
                                        const std::string& where) {
    return evaluate_expression(text, context, where, false);
}

Result<Value> Expressions::evaluate_expression(std::string_view text, const Value& context,
                                               const std::string& where, bool as_json) {
    if (!workflow::detail::is_template(text)) return Value::string(std::string(text));
    Result<const Compiled*> c = compile(text, where);
    if (!c) return c.error();
    try {
        if (c.value()->expr) {
            Value v = env_.evaluate(*c.value()->expr, context, where);
            check_defined(v);
            if (as_json) check_json_fit(v);
            return v;
        }
        return Value::string(env_.render_or_throw(*c.value()->text, context));
    } catch (const tmpl::TemplateError& e) {
        return template_error(e, where);
    } catch (const std::exception& e) {
        // Not the template's (they raise TemplateErrors, allocation failures included): a
        // bug, which fails this evaluation rather than the process and every restart that
        // resumes its execution.
        return make_error(ErrorKind::Internal, where + ": " + e.what());
    }
}

Result<Value> Expressions::evaluate_tree(const Value& tree, const Value& context,
                                         const std::string& where,
                                         const std::vector<std::vector<std::string>>* raw_paths) {
    std::vector<std::string> path;
    std::string at;
    at.reserve(where.size() + 48);  // room for the keys the walk appends
    at += where;
    return evaluate_at(tree, context, at, raw_paths, path, true);
}

namespace {

bool is_raw(const std::vector<std::vector<std::string>>* raw_paths,
            const std::vector<std::string>& path) {
    return raw_paths && workflow::under_raw_path(*raw_paths, path);
}

}  // namespace

// `where` grows and shrinks in place as the walk descends (errors name the leaf); subtrees
// without expressions are shared with the definition instead of rebuilt: they are never
// modified in place (only the root is: schema defaults), and rebuilding the constant parts
// of every step's `with` (e.g. a transform's mappings) was most of the evaluation cost.
Result<Value> Expressions::evaluate_at(const Value& tree, const Value& context, std::string& where,
                                       const std::vector<std::vector<std::string>>* raw_paths,
                                       std::vector<std::string>& path, bool root) {
    if (is_raw(raw_paths, path)) return tree;
    switch (tree.kind()) {
    case tmpl::Kind::String:
        if (!workflow::detail::is_template(tree.str())) return tree;
        return evaluate(tree.str(), context, where);
    case tmpl::Kind::List:
    case tmpl::Kind::Tuple: {
        if (!root && !workflow::detail::holds_template(tree)) return tree;
        std::vector<Value> items;
        items.reserve(tree.list_obj().items.size());
        size_t i = 0;
        const size_t mark = where.size();
        for (const Value& item : tree.list_obj().items) {
            if (raw_paths) path.push_back(std::to_string(i));
            where += '[';
            where += std::to_string(i);
            where += ']';
            Result<Value> v = evaluate_at(item, context, where, raw_paths, path, false);
            where.resize(mark);
            if (raw_paths) path.pop_back();
            ++i;
            if (!v) return v.error();
            items.push_back(std::move(v.value()));
        }
        return Value::list(std::move(items));
    }
    case tmpl::Kind::Dict: {
        if (!root && !workflow::detail::holds_template(tree)) return tree;
        Value out = Value::dict();
        out.dict_obj().reserve(tree.dict_obj().size());
        const size_t mark = where.size();
        for (const auto& [k, v] : tree.dict_obj().items()) {
            if (!workflow::detail::holds_template(
                    v)) {  // nothing to evaluate, nor to name in an error
                out.dict_obj().append_new(k, v);
                continue;
            }
            where += '.';
            if (k.is_string())
                where += k.str();
            else
                where += tmpl::to_str(k);
            // The path is only for raw_paths: the key as `where` has it, without a copy else.
            if (raw_paths) path.push_back(where.substr(mark + 1));
            Result<Value> ev = evaluate_at(v, context, where, raw_paths, path, false);
            where.resize(mark);
            if (raw_paths) path.pop_back();
            if (!ev) return ev.error();
            out.dict_obj().append_new(k, std::move(ev.value()));
        }
        return out;
    }
    default: return tree;
    }
}

Status Expressions::evaluate_vars(const Value& defs, const Value& context, const Value& vars,
                                  std::string* failed) {
    if (!defs.is_dict()) return ok_status();
    for (const auto& [name, tree] : defs.dict_obj().items()) {
        Result<Value> value = evaluate_tree(tree, context, "vars." + tmpl::to_str(name));
        if (!value) {
            if (failed) *failed = tmpl::to_str(name);
            return value.error();
        }
        LiveVars live{vars, std::nullopt};
        Value kept = without_live_vars(value.value(), live, 0).value_or(value.value());
        tmpl::freeze(kept);  // read-only to the vars below it too
        vars.dict_obj().set(name, std::move(kept));
    }
    return ok_status();
}

Result<bool> Expressions::condition(const std::string& text, const Value& context,
                                    const std::string& where) {
    Result<Value> v = evaluate_any(text, context, where);
    if (!v) return v.error();
    try {
        return tmpl::truthy(v.value());
    } catch (const tmpl::TemplateError& e) {
        return template_error(e, where);
    }
}

}  // namespace ferry::engine
