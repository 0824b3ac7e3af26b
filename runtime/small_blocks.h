// SmallBlocks: the Lua VM's allocator for small blocks.
//
// Lua passes the size of every block it frees or resizes (lua_Alloc's osize), so a block
// needs no header: blocks of up to 256 bytes come from per-size free lists, 16-byte classes,
// carved from 64 KB slabs. Most of what a task allocates is that small (strings, tables,
// closures, upvalues); glibc's malloc spent 9 % of the engine benchmark's loop on them, and
// adds an 8-byte header to each. Freed blocks go back to their list for the next allocation
// of that class. Slabs whose every block is free go back to malloc only when asked
// (release_free_slabs: a long-lived server after a large job), and all of them with the
// pool (the VM).
#pragma once

#include <array>
#include <cstddef>
#include <vector>

namespace ferry {

class SmallBlocks {
  public:
    // Larger blocks: the caller uses malloc. 1,024 takes in coroutine stacks, CallInfo
    // lists and the node arrays of tables up to 32 fields (12 mallocs per execution before).
    static constexpr size_t kLargest = 1024;
    static constexpr size_t kGrain = 16;

    SmallBlocks() = default;
    ~SmallBlocks();
    SmallBlocks(const SmallBlocks&) = delete;
    SmallBlocks& operator=(const SmallBlocks&) = delete;

    // Same class, same block: a resize within a class needs no copy.
    static size_t class_of(size_t size) { return (size + kGrain - 1) / kGrain - 1; }

    // A block of at least size bytes (1 <= size <= kLargest), 16-byte aligned; null when the
    // system is out of memory.
    void* allocate(size_t size);
    // Gives back a block allocate(size) returned.
    void release(void* block, size_t size);

    size_t slab_bytes() const { return slabs_.size() * kSlabSize; }

    // Frees the slabs none of whose blocks is in use, taking their blocks off the free lists;
    // returns the bytes freed. Walks every free block (milliseconds for hundreds of
    // thousands): for an idle moment, not for a hot path.
    size_t release_free_slabs();

  private:
    static constexpr size_t kSlabSize = 64 * 1024;
    struct FreeBlock {
        FreeBlock* next;
    };
    std::array<FreeBlock*, kLargest / kGrain> free_{};
    std::vector<void*> slabs_;
    char* bump_ = nullptr;  // the unused tail of the newest slab
    size_t bump_left_ = 0;
};

}  // namespace ferry
