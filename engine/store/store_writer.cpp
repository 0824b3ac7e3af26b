// The writer thread: commits submitted batches while the loop stages the next one.
#include "store/store_impl.h"

#include <algorithm>
#include <iterator>

namespace ferry::store {

void Store::start_writer(std::function<void()> notify) {
    Impl& s = *impl_;
    if (s.writer.joinable()) return;
    s.notify = std::move(notify);
    s.stopping = false;
    s.writer = std::thread([&s] { s.writer_main(); });
}

void Store::Impl::writer_main() {
    std::unique_lock<std::mutex> lock(writer_mutex);
    for (;;) {
        writer_cv.wait(lock, [this] { return stopping || (submitted && !written); });
        if (submitted && !written) {
            lock.unlock();
            // Only this thread touches in_flight until written is set.
            Status status = write(in_flight.ops, &in_flight.map_resized);
            lock.lock();
            in_flight.status = std::move(status);
            written = true;
            writer_cv.notify_all();
            lock.unlock();
            notify();
            lock.lock();
            continue;
        }
        if (stopping) return;
    }
}

Store::Impl::Batch Store::Impl::take(size_t max_writes) {
    // A batch ends where an effect waits for it (a callback's mark): the writes of one
    // transition (a step's result, its attempt, the next step's running record) stay in one
    // transaction, and every callback in the batch finds its writes durable. Bounded, so one
    // burst (10,000 starts in one iteration) does not make one huge transaction: LMDB keeps
    // the dirty-page buffers of its largest transaction for good.
    size_t ops = staged.size(), cbs = callbacks.size();
    if (ops > max_writes) {
        auto cut = std::upper_bound(callback_marks.begin(), callback_marks.end(), max_writes);
        if (cut != callback_marks.begin() && *(cut - 1) > 0) {
            cbs = size_t(cut - callback_marks.begin());
            ops = callback_marks[cbs - 1];
        }
    }
    Batch batch;
    if (ops == staged.size() && cbs == callbacks.size()) {
        // All of it: the vectors change hands with the spare ones.
        batch.ops = std::exchange(staged, std::move(spare.ops));
        batch.callbacks = std::exchange(callbacks, std::move(spare.callbacks));
        spare = {};
        callback_marks.clear();
        return batch;
    }
    batch.ops.assign(std::make_move_iterator(staged.begin()),
                     std::make_move_iterator(staged.begin() + ptrdiff_t(ops)));
    staged.erase(staged.begin(), staged.begin() + ptrdiff_t(ops));
    batch.callbacks.assign(std::make_move_iterator(callbacks.begin()),
                           std::make_move_iterator(callbacks.begin() + ptrdiff_t(cbs)));
    callbacks.erase(callbacks.begin(), callbacks.begin() + ptrdiff_t(cbs));
    callback_marks.erase(callback_marks.begin(), callback_marks.begin() + ptrdiff_t(cbs));
    for (size_t& mark : callback_marks)
        mark -= ops;
    return batch;
}

bool Store::submit(size_t max_writes) {
    Impl& s = *impl_;
    if (s.submitted || !s.writer.joinable()) return false;
    if (s.staged.empty()) {  // nothing to write: what waited for earlier commits may run
        std::vector<std::function<void()>> callbacks = std::exchange(s.callbacks, {});
        s.callback_marks.clear();
        for (auto& cb : callbacks)
            cb();
        return true;
    }
    Impl::Batch batch = s.take(max_writes);
    std::lock_guard<std::mutex> lock(s.writer_mutex);
    s.in_flight = std::move(batch);
    s.written = false;
    s.submitted = true;
    s.writer_cv.notify_all();
    return true;
}

void Store::Impl::wait_written() const {
    std::unique_lock<std::mutex> lock(writer_mutex);
    writer_cv.wait(lock, [this] { return written; });
}

bool Store::writer_busy() const {
    return impl_->submitted;
}

void Store::Impl::recycle(Batch&& batch) {
    // Bounded (a steady load commits some hundreds of writes at a time), so a burst (10,000
    // starts in one iteration) does not keep its capacity.
    constexpr size_t kMaxSpareOps = 2048, kMaxSpareCallbacks = 1024;
    batch.ops.clear();
    batch.callbacks.clear();
    if (batch.ops.capacity() <= kMaxSpareOps && batch.ops.capacity() > spare.ops.capacity())
        spare.ops = std::move(batch.ops);
    if (batch.callbacks.capacity() <= kMaxSpareCallbacks &&
        batch.callbacks.capacity() > spare.callbacks.capacity())
        spare.callbacks = std::move(batch.callbacks);
}

Status Store::collect() {
    Impl& s = *impl_;
    if (!s.submitted) return ok_status();
    Impl::Batch batch;
    {
        // The writer reads these flags under the lock: they change under it too.
        std::lock_guard<std::mutex> lock(s.writer_mutex);
        if (!s.written) return ok_status();
        batch = std::exchange(s.in_flight, {});
        s.submitted = false;
        s.written = false;
    }
    // The writer cannot adopt a map another process grew (the loop may be reading): here,
    // on the staging thread with the writer idle, it can, and the batch is written again.
    if (!batch.status && batch.map_resized) batch.status = s.write_on_staging_thread(batch.ops);
    if (!batch.status) return batch.status;  // dropped with its callbacks, as commit() does
    ++s.commits;                             // submit() hands the writer only batches with writes
    for (auto& cb : batch.callbacks)
        cb();
    s.recycle(std::move(batch));
    return ok_status();
}

void Store::stop_writer() {
    Impl& s = *impl_;
    if (!s.writer.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(s.writer_mutex);
        s.stopping = true;
        s.writer_cv.notify_all();
    }
    s.writer.join();  // after the batch in flight, if any, is written
    s.in_flight = {};
    s.spare = {};
    s.submitted = false;
    s.written = false;
}

}  // namespace ferry::store
