// Expressions in workflow files: syntax checks placed at FILE:LINE:COL, and the names they
// read (steps.ID, inputs.X, vars.X), which give the step graph its edges.
#include "template/builtins.h"
#include "template/parser.h"
#include "workflow/loader_internal.h"

#include <algorithm>
#include <unordered_set>

namespace ferry::workflow {
namespace detail {
namespace {

using tmpl::Expr;
using tmpl::ExprKind;
using tmpl::Stmt;

bool is_root_name(const Expr* e) {
    return e && e->kind == ExprKind::Name &&
           (e->name == "steps" || e->name == "inputs" || e->name == "vars");
}

// Methods of a dict: `steps.items()` iterates, it does not name a step called "items".
bool is_dict_method(std::string_view name) {
    static constexpr std::string_view kMethods[] = {"get", "items", "keys", "values"};
    return std::find(std::begin(kMethods), std::end(kMethods), name) != std::end(kMethods);
}

const std::string* const_string(const Expr* e) {
    if (!e || e->kind != ExprKind::Const || !e->value.is_string()) return nullptr;
    return &e->value.str_obj().text;
}

class RefCollector {
  public:
    std::vector<TemplateRef> refs;
    // Bare `item` / `index` reads, and whether the template binds names itself (a
    // `{% for item in ... %}` or a `{% set %}` makes a bare name its own).
    std::vector<TemplateRef> loop_names;
    // Every other bare name a template reads: a root the workflow does not have (`input.x`,
    // `env.HOME`) is an error at every run, so validate names it.
    std::vector<TemplateRef> free_names;
    bool binds_names = false;

    void body(const tmpl::Body& stmts) {
        for (const tmpl::StmtPtr& s : stmts)
            stmt(s.get());
    }

    // Children in source order, so references come out in the order they are written.
    void stmt(const Stmt* s) {
        if (!s) return;
        switch (s->kind) {
        case tmpl::StmtKind::For:
        case tmpl::StmtKind::Set:
        case tmpl::StmtKind::SetBlock:
        case tmpl::StmtKind::Macro:
        case tmpl::StmtKind::CallBlock:
        case tmpl::StmtKind::With:
        case tmpl::StmtKind::Import:
        case tmpl::StmtKind::FromImport: binds_names = true; break;
        default: break;
        }
        for (const tmpl::MacroParam& p : s->params)
            expr(p.default_value.get());
        expr(s->target.get());
        expr(s->expr.get());
        expr(s->condition.get());
        expr(s->call.get());
        for (size_t i = 0; i < std::max(s->targets.size(), s->values.size()); ++i) {
            if (i < s->targets.size()) expr(s->targets[i].get());
            if (i < s->values.size()) expr(s->values[i].get());
        }
        body(s->body);
        body(s->else_body);
    }

