// Per-thread free lists for heap objects (see HeapObject in value.h).
//
// Blocks are grouped in 16-byte size classes up to kMaxPooled bytes; larger objects go
// straight to operator new. A list keeps at most kMaxFree blocks so a burst of objects does
// not pin memory forever. The lists are plain data, valid for the whole life of the thread;
// a separate thread_local drains them when the thread ends, after which blocks are freed
// directly (objects can be released by static destructors that run after it).
//
// Under AddressSanitizer the pool is bypassed so use-after-free of an object is still caught.
#include "template/value.h"

#include <new>

namespace ferry::tmpl {

#if defined(__SANITIZE_ADDRESS__)

void* heap_allocate(size_t size) {
    return ::operator new(size);
}
void heap_release(void* block, size_t) noexcept {
    ::operator delete(block);
}
size_t heap_pooled_bytes() noexcept {
    return 0;
}
void heap_release_pooled() noexcept {}

#else

namespace {

constexpr size_t kGranule = 16;
constexpr size_t kMaxPooled = 256;
constexpr size_t kClasses = kMaxPooled / kGranule;
// 1,000 executions in flight free tens of thousands of step values in one commit's
// callbacks: with 4,096 the lists overflowed on every burst and the next burst's values came
// from malloc again (115k mallocs per 4,500 executions; 33k now, the first burst's).
constexpr uint32_t kMaxFree = 65536;

struct FreeBlock {
    FreeBlock* next;
};

struct FreeLists {
    FreeBlock* head[kClasses];
    uint32_t count[kClasses];
    bool reaper_registered;
    bool dead;  // the thread is ending: free blocks directly
};

constinit thread_local FreeLists t_lists{};

void free_pooled_blocks() noexcept {
    for (size_t c = 0; c < kClasses; ++c) {
        while (FreeBlock* b = t_lists.head[c]) {
            t_lists.head[c] = b->next;
            ::operator delete(b);
        }
        t_lists.count[c] = 0;
    }
}

struct Reaper {
    ~Reaper() {
        free_pooled_blocks();
        t_lists.dead = true;
    }
};

// Size class of a block of `size` bytes (1..kClasses), 0 when it is not pooled.
size_t size_class(size_t size) {
    return size <= kMaxPooled ? (size + kGranule - 1) / kGranule : 0;
}

}  // namespace

void* heap_allocate(size_t size) {
    size_t c = size_class(size);
    if (c != 0) {
        if (FreeBlock* b = t_lists.head[c - 1]) {
            t_lists.head[c - 1] = b->next;
            --t_lists.count[c - 1];
            __builtin_prefetch(b->next, 1);  // the next one's link is read by the next call
            return b;
        }
        // Allocate the whole class size so any block of the class can serve any request.
        return ::operator new(c* kGranule);
    }
    return ::operator new(size);
}

size_t heap_pooled_bytes() noexcept {
    size_t bytes = 0;
    for (size_t c = 0; c < kClasses; ++c)
        bytes += size_t(t_lists.count[c]) * (c + 1) * kGranule;
    return bytes;
}

void heap_release_pooled() noexcept {
    free_pooled_blocks();
}

void heap_release(void* block, size_t size) noexcept {
    size_t c = size_class(size);
    if (c == 0 || t_lists.dead || t_lists.count[c - 1] >= kMaxFree) {
        ::operator delete(block);
        return;
    }
    if (!t_lists.reaper_registered) {
        t_lists.reaper_registered = true;
        static thread_local Reaper reaper;
        (void)reaper;
    }
    auto* b = static_cast<FreeBlock*>(block);
    b->next = t_lists.head[c - 1];
    t_lists.head[c - 1] = b;
    ++t_lists.count[c - 1];
}

#endif

}  // namespace ferry::tmpl
