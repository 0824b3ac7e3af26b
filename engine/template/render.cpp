// Statements: output, control flow, assignment, macros, inheritance, include and import.
#include "template/render.h"

#include "template/builtins.h"

#include <algorithm>
#include <iterator>
#include <new>
#include <span>
#include <stdexcept>

namespace ferry::tmpl {

Renderer::DepthGuard::DepthGuard(Renderer& renderer) : r(renderer) {
    r.tick();
    if (++r.depth_ > r.options_.max_depth) {
        --r.depth_;
        raise(ErrorKind::Limit, "maximum recursion depth exceeded (" +
                                    std::to_string(r.options_.max_depth) +
                                    " nested macro calls, includes or imports)");
    }
}

namespace {
// The pools of the last render that ended on this thread (see RenderPools). A render nested
// in another (while the outer one holds them) starts with empty pools.
thread_local std::unique_ptr<RenderPools> t_idle_pools;
}  // namespace

Renderer::Renderer(Environment& env, const RenderOptions& options)
    : env_(env), options_(options), pools_(std::move(t_idle_pools)) {
    if (!pools_) pools_ = std::make_unique<RenderPools>();
    env_.render_begins();
    if (options_.max_render_ms)
        deadline_ =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.max_render_ms);
}

void Renderer::check_deadline() {
    ticks_left_ = kTicksPerClockRead;
    if (std::chrono::steady_clock::now() > deadline_) {
        raise(ErrorKind::Limit, "template rendering ran longer than " +
                                    std::to_string(options_.max_render_ms) +
                                    " ms (a runaway loop?)");
    }
}

Renderer::~Renderer() {
    for (const Ref<Scope>& s : cyclic_)
        if (!s->persistent) s->clear();
    if (!t_idle_pools) t_idle_pools = std::move(pools_);
    env_.render_ends();
}

void Renderer::locate(TemplateError& err, int line, int column) const {
    if (err.has_location()) return;
    std::string file = frame_ && frame_->tmpl ? frame_->tmpl->name : std::string();
    err.set_location(Location{file, line, column});
}

void Renderer::raise_out_of_memory(int line, int column) const {
    TemplateError err(ErrorKind::Limit, "out of memory building a value");
    locate(err, line, column);
    throw err;
}

Ref<Scope> Renderer::make_context(const Value& vars, size_t size_hint) {
    auto ctx = make_ref<Scope>();
    ctx->reserve(std::max<size_t>(size_hint, 16));  // top-level sets land here
    if (vars.is_dict()) {
        ctx->fallback = &vars.dict_obj();
        ctx->fallback_owner = vars;
    }
    return ctx;
}

void Renderer::check_output() const {
    if (out_->size() > options_.max_output) {
        raise(ErrorKind::Limit, "template output exceeds the limit of " +
                                    std::to_string(options_.max_output) + " bytes");
    }
}

void Renderer::write(std::string_view text) {
    out_->append(text);
    check_output();
}

void Renderer::write_value(const Value& v) {
    if (v.is_string()) {
        if (autoescape_ && !v.is_safe())
            append_html_escaped(v.str(), *out_);
        else
            out_->append(v.str());
    } else if (autoescape_ && !(v.is_object() && v.object_obj().html_safe())) {
        std::string text;
        append_str(v, text);
        append_html_escaped(text, *out_);
    } else {
        append_str(v, *out_);
    }
    check_output();
}

void Renderer::print_call(const Expr& call) {
    located_at(call, [&] {
        Value callee = eval(*call.a);
        PooledArgs pooled(*this);
        Args& args = *pooled;
        eval_args(call.args, args);
        if (call_macro_into(*this, callee, args, *out_)) return;
        write_value(this->call(callee, args));
    });
}

