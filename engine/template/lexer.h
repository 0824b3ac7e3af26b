// Splits Jinja2 template source into tokens, following jinja2/lexer.py: the same token
// boundaries, whitespace control, raw blocks, brace balancing and line numbers, so that
// errors point where Jinja2's do.
#pragma once

#include "template/error.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::tmpl {

enum class TokenType : uint8_t {
    Data,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    Eof,
    // Where the lexer failed: the last token, value the message. Jinja2 lexes as the parser
    // reads, so a syntax error before this place is reported, not the lexer's; the parser
    // raises this one only when it reaches it.
    LexError,
};

struct Token {
    TokenType type;
    std::string value;  // text for Data/Name/String (unescaped), operator symbol, digits
    int line;
    int column;
    int64_t int_value = 0;
    double float_value = 0;

    bool is_op(std::string_view op) const { return type == TokenType::Operator && value == op; }
    bool is_name(std::string_view name) const { return type == TokenType::Name && value == name; }
};

// How a token reads in an error message, as Jinja2's describe_token.
std::string describe(const Token& token);
std::string describe(TokenType type);

// Jinja2's newline_re split + "\n".join: CRLF, CR and LF become \n and one trailing line
// break is dropped (keep_trailing_newline=False).
std::string normalize_newlines(std::string_view source);

// Tokenizes normalized source. A lexical error ends the tokens with a LexError token (the
// file, line and column of a TemplateError(Syntax) raised from it are the token's).
std::vector<Token> tokenize(std::string_view source, const std::string& file);

}  // namespace ferry::tmpl
