// The template parser's class, shared by parser.cpp (templates and statements) and
// parser_expr.cpp (expressions, filters and tests). Internal to the engine.
#pragma once

#include "template/ast.h"
#include "template/lexer.h"

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::tmpl::parser_impl {

class Parser {
  public:
    Parser(std::vector<Token> tokens, const std::string& name)
        : tokens_(std::move(tokens)), name_(name) {
        reached(tokens_[0]);
    }

    std::unique_ptr<ParsedTemplate> parse() {
        auto tmpl = std::make_unique<ParsedTemplate>();
        tmpl->name = name_;
        tmpl->body = subparse(nullptr);
        raise_first_compile_error();
        tmpl->blocks = std::move(blocks_);
        tmpl->has_extends = has_extends_;
        return tmpl;
    }

    ExprPtr parse_standalone_expression() {
        ExprPtr e = parse_tuple(false, true, {}, false);
        if (current().type != TokenType::Eof) {
            fail("expected end of expression, got " + quote(describe(current())), current());
        }
        raise_first_compile_error();
        return e;
    }

  private:
    using EndTokens = std::vector<std::string_view>;

    // ---- token stream -----------------------------------------------------------------

    // The token stream as Jinja2's: the lexer's error is raised when the token after the
    // last good one is needed (it becomes current, or is looked at).
    void reached(const Token& t) const {
        if (t.type == TokenType::LexError)
            throw TemplateError(ErrorKind::Syntax, t.value, Location{name_, t.line, t.column});
    }
    const Token& current() const { return tokens_[pos_]; }
    const Token& look() const {
        const Token& t = tokens_[std::min(pos_ + 1, tokens_.size() - 1)];
        reached(t);
        return t;
    }
    const Token& next() {
        const Token& t = tokens_[pos_];
        if (pos_ + 1 < tokens_.size()) reached(tokens_[++pos_]);
        return t;
    }
    bool at_op(std::string_view op) const { return current().is_op(op); }
    bool at_name(std::string_view n) const { return current().is_name(n); }
    bool skip_op(std::string_view op) {
        if (!at_op(op)) return false;
        next();
        return true;
    }
    bool skip_name(std::string_view n) {
        if (!at_name(n)) return false;
        next();
        return true;
    }

    static std::string quote(const std::string& s) {
        std::string out;
        append_string_repr(s, out);
        return out;
    }

    [[noreturn]] void fail(const std::string& msg, const Token& at) {
        throw TemplateError(ErrorKind::Syntax, msg, Location{name_, at.line, at.column});
    }
    [[noreturn]] void fail(const std::string& msg, int line, int col) {
        throw TemplateError(ErrorKind::Syntax, msg, Location{name_, line, col});
    }

    [[noreturn]] void fail_expected(const std::string& what) {
        if (current().type == TokenType::Eof)
            fail("unexpected end of template, expected " + quote(what) + ".", current());
        fail("expected token " + quote(what) + ", got " + quote(describe(current())), current());
    }
    const Token& expect_name() {
        if (current().type != TokenType::Name) fail_expected("name");
        return next();
    }
    void expect_name(std::string_view n) {
        if (!at_name(n)) fail_expected(std::string(n));
        next();
    }
    void expect_op(std::string_view op) {
        if (!at_op(op)) fail_expected(std::string(op));
        next();
    }
    void expect(TokenType t) {
        if (current().type != t) fail_expected(describe(t));
        next();
    }

    // Every compound node goes through here: a left-deep chain (1 + 1 + ..., x.a.a...,
    // not not ...) is as deep to evaluate as nested parentheses, so it gets the same bound.
    ExprPtr bounded(ExprPtr e) {
        int d = 0;
        for (const Expr* c : {e->a.get(), e->b.get(), e->c.get()})
            if (c) d = std::max(d, c->depth);
        e->depth = d + 1;
        if (e->depth > kMaxNesting) {
            fail("expression nested deeper than " + std::to_string(kMaxNesting) + " levels",
                 e->line, e->column);
        }
        return e;
    }

    ExprPtr make(ExprKind k, const Token& at) {
        return std::make_unique<Expr>(k, at.line, at.column);
    }
    StmtPtr make_stmt(StmtKind k, const Token& at) {
        return std::make_unique<Stmt>(k, at.line, at.column);
    }

    // Frames that Jinja2 compiles as "soft" (if statements, conditional expressions) report
    // unknown filters and tests only when evaluated; anywhere else at compile time.
    struct SoftScope {
        Parser* p;
        bool saved;
        SoftScope(Parser* parser) : p(parser), saved(parser->soft_) { p->soft_ = true; }
        ~SoftScope() { p->soft_ = saved; }
    };

    // What Jinja2 compiles in an inner frame (the bodies of for, macro, call, filter, set,
    // with and autoescape; blocks have frames of their own): not soft, not top level.
    struct InnerFrame {
        Parser* p;
        bool saved_soft, saved_toplevel;
        explicit InnerFrame(Parser* parser)
            : p(parser), saved_soft(parser->soft_), saved_toplevel(parser->toplevel_) {
            p->soft_ = false;
            p->toplevel_ = false;
        }
        ~InnerFrame() {
            p->soft_ = saved_soft;
            p->toplevel_ = saved_toplevel;
        }
    };

    // ---- errors of Jinja2's code generator ------------------------------------------------
    // Jinja2 raises some errors (a block defined twice, extends below the top level, unknown
    // filters and tests) while generating code, once the whole template parsed: any syntax
    // error wins over them. They wait here with the code unit that holds them, and the first
    // in Jinja2's generation order is raised when parsing ends.
    struct CompileError {
        int unit;  // kBlockCheckUnit, kRootUnit, or n for the n-th block begun (pre-order)
        TemplateError error;
    };
    static constexpr int kBlockCheckUnit = -1;  // the block-name check runs before any code
    static constexpr int kRootUnit = 0;         // the root render function comes next

    void compile_error(const std::string& msg, int line, int col, int unit) {
        compile_errors_.push_back(
            {unit, TemplateError(ErrorKind::Syntax, msg, Location{name_, line, col})});
    }
    void compile_error(const std::string& msg, const Token& at) {
        compile_error(msg, at.line, at.column, unit_);
    }
    void raise_first_compile_error() const {
        auto first = std::min_element(
            compile_errors_.begin(), compile_errors_.end(),
            [](const CompileError& a, const CompileError& b) { return a.unit < b.unit; });
        if (first != compile_errors_.end()) throw first->error;
    }
    // Jinja2 generates a filter, set or call block's body before the filter or call at its
    // head: the head's errors (those from `mark` on) move behind the body's.
    std::vector<CompileError> take_compile_errors_since(size_t mark) {
        std::vector<CompileError> taken(compile_errors_.begin() + std::ptrdiff_t(mark),
                                        compile_errors_.end());
        drop_compile_errors_since(mark);
        return taken;
    }
    void drop_compile_errors_since(size_t mark) {
        compile_errors_.erase(compile_errors_.begin() + std::ptrdiff_t(mark),
                              compile_errors_.end());
    }
    void put_back_compile_errors(std::vector<CompileError> errors) {
        for (auto& e : errors)
            compile_errors_.push_back(std::move(e));
    }

    // Deeply nested input must end in a syntax error, not a stack overflow.
    struct NestingGuard {
        Parser* p;
        NestingGuard(Parser* parser, const Token& at) : p(parser) {
            if (++p->nesting_ > kMaxNesting) {
                p->fail("expression or statement nested deeper than " +
                            std::to_string(kMaxNesting) + " levels",
                        at);
            }
        }
        ~NestingGuard() { --p->nesting_; }
    };
    static constexpr int kMaxNesting = 256;

    // ---- statements (parser.cpp) ------------------------------------------------------

    bool at_end_token(const EndTokens* end) const;
    Body subparse(const EndTokens* end);
    Body parse_statements(const EndTokens& end, bool drop_needle);
    static std::string join_tags(const EndTokens& tags);
    [[noreturn]] void fail_unknown_tag(const std::string* name, const EndTokens* extra,
                                       const Token& at);
    void parse_statement(Body& out);
    StmtPtr parse_for();
    StmtPtr parse_if();
    StmtPtr parse_block();
    std::unique_ptr<Token> s_line(const StmtPtr& s);
    StmtPtr parse_extends();
    void parse_print(Body& out);
    bool parse_import_context(bool fallback);
    StmtPtr parse_include();
    StmtPtr parse_import();
    StmtPtr parse_from();
    void parse_signature(Stmt& s);
    StmtPtr parse_macro();
    void check_explicit_caller(const Stmt& s);
    StmtPtr parse_call_block();
    StmtPtr parse_filter_block();
    StmtPtr parse_set();
    StmtPtr parse_with();
    StmtPtr parse_autoescape();

    // Which of the magic names a macro body reads, as Jinja2's find_undeclared.
    static void scan_magic_names(const Body& body, Stmt& macro);

    // ---- assignment targets (parser_expr.cpp) -----------------------------------------

    ExprPtr parse_assign_target(bool with_tuple, bool name_only, const EndTokens& extra_end,
                                bool with_namespace);
    void check_assignable(const Expr& e);

    // ---- expressions (parser_expr.cpp) ------------------------------------------------

    bool is_tuple_end(const EndTokens& extra) const;
    ExprPtr parse_tuple(bool simplified, bool with_condexpr, const EndTokens& extra,
                        bool explicit_parens);
    ExprPtr parse_expression(bool with_condexpr);
    ExprPtr parse_condexpr();
    ExprPtr parse_or();
    ExprPtr parse_and();
    ExprPtr parse_not();
    ExprPtr parse_compare();
    ExprPtr binary(const Token& at, std::string op, ExprPtr l, ExprPtr r);
    ExprPtr parse_math1();
    ExprPtr parse_concat();
    ExprPtr parse_math2();
    ExprPtr parse_pow();
    ExprPtr parse_unary(bool with_filter);
    ExprPtr parse_primary();
    ExprPtr parse_list();
    ExprPtr parse_dict();
    ExprPtr parse_postfix(ExprPtr node);
    ExprPtr parse_filter_expr(ExprPtr node);
    ExprPtr parse_subscript(ExprPtr node);
    ExprPtr parse_subscribed(ExprPtr& start, ExprPtr& stop, ExprPtr& step);
    void parse_call_args(CallArgs& out);
    ExprPtr parse_call(ExprPtr node);
    static void bind_constant_args(Expr& e);
    ExprPtr parse_filter(ExprPtr node, bool start_inline);
    ExprPtr parse_test(ExprPtr node);

    std::vector<Token> tokens_;
    size_t pos_ = 0;
    const std::string& name_;
    std::vector<EndTokens> end_stack_;
    std::vector<std::string> tag_stack_;
    std::vector<const Stmt*> blocks_;
    std::vector<std::string> block_names_;  // every block begun so far, nested ones too
    std::vector<CompileError> compile_errors_;
    int unit_ = kRootUnit;
    bool has_extends_ = false;
    bool soft_ = false;
    bool toplevel_ = true;
    int nesting_ = 0;
    // The code units of the for loops being parsed, outermost first: a loop may not store
    // `loop` anywhere in it (its target, a set in its body), as Jinja2's visit_For checks.
    std::vector<int> for_units_;
    void check_loop_store(const Expr& target);
};

}  // namespace ferry::tmpl::parser_impl
