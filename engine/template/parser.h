// Builds a ParsedTemplate from tokens, following jinja2/parser.py rule for rule (precedence,
// statement syntax and error messages), plus the compile-time checks Jinja2's code generator
// makes: unknown filters and tests outside `if`, blocks defined twice.
#pragma once

#include "template/ast.h"

#include <memory>
#include <string>
#include <string_view>

namespace ferry::tmpl {

// Raises TemplateError(Syntax) with the file and line of the first problem.
std::unique_ptr<ParsedTemplate> parse_template(std::string_view source, const std::string& name);

// Parses one expression (the inside of a `{{ }}`), for callers that evaluate expressions
// outside of a template, such as workflow files.
ExprPtr parse_expression(std::string_view source, const std::string& name);

}  // namespace ferry::tmpl
