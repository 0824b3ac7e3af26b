// The tree-walking renderer (internal to the template library).
//
// Scoping follows Jinja2's compiled code: the render context is a root Scope (top-level
// `set`s and macros land there and are exported); `for` iterations, macros, `with`, blocks
// and block-sets open child scopes whose assignments do not leak; `if` opens none. Template
// inheritance keeps one context for the whole extends chain and a per-name stack of blocks,
// most derived first, which is what `super()` walks.
#pragma once

#include "template/ast.h"
#include "template/cycles.h"
#include "template/environment.h"
#include "template/value.h"

#include <chrono>
#include <map>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace ferry::tmpl {

// A scope variable, with its name's name_tag(): scanning a scope (a lookup walks every
// enclosing one) compares one integer per variable. The name is a view: every name a scope
// is given is a template's (its AST outlives the scope: a render's scopes end with the
// render, a cached module's with the Environment that caches its template too) or a literal
// (`loop`, `caller`...). Copying names showed in profiles (~1% of a render in memmove).
struct ScopeVar {
    uint64_t tag;
    std::string_view name;
    Value value;

    static uint64_t tag_of(std::string_view name) { return name_tag(name); }
    bool is(std::string_view other, uint64_t other_tag) const {
        return tag == other_tag && (other.size() <= kNameTagBytes || same_name(name, other));
    }
};

struct Scope : HeapObject {
    std::vector<ScopeVar> vars;         // read freely; change only through set/add/clear
    const DictObj* fallback = nullptr;  // the render's input vars (read-only)
    Value fallback_owner;               // keeps fallback alive
    Ref<Scope> parent;
    bool persistent = false;  // a cached module's context: outlives renders on purpose

    explicit Scope(Ref<Scope> p = {}) : parent(std::move(p)) {}
    const Value* find_local(std::string_view name, uint64_t tag) const {
        if (const ScopeVar* v = find_var(name, tag)) return &v->value;
        if (fallback) return fallback->find(name);
        return nullptr;
    }
    const Value* find_local(std::string_view name) const {
        return find_local(name, ScopeVar::tag_of(name));
    }
    const Value* lookup(std::string_view name) const { return lookup(name, name_tag(name)); }
    const Value* lookup(std::string_view name, uint64_t tag) const {
        for (const Scope* s = this; s; s = s->parent.get())
            if (const Value* v = s->find_local(name, tag)) return v;
        return nullptr;
    }
    void set(std::string_view name, Value value) {
        set(name, ScopeVar::tag_of(name), std::move(value));
    }
    // tag: name_tag(name), which the parser has computed for names in a template.
    void set(std::string_view name, uint64_t tag, Value value) {
        if (ScopeVar* v = const_cast<ScopeVar*>(find_var(name, tag))) {
            v->value = std::move(value);
            return;
        }
        vars.push_back(ScopeVar{tag, name, std::move(value)});
        indexed(vars.size() - 1);
    }
    // Adds a variable the scope is known not to have yet (a fresh scope's `loop`, `caller`...).
    void add(std::string_view name, Value value) {
        vars.push_back(ScopeVar{ScopeVar::tag_of(name), name, std::move(value)});
        indexed(vars.size() - 1);
    }
    void clear() {
        vars.clear();
        index_.clear();
    }
    // Room for n variables, index included, so that many sets neither regrow nor reindex.
    void reserve(size_t n) {
        vars.reserve(n);
        if (n >= kIndexFrom && index_.size() < 2 * n) {
            size_t size = 32;
            while (size < 4 * n)
                size *= 2;
            index_.assign(size, 0);
            for (size_t i = 0; i < vars.size(); ++i)
                insert_slot(i);
        }
    }

