#include "template/parser.h"

#include "template/lexer.h"

#include <algorithm>
#include <functional>
#include <set>

namespace ferry::tmpl {

namespace {

constexpr std::string_view kStatementKeywords[] = {
    "for", "if", "block", "extends", "print", "macro", "include",
    "from", "import", "set", "with", "autoescape", "call", "filter"};

class Parser {
  public:
    Parser(std::vector<Token> tokens, const std::string& name)
        : tokens_(std::move(tokens)), name_(name) {}

    std::unique_ptr<ParsedTemplate> parse() {
        auto tmpl = std::make_unique<ParsedTemplate>();
        tmpl->name = name_;
        tmpl->body = subparse(nullptr);
        tmpl->blocks = std::move(blocks_);
        tmpl->has_extends = has_extends_;
        return tmpl;
    }

    ExprPtr parse_standalone_expression() {
        ExprPtr e = parse_tuple(false, true, {}, false);
        if (current().type != TokenType::Eof) {
            fail("expected end of expression, got " + quote(describe(current())), current());
        }
        return e;
    }

  private:
    using EndTokens = std::vector<std::string_view>;

    // ---- token stream -----------------------------------------------------------------

    const Token& current() const { return tokens_[pos_]; }
    const Token& look() const { return tokens_[std::min(pos_ + 1, tokens_.size() - 1)]; }
    const Token& next() {
        const Token& t = tokens_[pos_];
        if (pos_ + 1 < tokens_.size()) ++pos_;
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

    ExprPtr make(ExprKind k, const Token& at) { return std::make_unique<Expr>(k, at.line, at.column); }
    StmtPtr make_stmt(StmtKind k, const Token& at) {
        return std::make_unique<Stmt>(k, at.line, at.column);
    }

    // ---- statements -------------------------------------------------------------------

    bool at_end_token(const EndTokens* end) const {
        if (!end) return false;
        for (std::string_view e : *end)
            if (at_name(e)) return true;
        return false;
    }

    Body subparse(const EndTokens* end) {
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

    Body parse_statements(const EndTokens& end, bool drop_needle) {
        skip_op(":");
        expect(TokenType::BlockEnd);
        Body body = subparse(&end);
        if (current().type == TokenType::Eof) fail_unknown_tag(nullptr, &end, current());
        if (drop_needle) next();
        return body;
    }

    static std::string join_tags(const EndTokens& tags) {
        std::string out;
        for (size_t i = 0; i < tags.size(); ++i) {
            if (i) out += " or ";
            out += quote(std::string(tags[i]));
        }
        return out;
    }

    [[noreturn]] void fail_unknown_tag(const std::string* name, const EndTokens* extra,
                                       const Token& at) {
        std::vector<EndTokens> stack = end_stack_;
        if (extra) stack.push_back(*extra);
        std::set<std::string_view> expected;
        for (const auto& e : stack) expected.insert(e.begin(), e.end());
        std::string msg = name ? "Encountered unknown tag " + quote(*name) + "."
                               : std::string("Unexpected end of template.");
        if (!stack.empty()) {
            std::string looking = join_tags(stack.back());
            if (name && expected.count(*name)) {
                msg += " You probably made a nesting mistake. Jinja is expecting this tag, but "
                       "currently looking for " + looking + ".";
            } else {
                msg += " Jinja was looking for the following tags: " + looking + ".";
            }
        }
        if (!tag_stack_.empty()) {
            msg += " The innermost block that needs to be closed is " + quote(tag_stack_.back()) +
                   ".";
        }
        fail(msg, at);
    }

    void parse_statement(Body& out) {
        const Token& tok = current();
        NestingGuard guard(this, tok);
        if (tok.type != TokenType::Name) fail("tag name expected", tok);
        std::string tag = tok.value;
        bool known = std::find(std::begin(kStatementKeywords), std::end(kStatementKeywords), tag) !=
                     std::end(kStatementKeywords);
        if (!known) fail_unknown_tag(&tag, nullptr, tok);
        tag_stack_.push_back(tag);
        if (tag == "for") out.push_back(parse_for());
        else if (tag == "if") out.push_back(parse_if());
        else if (tag == "block") out.push_back(parse_block());
        else if (tag == "extends") out.push_back(parse_extends());
        else if (tag == "print") parse_print(out);
        else if (tag == "macro") out.push_back(parse_macro());
        else if (tag == "include") out.push_back(parse_include());
        else if (tag == "from") out.push_back(parse_from());
        else if (tag == "import") out.push_back(parse_import());
        else if (tag == "set") out.push_back(parse_set());
        else if (tag == "with") out.push_back(parse_with());
        else if (tag == "autoescape") out.push_back(parse_autoescape());
        else if (tag == "call") out.push_back(parse_call_block());
        else if (tag == "filter") out.push_back(parse_filter_block());
        tag_stack_.pop_back();
    }

    // Frames that Jinja2 compiles as "soft" (if statements, conditional expressions) report
    // unknown filters and tests only when evaluated; anywhere else at compile time.
    struct SoftScope {
        Parser* p;
        bool saved;
        SoftScope(Parser* parser, bool soft) : p(parser), saved(parser->soft_) { p->soft_ = soft; }
        ~SoftScope() { p->soft_ = saved; }
    };

    StmtPtr parse_for() {
        auto s = make_stmt(StmtKind::For, next());
        s->target = parse_assign_target(true, false, {"in"}, false);
        expect_name("in");
        s->expr = parse_tuple(false, false, {"recursive"}, false);
        SoftScope inner(this, false);
        if (skip_name("if")) s->condition = parse_expression(true);
        s->recursive = skip_name("recursive");
        s->body = parse_statements({"endfor", "else"}, false);
        if (next().value != "endfor") s->else_body = parse_statements({"endfor"}, true);
        return s;
    }

    StmtPtr parse_if() {
        SoftScope soft(this, true);
        auto result = make_stmt(StmtKind::If, next());
        Stmt* node = result.get();
        while (true) {
            node->expr = parse_tuple(false, false, {}, false);
            node->body = parse_statements({"elif", "else", "endif"}, false);
            const Token& tok = next();
            if (tok.is_name("elif")) {
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

    StmtPtr parse_block() {
        auto s = make_stmt(StmtKind::Block, next());
        s->text = expect_name().value;
        s->scoped = skip_name("scoped");
        s->required = skip_name("required");
        if (at_op("-")) {
            fail("Block names in Jinja have to be valid Python identifiers and may not contain "
                 "hyphens, use an underscore instead.",
                 current());
        }
        for (const Stmt* b : blocks_) {
            if (b->text == s->text) fail("block " + quote(s->text) + " defined twice", *s_line(s));
        }
        SoftScope inner(this, false);
        s->body = parse_statements({"endblock"}, true);
        if (s->required) {
            for (const auto& child : s->body) {
                bool blank = child->kind == StmtKind::Text &&
                             std::all_of(child->text.begin(), child->text.end(), [](char c) {
                                 return c == ' ' || c == '\t' || c == '\n' || c == '\r';
                             });
                if (!blank) fail("Required blocks can only contain comments or whitespace", *s_line(s));
            }
        }
        if (at_name(s->text)) next();
        blocks_.push_back(s.get());
        return s;
    }

    // A token standing for a statement's position, for errors raised after it was consumed.
    std::unique_ptr<Token> s_line(const StmtPtr& s) {
        return std::make_unique<Token>(Token{TokenType::Name, "", s->line, s->column});
    }

    StmtPtr parse_extends() {
        auto s = make_stmt(StmtKind::Extends, next());
        s->expr = parse_expression(true);
        has_extends_ = true;
        return s;
    }

    void parse_print(Body& out) {
        const Token& tok = next();
        bool first = true;
        while (current().type != TokenType::BlockEnd) {
            if (!first) expect_op(",");
            first = false;
            auto s = make_stmt(StmtKind::Print, tok);
            s->expr = parse_expression(true);
            out.push_back(std::move(s));
        }
    }

    bool parse_import_context(bool fallback) {
        if ((at_name("with") || at_name("without")) && look().is_name("context")) {
            bool with = next().value == "with";
            next();
            return with;
        }
        return fallback;
    }

    StmtPtr parse_include() {
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

    StmtPtr parse_import() {
        auto s = make_stmt(StmtKind::Import, next());
        s->expr = parse_expression(true);
        expect_name("as");
        s->text = expect_name().value;
        s->with_context = parse_import_context(false);
        return s;
    }

    StmtPtr parse_from() {
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

    void parse_signature(Stmt& s) {
        expect_op("(");
        bool have_default = false;
        while (!at_op(")")) {
            if (!s.params.empty()) expect_op(",");
            const Token& arg = expect_name();
            MacroParam p{arg.value, nullptr};
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

    // Which of the magic names a macro body reads, as Jinja2's find_undeclared.
    static void scan_magic_names(const Body& body, Stmt& macro);

    StmtPtr parse_macro() {
        auto s = make_stmt(StmtKind::Macro, next());
        s->text = expect_name().value;
        parse_signature(*s);
        SoftScope inner(this, false);
        s->body = parse_statements({"endmacro"}, true);
        scan_magic_names(s->body, *s);
        return s;
    }

    StmtPtr parse_call_block() {
        auto s = make_stmt(StmtKind::CallBlock, next());
        if (at_op("(")) parse_signature(*s);
        s->call = parse_expression(true);
        if (s->call->kind != ExprKind::Call) fail("expected call", *s_line(s));
        SoftScope inner(this, false);
        s->body = parse_statements({"endcall"}, true);
        scan_magic_names(s->body, *s);
        return s;
    }

    StmtPtr parse_filter_block() {
        auto s = make_stmt(StmtKind::FilterBlock, next());
        s->call = parse_filter(nullptr, true);
        SoftScope inner(this, false);
        s->body = parse_statements({"endfilter"}, true);
        return s;
    }

    StmtPtr parse_set() {
        const Token& tok = next();
        ExprPtr target = parse_assign_target(true, false, {}, true);
        if (skip_op("=")) {
            auto s = make_stmt(StmtKind::Set, tok);
            s->target = std::move(target);
            s->expr = parse_tuple(false, true, {}, false);
            return s;
        }
        auto s = make_stmt(StmtKind::SetBlock, tok);
        s->target = std::move(target);
        s->call = parse_filter(nullptr, false);
        SoftScope inner(this, false);
        s->body = parse_statements({"endset"}, true);
        return s;
    }

    StmtPtr parse_with() {
        auto s = make_stmt(StmtKind::With, next());
        while (current().type != TokenType::BlockEnd) {
            if (!s->targets.empty()) expect_op(",");
            s->targets.push_back(parse_assign_target(true, false, {}, false));
            expect_op("=");
            s->values.push_back(parse_expression(true));
        }
        SoftScope inner(this, false);
        s->body = parse_statements({"endwith"}, true);
        return s;
    }

    StmtPtr parse_autoescape() {
        auto s = make_stmt(StmtKind::Autoescape, next());
        s->condition = parse_expression(true);
        s->body = parse_statements({"endautoescape"}, true);
        return s;
    }

    // ---- assignment targets -----------------------------------------------------------

    ExprPtr parse_assign_target(bool with_tuple, bool name_only, const EndTokens& extra_end,
                                bool with_namespace) {
        ExprPtr target;
        if (with_namespace && look().is_op(".")) {
            const Token& ns = expect_name();
            next();
            const Token& attr = expect_name();
            target = make(ExprKind::NSRef, ns);
            target->name = ns.value;
            target->values.push_back(nullptr);
            auto attr_expr = make(ExprKind::Const, attr);
            attr_expr->value = Value::string(attr.value);
            target->a = std::move(attr_expr);
            return target;
        }
        if (name_only) {
            const Token& t = expect_name();
            target = make(ExprKind::Name, t);
            target->name = t.value;
            target->name_tag = name_tag(target->name);
        } else if (with_tuple) {
            target = parse_tuple(true, true, extra_end, false);
        } else {
            target = parse_primary();
        }
        check_assignable(*target);
        return target;
    }

    void check_assignable(const Expr& e) {
        static constexpr std::string_view reserved[] = {"true",  "false", "none",
                                                        "True",  "False", "None"};
        if (e.kind == ExprKind::Name) {
            if (std::find(std::begin(reserved), std::end(reserved), e.name) == std::end(reserved))
                return;
        } else if (e.kind == ExprKind::Tuple) {
            for (const auto& item : e.items) check_assignable(*item);
            return;
        }
        std::string what = e.kind == ExprKind::Const ? "const" : e.kind == ExprKind::Name ? "name"
                                                                                            : "expression";
        fail("can't assign to " + quote(what), e.line, e.column);
    }

    // ---- expressions ------------------------------------------------------------------

    bool is_tuple_end(const EndTokens& extra) const {
        const Token& t = current();
        if (t.type == TokenType::VariableEnd || t.type == TokenType::BlockEnd || t.is_op(")"))
            return true;
        for (std::string_view e : extra)
            if (t.is_name(e)) return true;
        return false;
    }

    ExprPtr parse_tuple(bool simplified, bool with_condexpr, const EndTokens& extra,
                        bool explicit_parens) {
        const Token* start = &current();
        std::vector<ExprPtr> items;
        bool is_tuple = false;
        while (true) {
            if (!items.empty()) expect_op(",");
            if (is_tuple_end(extra)) break;
            if (simplified) items.push_back(parse_primary());
            else items.push_back(parse_expression(with_condexpr));
            if (at_op(",")) is_tuple = true;
            else break;
        }
        if (!is_tuple) {
            if (!items.empty()) return std::move(items[0]);
            if (!explicit_parens)
                fail("Expected an expression, got " + quote(describe(current())), current());
        }
        auto t = make(ExprKind::Tuple, *start);
        t->items = std::move(items);
        return t;
    }

    ExprPtr parse_expression(bool with_condexpr) {
        return with_condexpr ? parse_condexpr() : parse_or();
    }

    ExprPtr parse_condexpr() {
        const Token& start = current();
        ExprPtr expr1 = parse_or();
        while (at_name("if")) {
            SoftScope soft(this, true);
            next();
            ExprPtr expr2 = parse_or();
            ExprPtr expr3;
            if (skip_name("else")) expr3 = parse_condexpr();
            auto node = make(ExprKind::CondExpr, start);
            node->a = std::move(expr2);  // test
            node->b = std::move(expr1);  // value when true
            node->c = std::move(expr3);  // value when false (may be null)
            expr1 = bounded(std::move(node));
        }
        return expr1;
    }

    ExprPtr parse_or() {
        ExprPtr left = parse_and();
        while (at_name("or")) {
            const Token& t = next();
            auto node = make(ExprKind::Or, t);
            node->a = std::move(left);
            node->b = parse_and();
            left = bounded(std::move(node));
        }
        return left;
    }

    ExprPtr parse_and() {
        ExprPtr left = parse_not();
        while (at_name("and")) {
            const Token& t = next();
            auto node = make(ExprKind::And, t);
            node->a = std::move(left);
            node->b = parse_not();
            left = bounded(std::move(node));
        }
        return left;
    }

    ExprPtr parse_not() {
        NestingGuard guard(this, current());
        if (at_name("not")) {
            auto node = make(ExprKind::Not, next());
            node->a = parse_not();
            return bounded(std::move(node));
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        const Token& start = current();
        ExprPtr expr = parse_math1();
        std::vector<std::pair<std::string, ExprPtr>> ops;
        while (true) {
            const Token& t = current();
            if (t.type == TokenType::Operator &&
                (t.value == "==" || t.value == "!=" || t.value == "<" || t.value == "<=" ||
                 t.value == ">" || t.value == ">=")) {
                std::string op = next().value;
                ops.emplace_back(op, parse_math1());
            } else if (skip_name("in")) {
                ops.emplace_back("in", parse_math1());
            } else if (at_name("not") && look().is_name("in")) {
                next();
                next();
                ops.emplace_back("notin", parse_math1());
            } else {
                break;
            }
        }
        if (ops.empty()) return expr;
        auto node = make(ExprKind::Compare, start);
        node->a = std::move(expr);
        node->ops = std::move(ops);
        return bounded(std::move(node));
    }

    ExprPtr binary(const Token& at, std::string op, ExprPtr l, ExprPtr r) {
        auto node = make(ExprKind::Binary, at);
        node->name = std::move(op);
        node->a = std::move(l);
        node->b = std::move(r);
        return bounded(std::move(node));
    }

    ExprPtr parse_math1() {
        ExprPtr left = parse_concat();
        while (at_op("+") || at_op("-")) {
            const Token& t = next();
            left = binary(t, t.value, std::move(left), parse_concat());
        }
        return left;
    }

    ExprPtr parse_concat() {
        ExprPtr left = parse_math2();
        while (at_op("~")) {
            const Token& t = next();
            left = binary(t, "~", std::move(left), parse_math2());
        }
        return left;
    }

    ExprPtr parse_math2() {
        ExprPtr left = parse_pow();
        while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
            const Token& t = next();
            left = binary(t, t.value, std::move(left), parse_pow());
        }
        return left;
    }

    ExprPtr parse_pow() {
        ExprPtr left = parse_unary(true);
        while (at_op("**")) {
            const Token& t = next();
            left = binary(t, "**", std::move(left), parse_unary(true));
        }
        return left;
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

    ExprPtr parse_unary(bool with_filter) {
        NestingGuard guard(this, current());
        ExprPtr node;
        if (at_op("-") || at_op("+")) {
            const Token& t = next();
            node = make(t.value == "-" ? ExprKind::Neg : ExprKind::Pos, t);
            node->a = parse_unary(false);
            node = bounded(std::move(node));
        } else {
            node = parse_primary();
        }
        node = parse_postfix(std::move(node));
        if (with_filter) node = parse_filter_expr(std::move(node));
        return node;
    }

    ExprPtr parse_primary() {
        const Token& t = current();
        ExprPtr node;
        if (t.type == TokenType::Name) {
            if (t.value == "true" || t.value == "True" || t.value == "false" || t.value == "False") {
                node = make(ExprKind::Const, t);
                node->value = Value::boolean(t.value == "true" || t.value == "True");
            } else if (t.value == "none" || t.value == "None") {
                node = make(ExprKind::Const, t);
                node->value = Value::none();
            } else {
                node = make(ExprKind::Name, t);
                node->name = t.value;
                node->name_tag = name_tag(node->name);
            }
            next();
        } else if (t.type == TokenType::String) {
            node = make(ExprKind::Const, t);
            std::string text;
            while (current().type == TokenType::String) text += next().value;
            node->value = Value::string(std::move(text));
        } else if (t.type == TokenType::Integer) {
            node = make(ExprKind::Const, t);
            node->value = Value::integer(t.int_value);
            next();
        } else if (t.type == TokenType::Float) {
            node = make(ExprKind::Const, t);
            node->value = Value::floating(t.float_value);
            next();
        } else if (t.is_op("(")) {
            next();
            node = parse_tuple(false, true, {}, true);
            expect_op(")");
        } else if (t.is_op("[")) {
            node = parse_list();
        } else if (t.is_op("{")) {
            node = parse_dict();
        } else {
            fail("unexpected " + quote(describe(t)), t);
        }
        return node;
    }

    ExprPtr parse_list() {
        auto node = make(ExprKind::List, next());
        while (!at_op("]")) {
            if (!node->items.empty()) expect_op(",");
            if (at_op("]")) break;
            node->items.push_back(parse_expression(true));
        }
        expect_op("]");
        return node;
    }

    ExprPtr parse_dict() {
        auto node = make(ExprKind::Dict, next());
        while (!at_op("}")) {
            if (!node->items.empty()) expect_op(",");
            if (at_op("}")) break;
            node->items.push_back(parse_expression(true));
            expect_op(":");
            node->values.push_back(parse_expression(true));
        }
        expect_op("}");
        return node;
    }

    ExprPtr parse_postfix(ExprPtr node) {
        while (true) {
            if (at_op(".") || at_op("[")) node = parse_subscript(std::move(node));
            else if (at_op("(")) node = parse_call(std::move(node));
            else break;
        }
        return node;
    }

    ExprPtr parse_filter_expr(ExprPtr node) {
        while (true) {
            if (at_op("|")) node = parse_filter(std::move(node), false);
            else if (at_name("is")) node = parse_test(std::move(node));
            else if (at_op("(")) node = parse_call(std::move(node));
            else break;
        }
        return node;
    }

    ExprPtr parse_subscript(ExprPtr node) {
        const Token& tok = next();
        if (tok.is_op(".")) {
            const Token& attr = next();
            if (attr.type == TokenType::Name) {
                auto g = make(ExprKind::Getattr, tok);
                g->a = std::move(node);
                g->name = attr.value;
                return bounded(std::move(g));
            }
            if (attr.type != TokenType::Integer) fail("expected name or number", attr);
            auto g = make(ExprKind::Getitem, tok);
            g->a = std::move(node);
            g->b = make(ExprKind::Const, attr);
            g->b->value = Value::integer(attr.int_value);
            return bounded(std::move(g));
        }
        // '['
        std::vector<ExprPtr> args;
        bool first_is_slice = false;
        ExprPtr s_start, s_stop, s_step;
        while (!at_op("]")) {
            if (!args.empty() || first_is_slice) expect_op(",");
            ExprPtr sub = parse_subscribed(s_start, s_stop, s_step);
            if (!sub) {
                first_is_slice = true;
                if (!args.empty()) fail("slices inside a tuple subscript are not supported", tok);
            } else {
                if (first_is_slice) fail("slices inside a tuple subscript are not supported", tok);
                args.push_back(std::move(sub));
            }
        }
        expect_op("]");
        auto g = make(ExprKind::Getitem, tok);
        g->a = std::move(node);
        if (first_is_slice) {
            g->is_slice = true;
            g->slice_start = std::move(s_start);
            g->slice_stop = std::move(s_stop);
            g->slice_step = std::move(s_step);
        } else if (args.size() == 1) {
            g->b = std::move(args[0]);
        } else {
            auto t = make(ExprKind::Tuple, tok);
            t->items = std::move(args);
            g->b = std::move(t);
        }
        return bounded(std::move(g));
    }

    // One subscript: an expression (returned) or a slice (nullptr, parts in start/stop/step).
    ExprPtr parse_subscribed(ExprPtr& start, ExprPtr& stop, ExprPtr& step) {
        ExprPtr first;
        if (at_op(":")) {
            next();
        } else {
            first = parse_expression(true);
            if (!at_op(":")) return first;
            next();
        }
        start = std::move(first);
        if (!at_op("]") && !at_op(",")) {
            if (!at_op(":")) stop = parse_expression(true);
        }
        if (at_op(":")) {
            next();
            if (!at_op("]") && !at_op(",")) step = parse_expression(true);
        }
        return nullptr;
    }

    void parse_call_args(CallArgs& out) {
        const Token& open = current();
        expect_op("(");
        bool require_comma = false;
        auto ensure = [&](bool ok) {
            if (!ok) fail("invalid syntax for function call expression", open);
        };
        while (!at_op(")")) {
            if (require_comma) {
                expect_op(",");
                if (at_op(")")) break;
            }
            if (at_op("*")) {
                ensure(!out.dyn_args && !out.dyn_kwargs);
                next();
                out.dyn_args = parse_expression(true);
            } else if (at_op("**")) {
                ensure(!out.dyn_kwargs);
                next();
                out.dyn_kwargs = parse_expression(true);
            } else if (current().type == TokenType::Name && look().is_op("=")) {
                ensure(!out.dyn_kwargs);
                std::string key = next().value;
                next();
                out.named.emplace_back(key, parse_expression(true));
            } else {
                ensure(!out.dyn_args && !out.dyn_kwargs && out.named.empty());
                out.positional.push_back(parse_expression(true));
            }
            require_comma = true;
        }
        expect_op(")");
    }

    ExprPtr parse_call(ExprPtr node) {
        auto call = make(ExprKind::Call, current());
        parse_call_args(call->args);
        call->a = std::move(node);
        return bounded(std::move(call));
    }

    // Sets e.no_args for a filter or test without arguments, and e.const_args when every
    // argument is a constant.
    static void bind_constant_args(Expr& e) {
        const CallArgs& spec = e.args;
        if (spec.dyn_args || spec.dyn_kwargs) return;
        if (spec.positional.empty() && spec.named.empty()) {
            e.no_args = true;
            return;
        }
        for (const auto& p : spec.positional)
            if (p->kind != ExprKind::Const) return;
        for (const auto& [name, expr] : spec.named)
            if (expr->kind != ExprKind::Const) return;
        auto args = std::make_unique<Args>();
        for (const auto& p : spec.positional)
            args->positional.push_back(p->value);
        for (const auto& [name, expr] : spec.named)
            args->named.emplace_back(name, expr->value);
        e.const_args = std::move(args);
    }

    ExprPtr parse_filter(ExprPtr node, bool start_inline) {
        while (at_op("|") || start_inline) {
            if (!start_inline) next();
            const Token& name_tok = expect_name();
            auto f = make(ExprKind::Filter, name_tok);
            f->name = name_tok.value;
            while (at_op(".")) {
                next();
                f->name += "." + expect_name().value;
            }
            if (at_op("(")) parse_call_args(f->args);
            bind_constant_args(*f);
            f->filter = find_filter(f->name);
            if (!f->filter && !soft_) fail("No filter named " + quote(f->name) + ".", name_tok);
            f->a = std::move(node);
            node = bounded(std::move(f));
            start_inline = false;
        }
        return node;
    }

    ExprPtr parse_test(ExprPtr node) {
        const Token& is_tok = next();
        bool negated = skip_name("not");
        const Token& name_tok = expect_name();
        auto t = make(ExprKind::Test, is_tok);
        t->name = name_tok.value;
        while (at_op(".")) {
            next();
            t->name += "." + expect_name().value;
        }
        const Token& cur = current();
        bool arg_start = cur.type == TokenType::Name || cur.type == TokenType::String ||
                         cur.type == TokenType::Integer || cur.type == TokenType::Float ||
                         cur.is_op("[") || cur.is_op("{");
        if (at_op("(")) {
            parse_call_args(t->args);
        } else if (arg_start && !cur.is_name("else") && !cur.is_name("or") &&
                   !cur.is_name("and")) {
            if (cur.is_name("is")) fail("You cannot chain multiple tests with is", cur);
            t->args.positional.push_back(parse_postfix(parse_primary()));
        }
        bind_constant_args(*t);
        t->test = find_test(t->name);
        if (!t->test && !soft_) fail("No test named " + quote(t->name) + ".", name_tok);
        t->a = std::move(node);
        t = bounded(std::move(t));
        if (!negated) return t;
        auto n = make(ExprKind::Not, is_tok);
        n->a = std::move(t);
        return bounded(std::move(n));
    }

    std::vector<Token> tokens_;
    size_t pos_ = 0;
    const std::string& name_;
    std::vector<EndTokens> end_stack_;
    std::vector<std::string> tag_stack_;
    std::vector<const Stmt*> blocks_;
    bool has_extends_ = false;
    bool soft_ = false;
    int nesting_ = 0;
};

void scan_expr(const Expr* e, Stmt& macro);

void scan_body(const Body& body, Stmt& macro) {
    for (const auto& s : body) {
        if (!s) continue;
        scan_expr(s->expr.get(), macro);
        scan_expr(s->target.get(), macro);
        scan_expr(s->condition.get(), macro);
        scan_expr(s->call.get(), macro);
        for (const auto& v : s->values) scan_expr(v.get(), macro);
        for (const auto& p : s->params) scan_expr(p.default_value.get(), macro);
        scan_body(s->body, macro);
        scan_body(s->else_body, macro);
    }
}

void scan_expr(const Expr* e, Stmt& macro) {
    if (!e) return;
    if (e->kind == ExprKind::Name) {
        if (e->name == "varargs") macro.catch_varargs = true;
        else if (e->name == "kwargs") macro.catch_kwargs = true;
        else if (e->name == "caller") macro.uses_caller = true;
    }
    for (const Expr* sub : {e->a.get(), e->b.get(), e->c.get(), e->slice_start.get(),
                            e->slice_stop.get(), e->slice_step.get(), e->args.dyn_args.get(),
                            e->args.dyn_kwargs.get()})
        scan_expr(sub, macro);
    for (const auto& p : e->args.positional) scan_expr(p.get(), macro);
    for (const auto& p : e->args.named) scan_expr(p.second.get(), macro);
    for (const auto& i : e->items) scan_expr(i.get(), macro);
    for (const auto& v : e->values) scan_expr(v.get(), macro);
    for (const auto& o : e->ops) scan_expr(o.second.get(), macro);
}

void Parser::scan_magic_names(const Body& body, Stmt& macro) { scan_body(body, macro); }

}  // namespace

std::unique_ptr<ParsedTemplate> parse_template(std::string_view source, const std::string& name) {
    std::string normalized = normalize_newlines(source);
    return Parser(tokenize(normalized, name), name).parse();
}

ExprPtr parse_expression(std::string_view source, const std::string& name) {
    // Lex the text as the inside of a print tag so token rules are exactly the template's.
    std::string wrapped = "{{" + std::string(source) + "}}";
    std::vector<Token> tokens = tokenize(wrapped, name);
    // Drop the begin/end markers; keep the Eof.
    std::vector<Token> inner;
    for (size_t i = 1; i + 2 < tokens.size(); ++i) inner.push_back(std::move(tokens[i]));
    inner.push_back(tokens.back());
    return Parser(std::move(inner), name).parse_standalone_expression();
}

}  // namespace ferry::tmpl
