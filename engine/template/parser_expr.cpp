// Expressions, by Jinja2's precedence: conditional expressions down to literals, with
// subscripts, calls, filters and tests; and the targets of assignments.
#include "template/parser_internal.h"

#include <algorithm>

namespace ferry::tmpl::parser_impl {

// ---- assignment targets -----------------------------------------------------------

ExprPtr Parser::parse_assign_target(bool with_tuple, bool name_only, const EndTokens& extra_end,
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

void Parser::check_assignable(const Expr& e) {
    static constexpr std::string_view reserved[] = {"true", "false", "none",
                                                    "True", "False", "None"};
    if (e.kind == ExprKind::Name) {
        if (std::find(std::begin(reserved), std::end(reserved), e.name) == std::end(reserved))
            return;
    } else if (e.kind == ExprKind::Tuple) {
        for (const auto& item : e.items)
            check_assignable(*item);
        return;
    }
    std::string what = e.kind == ExprKind::Const  ? "const"
                       : e.kind == ExprKind::Name ? "name"
                                                  : "expression";
    fail("can't assign to " + quote(what), e.line, e.column);
}

// ---- expressions ------------------------------------------------------------------

bool Parser::is_tuple_end(const EndTokens& extra) const {
    const Token& t = current();
    if (t.type == TokenType::VariableEnd || t.type == TokenType::BlockEnd || t.is_op(")"))
        return true;
    for (std::string_view e : extra)
        if (t.is_name(e)) return true;
    return false;
}

ExprPtr Parser::parse_tuple(bool simplified, bool with_condexpr, const EndTokens& extra,
                            bool explicit_parens) {
    const Token* start = &current();
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
        if (!items.empty()) expect_op(",");
        if (is_tuple_end(extra)) break;
        if (simplified)
            items.push_back(parse_primary());
        else
            items.push_back(parse_expression(with_condexpr));
        if (at_op(","))
            is_tuple = true;
        else
            break;
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

ExprPtr Parser::parse_expression(bool with_condexpr) {
    return with_condexpr ? parse_condexpr() : parse_or();
}

ExprPtr Parser::parse_condexpr() {
    const Token& start = current();
    size_t errors_before = compile_errors_.size();
    ExprPtr expr1 = parse_or();
    while (at_name("if")) {
        // Jinja2 compiles all of `A if B else C` soft, A included, though A comes first.
        drop_compile_errors_since(errors_before);
        SoftScope soft(this);
        next();
        ExprPtr expr2 = parse_or();
        ExprPtr expr3;
        if (skip_name("else")) {
            // Recursion: bounded before it goes deeper, not after (bounded() checks once
            // the chain is built, by then 50,000 levels had overflowed the stack).
            NestingGuard guard(this, current());
            expr3 = parse_condexpr();
        }
        auto node = make(ExprKind::CondExpr, start);
        node->a = std::move(expr2);  // test
        node->b = std::move(expr1);  // value when true
        node->c = std::move(expr3);  // value when false (may be null)
        expr1 = bounded(std::move(node));
    }
    return expr1;
}

ExprPtr Parser::parse_or() {
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

ExprPtr Parser::parse_and() {
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

ExprPtr Parser::parse_not() {
    NestingGuard guard(this, current());
    if (at_name("not")) {
        auto node = make(ExprKind::Not, next());
        node->a = parse_not();
        return bounded(std::move(node));
    }
    return parse_compare();
}

ExprPtr Parser::parse_compare() {
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

ExprPtr Parser::binary(const Token& at, std::string op, ExprPtr l, ExprPtr r) {
    auto node = make(ExprKind::Binary, at);
    node->name = std::move(op);
    node->a = std::move(l);
    node->b = std::move(r);
    return bounded(std::move(node));
}

ExprPtr Parser::parse_math1() {
    ExprPtr left = parse_concat();
    while (at_op("+") || at_op("-")) {
        const Token& t = next();
        left = binary(t, t.value, std::move(left), parse_concat());
    }
    return left;
}

ExprPtr Parser::parse_concat() {
    ExprPtr left = parse_math2();
    while (at_op("~")) {
        const Token& t = next();
        left = binary(t, "~", std::move(left), parse_math2());
    }
    return left;
}

ExprPtr Parser::parse_math2() {
    ExprPtr left = parse_pow();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
        const Token& t = next();
        left = binary(t, t.value, std::move(left), parse_pow());
    }
    return left;
}

ExprPtr Parser::parse_pow() {
    ExprPtr left = parse_unary(true);
    while (at_op("**")) {
        const Token& t = next();
        left = binary(t, "**", std::move(left), parse_unary(true));
    }
    return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
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

ExprPtr Parser::parse_primary() {
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
        while (current().type == TokenType::String)
            text += next().value;
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

ExprPtr Parser::parse_list() {
    auto node = make(ExprKind::List, next());
    while (!at_op("]")) {
        if (!node->items.empty()) expect_op(",");
        if (at_op("]")) break;
        node->items.push_back(parse_expression(true));
    }
    expect_op("]");
    return node;
}

ExprPtr Parser::parse_dict() {
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

ExprPtr Parser::parse_postfix(ExprPtr node) {
    while (true) {
        if (at_op(".") || at_op("["))
            node = parse_subscript(std::move(node));
        else if (at_op("("))
            node = parse_call(std::move(node));
        else
            break;
    }
    return node;
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
    while (true) {
        if (at_op("|"))
            node = parse_filter(std::move(node), false);
        else if (at_name("is"))
            node = parse_test(std::move(node));
        else if (at_op("("))
            node = parse_call(std::move(node));
        else
            break;
    }
    return node;
}

ExprPtr Parser::parse_subscript(ExprPtr node) {
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
ExprPtr Parser::parse_subscribed(ExprPtr& start, ExprPtr& stop, ExprPtr& step) {
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

void Parser::parse_call_args(CallArgs& out) {
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
            const Token& at = current();
            std::string key = next().value;
            // As Python: given twice, the second silently won.
            for (const auto& [given, value] : out.named)
                if (given == key) fail("keyword argument repeated: " + key, at);
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

ExprPtr Parser::parse_call(ExprPtr node) {
    auto call = make(ExprKind::Call, current());
    parse_call_args(call->args);
    call->a = std::move(node);
    return bounded(std::move(call));
}

// Sets e.no_args for a filter or test without arguments, and e.const_args when every
// argument is a constant.
void Parser::bind_constant_args(Expr& e) {
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

ExprPtr Parser::parse_filter(ExprPtr node, bool start_inline) {
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
        if (!f->filter && !soft_)
            compile_error("No filter named " + quote(f->name) + ".", name_tok);
        f->a = std::move(node);
        node = bounded(std::move(f));
        start_inline = false;
    }
    return node;
}

ExprPtr Parser::parse_test(ExprPtr node) {
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
    } else if (arg_start && !cur.is_name("else") && !cur.is_name("or") && !cur.is_name("and")) {
        if (cur.is_name("is")) fail("You cannot chain multiple tests with is", cur);
        t->args.positional.push_back(parse_postfix(parse_primary()));
    }
    bind_constant_args(*t);
    t->test = find_test(t->name);
    if (!t->test && !soft_) compile_error("No test named " + quote(t->name) + ".", name_tok);
    t->a = std::move(node);
    t = bounded(std::move(t));
    if (!negated) return t;
    auto n = make(ExprKind::Not, is_tok);
    n->a = std::move(t);
    return bounded(std::move(n));
}

}  // namespace ferry::tmpl::parser_impl
