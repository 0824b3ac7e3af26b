// How much of the process is resident, from /proc/self/statm: all of it, and the part backed
// by files (the binary, its libraries, mapped files such as the history). The file is opened
// once and read with pread (~1 µs), so callers may ask after every commit.
#pragma once

#include <cstddef>
#include <optional>

namespace ferry {

class ResidentMemory {
  public:
    struct Pages {
        size_t resident = 0;
        size_t file_backed = 0;  // statm's "shared": resident pages backed by files
        size_t anonymous() const { return resident > file_backed ? resident - file_backed : 0; }
    };

    ResidentMemory() = default;
    ~ResidentMemory();
    ResidentMemory(const ResidentMemory&) = delete;
    ResidentMemory& operator=(const ResidentMemory&) = delete;

    // nullopt when /proc/self/statm cannot be read.
    std::optional<Pages> pages() const;
    static size_t page_bytes();

  private:
    mutable int fd_ = -1;  // opened at the first read
};

}  // namespace ferry
