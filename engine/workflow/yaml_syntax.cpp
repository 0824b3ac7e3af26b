// What yaml-cpp says of a syntax error, made to point at its cause (loader_internal.h).
#include "workflow/loader_internal.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace ferry::workflow::detail {

namespace {

struct FlowProblem {
    size_t offset;     // where the cause starts
    std::string hint;  // what it is
};

size_t indent_of_line(std::string_view text, size_t line_start) {
    size_t i = line_start;
    while (i < text.size() && text[i] == ' ')
        ++i;
    return i - line_start;
}

// Why a { } or [ ] is not closed, found by a scan that knows just enough YAML: quoted texts
// (which may run to the end of the file when one is not closed), comments, block scalars
// (| and >, whose lines are skipped) and where a token starts. The three mistakes behind
// yaml-cpp's "end of map flow not found": a quote not closed, a [ or { inside a flow value
// that is not quoted (`{source: tags[-1]}`), a bracket not closed. nullopt when none is
// found: the message stays as yaml-cpp wrote it.
// Whether the line starting at line_start (its text from content) goes on with the plain
// text of the line above (a long value wrapped): indented deeper than that line's content
// (past any "- "), which ends in text, not in `:` or `-`. Blank and comment lines between
// are skipped.
bool continues_plain_text(std::string_view text, size_t line_start, size_t content) {
    size_t end = line_start;  // one past the line break that ends the line above
    while (end > 0) {
        const size_t brk = end - 1;
        size_t start = brk == 0 ? std::string_view::npos : text.rfind('\n', brk - 1);
        start = start == std::string_view::npos ? 0 : start + 1;
        const std::string_view line = text.substr(start, brk - start);
        size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string_view::npos || line[first] == '#') {
            end = start;
            continue;
        }
        while (first + 1 < line.size() && line[first] == '-' && line[first + 1] == ' ') {
            first = line.find_first_not_of(' ', first + 1);
            if (first == std::string_view::npos) return false;
        }
        const size_t last = line.find_last_not_of(" \t\r");
        const char tail = line[last];
        return content - line_start > first && tail != ':' && tail != '-';
    }
    return false;
}

std::optional<FlowProblem> flow_problem(std::string_view text) {
    std::vector<size_t> open;  // offsets of the { and [ not closed yet
    // A comment starts after white space; a value (a quote, a bracket, | or >) where a node
    // may: at a line's start, after `key:` or `- ` (and a space), or right after {, [ or ,
    // in a flow. A quote inside plain text (`don 't`) is text, and so is a bracket there in
    // block style (`see [docs]`).
    auto after_space = [&](size_t i) {
        return i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\n' ||
               text[i - 1] == '\r';
    };
    auto blank_back = [&](size_t j) {
        while (j > 0 && (text[j - 1] == ' ' || text[j - 1] == '\t'))
            --j;
        return j;
    };
    auto value_start = [&](size_t i) {
        size_t j = blank_back(i);
        // A tag or an anchor before it (`!!str "x"`, `&a [1]`): the value starts where they do.
        size_t word = j;
        while (word > 0 &&
               std::string_view(" \t\r\n{[,").find(text[word - 1]) == std::string_view::npos)
            --word;
        if (word < j && (text[word] == '!' || text[word] == '&')) j = blank_back(word);
        if (j == 0) return true;
        const char p = text[j - 1];
        if (p == '\n' || p == '\r') return open.empty() ? !continues_plain_text(text, j, i) : true;
        if (p == '{' || p == '[' || p == ',') return !open.empty();  // text in block style
        return (p == ':' || p == '-' || p == '?') && (j < i || !open.empty());
    };
    size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        if ((c == '"' || c == '\'') && value_start(i)) {
            const size_t end = closing_quote(text, i);
            if (end == std::string_view::npos)
                return FlowProblem{i, kUnclosedQuote};
            i = end + 1;
            continue;
        }
        if (c == '#' && after_space(i)) {
            while (i < text.size() && text[i] != '\n')
                ++i;
            continue;
        }
        if ((c == '|' || c == '>') && open.empty() && value_start(i)) {
            // A block scalar: its lines are text, indented deeper than the line it starts on.
            size_t line_start = text.rfind('\n', i);
            line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
            const size_t indent = indent_of_line(text, line_start);
            size_t next = text.find('\n', i);
            while (next != std::string_view::npos) {
                const size_t line = next + 1;
                const size_t end = text.find('\n', line);
                const std::string_view body = text.substr(
                    line, end == std::string_view::npos ? std::string_view::npos : end - line);
                if (body.find_first_not_of(" \r") != std::string_view::npos &&
                    indent_of_line(text, line) <= indent)
                    break;
                next = end;
            }
            i = next == std::string_view::npos ? text.size() : next;
            continue;
        }
        if (c == '{' || c == '[') {
            if (!open.empty() && !value_start(i))
                return FlowProblem{i, std::string("inside { } or [ ], '") + c +
                                          "' starts a nested " + (c == '[' ? "list" : "mapping") +
                                          ": quote a text that holds it, as " +
                                          (c == '[' ? "\"tags[-1]\"" : "\"{{ item }}\"")};
            if (value_start(i) || !open.empty()) open.push_back(i);
        } else if ((c == '}' || c == ']') && !open.empty()) {
            open.pop_back();
        }
        ++i;
    }
    if (!open.empty())
        return FlowProblem{open.back(),
                           std::string("the '") + text[open.back()] + "' here is not closed"};
    return std::nullopt;
}

}  // namespace