void Renderer::render_root(const ParsedTemplate& tmpl, Ref<Scope> context, std::string& out) {
    DepthGuard guard(*this);
    Saved saved = save();
    TemplateFrame frame;
    frame.tmpl = &tmpl;
    frame.context = context;
    frame.blocks = make_ref<SharedBlocks>();
    std::vector<std::shared_ptr<const ParsedTemplate>> chain;  // keeps parents alive
    std::vector<const ParsedTemplate*> seen;
    const ParsedTemplate* current = &tmpl;
    try {
        frame.chain = &seen;
        while (current) {
            seen.push_back(current);
            for (const Stmt* b : current->blocks)
                frame.blocks->byname[b->text].push_back({b, current, owner_of(current)});
            frame.tmpl = current;
            frame.extended = false;
            frame.parent.reset();
            enter(context, &out, &frame);
            autoescape_ = eval_autoescape_ = false;
            exec_body(current->body);
            if (!frame.extended) break;
            chain.push_back(frame.parent);
            current = frame.parent.get();
        }
    } catch (...) {
        restore(saved);
        throw;
    }
    restore(saved);
}

void Renderer::exec_body(const Body& body) {
    for (const auto& s : body)
        exec(*s);
}

void Renderer::exec(const Stmt& s) {
    // After {% extends %}, a template's own top-level output is dropped; statements still run
    // (their assignments are visible to the parent's blocks), as in Jinja2. An include is
    // not dropped: Jinja2 guards only text, prints and blocks, so what an include after the
    // extends renders comes before the parent's output.
    bool dropped = frame_ && frame_->extended;
    try {
        switch (s.kind) {
        case StmtKind::Text:
            if (!dropped) write(s.text);
            break;
        case StmtKind::Print: {
            if (!dropped && s.expr->kind == ExprKind::Call) {
                print_call(*s.expr);
                break;
            }
            Value holder;
            folding_output_ = s.constant_output;  // see the slice in eval_inner
            const Value& v = operand(*s.expr, holder);
            folding_output_ = false;
            if (!dropped) write_value(v);
            break;
        }
        case StmtKind::If: exec_if(s); break;
        case StmtKind::For: exec_for(s); break;
        case StmtKind::Set: exec_set(s); break;
        case StmtKind::SetBlock: exec_set_block(s); break;
        case StmtKind::Macro: exec_macro(s); break;
        case StmtKind::CallBlock: exec_call_block(s); break;
        case StmtKind::FilterBlock: exec_filter_block(s); break;
        case StmtKind::With: exec_with(s); break;
        case StmtKind::Block:
            if (!dropped) exec_block(s);
            break;
        case StmtKind::Extends: exec_extends(s); break;
        case StmtKind::Include: exec_include(s); break;
        case StmtKind::Import: exec_import(s); break;
        case StmtKind::FromImport: exec_from_import(s); break;
        case StmtKind::Autoescape: exec_autoescape(s); break;
        }
    } catch (TemplateError& err) {
        locate(err, s.line, s.column);
        throw;
    }
}

void Renderer::exec_if(const Stmt& s) {
    // An elif is parsed as an If that is the only statement of the else body.
    bool condition;
    {
        Value holder;  // not kept alive through the body
        condition = truthy(operand(*s.expr, holder));
    }
    exec_body(condition ? s.body : s.else_body);
}

void Renderer::exec_for(const Stmt& s) {
    Value iterable = eval(*s.expr);
    // An object that makes its items (range) counts each against the time limit.
    std::vector<Value> items =
        filter_loop_items(s, iterable.is_object() ? iterable.object_obj().iterate_counting(*this)
                                                  : iterate(iterable));
    if (items.empty()) {
        exec_for_else(s);
        return;
    }
    const Value* source = iterable.is_dict()     ? &iterable
                          : iterable.is_object() ? iterable.object_obj().viewed_dict()
                                                 : nullptr;
    exec_for_items(s, std::move(items), 0, source);
}

std::vector<Value> Renderer::filter_loop_items(const Stmt& s, std::vector<Value> items) {
    if (s.condition) {
        // The loop filter sees the loop target but not `loop`.
        std::vector<Value> kept;
        kept.reserve(items.size());
        Saved saved = save();
        Ref<Scope> filter_scope;
        try {
            for (Value& item : items) {
                // A fresh scope per item, reused when nothing kept the previous one.
                if (filter_scope && filter_scope->refs == 1)
                    filter_scope->clear();
                else
                    filter_scope = take_scope(saved.scope);
                scope_ = filter_scope;
                assign(*s.target, item);
                if (truthy(eval(*s.condition))) kept.push_back(std::move(item));
                scope_ = saved.scope;
            }
        } catch (...) {
            restore(saved);
            throw;
        }
        restore(saved);
        recycle(filter_scope);
        items = std::move(kept);
    }
    return items;
}

