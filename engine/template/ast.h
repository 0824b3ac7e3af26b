// The parsed form of a template: expression and statement nodes, as jinja2/nodes.py.
//
// Nodes are plain structs with a kind tag; the renderer dispatches with a switch. Every node
// keeps its line and column so runtime errors point at the expression that failed.
#pragma once

#include "template/builtins.h"
#include "template/value.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace ferry::tmpl {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind : uint8_t {
    Const,     // value
    Name,      // name
    Getattr,   // a.name
    Getitem,   // a[b], a[b:c:d]
    Call,      // a(args)
    Filter,    // a|name(args)
    Test,      // a is name(args)
    Not,       // not a
    Neg,       // -a
    Pos,       // +a
    Binary,    // a op b (+ - * / // % ** ~)
    And,       // a and b
    Or,        // a or b
    Compare,   // a < b <= c, in, not in
    CondExpr,  // a if b else c
    List,      // [a, b]
    Tuple,     // (a, b)
    Dict,      // {a: b}
    NSRef,     // ns.attr as an assignment target
};

struct CallArgs {
    std::vector<ExprPtr> positional;
    std::vector<std::pair<std::string, ExprPtr>> named;
    ExprPtr dyn_args;    // *args
    ExprPtr dyn_kwargs;  // **kwargs
};

// Packs a name's length and first kNameTagBytes bytes into one integer: scope variables and
// Name nodes carry it, so a scope scan compares integers and short names need nothing else.
constexpr size_t kNameTagBytes = 7;
inline uint64_t name_tag(std::string_view name) {
    uint64_t t = 0;
    size_t n = name.size() < kNameTagBytes ? name.size() : kNameTagBytes;
    for (size_t i = 0; i < n; ++i)
        t |= uint64_t(static_cast<unsigned char>(name[i])) << (8 * i);
    return (t << 8) | (name.size() & 0xff);
}

// Fields are ordered by use: the first 64 bytes hold what evaluating a constant, a name or a
// filter reads, the next 64 the call arguments; the rest is for rarer nodes. A render walks
// hundreds of nodes, and each cache line it does not have to load shows in profiles.
struct Expr {
    ExprKind kind;
    bool is_slice = false;  // Getitem with a slice: a[b:c:d], operands in slice_*
    bool no_args = false;   // Filter/Test written without arguments (set by the parser)
    int line = 0;
    int column = 0;
    int depth = 1;  // height of the tree below: bounded so evaluation cannot overflow the stack
    uint64_t name_tag = 0;      // Name: name_tag(name), set by the parser (0: not set)
    ExprPtr a, b;               // operands
    FilterFn filter = nullptr;  // resolved at parse time
    Value value;                // Const
    // Filter/Test whose arguments are all constants (`replace('\n', ' ')`, `default('', true)`):
    // bound once by the parser, so a render passes them without evaluating or copying them.
    std::unique_ptr<const Args> const_args;
    CallArgs args;  // Call/Filter/Test arguments
    TestFn test = nullptr;
    ExprPtr c;         // slice step / condexpr else
    std::string name;  // Name, Getattr attribute, Filter/Test name, Binary operator
    ExprPtr slice_start, slice_stop, slice_step;
    std::vector<ExprPtr> items;                        // List/Tuple items, Dict keys
    std::vector<ExprPtr> values;                       // Dict values
    std::vector<std::pair<std::string, ExprPtr>> ops;  // Compare: ("<", rhs), ("in", rhs)...

    Expr(ExprKind k, int l, int c) : kind(k), line(l), column(c) {}
};

// A Name node's tag: the parser's, or computed for a node built without one.
inline uint64_t name_tag_of(const Expr& e) {
    return e.name_tag != 0 ? e.name_tag : name_tag(e.name);
}

enum class StmtKind : uint8_t {
    Text,   // template data
    Print,  // {{ expr }}
    If,
    For,
    Set,       // {% set target = expr %}
    SetBlock,  // {% set target %}...{% endset %}
    Macro,
    CallBlock,
    FilterBlock,
    With,
    Block,
    Extends,
    Include,
    Import,      // {% import 'x' as m %}
    FromImport,  // {% from 'x' import a, b as c %}
    Autoescape,
};

struct MacroParam {
    std::string name;
    ExprPtr default_value;  // null when required
    uint64_t tag = 0;       // name_tag(name), set by the parser
};

struct Stmt {
    StmtKind kind;
    int line = 0;
    int column = 0;
    std::string text;                // Text; Macro/Block name; Import alias
    ExprPtr expr;                    // Print/Set value, If test, For iterable, template name...
    ExprPtr target;                  // Set/For target
    ExprPtr condition;               // For `if` filter; Autoescape value
    Body body;                       // main body
    Body else_body;                  // If else (elifs nest as If in else), For else
    std::vector<MacroParam> params;  // Macro/CallBlock parameters
    ExprPtr call;                    // CallBlock's call, FilterBlock's filter chain (subject null)
    std::vector<ExprPtr> targets;    // With targets
    std::vector<ExprPtr> values;     // With values
    std::vector<std::pair<std::string, std::string>> names;  // FromImport (name, alias)
    bool recursive = false;                                  // For
    bool scoped = false;                                     // Block
    bool required = false;                                   // Block
    bool ignore_missing = false;                             // Include
    bool with_context = false;                               // Include/Import/FromImport
    bool catch_varargs = false;                              // Macro/CallBlock uses `varargs`
    bool catch_kwargs = false;                               // Macro/CallBlock uses `kwargs`
    bool uses_caller = false;                                // Macro body references `caller`
    bool constant_output = false;    // Print of constants only: Jinja2 computes it when compiling
    bool appends_to_target = false;  // Set of the form `ns.x = ns.x + [...]` (see exec_append)

    Stmt(StmtKind k, int l, int c) : kind(k), line(l), column(c) {}
};

// A parsed template: its top-level body plus the blocks it defines (by name, in order).
// Values that point into it (macros, loops, modules, block references) hold it by
// owner_of(): one kept in a cached module outlives the render, the template's cache entry
// (an edited file parsed again) and a one-off template's caller.
struct ParsedTemplate : std::enable_shared_from_this<ParsedTemplate> {
    std::string name;  // as loaded, relative to the search path
    Body body;
    std::vector<const Stmt*> blocks;  // every {% block %} in the file, nested ones included
    bool has_extends = false;
    // The size of the last render's output: the next render reserves that much instead of
    // growing its output string step by step (a hint only, hence relaxed and racy-safe).
    mutable std::atomic<size_t> output_size_hint{0};
    // Likewise the number of variables its last render set at the top level (~40 in the
    // incident template): the root scope is sized once instead of regrowing and reindexing.
    mutable std::atomic<size_t> context_size_hint{0};
    const Stmt* find_block(std::string_view block_name) const {
        for (const Stmt* b : blocks)
            if (b->text == block_name) return b;
        return nullptr;
    }
};

// The shared owner of t, when it is owned by a shared_ptr (templates from the Environment
// and workflow expressions are; a parse the caller keeps by value is not, and then it must
// outlive what it rendered, as before).
inline std::shared_ptr<const ParsedTemplate> owner_of(const ParsedTemplate* t) {
    return t ? t->weak_from_this().lock() : nullptr;
}

}  // namespace ferry::tmpl
