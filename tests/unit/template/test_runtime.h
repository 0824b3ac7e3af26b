// A Runtime for unit tests of filters, tests and methods without a template around them:
// it dispatches to the builtin registry and calls engine objects directly.
#pragma once

#include "template/builtins.h"
#include "template/value.h"

namespace ferry::tmpl::testing {

class TestRuntime final : public Runtime {
  public:
    explicit TestRuntime(bool strict = false) : strict_(strict) {}
    Value call_filter(std::string_view name, const Value& subject, const Args& args) override {
        FilterFn f = find_filter(name);
        if (!f) raise(ErrorKind::Runtime, "No filter named '" + std::string(name) + "'.");
        return f(*this, subject, args);
    }
    bool call_test(std::string_view name, const Value& subject, const Args& args) override {
        TestFn t = find_test(name);
        if (!t) raise(ErrorKind::Runtime, "No test named '" + std::string(name) + "'.");
        return t(*this, subject, args);
    }
    bool has_filter(std::string_view name) const override { return find_filter(name) != nullptr; }
    bool has_test(std::string_view name) const override { return find_test(name) != nullptr; }
    Value call(const Value& callable, const Args& args) override {
        if (!callable.is_object() || !callable.object_obj().is_callable())
            raise(ErrorKind::Type,
                  "'" + std::string(type_name(callable)) + "' object is not callable");
        return callable.object_obj().call(*this, args);
    }
    Value make_undefined(std::string hint) override {
        return Value::undefined(std::move(hint), strict_);
    }
    bool strict() const override { return strict_; }
    bool eval_autoescape() const override { return eval_autoescape_; }
    // As inside {% autoescape true %}, for the filters that read Jinja2's eval context.
    void set_eval_autoescape(bool on) { eval_autoescape_ = on; }

  private:
    bool strict_;
    bool eval_autoescape_ = false;
};

inline Value S(std::string s) {
    return Value::string(std::move(s));
}
inline Value I(int64_t i) {
    return Value::integer(i);
}
inline Value F(double f) {
    return Value::floating(f);
}
inline Value L(std::vector<Value> v) {
    return Value::list(std::move(v));
}
inline Args A(std::vector<Value> pos, std::vector<std::pair<std::string, Value>> named = {}) {
    Args a;
    a.positional = std::move(pos);
    a.named = std::move(named);
    return a;
}

}  // namespace ferry::tmpl::testing