    void expr(const Expr* e) {
        if (!e) return;
        if (e->kind == ExprKind::Name && (e->name == "item" || e->name == "index")) {
            loop_names.push_back(TemplateRef{e->name, "", e->line, e->column, false, {}});
            return;
        }
        if (e->kind == ExprKind::Name) {
            if (!is_root_name(e))
                free_names.push_back(TemplateRef{e->name, "", e->line, e->column, false, {}});
            else if (e->name == "steps")  // read whole: listed, iterated, `in`, a filter's
                refs.push_back(TemplateRef{"steps-whole", "", e->line, e->column, false, {}});
            return;
        }
        // `steps[name]`: the key is read; the step, found at run time, fails the read with
        // a hint when it has not finished (core/units.cpp), so it is no whole read.
        if (e->kind == ExprKind::Getitem && !e->is_slice && e->a && e->a->kind == ExprKind::Name &&
            e->a->name == "steps" && !const_string(e->b.get())) {
            expr(e->b.get());
            return;
        }
        // `execution.FIELD`, `event.FIELD` (an on_step entry's followed step): bare roots
        // whose shape is fixed, so their field is kept.
        if (e->kind == ExprKind::Getattr && e->a && e->a->kind == ExprKind::Name &&
            (e->a->name == "execution" || e->a->name == "event") &&
            !tmpl::has_method(tmpl::Value::dict(), e->name)) {
            free_names.push_back(
                TemplateRef{e->a->name, e->name, e->a->line, e->a->column, false, {}});
            return;
        }
        // `steps.ID.FIELD` (the ID written either way): the step, and the field of its record.
        if (e->kind == ExprKind::Getattr && !tmpl::has_method(tmpl::Value::dict(), e->name) &&
            field_of_step(e->a.get(), e->name))
            return;
        if (e->kind == ExprKind::Getattr && is_root_name(e->a.get())) {
            add(*e->a, e->name, tmpl::has_method(tmpl::Value::dict(), e->name));
            return;
        }
        if (e->kind == ExprKind::Getitem && !e->is_slice && is_root_name(e->a.get())) {
            if (const std::string* key = const_string(e->b.get())) {
                add(*e->a, *key);
                return;
            }
        }
        if (e->kind == ExprKind::Call && e->a && e->a->kind == ExprKind::Getattr &&
            is_root_name(e->a->a.get()) && is_dict_method(e->a->name)) {
            const std::string* key = e->a->name == "get" && !e->args.positional.empty()
                                         ? const_string(e->args.positional[0].get())
                                         : nullptr;
            if (key)
                add(*e->a->a, *key);
            else if (e->a->a->name == "steps")  // items(), keys(), values(), get(name)
                refs.push_back(
                    TemplateRef{"steps-whole", "", e->a->a->line, e->a->a->column, false, {}});
            args(e->args);
            return;
        }
        // `steps.ID.output.update` uncalled: as in Jinja2 the attribute wins, so this is the
        // dict's method update, not its entry "update" (a step's output keyed so).
        if (e->kind == ExprKind::Getattr && tmpl::has_method(tmpl::Value::dict(), e->name)) {
            if (std::string receiver; dotted(e->a.get(), receiver, true)) {
                const Expr* root = e->a.get();  // placed where the chain starts, as written
                while (root->kind != ExprKind::Name)
                    root = root->a.get();
                refs.push_back(
                    TemplateRef{"dict-method", receiver, root->line, root->column, true, e->name});
                expr(e->a.get());
                return;
            }
        }
        if (e->kind == ExprKind::Call && e->a && e->a->kind == ExprKind::Getattr &&
            tmpl::has_method(tmpl::Value::dict(), e->a->name)) {
            expr(e->a->a.get());  // a method called: the receiver is what the template reads
            args(e->args);
            return;
        }
        if (e->kind == ExprKind::CondExpr) {  // `b if a else c`
            expr(e->b.get());
            expr(e->a.get());
            expr(e->c.get());
            return;
        }
        expr(e->a.get());
        expr(e->b.get());
        expr(e->c.get());
        expr(e->slice_start.get());
        expr(e->slice_stop.get());
        expr(e->slice_step.get());
        args(e->args);
        for (size_t i = 0; i < std::max(e->items.size(), e->values.size()); ++i) {
            if (i < e->items.size()) expr(e->items[i].get());  // dict keys pair with values
            if (i < e->values.size()) expr(e->values[i].get());
        }
        for (const auto& [op, rhs] : e->ops)
            expr(rhs.get());
    }

  private:
    // e as written (steps.plan.output, item['x']), when it is a chain of attributes and
    // constant keys below steps, inputs, vars or item; for the first three at least one
    // below the root (a method of the root itself is its own reference, above).
    static bool dotted(const Expr* e, std::string& out, bool top) {
        if (!e) return false;
        if (e->kind == ExprKind::Name) {
            out = e->name;
            return (!top && is_root_name(e)) || e->name == "item";
        }
        std::string below;
        if (e->kind == ExprKind::Getattr && dotted(e->a.get(), below, false)) {
            out = below + "." + e->name;
            return true;
        }
        if (e->kind == ExprKind::Getitem && !e->is_slice && dotted(e->a.get(), below, false)) {
            if (const std::string* key = const_string(e->b.get())) {
                out = below + "['" + *key + "']";
                return true;
            }
            // An index, negative ones included (`[-1]` parses as the negation of 1).
            const Expr* index = e->b.get();
            const bool negative = index && index->kind == ExprKind::Neg;
            if (negative) index = index->a.get();
            if (index && index->kind == ExprKind::Const && index->value.is_int()) {
                out = below + "[" + (negative ? "-" : "") + std::to_string(index->value.as_int()) +
                      "]";
                return true;
            }
        }
        return false;
    }

