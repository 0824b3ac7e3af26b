// A file's stamp: stat() alone, mixed into one number that changes when the file is
// written, replaced or resized. Lets a cache keep what it parsed from a file without
// reading the file again to see whether it changed. Header-only (the template engine
// shares it without linking the runtime).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/stat.h>

namespace ferry {

// Never 0 (callers use 0 for sources that never change); nullopt: no regular file there.
inline std::optional<uint64_t> file_stamp(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    uint64_t h = uint64_t(st.st_mtim.tv_sec) * 1000000000u + uint64_t(st.st_mtim.tv_nsec);
    h ^= (uint64_t(st.st_size) + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2));
    h ^= (uint64_t(st.st_ino) + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2));
    return h | 1;
}

}  // namespace ferry
