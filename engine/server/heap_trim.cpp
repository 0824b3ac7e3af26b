#include "server/heap_trim.h"

#include "template/value.h"

#include <malloc.h>

namespace ferry::engine::server {

void HeapTrimmer::start(Loop& loop, uint64_t period_ms) {
    timer_ = loop.timer(
        period_ms, [this] { check(); }, period_ms);
    timer_->set_background();
}

size_t HeapTrimmer::check() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 0;  // a sanitizer's allocator: mallinfo2 knows nothing of it
#else
    // What another pool gives back is freed heap now: returned whatever the slack.
    size_t released = release_pools_ ? release_pools_() : 0;
    // Free heap that is still resident: once trimmed, free blocks stay free in malloc's books
    // (their pages given back), so the free total alone would call for a trim every period.
    // mallinfo2 walks the free lists: ~100 µs for tens of thousands of free blocks. The
    // template values' own free lists (this is the loop thread, whose lists they are) count
    // as in use for malloc, and a large job fills them too.
    struct mallinfo2 info = mallinfo2();
    size_t pooled = tmpl::heap_pooled_bytes();
    size_t in_use = info.uordblks + info.hblkhd;
    in_use = in_use > pooled ? in_use - pooled : 0;
    std::optional<ResidentMemory::Pages> pages = resident_.pages();
    size_t anon = pages ? pages->anonymous() * ResidentMemory::page_bytes() : 0;
    size_t resident_free = anon > in_use ? anon - in_use : 0;
    if (resident_free < slack_ && released == 0) return 0;
    tmpl::heap_release_pooled();
    malloc_trim(0);
    ++trims_;
    return resident_free;
#endif
}

}  // namespace ferry::engine::server