    // Adds `steps.ID` with field when step is that (steps.ID or steps['ID']).
    bool field_of_step(const Expr* step, const std::string& field) {
        if (!step || !step->a || step->a->kind != ExprKind::Name || step->a->name != "steps")
            return false;
        if (step->kind == ExprKind::Getattr && !is_dict_method(step->name)) {
            add(*step->a, step->name, false, field);
            return true;
        }
        if (step->kind == ExprKind::Getitem && !step->is_slice) {
            if (const std::string* key = const_string(step->b.get())) {
                add(*step->a, *key, false, field);
                return true;
            }
        }
        return false;
    }

    void args(const tmpl::CallArgs& a) {
        for (const tmpl::ExprPtr& p : a.positional)
            expr(p.get());
        for (const auto& [name, value] : a.named)
            expr(value.get());
        expr(a.dyn_args.get());
        expr(a.dyn_kwargs.get());
    }

    void add(const Expr& root, const std::string& name, bool method = false,
             std::string field = {}) {
        refs.push_back(
            TemplateRef{root.name, name, root.line, root.column, method, std::move(field)});
    }
};

// Names every template sees whatever its context: the global functions and the constants
// Jinja2 also spells with capitals.
bool is_builtin_name(std::string_view name) {
    static constexpr std::string_view kConstants[] = {"true", "false", "none",
                                                      "True", "False", "None"};
    for (std::string_view c : kConstants)
        if (name == c) return true;
    return !tmpl::find_global(name).is_undefined();
}

// Byte offset of a 1-based line/column in text (clamped to the text).
size_t offset_of(const std::string& text, int line, int column) {
    size_t pos = 0;
    for (int l = 1; l < line; ++l) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) return text.size();
        pos = nl + 1;
    }
    return std::min(text.size(), pos + size_t(std::max(column, 1) - 1));
}

size_t strip_prefix(size_t offset, size_t prefix) {
    return offset >= prefix ? offset - prefix : 0;
}

}  // namespace

bool is_template(std::string_view s) {
    return s.find("{{") != std::string_view::npos || s.find("{%") != std::string_view::npos;
}

bool holds_template(const tmpl::Value& v) {
    switch (v.kind()) {
    case tmpl::Kind::String: return is_template(v.str());
    case tmpl::Kind::List:
    case tmpl::Kind::Tuple:
        for (const tmpl::Value& item : v.list_obj().items)
            if (holds_template(item)) return true;
        return false;
    case tmpl::Kind::Dict:
        for (const auto& [k, item] : v.dict_obj().items())
            if (holds_template(item)) return true;
        return false;
    default: return false;
    }
}

std::vector<TemplateRef> template_references(const std::string& text, const std::string& name) {
    std::unique_ptr<tmpl::ParsedTemplate> parsed = tmpl::parse_template(text, name);
    RefCollector c;
    c.body(parsed->body);
    if (!c.binds_names) {
        c.refs.insert(c.refs.end(), c.loop_names.begin(), c.loop_names.end());
        for (TemplateRef& r : c.free_names)
            if (!is_builtin_name(r.root)) c.refs.push_back(std::move(r));
    }
    return std::move(c.refs);
}

void check_template(Context& ctx, const YAML::Node& node, const std::string& text, size_t prefix,
                    std::vector<Ref>& refs) {
    auto [seen, first] = ctx.checked_templates.try_emplace(node.Mark().pos);
    Context::CheckedTemplate& checked = seen->second;  // references stay valid on rehash
    if (!first && prefix == 0 && checked.text == text) {
        refs.insert(refs.end(), checked.refs.begin(), checked.refs.end());
        return;
    }
    const size_t found_from = refs.size();
    try {
        for (TemplateRef& r : template_references(text, ctx.file())) {
            size_t at = strip_prefix(offset_of(text, r.line, r.column), prefix);
            refs.push_back(Ref{std::move(r.root), std::move(r.name),
                               locate_in_scalar(ctx, node, at), r.method, std::move(r.field)});
        }
    } catch (const tmpl::TemplateError& e) {
        size_t at = strip_prefix(offset_of(text, e.where().line, e.where().column), prefix);
        ctx.error(locate_in_scalar(ctx, node, at), "invalid expression: " + e.message());
    }
    if (prefix == 0) {
        checked.text = text;
        checked.refs.assign(refs.begin() + std::ptrdiff_t(found_from), refs.end());
    }
}

