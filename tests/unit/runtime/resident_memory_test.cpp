// ResidentMemory: /proc/self/statm read without reopening it.
#include "runtime/resident_memory.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>

using ferry::ResidentMemory;

TEST_CASE("ResidentMemory: resident pages, their file-backed part, and what touching adds",
          "[runtime][resident]") {
    ResidentMemory memory;
    auto before = memory.pages();
    REQUIRE(before);
    CHECK(before->resident > 0);
    CHECK(before->file_backed > 0);  // the test binary itself
    CHECK(before->anonymous() == before->resident - before->file_backed);
    CHECK(ResidentMemory::page_bytes() >= 4096);
    // 16 MB made resident shows in the anonymous part (read again through the same file).
    constexpr size_t kBytes = size_t(16) << 20;
    auto block = std::make_unique<char[]>(kBytes);
    std::fill_n(block.get(), kBytes, char(1));
    auto after = memory.pages();
    REQUIRE(after);
    CHECK((after->anonymous() - before->anonymous()) * ResidentMemory::page_bytes() >= kBytes / 2);
}
