// Engine objects that templates can hold: macros (and call-block callers), the `loop`
// variable, imported template modules, `self` and `super`.
#include "template/render.h"

#include <array>
#include <iterator>
#include <typeinfo>

namespace ferry::tmpl {

namespace {

Renderer& renderer_of(Runtime& rt) {
    // Renderer is final, so comparing the dynamic type is exact (and cheaper than dynamic_cast).
    if (typeid(rt) != typeid(Renderer))
        raise(ErrorKind::Runtime, "macros can only be called while a template renders");
    return static_cast<Renderer&>(rt);
}

// jinja2.runtime.Macro: binds arguments like Macro.__call__ and renders the body.
struct MacroObj final : Object {
    const Stmt* def;
    const ParsedTemplate* tmpl;
    std::shared_ptr<const ParsedTemplate> keep;  // what def points into
    Ref<Scope> closure;
    bool autoescape;  // where the macro was defined: how its body escapes
    std::string name;

    MacroObj(const Stmt& d, const ParsedTemplate* t, Ref<Scope> c, bool ae, std::string n)
        : def(&d), tmpl(t), keep(owner_of(t)), closure(std::move(c)), autoescape(ae),
          name(std::move(n)) {}

    std::string_view type_name() const override { return "Macro"; }
    void repr(std::string& out) const override { out += "<Macro '" + name + "'>"; }
    bool is_callable() const override { return true; }

    std::optional<Value> getattr(std::string_view attr) const override {
        if (attr == "name") return Value::string(name);
        if (attr == "arguments") {
            std::vector<Value> names;
            for (const auto& p : def->params)
                names.push_back(Value::string(p.name));
            return Value::tuple(std::move(names));
        }
        if (attr == "catch_kwargs") return Value::boolean(def->catch_kwargs);
        if (attr == "catch_varargs") return Value::boolean(def->catch_varargs);
        if (attr == "caller") return Value::boolean(def->uses_caller);
        return std::nullopt;
    }

    Value call(Runtime& rt, const Args& args) override {
        Renderer& r = renderer_of(rt);
        // Markup or not by the caller's EvalContext, as Jinja2's Macro.__call__ decides.
        bool safe = r.eval_autoescape();
        std::string buffer = r.take_buffer();
        run(r, args, buffer);
        // Short results are copied so the buffer (and its capacity) goes back to the pool;
        // long ones keep the buffer rather than pay for a copy.
        if (buffer.size() > kCopyLimit) return Value::string(std::move(buffer), safe);
        Value result = Value::string(std::string(buffer), safe);
        r.give_back(std::move(buffer));
        return result;
    }