void Renderer::exec_for_else(const Stmt& s) {
    if (s.else_body.empty()) return;
    Saved saved = save();
    Ref<Scope> own = take_scope(saved.scope);
    scope_ = own;
    try {
        exec_body(s.else_body);
    } catch (...) {
        restore(saved);
        throw;
    }
    restore(saved);
    recycle(own);
}

void Renderer::exec_for_items(const Stmt& s, std::vector<Value> items, int depth,
                              const Value* source) {
    const size_t source_size = source ? source->dict_obj().size() : 0;
    Saved saved = save();
    Value loop = make_loop(*this, s, std::move(items), depth);
    const std::vector<Value>& list = loop_items(loop);
    Ref<Scope> iteration;
    try {
        for (size_t i = 0; i < list.size(); ++i) {
            // Each iteration gets a fresh scope, but when nothing kept the previous one
            // (a macro or `self` defined in the body would), it is cleared and reused.
            if (iteration && iteration->refs == 1) {
                iteration->clear();
            } else {
                iteration = take_scope(saved.scope);
                iteration->vars.reserve(4);  // loop, the target(s) and a set or two
            }
            tick();
            loop_advance(loop, i);
            iteration->add("loop", loop);
            scope_ = iteration;
            assign(*s.target, list[i]);
            exec_body(s.body);
            scope_ = saved.scope;
            if (source && source->dict_obj().size() != source_size)
                raise(ErrorKind::Runtime, "dictionary changed size during iteration");
        }
    } catch (...) {
        restore(saved);
        throw;
    }
    restore(saved);
    recycle(iteration);
}

void Renderer::assign(const Expr& target, const Value& value) {
    switch (target.kind) {
    case ExprKind::Name: scope_->set(target.name, name_tag_of(target), value); return;
    case ExprKind::Tuple: {
        ItemsView parts(value);
        size_t want = target.items.size();
        if (parts.size() > want) {
            raise(ErrorKind::Value,
                  "too many values to unpack (expected " + std::to_string(want) + ")");
        }
        if (parts.size() < want) {
            raise(ErrorKind::Value, "not enough values to unpack (expected " +
                                        std::to_string(want) + ", got " +
                                        std::to_string(parts.size()) + ")");
        }
        for (size_t i = 0; i < want; ++i)
            assign(*target.items[i], parts[i]);
        return;
    }
    case ExprKind::NSRef: {
        const Value* ns = scope_->lookup(target.name, name_tag_of(target));
        if (!ns || !ns->is_object() || !ns->object_obj().setattr(target.a->value.str(), value)) {
            raise(ErrorKind::Runtime, "cannot assign attribute on non-namespace object");
        }
        if (may_hold_values(value)) note_cycle_suspect(*ns);
        return;
    }
    default: raise(ErrorKind::Runtime, "cannot assign to this expression");
    }
}

void Renderer::exec_set(const Stmt& s) {
    if (s.appends_to_target) return exec_append(s);
    assign(*s.target, eval(*s.expr));
}

