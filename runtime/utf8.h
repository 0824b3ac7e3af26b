// UTF-8 well-formedness. JSON text must be UTF-8, and RapidJSON's writer copies bytes
// through unchecked, so whatever may reach an answer, a record or a log line is checked
// where it enters.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry {

// Offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF), or npos.
size_t invalid_utf8_at(std::string_view s);

// Offset of a \uDC00-\uDFFF escape in JSON text that does not follow a \uD800-\uDBFF one,
// or npos. RapidJSON rejects a lone high surrogate but decodes a lone low one to bytes
// that are not UTF-8 (ED B0 80), which then fail every record and answer that repeats
// them: readers check for it and refuse (or repair) the text.
size_t lone_low_surrogate_escape_at(std::string_view json, size_t from = 0);

// s with every byte that is not part of a well-formed sequence replaced by U+FFFD, as a
// browser shows it: for text from outside (a vendor's answer, a message quoting one) that
// must become JSON and is worth more shown a little damaged than dropped.
std::string to_valid_utf8(std::string_view s);

// The largest cut at or before `at` that does not fall inside a multi-byte sequence: a
// prefix of valid UTF-8 cut there stays valid (a record's capped body, a long message).
inline size_t utf8_cut(std::string_view s, size_t at) {
    if (at >= s.size()) return s.size();
    while (at > 0 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80)
        --at;
    return at;
}

}  // namespace ferry
