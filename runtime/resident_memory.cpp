#include "runtime/resident_memory.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace ferry {

ResidentMemory::~ResidentMemory() {
    if (fd_ >= 0) ::close(fd_);
}

std::optional<ResidentMemory::Pages> ResidentMemory::pages() const {
    if (fd_ < 0) fd_ = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return std::nullopt;
    char buf[128];
    ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    if (n <= 0) return std::nullopt;
    buf[n] = '\0';
    unsigned long size = 0, resident = 0, shared = 0;
    if (std::sscanf(buf, "%lu %lu %lu", &size, &resident, &shared) != 3) return std::nullopt;
    return Pages{size_t(resident), size_t(shared)};
}

size_t ResidentMemory::page_bytes() {
    static const size_t bytes = size_t(sysconf(_SC_PAGESIZE));
    return bytes;
}

}  // namespace ferry
