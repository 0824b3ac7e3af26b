#include "runtime/json_repeats.h"

#include <rapidjson/error/en.h>

namespace ferry {

TextPosition position_at(std::string_view text, size_t offset) {
    TextPosition at;
    // Columns count from after a byte order mark, as in workflow and Lua files.
    size_t start = text.starts_with("\xEF\xBB\xBF") && offset >= 3 ? 3 : 0;
    for (size_t i = start; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++at.line;
            at.column = 1;
        } else {
            ++at.column;
        }
    }
    return at;
}

std::string syntax_problem_at_byte(const rapidjson::ParseResult& syntax) {
    return "invalid JSON at byte " + std::to_string(syntax.Offset()) + ": " +
           rapidjson::GetParseError_En(syntax.Code());
}

std::string repeat_places_in_bytes(const RepeatedKey& repeated) {
    return "(at bytes " + std::to_string(repeated.first_offset) + " and " +
           std::to_string(repeated.repeat_offset) + ")";
}

namespace json_repeats_detail {

size_t opening_quote_before(std::string_view text, size_t end) {
    // end - 1 is the closing quote; a key holds no unescaped quote, so the first one
    // before it that an even number of backslashes precedes opens the string.
    for (size_t i = end >= 2 ? end - 2 : 0; i > 0; --i) {
        if (text[i] != '"') continue;
        size_t backslashes = 0;
        while (backslashes < i && text[i - 1 - backslashes] == '\\')
            ++backslashes;
        if (backslashes % 2 == 0) return i;
    }
    return 0;
}

}  // namespace json_repeats_detail

}  // namespace ferry
