// engine/server HeapTrimmer: freed heap below a live block goes back to the system.
#include "runtime/resident_memory.h"
#include "server/heap_trim.h"
#include "template/value.h"

#include <catch2/catch.hpp>

#include <memory>
#include <vector>

using ferry::engine::server::HeapTrimmer;

// Under ASan HeapTrimmer does nothing (its allocator is not glibc's): no heap to set up.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
namespace {

// The process's anonymous resident memory, in bytes.
size_t rss_anon() {
    static ferry::ResidentMemory memory;
    auto pages = memory.pages();
    return pages ? pages->anonymous() * ferry::ResidentMemory::page_bytes() : 0;
}

// 51 MB in blocks below the mmap threshold (the heap, not mappings of their own), resident.
// Freeing every other one leaves free blocks that cannot merge into the heap top and be
// returned by free() itself: what glibc then keeps is what HeapTrimmer is for.
struct FragmentedHeap {
    static constexpr size_t kBlock = 64000;
    std::vector<std::unique_ptr<char[]>> blocks;
    FragmentedHeap() {
        for (int i = 0; i < 800; ++i) {
            blocks.emplace_back(new char[kBlock]);
            std::fill_n(blocks.back().get(), kBlock, char(i));  // resident, not just reserved
        }
    }
    // Frees every other block (once); the bytes freed.
    size_t free_every_other() {
        size_t freed = 0;
        for (size_t i = 0; i < blocks.size(); i += 2) {
            if (!blocks[i]) continue;
            blocks[i].reset();
            freed += kBlock;
        }
        return freed;
    }
};

}  // namespace
#endif

TEST_CASE("HeapTrimmer returns freed heap past its slack, and nothing below it", "[heap]") {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    HeapTrimmer sanitized(1);
    CHECK(sanitized.check() == 0);  // not glibc's allocator: nothing to ask, nothing done
#else
    HeapTrimmer trimmer(size_t(16) << 20);
    FragmentedHeap heap;
    trimmer.check();  // whatever the test process had free before
    size_t before = rss_anon();
    heap.free_every_other();
    size_t freed = trimmer.check();
    CHECK(freed >= size_t(24) << 20);
    CHECK(trimmer.trims() >= 1);
    size_t after = rss_anon();
    INFO("RssAnon " << before / 1024 << " KB -> " << after / 1024 << " KB");
    CHECK(before - after >= size_t(20) << 20);
    // Nothing to give back now: below the slack, no trim.
    uint64_t trims = trimmer.trims();
    CHECK(trimmer.check() == 0);
    CHECK(trimmer.trims() == trims);
#endif
}

TEST_CASE("HeapTrimmer empties the template values' free lists when it trims", "[heap]") {
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    using namespace ferry::tmpl;
    heap_release_pooled();
    // A large job's values, freed: their blocks wait in this thread's lists (65,536 at most
    // per size class), in use as far as malloc knows.
    std::vector<void*> blocks;
    for (int i = 0; i < 65536; ++i) {
        blocks.push_back(heap_allocate(256));
        std::fill_n(static_cast<char*>(blocks.back()), 256, char(i));
    }
    for (void* b : blocks)
        heap_release(b, 256);
    CHECK(heap_pooled_bytes() == size_t(65536) * 256);
    size_t before = rss_anon();
    HeapTrimmer trimmer(size_t(8) << 20);
    CHECK(trimmer.check() >= size_t(16) << 20);
    CHECK(heap_pooled_bytes() == 0);
    size_t after = rss_anon();
    INFO("RssAnon " << before / 1024 << " KB -> " << after / 1024 << " KB");
    CHECK(before - after >= size_t(12) << 20);
    // Below the slack the lists are left alone: they are what makes the next burst cheap.
    void* kept = heap_allocate(32);
    heap_release(kept, 32);
    CHECK(trimmer.check() == 0);
    CHECK(heap_pooled_bytes() == 32);
#endif
}

TEST_CASE("HeapTrimmer trims what another pool gives back, below its slack too", "[heap]") {
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    // The pool: heap blocks it frees every other one of when asked (as the Lua VM gives its
    // empty slabs back), leaving fragments no free() returns by itself.
    FragmentedHeap heap;
    bool asked = false;
    HeapTrimmer trimmer(size_t(1) << 30, [&] {  // a slack nothing here reaches
        asked = true;
        return heap.free_every_other();
    });
    size_t before = rss_anon();
    trimmer.check();
    CHECK(asked);
    CHECK(trimmer.trims() == 1);
    size_t after = rss_anon();
    INFO("RssAnon " << before / 1024 << " KB -> " << after / 1024 << " KB");
    CHECK(before - after >= size_t(20) << 20);
    // The pool gives nothing more: no trim.
    CHECK(trimmer.check() == 0);
    CHECK(trimmer.trims() == 1);
#endif
}
