// Durations as users write them: "300ms", "2s", "1m", "1h", "1m30s", "1.5s", "2d"; and sizes:
// "1MiB", "512KiB", "4KB", "100B".
#pragma once

#include "runtime/error.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry {

// Milliseconds, or a Validation error that quotes the text ("expected a duration like 300ms,
// 2s, 1m30s or 1h, got '5 minutes'"). A bare number is rejected (units are required).
Result<uint64_t> parse_duration_ms(std::string_view text);
// Shortest exact form: 1500 -> "1.5s", 90000 -> "1m30s", 250 -> "250ms", 0 -> "0s".
std::string format_duration_ms(uint64_t ms);

// Bytes from a whole number and a unit (B, KB, MB, GB, TB: powers of 1000; KiB, MiB, GiB,
// TiB: of 1024), or a Validation error that quotes the text. A bare number is rejected here too
// (YAML integers are taken as bytes by the callers that accept them).
Result<uint64_t> parse_size_bytes(std::string_view text);
// How a size reads in a message: in the largest unit that holds it whole, 1024-based first
// as sizes are usually set (4194304 -> "4MiB", 2000000 -> "2MB", 1500 -> "1500 bytes"), and
// the bytes after a unit ("4MiB (4194304 bytes)"), which clients compare with.
std::string format_size_bytes(uint64_t bytes);

}  // namespace ferry