    // Binds the arguments and renders the body, appending to out.
    void run(Renderer& r, const Args& args, std::string& out) {
        Renderer::DepthGuard guard(r);
        const auto& params = def->params;
        size_t count = params.size();
        Ref<Scope> scope = r.take_scope(closure);
        scope->vars.reserve(count + 3);  // parameters plus caller/varargs/kwargs: one allocation
        // Keyword arguments are consumed as Macro.__call__ pops them from its kwargs: the first
        // unconsumed one of a name binds; what is left over goes to `kwargs` or is an error.
        std::vector<char> consumed(args.named.size(), 0);  // no allocation when there are none
        auto take_kwarg = [&](std::string_view key) -> const Value* {
            for (size_t k = 0; k < args.named.size(); ++k) {
                if (!consumed[k] && args.named[k].first == key) {
                    consumed[k] = 1;
                    return &args.named[k].second;
                }
            }
            return nullptr;
        };
        // Bound arguments (pointers into args): on the stack for the usual few parameters,
        // written one by one (a zero-filled array of optionals showed up as a `rep stos`).
        const Value* small[8];
        std::vector<const Value*> large;
        if (count > std::size(small)) large.resize(count);
        const Value** bound = count > std::size(small) ? large.data() : small;
        for (size_t i = 0; i < count; ++i)
            bound[i] =
                i < args.positional.size() ? &args.positional[i] : take_kwarg(params[i].name);
        if (def->uses_caller) {
            bool explicit_caller = false;
            for (const auto& p : params)
                if (p.name == "caller") explicit_caller = true;
            if (!explicit_caller) {
                const Value* c = take_kwarg("caller");
                scope->add("caller", c ? *c : r.make_undefined("No caller defined"));  // strict too
            }
        }
        const std::pair<std::string, Value>* leftover = nullptr;
        for (size_t k = 0; k < args.named.size() && !leftover; ++k)
            if (!consumed[k]) leftover = &args.named[k];
        if (def->catch_kwargs) {
            Value kw = Value::dict();
            for (size_t k = 0; k < args.named.size(); ++k)
                if (!consumed[k])
                    kw.dict_obj().set(Value::string(args.named[k].first), args.named[k].second);
            scope->add("kwargs", kw);
        } else if (leftover) {
            if (leftover->first == "caller") {
                raise(ErrorKind::Type, "macro '" + name +
                                           "' was invoked with two values for the special "
                                           "caller argument. This is most likely a bug.");
            }
            raise(ErrorKind::Type,
                  "macro '" + name + "' takes no keyword argument '" + leftover->first + "'");
        }
        if (def->catch_varargs) {
            std::vector<Value> rest;
            for (size_t i = count; i < args.positional.size(); ++i)
                rest.push_back(args.positional[i]);
            scope->add("varargs", Value::tuple(std::move(rest)));
        } else if (args.positional.size() > count) {
            raise(ErrorKind::Type, "macro '" + name + "' takes not more than " +
                                       std::to_string(count) + " argument(s)");
        }

        TemplateFrame frame;
        frame.tmpl = tmpl;
        frame.context = closure;
        frame.blocks = r.frame() ? r.frame()->blocks : make_ref<SharedBlocks>();
        auto saved = r.save();
        try {
            r.enter(scope, &out, &frame);
            r.set_autoescape(autoescape);  // the body escapes as where it was defined
            // Defaults are evaluated at call time, in the macro's scope, left to right, so a
            // default may refer to an earlier parameter.
            for (size_t i = 0; i < count; ++i) {
                Value v;
                if (bound[i])
                    v = *bound[i];
                else if (params[i].default_value)
                    v = r.eval(*params[i].default_value);
                else
                    v = r.make_undefined("parameter '" + params[i].name + "' was not provided");
                scope->set(params[i].name, params[i].tag, std::move(v));
            }
            r.exec_body(def->body);
        } catch (...) {
            r.restore(saved);
            throw;
        }
        r.restore(saved);
        r.recycle(scope);
    }

    static constexpr size_t kCopyLimit = 1024;
};

// jinja2.runtime.LoopContext.
// It may outlive its render (stored in a cached module's namespace): it calls back into
// the render calling it, never the one that made it.
struct LoopObj final : Object {
    bool strict = false;  // of the render that made it: the undefined values it gives
    const Stmt* loop_stmt;
    std::shared_ptr<const ParsedTemplate> keep;  // what loop_stmt points into
    std::vector<Value> items;
    size_t index0 = 0;
    int depth0 = 0;
    std::vector<Value> last_changed;
    bool changed_called = false;

    std::string_view type_name() const override { return "LoopContext"; }
    void report_held(HeldVisitor& visitor) const override {
        for (const Value& v : items)
            visitor.held(v);
        for (const Value& v : last_changed)
            visitor.held(v);
    }
    void repr(std::string& out) const override {
        out +=
            "<LoopContext " + std::to_string(index0 + 1) + "/" + std::to_string(items.size()) + ">";
    }
    bool is_callable() const override { return true; }
    // LoopContext has __len__ (`loop|length`), but no __getitem__: not a sequence.
    std::optional<size_t> length() const override { return items.size(); }

    // `loop(children)` in a recursive loop renders the loop body for those items.
    Value call(Runtime& rt, const Args& args) override {
        if (!loop_stmt->recursive) {
            raise(ErrorKind::Type, "The loop must have the 'recursive' marker to be called "
                                   "recursively.");
        }
        if (args.positional.size() != 1) {
            raise(ErrorKind::Type, "loop() takes exactly one argument");
        }
        std::vector<Value> children = tmpl::iterate(args.positional[0]);
        Renderer& renderer = renderer_of(rt);
        std::string buffer;
        auto saved = renderer.save();
        try {
            // The recursion renders in the scope the loop started from.
            Ref<Scope> outer = renderer.scope()->parent;
            renderer.enter(outer, &buffer, renderer.frame());
            Renderer::DepthGuard guard(renderer);
            children = renderer.filter_loop_items(*loop_stmt, std::move(children));
            if (!children.empty())
                renderer.exec_for_items(*loop_stmt, std::move(children), depth0 + 1);
            else
                renderer.exec_for_else(*loop_stmt);
        } catch (...) {
            renderer.restore(saved);
            throw;
        }
        renderer.restore(saved);
        return Value::string(std::move(buffer), renderer.autoescape());
    }

