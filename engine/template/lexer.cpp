#include "template/lexer.h"

#include "template/value.h"

#include <cctype>
#include <charconv>
#include <cstring>

namespace ferry::tmpl {

std::string describe(TokenType type) {
    switch (type) {
    case TokenType::Data: return "template data / text";
    case TokenType::VariableBegin: return "begin of print statement";
    case TokenType::VariableEnd: return "end of print statement";
    case TokenType::BlockBegin: return "begin of statement block";
    case TokenType::BlockEnd: return "end of statement block";
    case TokenType::Name: return "name";
    case TokenType::String: return "string";
    case TokenType::Integer: return "integer";
    case TokenType::Float: return "float";
    case TokenType::Operator: return "operator";
    case TokenType::Eof: return "end of template";
    case TokenType::LexError: return "lexical error";
    }
    return "token";
}

std::string describe(const Token& token) {
    if (token.type == TokenType::Name || token.type == TokenType::Operator) return token.value;
    return describe(token.type);
}

std::string normalize_newlines(std::string_view s) {
    // Jinja2 3.x splits on (\r\n|\r|\n) only: \v, \f, U+2028 and the other breaks of
    // str.splitlines() are ordinary characters in a template.
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '\r') {
            if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
            out += '\n';
        } else {
            out += c;
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

namespace {

// Whitespace as Jinja2 sees it: str.rstrip() before `{{-` and the regex \s elsewhere, both
// Unicode-aware (str.isspace()), so NBSP or IDEOGRAPHIC SPACE count as they do in Python.
bool is_ascii_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

// UTF-8 of the other characters str.isspace() accepts: U+0085, U+00A0, U+1680,
// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
constexpr std::string_view kNonAsciiSpaces[] = {
    "\xc2\x85",     "\xc2\xa0",     "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81",
    "\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86",
    "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xa8",
    "\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80",
};

// Byte length of the whitespace character starting at s[pos], or 0.
size_t space_at(std::string_view s, size_t pos) {
    if (pos >= s.size()) return 0;
    if (static_cast<unsigned char>(s[pos]) < 0x80) return is_ascii_space(s[pos]) ? 1 : 0;
    for (std::string_view space : kNonAsciiSpaces)
        if (s.compare(pos, space.size(), space) == 0) return space.size();
    return 0;
}

// Byte length of the whitespace character ending just before s[end], or 0.
size_t space_before(std::string_view s, size_t end) {
    if (end == 0) return 0;
    if (is_ascii_space(s[end - 1])) return 1;
    for (std::string_view space : kNonAsciiSpaces)
        if (space.size() <= end && s.compare(end - space.size(), space.size(), space) == 0)
            return space.size();
    return 0;
}

// The first position at or after pos that is not whitespace (the regex \s*).
size_t skip_spaces(std::string_view s, size_t pos) {
    while (size_t n = space_at(s, pos))
        pos += n;
    return pos;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_name_start(unsigned char c) {
    return c == '_' || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c >= 0x80;
}
bool is_name_char(unsigned char c) {
    return is_name_start(c) || is_digit(char(c));
}

class Lexer {
  public:
    Lexer(std::string_view src, const std::string& file) : src_(src), file_(file) {}

    std::vector<Token> take_tokens() { return std::move(tokens_); }

    std::vector<Token> run() {
        while (pos_ < src_.size())
            lex_data();
        tokens_.push_back(Token{TokenType::Eof, "", tokens_.empty() ? 1 : tokens_.back().line,
                                tokens_.empty() ? 1 : tokens_.back().column});
        return std::move(tokens_);
    }

  private:
    [[noreturn]] void fail(const std::string& msg, int line, int col) {
        throw TemplateError(ErrorKind::Syntax, msg, Location{file_, line, col});
    }

    void advance_to(size_t target) {
        for (; pos_ < target; ++pos_) {
            if (src_[pos_] == '\n') {
                ++line_;
                line_start_ = pos_ + 1;
            }
        }
    }
    int column() const { return int(pos_ - line_start_) + 1; }

    void emit(TokenType type, std::string value, int line, int col) {
        tokens_.push_back(Token{type, std::move(value), line, col});
    }

    // Text up to the next {{, {% or {#; then the tag. Handles `{%-`-style left stripping of
    // the text and raw blocks, as lexer.py's root state does.
    void lex_data() {
        size_t start = pos_;
        size_t tag = start;
        while (true) {
            tag = src_.find('{', tag);
            if (tag == std::string_view::npos || tag + 1 >= src_.size()) {
                tag = std::string_view::npos;
                break;
            }
            char n = src_[tag + 1];
            if (n == '{' || n == '%' || n == '#') break;
            ++tag;
        }
        if (tag == std::string_view::npos) {
            emit_text(start, src_.size(), false);
            return;
        }
        char kind = src_[tag + 1];
        bool strip_left = tag + 2 < src_.size() && src_[tag + 2] == '-';
        // A raw block is recognised together with the text before it.
        if (kind == '%' && raw_begins_at(tag)) {
            bool raw_strip = strip_left;
            emit_text(start, tag, raw_strip);
            lex_raw(tag);
            return;
        }
        emit_text(start, tag, strip_left);
        if (kind == '#') {
            lex_comment(tag);
        } else {
            lex_tag(tag, kind == '{' ? TokenType::VariableBegin : TokenType::BlockBegin);
        }
    }

    void emit_text(size_t start, size_t end, bool rstrip) {
        int line = line_, col = column();
        std::string_view text = src_.substr(start, end - start);
        if (rstrip) {
            size_t e = text.size();
            while (size_t n = space_before(text, e))
                e -= n;
            text = text.substr(0, e);
        }
        if (!text.empty()) emit(TokenType::Data, std::string(text), line, col);
        advance_to(end);
    }

    // `{%` [-+] ws* `raw` ws* [-]? `%}` at pos?
    bool raw_begins_at(size_t pos) const { return match_keyword_tag(pos, "raw", false) != 0; }

    // Length of a `{% WORD %}` tag at pos, else 0. Both ends may carry a `-`; the start may
    // carry a `+` too, and the end only where end_plus says so: Jinja2's endraw rule takes
    // `+%}`, its raw rule does not.
    size_t match_keyword_tag(size_t pos, std::string_view word, bool end_plus) const {
        size_t p = pos + 2;
        if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
        p = skip_spaces(src_, p);
        if (src_.compare(p, word.size(), word) != 0) return 0;
        p += word.size();
        if (p < src_.size() && is_name_char(static_cast<unsigned char>(src_[p])) &&
            !space_at(src_, p))
            return 0;
        p = skip_spaces(src_, p);
        if (p < src_.size() && (src_[p] == '-' || (end_plus && src_[p] == '+'))) ++p;
        if (src_.compare(p, 2, "%}") != 0) return 0;
        return p + 2 - pos;
    }

    void lex_raw(size_t tag) {
        int line = line_;
        size_t open_len = match_keyword_tag(tag, "raw", false);
        bool strip_after_open = src_[tag + open_len - 3] == '-';
        size_t body = tag + open_len;
        if (strip_after_open) body = skip_spaces(src_, body);
        size_t p = body;
        while (true) {
            p = src_.find("{%", p);
            if (p == std::string_view::npos) fail("Missing end of raw directive", line, 1);
            if (size_t len = match_keyword_tag(p, "endraw", true)) {
                advance_to(body);
                bool strip_before = src_[p + 2] == '-';
                emit_text(body, p, strip_before);
                size_t after = p + len;
                if (src_[p + len - 3] == '-') after = skip_spaces(src_, after);
                advance_to(after);
                return;
            }
            p += 2;
        }
    }

    void lex_comment(size_t tag) {
        int line = line_, col = column();
        // The body starts after the `-`/`+` modifier: in `{#-#}` that `-` strips only before.
        size_t body = tag + 2;
        if (body < src_.size() && (src_[body] == '-' || src_[body] == '+')) ++body;
        size_t end = src_.find("#}", body);
        if (end == std::string_view::npos) fail("Missing end of comment tag", line, col);
        size_t after = end + 2;
        if (end > body && src_[end - 1] == '-') after = skip_spaces(src_, after);
        advance_to(after);
    }

    void lex_tag(size_t tag, TokenType begin) {
        bool block = begin == TokenType::BlockBegin;
        emit(begin, block ? "{%" : "{{", line_, column());
        // `-` strips the text before; `+` (which only disables lstrip_blocks, an option Ferry
        // does not have) is accepted and ignored, on print tags too as in Jinja2.
        size_t p = tag + 2;
        if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
        advance_to(p);
        std::vector<char> balance;
        const char* end_marker = block ? "%}" : "}}";
        while (true) {
            if (pos_ >= src_.size()) return;  // the parser reports the missing end
            char c = src_[pos_];
            if (size_t n = space_at(src_, pos_)) {
                advance_to(pos_ + n);
                continue;
            }
            if (balance.empty()) {
                if (c == '-' && src_.compare(pos_ + 1, 2, end_marker) == 0) {
                    emit(block ? TokenType::BlockEnd : TokenType::VariableEnd, end_marker, line_,
                         column());
                    advance_to(skip_spaces(src_, pos_ + 3));
                    return;
                }
                // `+%}` (it disables trim_blocks, which Ferry does not have); `+}}` is not a
                // marker in Jinja2 but an operator followed by the end.
                if (block && c == '+' && src_.compare(pos_ + 1, 2, end_marker) == 0) {
                    emit(TokenType::BlockEnd, end_marker, line_, column());
                    advance_to(pos_ + 3);
                    return;
                }
                if (src_.compare(pos_, 2, end_marker) == 0) {
                    emit(block ? TokenType::BlockEnd : TokenType::VariableEnd, end_marker, line_,
                         column());
                    advance_to(pos_ + 2);
                    return;
                }
            }
            if (is_digit(c)) {
                lex_number();
            } else if (is_name_start(static_cast<unsigned char>(c))) {
                size_t s = pos_;
                size_t e = s;
                // Non-ASCII bytes are name characters, but not the whitespace ones.
                while (e < src_.size() && is_name_char(static_cast<unsigned char>(src_[e])) &&
                       !space_at(src_, e))
                    ++e;
                emit(TokenType::Name, std::string(src_.substr(s, e - s)), line_, column());
                advance_to(e);
            } else if (c == '\'' || c == '"') {
                lex_string();
            } else {
                lex_operator(balance);
            }
        }
    }

    // Jinja2 tries float_re before integer_re; both are re-implemented by the match_*
    // functions below, which return the end of the match or 0.
    void lex_number() {
        int line = line_, col = column();
        size_t start = pos_;
        if (size_t end = match_float(start)) {
            std::string text(src_.substr(start, end - start));
            Token t{TokenType::Float, text, line, col};
            t.float_value = parse_float(without_underscores(text)).value_or(0.0);
            tokens_.push_back(std::move(t));
            advance_to(end);
            return;
        }
        int base = 10;
        size_t end = match_integer(start, base);
        std::string text(src_.substr(start, end - start));
        std::string digits = without_underscores(text);
        if (base != 10) digits.erase(0, 2);  // the 0x/0o/0b prefix
        auto value = parse_int(digits, base);
        if (!value) fail("integer literal too large for 64 bits: " + text, line, col);
        Token t{TokenType::Integer, text, line, col};
        t.int_value = *value;
        tokens_.push_back(std::move(t));
        advance_to(end);
    }

    static std::string without_underscores(std::string_view text) {
        std::string out;
        for (char c : text)
            if (c != '_') out += c;
        return out;
    }

    // `(\d+_)*\d+`: digits with single underscores between them.
    size_t match_digits(size_t p) const {
        if (p >= src_.size() || !is_digit(src_[p])) return 0;
        while (p < src_.size() && (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() &&
                                                         is_digit(src_[p + 1]))))
            ++p;
        return p;
    }

    // `(_?D)+` for the digit class D: the digits of an integer after its first character.
    template <typename IsDigit>
    size_t match_underscored(size_t p, IsDigit is_d) const {
        while (true) {
            size_t q = p < src_.size() && src_[p] == '_' ? p + 1 : p;
            if (q >= src_.size() || !is_d(src_[q])) return p;
            p = q + 1;
        }
    }

    // float_re: digits, then a fraction, an exponent or both. Its (?<!\.) look-behind means a
    // number right after a dot is never a float, so `rows.0.1` is rows[0][1].
    size_t match_float(size_t p) const {
        if (p > 0 && src_[p - 1] == '.') return 0;
        size_t end = match_digits(p);
        if (!end) return 0;
        bool has_fraction = false;
        if (end < src_.size() && src_[end] == '.') {
            if (size_t f = match_digits(end + 1)) {
                end = f;
                has_fraction = true;
            }
        }
        if (end < src_.size() && (src_[end] | 0x20) == 'e') {
            size_t q = end + 1;
            if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
            if (size_t e = match_digits(q)) return e;
        }
        return has_fraction ? end : 0;
    }

    // integer_re: 0b/0o/0x with `_` allowed after the prefix, a decimal not starting with 0
    // (Python's rule: `01` is two integers), or a run of zeros. Always matches one digit.
    size_t match_integer(size_t p, int& base) const {
        if (src_[p] == '0' && p + 1 < src_.size()) {
            char prefix = char(src_[p + 1] | 0x20);
            base = prefix == 'x' ? 16 : prefix == 'o' ? 8 : prefix == 'b' ? 2 : 10;
            if (base != 10) {
                size_t end = match_underscored(p + 2, [b = base](char c) {
                    if (b == 16) return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                    return c >= '0' && c < char('0' + b);
                });
                if (end > p + 2) return end;
                base = 10;
            }
        }
        if (src_[p] == '0') return match_underscored(p + 1, [](char c) { return c == '0'; });
        return match_underscored(p + 1, [](char c) { return is_digit(c); });
    }

    void lex_string() {
        int line = line_, col = column();
        char quote = src_[pos_];
        size_t p = pos_ + 1;
        std::string raw;
        while (true) {
            if (p >= src_.size()) {
                fail("unexpected char " + std::string(quote == '"' ? "'\"'" : "\"'\"") + " at " +
                         std::to_string(pos_),
                     line, col);
            }
            char c = src_[p];
            if (c == '\\' && p + 1 < src_.size()) {
                raw += c;
                raw += src_[p + 1];
                p += 2;
                continue;
            }
            if (c == quote) break;
            raw += c;
            ++p;
        }
        emit(TokenType::String, unescape(raw, line, col), line, col);
        advance_to(p + 1);
    }

    // `{NAME}` with a non-empty NAME at s[pos]?
    static bool braced_name_at(std::string_view s, size_t pos) {
        if (pos >= s.size() || s[pos] != '{') return false;
        size_t close = s.find('}', pos + 1);
        return close != s.npos && close > pos + 1;
    }

    // Python's "unicode-escape" decoding, which Jinja2 applies to string literals; its errors
    // are syntax errors at the string, with Python's message.
    std::string unescape(std::string_view s, int line, int col) {
        std::string out;
        out.reserve(s.size());
        for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] != '\\' || i + 1 >= s.size()) {
                out += s[i];
                continue;
            }
            char e = s[++i];
            auto hex = [&](size_t n, const char* truncated) {
                uint32_t v = 0;
                for (size_t k = 1; k <= n; ++k) {
                    if (i + k >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + k])))
                        fail(truncated, line, col);
                    char h = s[i + k];
                    v = v * 16 + uint32_t(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
                }
                if (v > 0x10FFFF) fail("illegal Unicode character", line, col);
                // Python keeps a lone surrogate in a str and fails when the output is
                // encoded; UTF-8 cannot hold one at all, so it fails here, at the string.
                if (v >= 0xD800 && v <= 0xDFFF)
                    fail("surrogates not allowed: UTF-8 cannot encode a \\u escape in "
                         "D800-DFFF",
                         line, col);
                utf8_append(char32_t(v), out);
                i += n;
            };
            switch (e) {
            case '\n': break;
            case '\\': out += '\\'; break;
            case '\'': out += '\''; break;
            case '"': out += '"'; break;
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'v': out += '\v'; break;
            case 'x': hex(2, "truncated \\xXX escape"); break;
            case 'u': hex(4, "truncated \\uXXXX escape"); break;
            case 'U': hex(8, "truncated \\UXXXXXXXX escape"); break;
            case 'N':
                // Names need Unicode's name table, which Ferry does not carry: a well-formed
                // \N{...} stays as written (a known difference), a malformed one fails.
                if (!braced_name_at(s, i + 1)) fail("malformed \\N character escape", line, col);
                out += "\\N";
                break;
            default:
                if (e >= '0' && e <= '7') {
                    uint32_t v = uint32_t(e - '0');
                    for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7';
                         ++k)
                        v = v * 8 + uint32_t(s[++i] - '0');
                    utf8_append(char32_t(v), out);
                } else {
                    out += '\\';
                    out += e;
                }
            }
        }
        return out;
    }

    void lex_operator(std::vector<char>& balance) {
        static constexpr std::string_view ops3[] = {"//", "**", "==", "!=", ">=", "<="};
        int line = line_, col = column();
        for (std::string_view op : ops3) {
            if (src_.compare(pos_, op.size(), op) == 0) {
                emit(TokenType::Operator, std::string(op), line, col);
                advance_to(pos_ + op.size());
                return;
            }
        }
        char c = src_[pos_];
        if (std::strchr("+-/*%~[](){}<>=.:|,;", c) == nullptr) {
            fail("unexpected char '" + std::string(1, c) + "' at " + std::to_string(pos_), line,
                 col);
        }
        if (c == '(' || c == '[' || c == '{') {
            balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
        } else if (c == ')' || c == ']' || c == '}') {
            if (balance.empty()) fail("unexpected '" + std::string(1, c) + "'", line, col);
            if (balance.back() != c) {
                fail("unexpected '" + std::string(1, c) + "', expected '" +
                         std::string(1, balance.back()) + "'",
                     line, col);
            }
            balance.pop_back();
        }
        emit(TokenType::Operator, std::string(1, c), line, col);
        advance_to(pos_ + 1);
    }

    std::string_view src_;
    const std::string& file_;
    size_t pos_ = 0;
    int line_ = 1;
    size_t line_start_ = 0;
    std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const std::string& file) {
    Lexer lexer(source, file);
    try {
        return lexer.run();
    } catch (const TemplateError& e) {
        std::vector<Token> tokens = lexer.take_tokens();
        tokens.push_back(Token{TokenType::LexError, e.message(), e.where().line, e.where().column});
        return tokens;
    }
}

}  // namespace ferry::tmpl
