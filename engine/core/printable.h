// Text as a terminal may show it, for what Ferry prints for people (progress, notices,
// `executions show`): the values in it come from callers and vendors.
#pragma once

#include <string>
#include <string_view>

namespace ferry::engine {

// Control characters (C0 but newline and tab, DEL, C1) as \xNN, so a message quoting a
// vendor's answer cannot clear the screen, recolour it or retitle the window; and the
// characters that reorder or break what surrounds them without showing themselves (bidi
// embeddings, overrides, isolates and marks, line and paragraph separators) as \uNNNN, so a value
// cannot make a line read otherwise than it is.
// one_line: newlines too, as \n, for a line that must stay one (a progress line: a peer's
// error body could otherwise print a forged "ferry: ID execution succeeded" line).
std::string printable(std::string_view text, bool one_line = false);

}  // namespace ferry::engine