namespace {

// Mapping keys are data, never evaluated: `fields: {"{{ inputs.name }}": x}` sent a field
// named with the braces to the vendor. Refused where it is written, with the way to build
// such a mapping (raw subtrees, such as a lua script's, are the task's own).
void refuse_template_key(Context& ctx, const YAML::Node& key_node, const std::string& key) {
    if (!is_template(key)) return;
    ctx.error(key_node, "the key '" + clipped_name(key) +
                            "' holds an expression, but keys are not evaluated (it would go out "
                            "as written): build the mapping in one expression, such as \"{{ "
                            "{inputs.name: 'value'} }}\"");
}

// Checks the templates of a data tree, skipping subtrees under a raw path.
void check_tree(Context& ctx, const YAML::Node& node, std::vector<std::string>& path,
                const std::vector<std::vector<std::string>>& raw_paths, std::vector<Ref>& refs,
                SeenNodes& seen) {
    if (under_raw_path(raw_paths, path)) return;
    if (node.IsScalar()) {
        // A string holding {{ is never a number, boolean or null under the core schema.
        if (is_template(node.Scalar()) && seen.first(node))
            check_template(ctx, node, node.Scalar(), 0, refs);
    } else if (node.IsMap()) {
        for (const auto& entry : node) {
            path.push_back(entry.first.IsScalar() ? entry.first.Scalar() : "");
            if (!under_raw_path(raw_paths, path) && is_template(path.back()) &&
                seen.first(entry.first))
                refuse_template_key(ctx, entry.first, path.back());
            check_tree(ctx, entry.second, path, raw_paths, refs, seen);
            path.pop_back();
        }
    } else if (node.IsSequence()) {
        size_t i = 0;
        for (const YAML::Node& item : node) {
            path.push_back(std::to_string(i++));
            check_tree(ctx, item, path, raw_paths, refs, seen);
            path.pop_back();
        }
    }
}

}  // namespace

tmpl::Value data_with_templates(Context& ctx, const YAML::Node& node, std::vector<Ref>& refs,
                                const std::vector<std::vector<std::string>>& raw_paths,
                                SeenNodes* shared_seen) {
    SeenNodes own_seen;
    SeenNodes& seen = shared_seen ? *shared_seen : own_seen;
    if (raw_paths.empty()) {
        StringVisitor visit = [&](const YAML::Node& n, const std::string& text) {
            if (is_template(text) && seen.first(n)) check_template(ctx, n, text, 0, refs);
        };
        StringVisitor visit_key = [&](const YAML::Node& n, const std::string& key) {
            if (is_template(key) && seen.first(n)) refuse_template_key(ctx, n, key);
        };
        return to_value(ctx, node, &visit, &visit_key);
    }
    // Converted first: to_value stops alias bombs and runaway nesting, which the walk
    // below would otherwise follow.
    size_t problems = ctx.problems().size();
    tmpl::Value value = to_value(ctx, node, nullptr);
    std::vector<std::string> path;
    if (ctx.problems().size() == problems) check_tree(ctx, node, path, raw_paths, refs, seen);
    return value;
}

