// UTF-8 well-formedness. JSON text must be UTF-8, and RapidJSON's writer copies bytes
// through unchecked, so whatever may reach an answer, a record or a log line is checked
// where it enters.
#pragma once

#include <cstddef>
#include <string_view>

namespace ferry {

// Offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF), or npos.
size_t invalid_utf8_at(std::string_view s);

}  // namespace ferry