// `{% set ns.x = ns.x + [item] %}`: how a template accumulates a list in a loop, a namespace
// being the only state a loop body can carry out. Jinja2 builds a new list each time, and so
// does this when anything else could see the old one; when the namespace alone holds it,
// appending in place cannot be told apart, and spares the loop a copy of the list and two
// allocations an iteration. Evaluated in Jinja2's order: ns.x, then the items.
void Renderer::exec_append(const Stmt& s) {
    const Expr& sum = *s.expr;
    Value before = eval(*sum.a);
    // One item, the usual case, is evaluated without a vector of its own.
    Value one;
    std::vector<Value> many;
    if (sum.b->items.size() == 1) {
        one = eval(*sum.b->items[0]);
    } else {
        many.reserve(sum.b->items.size());
        for (const auto& item : sum.b->items)
            many.push_back(eval(*item));
    }
    std::span<Value> added = sum.b->items.size() == 1 ? std::span<Value>(&one, 1) : many;
    // Read again: the items (a macro call) may have assigned ns.x, or kept the list.
    const Value* ns = scope_->lookup(s.target->name, name_tag_of(*s.target));
    Value* slot =
        ns && ns->is_object() ? ns->object_obj().attribute_slot(s.target->a->value.str()) : nullptr;
    bool sole_holder = slot && before.is_list() && slot->identity() == before.identity() &&
                       before.list_obj().refs == 2 && !before.list_obj().frozen;
    if (!sole_holder) {
        Value sum_value = located_at(sum, [&] {
            Value list = Value::list(
                {std::make_move_iterator(added.begin()), std::make_move_iterator(added.end())});
            return binary_op("+", before, list, options_.max_output);
        });
        return assign(*s.target, sum_value);
    }
    located_at(sum, [&] {
        std::vector<Value>& items = before.list_obj().items;
        check_built_list(uint64_t(items.size()) + added.size(), "'+'");
        // Grown geometrically, as push_back does, but from 8: a list built in a loop starts
        // empty, and 1, 2, 4, 8 were four allocations for a short one.
        if (items.capacity() < items.size() + added.size())
            items.reserve(std::max<size_t>(8, 2 * (items.size() + added.size())));
        items.insert(items.end(), std::make_move_iterator(added.begin()),
                     std::make_move_iterator(added.end()));
    });
    std::vector<Value>& items = before.list_obj().items;
    if (std::any_of(items.end() - ptrdiff_t(added.size()), items.end(), may_hold_values))
        note_cycle_suspect(*ns);
}

void Renderer::exec_set_block(const Stmt& s) {
    std::string buffer;
    Saved saved = save();
    try {
        enter(make_ref<Scope>(scope_), &buffer, frame_);
        exec_body(s.body);
    } catch (...) {
        restore(saved);
        throw;
    }
    restore(saved);
    Value value = Value::string(std::move(buffer), autoescape_);
    if (s.call) value = apply_filter_chain(*s.call, std::move(value));
    assign(*s.target, value);
}

void Renderer::exec_macro(const Stmt& s) {
    scope_->set(s.text,
                make_macro(s, frame_ ? frame_->tmpl : nullptr, scope_, autoescape_, s.text));
    cyclic_.push_back(scope_);
}

void Renderer::exec_call_block(const Stmt& s) {
    Value caller = make_macro(s, frame_ ? frame_->tmpl : nullptr, scope_, autoescape_, "caller");
    const Expr& call = *s.call;
    Value callee = eval(*call.a);
    Args args;
    eval_args(call.args, args);
    args.named.emplace_back("caller", std::move(caller));
    Value result;
    try {
        result = this->call(callee, args);
    } catch (TemplateError& err) {
        locate(err, call.line, call.column);
        throw;
    }
    write_value(result);
}

Value Renderer::apply_filter_chain(const Expr& chain, Value subject) {
    // The chain was parsed with a null innermost subject: apply from the inside out.
    std::vector<const Expr*> filters;
    for (const Expr* f = &chain; f; f = f->a.get())
        filters.push_back(f);
    for (auto it = filters.rbegin(); it != filters.rend(); ++it) {
        const Expr& f = **it;
        Args args;
        eval_args(f.args, args);
        try {
            if (!f.filter) raise(ErrorKind::Runtime, "No filter named '" + f.name + "' found.");
            subject = f.filter(*this, subject, args);
        } catch (TemplateError& err) {
            locate(err, f.line, f.column);
            throw;
        }
    }
    return subject;
}

void Renderer::exec_filter_block(const Stmt& s) {
    std::string buffer;
    Saved saved = save();
    try {
        enter(make_ref<Scope>(scope_), &buffer, frame_);
        exec_body(s.body);
    } catch (...) {
        restore(saved);
        throw;
    }
    restore(saved);
    write_value(apply_filter_chain(*s.call, Value::string(std::move(buffer), autoescape_)));
}

// Like Jinja2's ScopedEvalContextModifier: a scope of its own, as `with` opens.
void Renderer::exec_autoescape(const Stmt& s) {
    bool on = truthy(eval(*s.condition));
    Saved saved = save();
    try {
        scope_ = make_ref<Scope>(scope_);
        autoescape_ = eval_autoescape_ = on;
        exec_body(s.body);
    } catch (...) {
        restore(saved);
        throw;
    }
    restore(saved);
}