    std::optional<Value> getattr(std::string_view attr) const override;
};

struct LoopMethod final : Object {
    Ref<LoopObj> loop;
    bool is_cycle;
    LoopMethod(Ref<LoopObj> l, bool cycle) : loop(std::move(l)), is_cycle(cycle) {}
    std::string_view type_name() const override { return "method"; }
    void report_held(HeldVisitor& visitor) const override { visitor.held(loop.get()); }
    bool is_callable() const override { return true; }
    Value call(Runtime&, const Args& args) override {
        if (is_cycle) {
            if (args.positional.empty()) raise(ErrorKind::Type, "no items for cycling given");
            return args.positional[loop->index0 % args.positional.size()];
        }
        // changed(*values): true on the first call and whenever the values differ.
        bool differs = !loop->changed_called || loop->last_changed.size() != args.positional.size();
        if (!differs) {
            for (size_t i = 0; i < args.positional.size(); ++i) {
                if (!tmpl::equals(loop->last_changed[i], args.positional[i])) {
                    differs = true;
                    break;
                }
            }
        }
        loop->changed_called = true;
        loop->last_changed = args.positional;
        return Value::boolean(differs);
    }
};

std::optional<Value> LoopObj::getattr(std::string_view attr) const {
    size_t n = items.size();
    if (attr == "index") return Value::integer(int64_t(index0 + 1));
    if (attr == "index0") return Value::integer(int64_t(index0));
    if (attr == "revindex") return Value::integer(int64_t(n - index0));
    if (attr == "revindex0") return Value::integer(int64_t(n - index0 - 1));
    if (attr == "first") return Value::boolean(index0 == 0);
    if (attr == "last") return Value::boolean(index0 + 1 == n);
    if (attr == "length") return Value::integer(int64_t(n));
    if (attr == "depth") return Value::integer(depth0 + 1);
    if (attr == "depth0") return Value::integer(depth0);
    if (attr == "previtem") {
        if (index0 == 0) return Value::undefined("there is no previous item", strict);
        return items[index0 - 1];
    }
    if (attr == "nextitem") {
        if (index0 + 1 >= n) return Value::undefined("there is no next item", strict);
        return items[index0 + 1];
    }
    auto* self = const_cast<LoopObj*>(this);
    if (attr == "cycle") return Value::object(make_ref<LoopMethod>(Ref<LoopObj>(self), true));
    if (attr == "changed") return Value::object(make_ref<LoopMethod>(Ref<LoopObj>(self), false));
    return std::nullopt;
}

// An imported template: its exported top-level names, and as a string what it rendered
// (Jinja2's TemplateModule.__str__).
struct ModuleObj final : Object {
    std::shared_ptr<const ParsedTemplate> keep;  // its names are views into it
    std::string template_name;
    Ref<Scope> exports;
    std::string body;
    ModuleObj(std::shared_ptr<const ParsedTemplate> k, std::string n, Ref<Scope> e, std::string b)
        : keep(std::move(k)), template_name(std::move(n)), exports(std::move(e)),
          body(std::move(b)) {}
    std::string_view type_name() const override { return "TemplateModule"; }
    void repr(std::string& out) const override {
        out += "<TemplateModule '" + template_name + "'>";
    }
    void str(std::string& out) const override { out += body; }
    bool html_safe() const override { return true; }  // TemplateModule.__html__
    std::optional<Value> getattr(std::string_view name) const override {
        if (!name.empty() && name[0] == '_') return std::nullopt;
        for (const ScopeVar& v : exports->vars)
            if (same_name(v.name, name)) return v.value;
        return std::nullopt;
    }
};

// Holds a copy of the frame (shared scope and block table), so a `self` or `super` kept in
// a variable stays valid after the block that made it has finished.
struct BlockCall final : Object {
    std::string name;
    size_t level;
    TemplateFrame frame;
    Ref<Scope> scope;  // what the block renders in: a scoped block's enclosing scope
    BlockCall(std::string n, size_t l, const TemplateFrame& f, Ref<Scope> s)
        : name(std::move(n)), level(l), frame(f), scope(std::move(s)) {}
    std::string_view type_name() const override { return "BlockReference"; }
    // super.super(): the block one level further up, when there is one.
    std::optional<Value> getattr(std::string_view attr) const override {
        if (attr != "super") return std::nullopt;
        auto it = frame.blocks->byname.find(name);
        if (it == frame.blocks->byname.end() || level + 1 >= it->second.size()) return std::nullopt;
        return Value::object(make_ref<BlockCall>(name, level + 1, frame, scope));
    }
    bool is_callable() const override { return true; }
    Value call(Runtime& rt, const Args&) override {
        Renderer& r = renderer_of(rt);
        Renderer::DepthGuard guard(r);
        std::string buffer;
        auto saved = r.save();
        try {
            r.enter(scope, &buffer, &frame);
            r.render_block(name, level, &frame);
        } catch (...) {
            r.restore(saved);
            throw;
        }
        r.restore(saved);
        // Markup when the caller's EvalContext escapes (BlockReference.__call__).
        return Value::string(std::move(buffer), r.eval_autoescape());
    }
};

struct SelfRef final : Object {
    TemplateFrame frame;
    explicit SelfRef(const TemplateFrame& f) : frame(f) {}
    std::string_view type_name() const override { return "TemplateReference"; }
    std::optional<Value> getattr(std::string_view name) const override {
        if (frame.blocks->byname.find(name) == frame.blocks->byname.end()) return std::nullopt;
        return Value::object(make_ref<BlockCall>(std::string(name), 0, frame, frame.context));
    }
};

}  // namespace

bool call_macro_into(Renderer& r, const Value& callee, const Args& args, std::string& out) {
    // typeid of a class in an anonymous namespace compares as a pointer: cheaper than a
    // dynamic_cast on every printed call.
    if (!callee.is_object()) return false;
    Object& object = callee.object_obj();
    if (typeid(object) != typeid(MacroObj)) return false;
    auto& macro = static_cast<MacroObj&>(object);
    // The print would escape a result that is not Markup: only the other cases can skip the
    // intermediate string.
    if (r.autoescape() && !r.eval_autoescape()) return false;
    macro.run(r, args, out);
    return true;
}

Value make_macro(const Stmt& def, const ParsedTemplate* tmpl, Ref<Scope> closure, bool autoescape,
                 std::string name) {
    return Value::object(
        make_ref<MacroObj>(def, tmpl, std::move(closure), autoescape, std::move(name)));
}

Value make_loop(Renderer& r, const Stmt& loop_stmt, std::vector<Value> items, int depth) {
    auto loop = make_ref<LoopObj>();
    loop->strict = r.strict();
    loop->loop_stmt = &loop_stmt;
    loop->keep = owner_of(r.frame() ? r.frame()->tmpl : nullptr);
    loop->items = std::move(items);
    loop->depth0 = depth;
    return Value::object(loop);
}

const std::vector<Value>& loop_items(const Value& loop) {
    return static_cast<const LoopObj&>(loop.object_obj()).items;
}

void loop_advance(const Value& loop, size_t index0) {
    static_cast<LoopObj&>(loop.object_obj()).index0 = index0;
}

Value make_module_object(std::shared_ptr<const ParsedTemplate> keep, std::string template_name,
                         Ref<Scope> exports, std::string body) {
    return Value::object(make_ref<ModuleObj>(std::move(keep), std::move(template_name),
                                             std::move(exports), std::move(body)));
}

void clear_module(const Value& module) {
    if (!module.is_object()) return;
    if (auto* m = dynamic_cast<ModuleObj*>(&module.object_obj())) m->exports->clear();
}

Value make_self_reference(TemplateFrame* frame) {
    return Value::object(make_ref<SelfRef>(*frame));
}

Value make_super(const std::string& block_name, size_t level, TemplateFrame* frame,
                 Ref<Scope> scope) {
    return Value::object(make_ref<BlockCall>(block_name, level, *frame, std::move(scope)));
}

}  // namespace ferry::tmpl