  private:
    // From this many variables on, a scope also keeps a hash index of them: the template's
    // root scope (~40 top-level sets in the incident template) is scanned by nearly every
    // name a loop body or macro looks up, and a scan of it cost more than hashing.
    static constexpr size_t kIndexFrom = 12;
    static size_t slot_of(uint64_t tag, size_t mask) {
        return size_t((tag * 0x9E3779B97F4A7C15ull) >> 32) & mask;
    }
    const ScopeVar* find_var(std::string_view name, uint64_t tag) const {
        if (index_.empty()) {
            for (const ScopeVar& v : vars)
                if (v.is(name, tag)) return &v;
            return nullptr;
        }
        size_t mask = index_.size() - 1;
        for (size_t h = slot_of(tag, mask); index_[h] != 0; h = (h + 1) & mask)
            if (vars[index_[h] - 1].is(name, tag)) return &vars[index_[h] - 1];
        return nullptr;
    }
    // Records vars[pos] in the index (open addressing, linear probing, load <= 1/2; a slot
    // holds position + 1, 0 is empty), building or growing the index when needed.
    void indexed(size_t pos) {
        if (index_.empty() && vars.size() < kIndexFrom) return;
        if (index_.size() < 2 * vars.size()) {
            reserve(vars.size());  // indexes every variable, pos included
            return;
        }
        insert_slot(pos);
    }
    void insert_slot(size_t pos) {
        size_t mask = index_.size() - 1;
        size_t h = slot_of(vars[pos].tag, mask);
        while (index_[h] != 0)
            h = (h + 1) & mask;
        index_[h] = uint32_t(pos + 1);
    }
    std::vector<uint32_t> index_;
};

class Renderer;

// Blocks by name, most derived first: the chain `super()` walks.
struct BlockEntry {
    const Stmt* block;
    const ParsedTemplate* tmpl;
    std::shared_ptr<const ParsedTemplate> keep;  // a block reference may outlive the render
};
using BlockTable = std::map<std::string, std::vector<BlockEntry>, std::less<>>;
// Reference counted like values (not a shared_ptr): every macro call's frame shares the
// table, and a shared_ptr copy is an atomic read-modify-write, twice a call.
struct SharedBlocks : HeapObject {
    BlockTable byname;
};

// State shared by one template's top-level render and what it extends.
struct TemplateFrame {
    const ParsedTemplate* tmpl = nullptr;
    Ref<Scope> context;        // the root scope
    Ref<SharedBlocks> blocks;  // shared with the extends chain
    bool extended = false;     // an {% extends %} ran: top-level output is dropped
    std::shared_ptr<const ParsedTemplate> parent;
    // The templates of the extends chain so far, this one last: an {% extends %} of one of
    // them is a loop, refused at the tag.
    const std::vector<const ParsedTemplate*>* chain = nullptr;
};

// What a render borrows and gives back with its capacity: argument lists, macro output
// buffers and child scopes. Kept per thread between renders (see Renderer's constructor), so
// a warm thread renders without allocating them again.
struct RenderPools {
    std::vector<std::unique_ptr<Args>> args_stack;
    std::vector<std::string> buffers;
    std::vector<Ref<Scope>> scopes;
};

class Renderer final : public Runtime {
  public:
    Renderer(Environment& env, const RenderOptions& options);
    // Breaks the reference cycles a render made (a scope holding a macro whose closure is
    // that scope): with reference counting they would otherwise never be freed.
    ~Renderer();

    // Renders a whole template (following its extends chain) into out.
    void render_root(const ParsedTemplate& tmpl, Ref<Scope> context, std::string& out);
    // The root scope for a render whose context is the vars dict.
    // size_hint: how many variables the template is expected to set at the top level.
    Ref<Scope> make_context(const Value& vars, size_t size_hint = 0);

    // Constants and names (most nodes) are answered inline; they cannot fail (a missing name
    // is a value), so only other nodes pay for the call that attaches error locations.
    Value eval(const Expr& e) {
        if (e.kind == ExprKind::Const) return e.value;
        if (e.kind == ExprKind::Name) return eval_name(e);
        // A render evaluates ~500 filters and hundreds of tests and attribute reads:
        // straight to them, not through eval_located's switch (each attaches error
        // locations itself).
        if (e.kind == ExprKind::Filter) return eval_filter(e);
        if (e.kind == ExprKind::Getattr) return eval_getattr(e);
        if (e.kind == ExprKind::Test) return eval_test(e);
        return eval_located(e);
    }

    // A node's value without copying it where it already exists (a constant, a variable in
    // scope), else evaluated into holder. A copy is a reference count, a write to the value's
    // heap object; a render reads variables far more than it stores them. Only for a use that
    // runs no template code before it is done with the value (a filter, a test, a print).
    const Value& operand(const Expr& e, Value& holder) {
        if (e.kind == ExprKind::Const) return e.value;
        if (e.kind == ExprKind::Name) {
            if (const Value* v = scope_->lookup(e.name, name_tag_of(e))) return *v;
            holder = eval_unscoped_name(e);  // not looked up again
            return holder;
        }
        holder = eval(e);
        return holder;
    }