YAML::Mark mark_at(std::string_view text, size_t offset) {
    YAML::Mark m;
    m.pos = int(offset);
    m.line = int(std::count(text.begin(), text.begin() + ptrdiff_t(offset), '\n'));
    size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
    line_start = (line_start == std::string_view::npos || offset == 0) ? 0 : line_start + 1;
    m.column = int(offset - line_start);
    return m;
}

size_t closing_quote(std::string_view text, size_t open) {
    const char quote = text[open];
    for (size_t i = open + 1; i < text.size(); ++i) {
        if (quote == '"' && text[i] == '\\') {
            ++i;  // the escaped character
        } else if (text[i] == quote) {
            if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
                ++i;  // '' is a quote inside single quotes
                continue;
            }
            return i;
        }
    }
    return std::string_view::npos;
}

std::string yaml_syntax_message(std::string_view text, YAML::Mark& mark, const std::string& message,
                                bool quote_alias) {
    // yaml-cpp reports an unclosed { } or [ ] at the end of the file, far from the cause.
    if (message == YAML::ErrorMsg::END_OF_MAP_FLOW || message == YAML::ErrorMsg::END_OF_SEQ_FLOW) {
        if (std::optional<FlowProblem> found = flow_problem(text)) {
            mark = mark_at(text, found->offset);
            return message + " (" + found->hint + ")";
        }
    }
    // yaml-cpp's words name neither the alias nor what "unknown token" is about.
    if (message == YAML::ErrorMsg::UNKNOWN_ANCHOR && !quote_alias)
        return message + " (a value that starts with * is an alias: quote a text that does)";
    if (message == YAML::ErrorMsg::UNKNOWN_ANCHOR && mark.pos >= 0 &&
        size_t(mark.pos) < text.size() && text[size_t(mark.pos)] == '*') {
        size_t end = text.find_first_of(" \t\r\n,]}", size_t(mark.pos));
        return message + ": " +
               std::string(text.substr(size_t(mark.pos), end == std::string_view::npos
                                                             ? std::string_view::npos
                                                             : end - size_t(mark.pos)));
    }
    if (message == YAML::ErrorMsg::UNKNOWN_TOKEN && mark.pos >= 0 &&
        size_t(mark.pos) < text.size()) {
        char at = text[size_t(mark.pos)];
        if (at == '`' || at == '@')
            return message + " (" + at + " starts no YAML value: quote the text)";
        if (at == '?' || at == ':' || at == '#' || at == ',')
            return message + " (inside { } or [ ], text holding ?, :, # or , needs quotes: "
                             "\"ready?\")";
    }
    // The error's line and the one before it: yaml-cpp often reports at the next token.
    int line = 0;
    size_t start = 0;
    for (size_t i = 0; i <= text.size(); ++i) {
        if (i < text.size() && text[i] != '\n') continue;
        std::string_view l = text.substr(start, i - start);
        size_t indent = l.find_first_not_of(' ');
        if ((line == mark.line || line + 1 == mark.line) && indent != std::string_view::npos &&
            l[indent] == '\t') {
            return message + " (line " + std::to_string(line + 1) +
                   " is indented with a tab; YAML indents with spaces only)";
        }
        if (line > mark.line) break;
        ++line;
        start = i + 1;
    }
    return message;
}

}  // namespace ferry::workflow::detail
