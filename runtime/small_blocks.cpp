#include "runtime/small_blocks.h"

#include <cstdlib>

namespace ferry {

SmallBlocks::~SmallBlocks() {
    for (void* slab : slabs_)
        std::free(slab);
}

void* SmallBlocks::allocate(size_t size) {
    const size_t cls = class_of(size);
    if (FreeBlock* block = free_[cls]) {
        free_[cls] = block->next;
        // Freed blocks go cold before they are reused, and reading a block's link was most
        // of this function's time (a cache miss per allocation): fetch the next one now, so
        // that the next allocation of this size finds it in the cache.
        __builtin_prefetch(block->next, 1);
        return block;
    }
    const size_t bytes = (cls + 1) * kGrain;
    if (bump_left_ < bytes) {
        // The old slab's tail is smaller than this class but a whole block of its own size
        // (every size here is a multiple of kGrain).
        if (bump_left_ > 0) release(bump_, bump_left_);
        void* slab = std::aligned_alloc(kGrain, kSlabSize);
        if (!slab) return nullptr;
        try {
            slabs_.push_back(slab);
        } catch (...) {  // Lua's C frames are above: out of memory is a null, not a throw
            std::free(slab);
            return nullptr;
        }
        bump_ = static_cast<char*>(slab);
        bump_left_ = kSlabSize;
    }
    void* block = bump_;
    bump_ += bytes;
    bump_left_ -= bytes;
    return block;
}

void SmallBlocks::release(void* block, size_t size) {
    const size_t cls = class_of(size);
    auto* free_block = static_cast<FreeBlock*>(block);
    free_block->next = free_[cls];
    free_[cls] = free_block;
}

}  // namespace ferry
