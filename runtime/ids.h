// Time-sortable identifiers (ULID: 48-bit millisecond time + 80 random bits, Crockford
// base32, 26 characters). Ids made in the same millisecond by one process increase
// monotonically, so LMDB keys sort by creation order.
#pragma once

#include <cstdint>
#include <string>

namespace ferry {

std::string new_ulid();
std::string new_ulid(uint64_t unix_ms);
// The creation time encoded in a ULID, or 0 when the text is not a ULID.
uint64_t ulid_time_ms(const std::string& ulid);
bool is_ulid(const std::string& text);
// Random UUID v4 text (ferry.crypto.uuid, webhook ids).
std::string new_uuid_v4();

}  // namespace ferry