    // Runtime
    Value call_filter(std::string_view name, const Value& subject, const Args& args) override;
    bool call_test(std::string_view name, const Value& subject, const Args& args) override;
    bool has_filter(std::string_view name) const override;
    bool has_test(std::string_view name) const override;
    Value call(const Value& callable, const Args& args) override;
    // The filter or test a filter names at run time (map('trim'), select('in', ...)), with
    // the last one remembered: such a filter looks the same name up for every item.
    FilterFn filter_named(std::string_view name);
    TestFn test_named(std::string_view name);
    Value make_undefined(std::string hint) override {
        return Value::undefined(std::move(hint), options_.strict);
    }
    bool strict() const override { return options_.strict; }
    void note_cycle_suspect(const Value& container) override {
        auto& noted = cycle_suspects_.containers;
        if (noted.empty() || noted.back().identity() != container.identity())
            noted.push_back(container);
    }

    // Used by engine objects (macros, loops, blocks).
    struct Saved {
        Ref<Scope> scope;
        std::string* out;
        TemplateFrame* frame;
        bool autoescape;
        bool eval_autoescape;
    };
    Saved save() const { return {scope_, out_, frame_, autoescape_, eval_autoescape_}; }
    void restore(const Saved& s) {
        scope_ = s.scope;
        out_ = s.out;
        frame_ = s.frame;
        autoescape_ = s.autoescape;
        eval_autoescape_ = s.eval_autoescape;
    }
    void enter(Ref<Scope> scope, std::string* out, TemplateFrame* frame) {
        scope_ = std::move(scope);
        out_ = out;
        frame_ = frame;
    }
    void exec_body(const Body& body);
    // source: the dict iterated, if one: changing its size in the body raises, as Python's
    // dict iterator does.
    void exec_for_items(const Stmt& loop_stmt, std::vector<Value> items, int depth,
                        const Value* source = nullptr);
    // The items the loop's `if` keeps (all without one): for the loop and for each
    // `loop(children)` of a recursive one, as Jinja2 runs the whole loop again there.
    std::vector<Value> filter_loop_items(const Stmt& loop_stmt, std::vector<Value> items);
    // The loop's `else` body, in its own scope as an iteration's (a set there stays there).
    void exec_for_else(const Stmt& loop_stmt);
    void render_block(const std::string& name, size_t level, TemplateFrame* frame);
    const Ref<Scope>& scope() const { return scope_; }
    TemplateFrame* frame() const { return frame_; }
    bool autoescape() const { return autoescape_; }
    bool eval_autoescape() const override { return eval_autoescape_; }
    void set_autoescape(bool on) { autoescape_ = on; }

    // Depth guard for nested macro calls, includes and imports.
    struct DepthGuard {
        Renderer& r;
        explicit DepthGuard(Renderer& renderer);
        ~DepthGuard() { --r.depth_; }
    };

    // Attaches the current template and the node's line to an error without a place.
    void locate(TemplateError& err, int line, int column) const;
    // What an allocation that failed (a value too large for memory that no size check
    // caught) becomes: a LimitError at the expression, not the end of the process.
    [[noreturn]] void raise_out_of_memory(int line, int column) const;
    // Runs work, placing its errors at the node: locate() for a TemplateError without a place,
    // raise_out_of_memory() for a failed allocation.
    template <class Work>
    [[gnu::always_inline]] decltype(auto) located_at(const Expr& node, Work&& work) {
        try {
            return work();
        } catch (TemplateError& err) {
            locate(err, node.line, node.column);
            throw;
        } catch (const std::bad_alloc&) {
            raise_out_of_memory(node.line, node.column);
        } catch (const std::length_error&) {
            raise_out_of_memory(node.line, node.column);
        }
    }