void Renderer::exec_with(const Stmt& s) {
    std::vector<Value> values;
    for (const auto& v : s.values)
        values.push_back(eval(*v));
    Saved saved = save();
    try {
        scope_ = make_ref<Scope>(scope_);
        for (size_t i = 0; i < s.targets.size(); ++i)
            assign(*s.targets[i], values[i]);
        exec_body(s.body);
    } catch (...) {
        restore(saved);
        throw;
    }
    restore(saved);
}

void Renderer::exec_block(const Stmt& s) {
    // Scoped blocks see the enclosing scope; others only the template context.
    if (!frame_) return;
    auto it = frame_->blocks->byname.find(s.text);
    if (it == frame_->blocks->byname.end()) return;
    Saved saved = save();
    try {
        Ref<Scope> parent = s.scoped ? scope_ : frame_->context;
        scope_ = parent;
        render_block(s.text, 0, frame_);
    } catch (...) {
        restore(saved);
        throw;
    }
    restore(saved);
}

void Renderer::render_block(const std::string& name, size_t level, TemplateFrame* frame) {
    auto it = frame->blocks->byname.find(name);
    if (it == frame->blocks->byname.end() || level >= it->second.size()) {
        raise(ErrorKind::Runtime, "there is no parent block called '" + name + "'.");
    }
    const BlockEntry& entry = it->second[level];
    if (entry.block->required && level == 0) {
        raise(ErrorKind::Runtime, "Required block '" + name + "' not found");
    }
    auto block_scope = make_ref<Scope>(scope_);
    block_scope->add("self", make_self_reference(frame));
    // Without a parent block, Jinja2's context.super() gives an undefined value: printing it
    // gives nothing, calling it raises UndefinedError.
    bool has_parent = level + 1 < it->second.size();
    block_scope->add(
        "super", has_parent ? make_super(name, level + 1, frame, scope_)
                            : make_undefined("there is no parent block called '" + name + "'."));
    // The block's statements report errors against the template that defines them.
    TemplateFrame block_frame = *frame;
    block_frame.tmpl = entry.tmpl;
    block_frame.extended = false;
    Saved saved = save();
    try {
        enter(block_scope, out_, &block_frame);
        // Jinja2 compiles each block as a function of its own, starting from the
        // environment's autoescape (off), whatever `{% autoescape %}` surrounds the block
        // or the super() / self.NAME() that renders it.
        autoescape_ = eval_autoescape_ = false;
        exec_body(entry.block->body);
    } catch (...) {
        restore(saved);
        throw;
    }
    restore(saved);
}

void Renderer::exec_extends(const Stmt& s) {
    if (!frame_ || scope_.get() != frame_->context.get()) {
        raise(ErrorKind::Runtime, "extends tags must be at the top level of a template");
    }
    if (frame_->extended) raise(ErrorKind::Runtime, "extended multiple times");
    Value name = eval(*s.expr);
    frame_->parent = load_named(name, false);
    if (frame_->chain) {
        for (const ParsedTemplate* t : *frame_->chain) {
            if (t != frame_->parent.get()) continue;
            std::string path;
            for (const ParsedTemplate* link : *frame_->chain)
                path += link->name + " -> ";
            raise(ErrorKind::Limit, "extends loop: " + path + frame_->parent->name);
        }
    }
    frame_->extended = true;
}

std::shared_ptr<const ParsedTemplate> Renderer::load_named(const Value& name, bool ignore_missing) {
    if (name.is_sequence()) return select_template(name.list_obj().items, ignore_missing);
    if (name.is_undefined()) raise_undefined(name);
    if (!name.is_string()) {
        raise(ErrorKind::Type,
              "template name must be a string, not " + std::string(type_name(name)));
    }
    std::string n(name.str());
    try {
        return env_.get_template(n);
    } catch (TemplateError& err) {
        if (err.kind() == ErrorKind::NotFound && ignore_missing) return nullptr;
        throw;
    }
}

