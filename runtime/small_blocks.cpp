#include "runtime/small_blocks.h"

#include <algorithm>
#include <cstdint>
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

size_t SmallBlocks::release_free_slabs() {
    if (slabs_.empty()) return 0;
    // The slab holding each free block, by address: slabs sorted by where they start.
    std::vector<void*> sorted = slabs_;
    std::sort(sorted.begin(), sorted.end(), std::less<void*>());
    std::vector<size_t> free_bytes(sorted.size(), 0);
    std::vector<bool> release(sorted.size(), false);
    std::vector<void*> kept;
    kept.reserve(sorted.size());  // every allocation before the first change
    auto slab_of = [&](const void* block) -> size_t {
        auto it = std::upper_bound(sorted.begin(), sorted.end(), block, std::less<const void*>());
        return size_t(it - sorted.begin()) - 1;  // blocks lie in slabs: never before the first
    };
    for (size_t cls = 0; cls < free_.size(); ++cls)
        for (FreeBlock* b = free_[cls]; b; b = b->next)
            free_bytes[slab_of(b)] += (cls + 1) * kGrain;
    // The slab being carved stays, whatever its carved part holds.
    size_t released = 0;
    for (size_t i = 0; i < sorted.size(); ++i) {
        // bump_ at a full slab's end is where the next slab may start (an allocator that
        // places 64 KB blocks side by side): a slab with nothing left to carve is not carved.
        bool carving = bump_left_ > 0 && bump_ >= static_cast<char*>(sorted[i]) &&
                       bump_ < static_cast<char*>(sorted[i]) + kSlabSize;
        release[i] = !carving && free_bytes[i] == kSlabSize;
    }
    for (size_t cls = 0; cls < free_.size(); ++cls) {
        FreeBlock** link = &free_[cls];
        while (*link) {
            if (release[slab_of(*link)])
                *link = (*link)->next;
            else
                link = &(*link)->next;
        }
    }
    for (size_t i = 0; i < sorted.size(); ++i) {
        if (release[i]) {
            std::free(sorted[i]);
            released += kSlabSize;
        } else {
            kept.push_back(sorted[i]);
        }
    }
    slabs_.swap(kept);
    return released;
}

}  // namespace ferry