std::string expression_field(Context& ctx, const YAML::Node& node, std::string_view field,
                             std::vector<Ref>& refs) {
    std::string f(field);
    if (node.IsSequence() && field == "for_each") {
        // A literal list is an expression too: write it as one, as long as none of its items
        // is itself an expression (those would become literal text).
        bool templated = false;
        StringVisitor visit = [&](const YAML::Node&, const std::string& text) {
            templated = templated || is_template(text);
        };
        tmpl::Value list = to_value(ctx, node, &visit);
        if (templated) {
            ctx.error(node, "'for_each' as a list cannot hold expressions; write one "
                            "expression instead, such as \"{{ [inputs.a, inputs.b] }}\"");
            return "";
        }
        return "{{ " + tmpl::to_repr(list) + " }}";
    }
    if (!node.IsScalar()) {
        ctx.error(node, "'" + f + "' must be an expression, such as \"{{ inputs.x }}\", got " +
                            describe_node(ctx, node));
        return "";
    }
    tmpl::Value v = scalar_value(ctx, node);
    if (v.is_bool() && field == "when") return v.as_bool() ? "{{ true }}" : "{{ false }}";
    if (!v.is_string()) {
        ctx.error(node, "'" + f + "' must be an expression, such as \"{{ inputs.x }}\", got " +
                            describe_node(ctx, node));
        return "";
    }
    const std::string& text = node.Scalar();
    if (is_template(text)) {
        size_t problems = ctx.problems().size();
        check_template(ctx, node, text, 0, refs);
        // A block scalar (`when: >`) or a stray space leaves whitespace around the braces;
        // any other text makes the result a string, which a condition reads as true
        // whatever it says ("False\n") and which is never a list.
        std::string trimmed(trim_blanks(text));
        if (is_single_expression(trimmed)) return trimmed;
        if (ctx.problems().size() == problems) {
            ctx.error(node, "'" + f + "' must be one expression, such as \"{{ " +
                                (field == "when" ? "inputs.n > 5" : "inputs.items") +
                                " }}\": with text or {% %} around it, it renders as text" +
                                (field == "when" ? ", and any text but \"\" counts as true"
                                                 : ", not a list"));
        }
        return "";
    }
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
        ctx.error(node, "'" + f + "' is empty");
        return "";
    }
    // A bare expression (`when: inputs.count > 2`) means the same as one inside {{ }}.
    std::string wrapped = "{{ " + text + " }}";
    check_template(ctx, node, wrapped, 3, refs);
    return wrapped;
}

}  // namespace detail

bool is_single_expression(const std::string& text, std::string* inner) {
    if (text.size() < 4 || text.compare(0, 2, "{{") != 0 ||
        text.compare(text.size() - 2, 2, "}}") != 0)
        return false;
    std::string body = text.substr(2, text.size() - 4);
    // Another tag inside makes it text around expressions; braces inside a string literal
    // are the literal's ('x}}y'), as the template lexer reads them: a plain search took
    // `inputs.msg == 'x}}y'` for text, which a condition reads as always true.
    // And so are brackets: `}}` closing nested dict literals is no end tag (the lexer
    // balances them, as Jinja2's does).
    int depth = 0;
    for (size_t i = 0; i < body.size(); ++i) {
        char c = body[i];
        if (c == '\'' || c == '"') {
            size_t j = i + 1;
            while (j < body.size() && body[j] != c)
                j += body[j] == '\\' ? 2 : 1;
            if (j >= body.size()) return false;  // unterminated: the parser says where
            i = j;
            continue;
        }
        if (depth == 0 && (body.compare(i, 2, "{{") == 0 || body.compare(i, 2, "}}") == 0 ||
                           body.compare(i, 2, "{%") == 0))
            return false;
        if (c == '{' || c == '[' || c == '(')
            ++depth;
        else if ((c == '}' || c == ']' || c == ')') && depth > 0)
            --depth;
    }
    if (depth != 0) return false;  // unbalanced: text, or an error the parser places
    if (!body.empty() && body.front() == '-') body.erase(0, 1);
    if (!body.empty() && body.back() == '-') body.pop_back();
    if (inner) *inner = body;
    return true;
}

bool under_raw_path(const std::vector<std::vector<std::string>>& raw_paths,
                    const std::vector<std::string>& path) {
    for (const auto& raw : raw_paths) {
        if (raw.size() > path.size()) continue;
        bool match = true;
        for (size_t i = 0; i < raw.size() && match; ++i)
            match = raw[i] == "*" || raw[i] == path[i];
        if (match) return true;
    }
    return false;
}

Result<std::vector<std::string>> referenced_steps(const std::string& text, const Mark& mark) {
    std::vector<std::string> ids;
    if (!detail::is_template(text)) return ids;
    try {
        for (const detail::TemplateRef& r : detail::template_references(text, mark.file)) {
            if (r.root == "steps" && std::find(ids.begin(), ids.end(), r.name) == ids.end())
                ids.push_back(r.name);
        }
    } catch (const tmpl::TemplateError& e) {
        // Positions inside the text are relative to its first character at `mark`.
        int line = e.where().line > 0 ? e.where().line : 1;
        int column = e.where().column > 0 ? e.where().column : 1;
        SourceLocation where{mark.file, mark.line + line - 1,
                             line == 1 ? mark.column + column - 1 : column};
        return make_error(ErrorKind::Validation, "invalid expression: " + e.message(),
                          std::move(where));
    }
    return ids;
}

}  // namespace ferry::workflow