// Jinja2's select_template: the first of names that loads; TemplatesNotFound (a NotFound
// error, which `ignore missing` ignores too) lists them all as str() prints them.
std::shared_ptr<const ParsedTemplate> Renderer::select_template(const std::vector<Value>& names,
                                                                bool ignore_missing) {
    if (names.empty()) return no_template_selected(ignore_missing);
    std::string tried;
    for (const Value& candidate : names) {
        if (candidate.is_string()) {
            if (auto t = load_named(candidate, true)) return t;
        }
        if (!tried.empty()) tried += ", ";
        tried += to_str(candidate);
    }
    if (ignore_missing) return nullptr;
    raise(ErrorKind::NotFound, "none of the templates given were found: " + tried);
}

std::shared_ptr<const ParsedTemplate> Renderer::no_template_selected(bool ignore_missing) {
    if (ignore_missing) return nullptr;
    raise(ErrorKind::NotFound, "Tried to select from an empty list of templates.");
}

void Renderer::exec_include(const Stmt& s) {
    Value name = eval(*s.expr);
    // Jinja2's get_or_select_template takes a false value other than a string (none, 0) for
    // an empty list of names.
    if (!name.is_string() && !name.is_undefined() && !name.is_sequence() && !truthy(name)) {
        no_template_selected(s.ignore_missing);
        return;
    }
    auto tmpl = load_named(name, s.ignore_missing);
    if (!tmpl) return;
    // With context the included template sees every variable in scope here, locals too;
    // its own assignments stay inside it.
    auto context = s.with_context ? make_ref<Scope>(scope_) : make_ref<Scope>();
    // Jinja2 hands an included template the names the includer stored, not its `loop`.
    if (s.with_context) context->add("loop", make_undefined("'loop' is undefined"));
    render_root(*tmpl, context, *out_);
}

namespace {

// Jinja2's context.get_all() for an import `with context`: the names visible at the import,
// copied, so the module's macros do not see what the importer sets after it.
Ref<Scope> snapshot_of(const Ref<Scope>& from) {
    auto copy = make_ref<Scope>();
    for (const Scope* s = from.get(); s; s = s->parent.get()) {
        for (const ScopeVar& v : s->vars)
            if (!copy->find_local(v.name, v.tag)) copy->set(v.name, v.tag, v.value);
        if (s->fallback && !copy->fallback) {
            copy->fallback = s->fallback;
            copy->fallback_owner = s->fallback_owner;
        }
    }
    return copy;
}

}  // namespace

Value Renderer::make_module(const ParsedTemplate& tmpl, bool with_context) {
    if (!with_context) {
        auto cached = env_.module_cache_.find(&tmpl);
        if (cached != env_.module_cache_.end()) return cached->second;
    }
    auto context = with_context ? snapshot_of(scope_) : make_ref<Scope>();
    context->persistent = !with_context;
    std::string body;
    try {
        render_root(tmpl, context, body);
    } catch (...) {
        // A module that failed is not cached, so nothing else will clear its persistent
        // scope: its macros and that scope would keep each other alive.
        context->clear();
        throw;
    }
    Value module = make_module_object(owner_of(&tmpl), tmpl.name, context, std::move(body));
    if (!with_context) env_.module_cache_.emplace(&tmpl, module);
    return module;
}

void Renderer::exec_import(const Stmt& s) {
    auto tmpl = load_named(eval(*s.expr), false);
    scope_->set(s.text, make_module(*tmpl, s.with_context));
    cyclic_.push_back(scope_);
}

// Jinja2's words, naming the template whose code holds the import (self.name).
std::string Renderer::not_exported_message(const ParsedTemplate& imported, const Stmt& s,
                                           const std::string& name) const {
    std::string where = " (imported on line " + std::to_string(s.line);
    if (frame_ && frame_->tmpl) where += " in " + to_repr(Value::string(frame_->tmpl->name));
    return "the template " + to_repr(Value::string(imported.name)) + where +
           ") does not export the requested name " + to_repr(Value::string(name));
}

void Renderer::exec_from_import(const Stmt& s) {
    auto tmpl = load_named(eval(*s.expr), false);
    Value module = make_module(*tmpl, s.with_context);
    cyclic_.push_back(scope_);
    for (const auto& [name, alias] : s.names) {
        std::optional<Value> v = module.object_obj().getattr(name);
        if (v) {
            scope_->set(alias, *v);
        } else {
            scope_->set(alias, make_undefined(not_exported_message(*tmpl, s, name)));
        }
    }
}

}  // namespace ferry::tmpl