  private:
    void exec(const Stmt& s);
    void exec_if(const Stmt& s);
    void exec_for(const Stmt& s);
    void exec_set(const Stmt& s);
    void exec_append(const Stmt& s);
    void exec_set_block(const Stmt& s);
    void exec_macro(const Stmt& s);
    void exec_call_block(const Stmt& s);
    void exec_filter_block(const Stmt& s);
    void exec_with(const Stmt& s);
    void exec_autoescape(const Stmt& s);
    void exec_block(const Stmt& s);
    void exec_extends(const Stmt& s);
    void exec_include(const Stmt& s);
    void exec_import(const Stmt& s);
    void exec_from_import(const Stmt& s);
    void write(std::string_view text);
    void write_value(const Value& v);
    void print_call(const Expr& call);
    void check_output() const;

    void assign(const Expr& target, const Value& value);
    Value apply_filter_chain(const Expr& chain, Value subject);
    // Loads a template named by a value (string, or a list of candidates for include).
    std::shared_ptr<const ParsedTemplate> load_named(const Value& name, bool ignore_missing);
    std::shared_ptr<const ParsedTemplate> select_template(const std::vector<Value>& names,
                                                          bool ignore_missing);
    std::shared_ptr<const ParsedTemplate> no_template_selected(bool ignore_missing);
    std::string not_exported_message(const ParsedTemplate& imported, const Stmt& s,
                                     const std::string& name) const;
    Value make_module(const ParsedTemplate& tmpl, bool with_context);

    // expressions (eval.cpp)
    Value eval_located(const Expr& e);
    Value eval_inner(const Expr& e);
    Value eval_name(const Expr& e);
    // A name no scope holds: a global, `self`, or undefined.
    Value eval_unscoped_name(const Expr& e);
    Value eval_binary(const Expr& e);
    Value eval_compare(const Expr& e);
    Value eval_call(const Expr& e);
    Value eval_filter(const Expr& e);  // with the node's location on errors
    Value eval_filter_inner(const Expr& e);
    Value eval_test(const Expr& e);  // with the node's location on errors
    Value eval_test_inner(const Expr& e);
    Value eval_getattr(const Expr& e);  // with the node's location on errors
    void eval_args(const CallArgs& spec, Args& out);

    // Declared first, so destroyed last: the render's unreachable reference cycles are looked
    // for once its own scopes have let go of what they held (cycles.h).
    struct CycleSuspects {
        std::vector<Value> containers;
        CycleSuspects() = default;
        CycleSuspects(const CycleSuspects&) = delete;
        CycleSuspects& operator=(const CycleSuspects&) = delete;
        ~CycleSuspects() {
            try {
                free_unreachable_cycles(std::move(containers));
            } catch (...) {
                // Out of memory for the collector's maps: leak the cycles rather than
                // terminate (a destructor must not throw).
            }
        }
    } cycle_suspects_;
    Environment& env_;
    const RenderOptions& options_;
    Ref<Scope> scope_;
    std::string* out_ = nullptr;
    TemplateFrame* frame_ = nullptr;
    // Jinja2 keeps two autoescape states. autoescape_ is lexical (its compile-time frame):
    // whether `{{ }}` in the code being run escapes; a macro body runs with the one where it
    // was defined. eval_autoescape_ is the render's EvalContext, changed only by entering and
    // leaving {% autoescape %} blocks: whether a macro's result is Markup, decided where it is
    // called.
    bool autoescape_ = false;
    bool eval_autoescape_ = false;
    bool folding_output_ = false;  // evaluating a `{{ }}` of constants (Stmt::constant_output)
    int depth_ = 0;
    // RenderOptions::max_render_ms: the clock is read every kTicksPerClockRead loop
    // iterations, calls and filters, each of which is bounded by the size limits.
    static constexpr uint32_t kTicksPerClockRead = 1024;
    std::chrono::steady_clock::time_point deadline_{};
    uint32_t ticks_left_ = kTicksPerClockRead;
    // Items walked by ==, repr, tojson... (Runtime::count_walked) between clock reads.
    static constexpr size_t kWalkedPerClockRead = size_t(1) << 16;
    size_t walk_left_ = kWalkedPerClockRead;

  public:
    // Counts one unit of work against the time limit; raises ErrorKind::Limit past it.
    void tick() {
        if (options_.max_render_ms && --ticks_left_ == 0) check_deadline();
    }
    void count_work() override { tick(); }
    void count_walked(size_t items) override {
        if (!options_.max_render_ms) return;
        if (items < walk_left_) {
            walk_left_ -= items;
            return;
        }
        walk_left_ = kWalkedPerClockRead;
        check_deadline();
    }

