// Expressions: names, attribute and item access, calls, filters, tests and operators.
#include "template/render.h"

#include "template/builtins.h"

#include <new>
#include <stdexcept>

namespace ferry::tmpl {

Value Renderer::eval_name(const Expr& e) {
    if (const Value* v = scope_->lookup(e.name, name_tag_of(e))) return *v;
    return eval_unscoped_name(e);
}

Value Renderer::eval_unscoped_name(const Expr& e) {
    Value global = find_global(e.name);
    if (!global.is_undefined()) return global;
    // `self` works anywhere in a template, not only inside blocks.
    if (e.name == "self" && frame_ && frame_->blocks) return make_self_reference(frame_);
    return make_undefined("'" + e.name + "' is undefined");
}

void Renderer::eval_args(const CallArgs& spec, Args& out) {
    out.positional.reserve(spec.positional.size());
    for (const auto& p : spec.positional)
        out.positional.push_back(eval(*p));
    for (const auto& [name, expr] : spec.named)
        out.named.emplace_back(name, eval(*expr));
    if (spec.dyn_args) {
        for (Value& v : iterate(eval(*spec.dyn_args)))
            out.positional.push_back(std::move(v));
    }
    if (spec.dyn_kwargs) {
        Value kw = eval(*spec.dyn_kwargs);
        if (!kw.is_dict()) {
            raise(ErrorKind::Type,
                  "argument after ** must be a mapping, not " + std::string(type_name(kw)));
        }
        for (const auto& [k, v] : kw.dict_obj().items()) {
            if (!k.is_string()) raise(ErrorKind::Type, "keywords must be strings");
            out.named.emplace_back(std::string(k.str()), v);
        }
    }
}

Value Renderer::eval_call(const Expr& e) {
    Value callee = eval(*e.a);
    PooledArgs pooled(*this);
    Args& args = *pooled;
    eval_args(e.args, args);
    return call(callee, args);
}

Value Renderer::call(const Value& callable, const Args& args) {
    tick();
    if (callable.is_undefined()) raise_undefined(callable);
    if (!callable.is_object() || !callable.object_obj().is_callable()) {
        raise(ErrorKind::Type, "'" + std::string(type_name(callable)) + "' object is not callable");
    }
    return callable.object_obj().call(*this, args);
}

namespace {

const Args kNoArgs;

}  // namespace

Value Renderer::eval_filter(const Expr& e) {
    return located_at(e, [&] { return eval_filter_inner(e); });
}

[[gnu::always_inline]] inline Value Renderer::eval_filter_inner(const Expr& e) {
    tick();
    // Most filters in a template take no arguments (string, trim, list, length...) or
    // constant ones: nothing runs between reading the subject and the filter.
    if (e.filter && (e.no_args || e.const_args)) {
        Value holder;
        const Value& subject = operand(*e.a, holder);
        return e.filter(*this, subject, e.no_args ? kNoArgs : *e.const_args);
    }
    Value subject = eval(*e.a);
    PooledArgs pooled(*this);
    Args& args = *pooled;
    eval_args(e.args, args);
    if (!e.filter) raise(ErrorKind::Runtime, "No filter named '" + e.name + "' found.");
    return e.filter(*this, subject, args);
}

Value Renderer::eval_test(const Expr& e) {
    try {
        return eval_test_inner(e);
    } catch (TemplateError& err) {
        locate(err, e.line, e.column);
        throw;
    }
}

Value Renderer::eval_getattr(const Expr& e) {
    try {
        Value holder;
        return get_attribute(*this, operand(*e.a, holder), e.name);
    } catch (TemplateError& err) {
        locate(err, e.line, e.column);
        throw;
    }
}

[[gnu::always_inline]] inline Value Renderer::eval_test_inner(const Expr& e) {
    if (e.test && (e.no_args || e.const_args)) {
        Value holder;
        const Value& subject = operand(*e.a, holder);
        return Value::boolean(e.test(*this, subject, e.no_args ? kNoArgs : *e.const_args));
    }
    Value subject = eval(*e.a);
    PooledArgs pooled(*this);
    Args& args = *pooled;
    eval_args(e.args, args);
    if (!e.test) raise(ErrorKind::Runtime, "No test named '" + e.name + "' found.");
    return Value::boolean(e.test(*this, subject, args));
}

FilterFn Renderer::filter_named(std::string_view name) {
    if (!last_filter_ || !same_name(last_filter_name_, name)) {
        FilterFn f = find_filter(name);
        if (!f) return nullptr;
        last_filter_name_.assign(name);
        last_filter_ = f;
    }
    return last_filter_;
}

TestFn Renderer::test_named(std::string_view name) {
    if (!last_test_ || !same_name(last_test_name_, name)) {
        TestFn t = find_test(name);
        if (!t) return nullptr;
        last_test_name_.assign(name);
        last_test_ = t;
    }
    return last_test_;
}

Value Renderer::call_filter(std::string_view name, const Value& subject, const Args& args) {
    tick();
    FilterFn f = filter_named(name);
    if (!f) raise(ErrorKind::Runtime, "No filter named '" + std::string(name) + "'.");
    return f(*this, subject, args);
}

bool Renderer::call_test(std::string_view name, const Value& subject, const Args& args) {
    tick();
    TestFn t = test_named(name);
    if (!t) raise(ErrorKind::Runtime, "No test named '" + std::string(name) + "'.");
    return t(*this, subject, args);
}

bool Renderer::has_filter(std::string_view name) const {
    return find_filter(name) != nullptr;
}
bool Renderer::has_test(std::string_view name) const {
    return find_test(name) != nullptr;
}

Value Renderer::eval_compare(const Expr& e) {
    Value left = eval(*e.a);
    for (const auto& [op, rhs_expr] : e.ops) {
        Value right = eval(*rhs_expr);
        bool ok;
        if (op == "==")
            ok = equals(left, right);
        else if (op == "!=")
            ok = !equals(left, right);
        else if (op == "<")
            ok = less_than(left, right, "<");
        else if (op == ">")
            ok = less_than(right, left, ">");
        else if (op == "<=")
            ok = !less_than(right, left, "<=");
        else if (op == ">=")
            ok = !less_than(left, right, ">=");
        else if (op == "in")
            ok = contains(right, left);
        else
            ok = !contains(right, left);  // notin
        if (!ok) return Value::boolean(false);
        left = std::move(right);
    }
    return Value::boolean(true);
}

Value Renderer::eval_binary(const Expr& e) {
    Value a = eval(*e.a);
    Value b = eval(*e.b);
    if (e.name == "~") {
        // Jinja2's markup_join under autoescape: once a side is Markup, the result is Markup
        // and the other side is escaped.
        if (autoescape_ && (a.is_safe() || b.is_safe()))
            return markup_concat(to_str(a), a.is_safe(), to_str(b), b.is_safe());
        std::string out;
        append_str(a, out);
        check_built_size(out.size(), "'~'");
        append_str(b, out);
        check_built_size(out.size(), "'~'");
        return Value::string(std::move(out));
    }
    return binary_op(e.name, a, b, options_.max_output);
}

// Inlined into eval_located(): a call level less for each node a render evaluates.
[[gnu::always_inline]] inline Value Renderer::eval_inner(const Expr& e) {
    switch (e.kind) {
    case ExprKind::Const: return e.value;  // (eval() answers these two itself)
    case ExprKind::Name: return eval_name(e);
    case ExprKind::Getattr: return eval_getattr(e);
    case ExprKind::Getitem: {
        Value obj = eval(*e.a);
        if (!e.is_slice) return get_item(*this, obj, eval(*e.b));
        Value bounds[3];
        const ExprPtr* exprs[3] = {&e.slice_start, &e.slice_stop, &e.slice_step};
        std::optional<int64_t> ints[3];
        bool integral = true;
        for (int i = 0; i < 3; ++i) {
            bounds[i] = *exprs[i] ? eval(**exprs[i]) : Value::none();
            if (bounds[i].is_none()) continue;
            if (bounds[i].is_integral())
                ints[i] = bounds[i].as_int();
            else
                integral = false;
        }
        // A slice compiles to Python's own subscript, whose TypeError (bounds that are not
        // integers, an object that cannot be sliced) propagates; only in a `{{ }}` made of
        // constants does Jinja2 fold it at compile time through its getitem, which turns
        // the error into an undefined value (elsewhere an undefined result is not folded).
        bool folded = folding_output_;
        auto not_sliced = [&] {
            return make_undefined("'" + std::string(type_name(obj)) +
                                  " object' has no element slice(" + to_repr(bounds[0]) + ", " +
                                  to_repr(bounds[1]) + ", " + to_repr(bounds[2]) + ")");
        };
        if (!integral && !obj.is_undefined()) {
            if (folded) return not_sliced();
            raise(ErrorKind::Type,
                  "slice indices must be integers or None or have an __index__ method");
        }
        try {
            return slice(obj, ints[0], ints[1], ints[2]);
        } catch (const TemplateError& err) {
            if (err.kind() != ErrorKind::Type || obj.is_undefined() || !folded) throw;
            return not_sliced();
        }
    }
    case ExprKind::Call: return eval_call(e);
    case ExprKind::Filter: return eval_filter(e);
    case ExprKind::Test: return eval_test(e);
    case ExprKind::Not: {
        Value holder;
        return Value::boolean(!truthy(operand(*e.a, holder)));
    }
    case ExprKind::Neg: return unary_minus(eval(*e.a));
    case ExprKind::Pos: return unary_plus(eval(*e.a));
    case ExprKind::Binary: return eval_binary(e);
    case ExprKind::And: {
        Value a = eval(*e.a);
        return truthy(a) ? eval(*e.b) : a;
    }
    case ExprKind::Or: {
        Value a = eval(*e.a);
        return truthy(a) ? a : eval(*e.b);
    }
    case ExprKind::Compare: return eval_compare(e);
    case ExprKind::CondExpr:
        if (Value holder; truthy(operand(*e.a, holder))) return eval(*e.b);
        if (e.c) return eval(*e.c);
        // Lenient even in strict mode: Jinja2 3.1 makes it with the plain Undefined class.
        return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                                    " evaluated to false and no else section was defined.",
                                false);
    case ExprKind::List:
    case ExprKind::Tuple: {
        std::vector<Value> items;
        items.reserve(e.items.size());
        for (const auto& i : e.items)
            items.push_back(eval(*i));
        return e.kind == ExprKind::List ? Value::list(std::move(items))
                                        : Value::tuple(std::move(items));
    }
    case ExprKind::Dict: {
        Value d = Value::dict();
        for (size_t i = 0; i < e.items.size(); ++i) {
            Value k = eval(*e.items[i]);
            hash_value(k);  // raises for unhashable keys, as Python
            d.dict_obj().set(std::move(k), eval(*e.values[i]));
        }
        return d;
    }
    case ExprKind::NSRef: raise(ErrorKind::Runtime, "namespace reference used as a value");
    }
    return Value();
}

// located_at written out: through its lambda, this (a render's hottest call) cost ~2k more
// instructions a render of the incident template (callgrind).
Value Renderer::eval_located(const Expr& e) {
    try {
        return eval_inner(e);
    } catch (TemplateError& err) {
        locate(err, e.line, e.column);
        throw;
    } catch (const std::bad_alloc&) {
        raise_out_of_memory(e.line, e.column);
    } catch (const std::length_error&) {
        raise_out_of_memory(e.line, e.column);
    }
}

}  // namespace ferry::tmpl
