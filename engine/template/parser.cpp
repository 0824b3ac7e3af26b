// Templates and statements: the token stream to a ParsedTemplate, tag by tag. Expressions
// are parsed in parser_expr.cpp.
#include "template/parser.h"

#include "template/lexer.h"
#include "template/parser_internal.h"

#include <algorithm>
#include <set>

namespace ferry::tmpl {

namespace parser_impl {

namespace {

// Whether Jinja2 computes e at compile time (Node.as_const): constants, and literals,
// operators, conditionals, subscripts, filters and tests of constants. A `{{ }}` of such
// an expression prints what its getitem gave, undefined for a slice that cannot be taken.
bool folded_constant(const Expr* e) {
    if (!e) return true;
    switch (e->kind) {
    case ExprKind::Const: return true;
    case ExprKind::Not:
    case ExprKind::Neg:
    case ExprKind::Pos:
    case ExprKind::Binary:
    case ExprKind::And:
    case ExprKind::Or:
    case ExprKind::CondExpr:
    case ExprKind::Getattr:
    case ExprKind::Getitem:
    case ExprKind::Filter:
    case ExprKind::Test:
        for (const ExprPtr& arg : e->args.positional)
            if (!folded_constant(arg.get())) return false;
        for (const auto& [name, arg] : e->args.named)
            if (!folded_constant(arg.get())) return false;
        return !e->args.dyn_args && !e->args.dyn_kwargs && folded_constant(e->a.get()) &&
               folded_constant(e->b.get()) && folded_constant(e->c.get()) &&
               folded_constant(e->slice_start.get()) && folded_constant(e->slice_stop.get()) &&
               folded_constant(e->slice_step.get());
    case ExprKind::Compare:
        if (!folded_constant(e->a.get())) return false;
        for (const auto& [op, rhs] : e->ops)
            if (!folded_constant(rhs.get())) return false;
        return true;
    case ExprKind::List:
    case ExprKind::Tuple:
    case ExprKind::Dict:
        for (const ExprPtr& item : e->items)
            if (!folded_constant(item.get())) return false;
        for (const ExprPtr& value : e->values)
            if (!folded_constant(value.get())) return false;
        return true;
    default: return false;
    }
}

constexpr std::string_view kStatementKeywords[] = {
    "for",  "if",     "block", "extends", "print",      "macro", "include",
    "from", "import", "set",   "with",    "autoescape", "call",  "filter"};

// What a required block may hold: text that is all whitespace (str.isspace, as Jinja2).
bool only_whitespace(const Body& body) {
    return std::all_of(body.begin(), body.end(), [](const StmtPtr& child) {
        if (child->kind != StmtKind::Text || child->text.empty()) return false;
        std::u32string text = utf8_decode(child->text);
        return std::all_of(text.begin(), text.end(), char_is_space);
    });
}

}  // namespace

// ---- statements -------------------------------------------------------------------

bool Parser::at_end_token(const EndTokens* end) const {
    if (!end) return false;
    for (std::string_view e : *end)
        if (at_name(e)) return true;
    return false;
}

Body Parser::subparse(const EndTokens* end) {
    Body body;
    if (end) end_stack_.push_back(*end);
    struct Pop {
        Parser* p;
        bool active;
        ~Pop() {
            if (active) p->end_stack_.pop_back();
        }
    } pop{this, end != nullptr};
    while (current().type != TokenType::Eof) {
        const Token& tok = current();
        if (tok.type == TokenType::Data) {
            auto s = make_stmt(StmtKind::Text, tok);
            s->text = tok.value;
            body.push_back(std::move(s));
            next();
        } else if (tok.type == TokenType::VariableBegin) {
            next();
            auto s = make_stmt(StmtKind::Print, current());
            s->expr = parse_tuple(false, true, {}, false);
            s->constant_output = folded_constant(s->expr.get());
            expect(TokenType::VariableEnd);
            body.push_back(std::move(s));
        } else if (tok.type == TokenType::BlockBegin) {
            next();
            if (at_end_token(end)) return body;
            parse_statement(body);
            expect(TokenType::BlockEnd);
        } else {
            fail("unexpected " + quote(describe(tok)), tok);
        }
    }
    return body;
}

Body Parser::parse_statements(const EndTokens& end, bool drop_needle) {
    skip_op(":");
    expect(TokenType::BlockEnd);
    Body body = subparse(&end);
    if (current().type == TokenType::Eof) fail_unknown_tag(nullptr, &end, current());
    if (drop_needle) next();
    return body;
}

std::string Parser::join_tags(const EndTokens& tags) {
    std::string out;
    for (size_t i = 0; i < tags.size(); ++i) {
        if (i) out += " or ";
        out += quote(std::string(tags[i]));
    }
    return out;
}

[[noreturn]] void Parser::fail_unknown_tag(const std::string* name, const EndTokens* extra,
                                           const Token& at) {
    std::vector<EndTokens> stack = end_stack_;
    if (extra) stack.push_back(*extra);
    std::set<std::string_view> expected;
    for (const auto& e : stack)
        expected.insert(e.begin(), e.end());
    std::string msg = name ? "Encountered unknown tag " + quote(*name) + "."
                           : std::string("Unexpected end of template.");
    if (!stack.empty()) {
        std::string looking = join_tags(stack.back());
        if (name && expected.count(*name)) {
            msg += " You probably made a nesting mistake. Jinja is expecting this tag, but "
                   "currently looking for " +
                   looking + ".";
        } else {
            msg += " Jinja was looking for the following tags: " + looking + ".";
        }
    }
    if (!tag_stack_.empty()) {
        msg += " The innermost block that needs to be closed is " + quote(tag_stack_.back()) + ".";
    }
    fail(msg, at);
}

void Parser::parse_statement(Body& out) {
    const Token& tok = current();
    NestingGuard guard(this, tok);
    if (tok.type != TokenType::Name) fail("tag name expected", tok);
    std::string tag = tok.value;
    bool known = std::find(std::begin(kStatementKeywords), std::end(kStatementKeywords), tag) !=
                 std::end(kStatementKeywords);
    if (!known) fail_unknown_tag(&tag, nullptr, tok);
    tag_stack_.push_back(tag);
    if (tag == "for")
        out.push_back(parse_for());
    else if (tag == "if")
        out.push_back(parse_if());
    else if (tag == "block")
        out.push_back(parse_block());
    else if (tag == "extends")
        out.push_back(parse_extends());
    else if (tag == "print")
        parse_print(out);
    else if (tag == "macro")
        out.push_back(parse_macro());
    else if (tag == "include")
        out.push_back(parse_include());
    else if (tag == "from")
        out.push_back(parse_from());
    else if (tag == "import")
        out.push_back(parse_import());
    else if (tag == "set")
        out.push_back(parse_set());
    else if (tag == "with")
        out.push_back(parse_with());
    else if (tag == "autoescape")
        out.push_back(parse_autoescape());
    else if (tag == "call")
        out.push_back(parse_call_block());
    else if (tag == "filter")
        out.push_back(parse_filter_block());
    tag_stack_.pop_back();
}

void Parser::check_loop_store(const Expr& target) {
    if (for_units_.empty()) return;
    if (target.kind == ExprKind::Name && target.name == "loop")
        compile_error("Can't assign to special loop variable in for-loop target", target.line,
                      target.column, for_units_.front());
    if (target.kind == ExprKind::Tuple)
        for (const auto& item : target.items)
            check_loop_store(*item);
}

StmtPtr Parser::parse_for() {
    auto s = make_stmt(StmtKind::For, next());
    for_units_.push_back(unit_);
    struct Leave {
        std::vector<int>& units;
        ~Leave() { units.pop_back(); }
    } leave{for_units_};
    s->target = parse_assign_target(true, false, {"in"}, false);
    check_loop_store(*s->target);
    expect_name("in");
    s->expr = parse_tuple(false, false, {"recursive"}, false);
    InnerFrame inner(this);
    if (skip_name("if")) s->condition = parse_expression(true);
    s->recursive = skip_name("recursive");
    s->body = parse_statements({"endfor", "else"}, false);
    if (next().value != "endfor") s->else_body = parse_statements({"endfor"}, true);
    return s;
}

StmtPtr Parser::parse_if() {
    SoftScope soft(this);
    auto result = make_stmt(StmtKind::If, next());
    Stmt* node = result.get();
    // An elif is an If nested in the else of the one before: rendered, checked and freed
    // by recursion, so a chain counts against the nesting bound (50,000 elifs overflowed
    // the stack).
    struct ChainDepth {
        Parser* p;
        int levels = 0;
        ~ChainDepth() { p->nesting_ -= levels; }
    } chain{this};
    while (true) {
        node->expr = parse_tuple(false, false, {}, false);
        node->body = parse_statements({"elif", "else", "endif"}, false);
        const Token& tok = next();
        if (tok.is_name("elif")) {
            ++chain.levels;
            if (++nesting_ > kMaxNesting)
                fail("an if with more than " + std::to_string(kMaxNesting) +
                         " elif branches (each nests in the one before): split it",
                     tok);
            auto elif = make_stmt(StmtKind::If, current());
            Stmt* raw = elif.get();
            node->else_body.push_back(std::move(elif));
            node = raw;
            continue;
        }
        if (tok.is_name("else")) node->else_body = parse_statements({"endif"}, true);
        break;
    }
    return result;
}

StmtPtr Parser::parse_block() {
    auto s = make_stmt(StmtKind::Block, next());
    s->text = expect_name().value;
    s->scoped = skip_name("scoped");
    s->required = skip_name("required");
    if (at_op("-")) {
        fail("Block names in Jinja have to be valid Python identifiers and may not contain "
             "hyphens, use an underscore instead.",
             current());
    }
    // Jinja2 checks the names of all blocks, nested ones included, in document order.
    if (std::find(block_names_.begin(), block_names_.end(), s->text) != block_names_.end()) {
        compile_error("block " + quote(s->text) + " defined twice", s->line, s->column,
                      kBlockCheckUnit);
    }
    block_names_.push_back(s->text);
    InnerFrame inner(this);
    int outer_unit = unit_;
    unit_ = int(block_names_.size());  // a block's code is generated after the root's
    s->body = parse_statements({"endblock"}, true);
    unit_ = outer_unit;
    // Checked at the token after `endblock`, where Jinja2 reports it.
    if (s->required && !only_whitespace(s->body))
        fail("Required blocks can only contain comments or whitespace", current());
    if (at_name(s->text)) next();
    blocks_.push_back(s.get());
    return s;
}

// A token standing for a statement's position, for errors raised after it was consumed.
std::unique_ptr<Token> Parser::s_line(const StmtPtr& s) {
    return std::make_unique<Token>(Token{TokenType::Name, "", s->line, s->column});
}

StmtPtr Parser::parse_extends() {
    auto s = make_stmt(StmtKind::Extends, next());
    if (!toplevel_)
        compile_error("cannot use extend from a non top-level scope", s->line, s->column, unit_);
    s->expr = parse_expression(true);
    has_extends_ = true;
    return s;
}

void Parser::parse_print(Body& out) {
    const Token& tok = next();
    bool first = true;
    while (current().type != TokenType::BlockEnd) {
        if (!first) expect_op(",");
        first = false;
        auto s = make_stmt(StmtKind::Print, tok);
        s->expr = parse_expression(true);
        s->constant_output = folded_constant(s->expr.get());
        out.push_back(std::move(s));
    }
}

bool Parser::parse_import_context(bool fallback) {
    if ((at_name("with") || at_name("without")) && look().is_name("context")) {
        bool with = next().value == "with";
        next();
        return with;
    }
    return fallback;
}

StmtPtr Parser::parse_include() {
    auto s = make_stmt(StmtKind::Include, next());
    s->expr = parse_expression(true);
    if (at_name("ignore") && look().is_name("missing")) {
        s->ignore_missing = true;
        next();
        next();
    }
    s->with_context = parse_import_context(true);
    return s;
}

StmtPtr Parser::parse_import() {
    auto s = make_stmt(StmtKind::Import, next());
    s->expr = parse_expression(true);
    expect_name("as");
    s->text = expect_name().value;
    s->with_context = parse_import_context(false);
    return s;
}

StmtPtr Parser::parse_from() {
    auto s = make_stmt(StmtKind::FromImport, next());
    s->expr = parse_expression(true);
    expect_name("import");
    auto parse_context = [&] {
        if ((at_name("with") || at_name("without")) && look().is_name("context")) {
            s->with_context = next().value == "with";
            next();
            return true;
        }
        return false;
    };
    while (true) {
        if (!s->names.empty()) expect_op(",");
        if (current().type == TokenType::Name) {
            if (parse_context()) break;
            const Token& target = expect_name();
            if (!target.value.empty() && target.value[0] == '_') {
                fail("names starting with an underline can not be imported", target);
            }
            std::string alias = target.value;
            if (skip_name("as")) alias = expect_name().value;
            s->names.emplace_back(target.value, alias);
            if (parse_context() || !at_op(",")) break;
        } else {
            expect_name();
        }
    }
    return s;
}

void Parser::parse_signature(Stmt& s) {
    expect_op("(");
    bool have_default = false;
    while (!at_op(")")) {
        if (!s.params.empty()) expect_op(",");
        const Token& arg = expect_name();
        MacroParam p{arg.value, nullptr};
        // Jinja2 refuses both (its compiler, and Python's for the generated function):
        // taken silently, the second `a` won and `caller` could never be passed.
        for (const MacroParam& seen : s.params)
            if (seen.name == p.name) fail("duplicate argument '" + p.name + "'", arg);
        if (skip_op("=")) {
            p.default_value = parse_expression(true);
            have_default = true;
        } else if (have_default) {
            fail("non-default argument follows default argument", current());
        }
        p.tag = name_tag(p.name);
        s.params.push_back(std::move(p));
    }
    expect_op(")");
}

StmtPtr Parser::parse_macro() {
    auto s = make_stmt(StmtKind::Macro, next());
    s->text = expect_name().value;
    InnerFrame inner(this);  // defaults included
    parse_signature(*s);
    s->body = parse_statements({"endmacro"}, true);
    scan_magic_names(s->body, *s);
    check_explicit_caller(*s);
    return s;
}

// Jinja2's compiler: a body that uses `caller` with a `caller` parameter without a default
// (the caller could never be passed) is refused.
void Parser::check_explicit_caller(const Stmt& s) {
    if (!s.uses_caller) return;
    for (const MacroParam& p : s.params)
        if (p.name == "caller" && !p.default_value)
            fail("When defining macros or call blocks the special \"caller\" argument must be "
                 "omitted or be given a default.",
                 s.line, s.column);
}

StmtPtr Parser::parse_call_block() {
    auto s = make_stmt(StmtKind::CallBlock, next());
    if (at_op("(")) {
        InnerFrame caller_frame(this);  // the caller's defaults
        parse_signature(*s);
    }
    size_t mark = compile_errors_.size();
    s->call = parse_expression(true);
    if (s->call->kind != ExprKind::Call) fail("expected call", *s_line(s));
    auto call_errors = take_compile_errors_since(mark);
    InnerFrame inner(this);
    s->body = parse_statements({"endcall"}, true);
    put_back_compile_errors(std::move(call_errors));
    scan_magic_names(s->body, *s);
    check_explicit_caller(*s);
    return s;
}

StmtPtr Parser::parse_filter_block() {
    auto s = make_stmt(StmtKind::FilterBlock, next());
    InnerFrame inner(this);  // the filter too
    size_t mark = compile_errors_.size();
    s->call = parse_filter(nullptr, true);
    auto filter_errors = take_compile_errors_since(mark);
    s->body = parse_statements({"endfilter"}, true);
    put_back_compile_errors(std::move(filter_errors));
    return s;
}

namespace {

// `ns.x = ns.x + [...]`: the target's own attribute plus a list literal.
bool appends_to_target(const Expr& target, const Expr& value) {
    if (target.kind != ExprKind::NSRef || value.kind != ExprKind::Binary || value.name != "+")
        return false;
    const Expr& left = *value.a;
    return left.kind == ExprKind::Getattr && left.a->kind == ExprKind::Name &&
           left.a->name == target.name && left.name == target.a->value.str() &&
           value.b->kind == ExprKind::List;
}

}  // namespace

StmtPtr Parser::parse_set() {
    const Token& tok = next();
    ExprPtr target = parse_assign_target(true, false, {}, true);
    check_loop_store(*target);
    if (skip_op("=")) {
        auto s = make_stmt(StmtKind::Set, tok);
        s->target = std::move(target);
        s->expr = parse_tuple(false, true, {}, false);
        s->appends_to_target = appends_to_target(*s->target, *s->expr);
        return s;
    }
    auto s = make_stmt(StmtKind::SetBlock, tok);
    s->target = std::move(target);
    InnerFrame inner(this);  // the filter too
    size_t mark = compile_errors_.size();
    s->call = parse_filter(nullptr, false);
    auto filter_errors = take_compile_errors_since(mark);
    s->body = parse_statements({"endset"}, true);
    put_back_compile_errors(std::move(filter_errors));
    return s;
}

StmtPtr Parser::parse_with() {
    auto s = make_stmt(StmtKind::With, next());
    while (current().type != TokenType::BlockEnd) {
        if (!s->targets.empty()) expect_op(",");
        s->targets.push_back(parse_assign_target(true, false, {}, false));
        expect_op("=");
        s->values.push_back(parse_expression(true));
    }
    InnerFrame inner(this);
    s->body = parse_statements({"endwith"}, true);
    return s;
}

StmtPtr Parser::parse_autoescape() {
    auto s = make_stmt(StmtKind::Autoescape, next());
    InnerFrame inner(this);  // Jinja2 wraps the block in a Scope node, its value included
    s->condition = parse_expression(true);
    s->body = parse_statements({"endautoescape"}, true);
    return s;
}

namespace {

void scan_expr(const Expr* e, Stmt& macro);

void scan_body(const Body& body, Stmt& macro) {
    for (const auto& s : body) {
        if (!s) continue;
        scan_expr(s->expr.get(), macro);
        scan_expr(s->target.get(), macro);
        scan_expr(s->condition.get(), macro);
        scan_expr(s->call.get(), macro);
        for (const auto& v : s->values)
            scan_expr(v.get(), macro);
        for (const auto& p : s->params)
            scan_expr(p.default_value.get(), macro);
        scan_body(s->body, macro);
        scan_body(s->else_body, macro);
    }
}

void scan_expr(const Expr* e, Stmt& macro) {
    if (!e) return;
    // A parameter named varargs or kwargs is that parameter, not the catch-all (Jinja2 asks
    // for the names the body leaves undeclared): extra arguments were dropped silently.
    auto declared = [&](const std::string& name) {
        for (const MacroParam& p : macro.params)
            if (p.name == name) return true;
        return false;
    };
    if (e->kind == ExprKind::Name && (e->name == "caller" || !declared(e->name))) {
        if (e->name == "varargs")
            macro.catch_varargs = true;
        else if (e->name == "kwargs")
            macro.catch_kwargs = true;
        else if (e->name == "caller")
            macro.uses_caller = true;
    }
    for (const Expr* sub :
         {e->a.get(), e->b.get(), e->c.get(), e->slice_start.get(), e->slice_stop.get(),
          e->slice_step.get(), e->args.dyn_args.get(), e->args.dyn_kwargs.get()})
        scan_expr(sub, macro);
    for (const auto& p : e->args.positional)
        scan_expr(p.get(), macro);
    for (const auto& p : e->args.named)
        scan_expr(p.second.get(), macro);
    for (const auto& i : e->items)
        scan_expr(i.get(), macro);
    for (const auto& v : e->values)
        scan_expr(v.get(), macro);
    for (const auto& o : e->ops)
        scan_expr(o.second.get(), macro);
}

}  // namespace

void Parser::scan_magic_names(const Body& body, Stmt& macro) {
    scan_body(body, macro);
}

}  // namespace parser_impl

using parser_impl::Parser;

std::unique_ptr<ParsedTemplate> parse_template(std::string_view source, const std::string& name) {
    std::string normalized = normalize_newlines(source);
    return Parser(tokenize(normalized, name), name).parse();
}

ExprPtr parse_expression(std::string_view source, const std::string& name) {
    // Lex the text as the inside of a print tag so token rules are exactly the template's.
    // The spaces keep a leading or trailing '-' (or '+') an operator, not a tag modifier.
    std::string wrapped = "{{ " + std::string(source) + " }}";
    std::vector<Token> tokens = tokenize(wrapped, name);
    // Drop the begin/end markers; keep the Eof (or the lexer's error, with all before it).
    bool lex_failed = tokens.back().type == TokenType::LexError;
    size_t end = tokens.size() - (lex_failed ? 1 : 2);
    std::vector<Token> inner;
    for (size_t i = 1; i < end; ++i)
        inner.push_back(std::move(tokens[i]));
    inner.push_back(tokens.back());
    return Parser(std::move(inner), name).parse_standalone_expression();
}

}  // namespace ferry::tmpl