  private:
    void check_deadline();
    std::vector<Ref<Scope>> cyclic_;
    // Container walks on this thread charge this render while it lives.
    ContainerDepth::Charging charging_{this};

  public:
    // Argument lists are borrowed from a stack indexed by call nesting, so a call does not
    // allocate once the stack is warm (the lists keep their capacity between calls).
    class PooledArgs {
      public:
        explicit PooledArgs(Renderer& r) : r_(r) {
            auto& stack = r.pools_->args_stack;
            if (r.args_depth_ == stack.size()) stack.push_back(std::make_unique<Args>());
            a_ = stack[r.args_depth_++].get();
        }
        ~PooledArgs() {
            a_->positional.clear();
            if (!a_->named.empty()) a_->named.clear();
            --r_.args_depth_;
        }
        PooledArgs(const PooledArgs&) = delete;
        PooledArgs& operator=(const PooledArgs&) = delete;
        Args& operator*() { return *a_; }

      private:
        Renderer& r_;
        Args* a_;
    };

    // Child scopes for macro calls and loops, recycled with their variables' capacity.
    Ref<Scope> take_scope(Ref<Scope> parent) {
        auto& pool = pools_->scopes;
        if (pool.empty()) return make_ref<Scope>(std::move(parent));
        Ref<Scope> s = std::move(pool.back());
        pool.pop_back();
        s->parent = std::move(parent);
        return s;
    }
    // Takes back a scope nothing else refers to (a macro defined in it, a `self` or a loop
    // object stored elsewhere would); any other scope is left to its owners.
    void recycle(Ref<Scope>& s) {
        if (!s || s->refs != 1 || s->persistent || s->fallback) return;
        s->clear();
        s->parent = Ref<Scope>();
        pools_->scopes.push_back(std::move(s));
    }

    // Output buffers for macro calls, kept with their capacity between calls: a macro's
    // result is usually short, so copying it out beats a fresh 256-byte buffer per call.
    std::string take_buffer() {
        auto& pool = pools_->buffers;
        if (pool.empty()) {
            std::string b;
            b.reserve(256);
            return b;
        }
        std::string b = std::move(pool.back());
        pool.pop_back();
        b.clear();
        return b;
    }
    void give_back(std::string&& buffer) {
        if (buffer.capacity() != 0) pools_->buffers.push_back(std::move(buffer));
    }

  private:
    std::unique_ptr<RenderPools> pools_;
    size_t args_depth_ = 0;
    std::string last_filter_name_, last_test_name_;
    FilterFn last_filter_ = nullptr;
    TestFn last_test_ = nullptr;
};

// Engine objects the renderer creates (objects.cpp).
Value make_macro(const Stmt& def, const ParsedTemplate* tmpl, Ref<Scope> closure, bool autoescape,
                 std::string name);
// Calls callee into out when it is a macro whose result a print would write unchanged (the
// common `{{ cell(x) }}`): no intermediate string. False, with nothing done, otherwise.
bool call_macro_into(Renderer& r, const Value& callee, const Args& args, std::string& out);
Value make_loop(Renderer& r, const Stmt& loop_stmt, std::vector<Value> items, int depth);
const std::vector<Value>& loop_items(const Value& loop);
void loop_advance(const Value& loop, size_t index0);
// keep: the template the module's names and macros point into.
Value make_module_object(std::shared_ptr<const ParsedTemplate> keep, std::string template_name,
                         Ref<Scope> exports, std::string body);
// Empties a module's exported scope, breaking the macro <-> scope cycles inside it.
void clear_module(const Value& module);
Value make_self_reference(TemplateFrame* frame);
// scope: what the parent block renders in (a scoped block's enclosing scope, Jinja2's
// derived context), else the template context.
Value make_super(const std::string& block_name, size_t level, TemplateFrame* frame,
                 Ref<Scope> scope);

// Binary operators with Python semantics (operators.cpp).
Value binary_op(std::string_view op, const Value& a, const Value& b, size_t max_size);
Value unary_minus(const Value& v);
Value unary_plus(const Value& v);

}  // namespace ferry::tmpl
