// The map: how full it is, adopting one another process grew, and dropping the history
// pages the process keeps mapped.
#include "store/store_impl.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace ferry::store {

Store::Usage Store::usage() const {
    clear_dead_readers();  // else the pages their snapshots pin count as free, and are not
    Usage usage;
    usage.file_bytes = high_water_bytes();
    try {
        usage.free_bytes = impl_->freelist_bytes();
    } catch (const lmdb::Failure&) {
        // Unknown: counted as used, which only ever overstates how full the store is.
    }
    usage.map_bytes = map_bytes();  // after the walk, which may have adopted a grown map
    return usage;
}

// The bytes of the pages on LMDB's freelist, counted as mdb_stat -f counts them: database 0
// holds, per transaction that freed pages, a list of page numbers whose first word is their
// count. Pages freed while an older reader still looks at them are counted too: they are
// reusable once it ends.
uint64_t Store::Impl::freelist_bytes() const {
    MDB_stat stat{};
    lmdb::check(mdb_env_stat(env.get(), &stat), "mdb_env_stat");
    lmdb::Txn txn = begin_read();
    lmdb::Cursor cursor = lmdb::Cursor::open(txn, 0, "the freelist");
    uint64_t pages = 0;
    std::string_view key, value;
    while (cursor.get(MDB_NEXT, key, value)) {
        size_t count = 0;
        if (value.size() >= sizeof count) std::memcpy(&count, value.data(), sizeof count);
        pages += count;
    }
    return pages * stat.ms_psize;
}

lmdb::Txn Store::Impl::begin_read() const {
    try {
        return lmdb::Txn::read(env.get());
    } catch (const lmdb::Failure& f) {
        if (f.code() != MDB_MAP_RESIZED || !adopt_grown_map()) throw;
    }
    return lmdb::Txn::read(env.get());
}

bool Store::Impl::adopt_grown_map() const {
    if (std::this_thread::get_id() != staging_thread) return false;
    if (submitted) wait_written();  // the writer's transaction, if any, has ended
    // Size 0: the size the other process recorded in the meta page. LMDB unmaps and maps
    // the file again, so no view into the old map may outlive this (reads copy theirs out).
    if (mdb_env_set_mapsize(env.get(), 0) != MDB_SUCCESS) return false;
    MDB_envinfo info{};
    if (mdb_env_info(env.get(), &info) != MDB_SUCCESS) return false;
    map_size = info.me_mapsize;
    locate_map();  // the map moved
    return true;
}

bool Store::make_room_for_deletes() {
    Impl& s = *impl_;
    if (std::this_thread::get_id() != s.staging_thread) return false;
    const uint64_t room = std::max<uint64_t>(uint64_t(1) << 20, s.opened_map_size / 32);
    // What is in use never passes the high-water mark: far from the map, no need to walk
    // the freelist (every prune step asks).
    if (high_water_bytes() + room <= map_bytes()) return false;
    Usage u = usage();
    if (u.used_bytes() + room <= u.map_bytes) return false;
    const uint64_t limit = s.opened_map_size + s.opened_map_size / 8;
    const uint64_t grown = std::min(u.map_bytes + room, std::max(limit, u.map_bytes));
    if (grown <= u.map_bytes) return true;  // grown as far as it may: small batches only
    if (s.submitted) s.wait_written();      // the writer's transaction, if any, has ended
    if (mdb_env_set_mapsize(s.env.get(), grown) != MDB_SUCCESS) return true;
    MDB_envinfo info{};
    if (mdb_env_info(s.env.get(), &info) == MDB_SUCCESS) s.map_size = info.me_mapsize;
    s.locate_map();  // the map moved
    return true;
}

size_t Store::clear_dead_readers() const {
    int dead = 0;
    // A failure here (the lock file's table unreadable) leaves the slots as they were, which
    // is what not calling it does: the next call tries again.
    if (mdb_reader_check(impl_->env.get(), &dead) != MDB_SUCCESS) return 0;
    return size_t(dead);
}

uint64_t Store::high_water_bytes() const {
    return pages_reach(impl_->env.get());
}

uint64_t Store::map_bytes() const {
    return impl_->map_size;
}

void Store::Impl::locate_map() const {
    // LMDB does not tell where it mapped the file (mdb_env_info's me_mapaddr is set only
    // with MDB_FIXEDMAP): find the mapping of this data file in /proc/self/maps.
    map_base = nullptr;
    mdb_filehandle_t fd = -1;
    struct stat st {};
    if (mdb_env_get_fd(env.get(), &fd) != MDB_SUCCESS || fstat(fd, &st) != 0) return;
    std::FILE* maps = std::fopen("/proc/self/maps", "r");
    if (!maps) return;
    char line[4096];
    while (std::fgets(line, sizeof line, maps)) {
        unsigned long from = 0, to = 0, offset = 0, inode = 0;
        char perms[8] = {};
        unsigned dev_major = 0, dev_minor = 0;
        if (std::sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &from, &to, perms, &offset, &dev_major,
                        &dev_minor, &inode) != 7)
            continue;
        if (inode == st.st_ino && offset == 0 && dev_major == major(st.st_dev) &&
            dev_minor == minor(st.st_dev) && to - from == map_size) {
            map_base = reinterpret_cast<void*>(from);
            break;
        }
    }
    std::fclose(maps);
    mapped_after_release = file_pages_mapped();
}

size_t Store::Impl::file_pages_mapped() const {
    // Resident pages backed by files: the binary, its libraries and the history file.
    std::optional<ResidentMemory::Pages> pages = resident.pages();
    return pages ? pages->file_backed : 0;
}

void Store::Impl::release_mapped_pages() {
    // Reading the tree through LMDB's map maps each page read into the process, and the
    // kernel maps the neighbours it holds in the page cache with it (fault-around, large
    // folios): a process that has written N MB of history soon shows most of the file in its
    // RSS (RssFile), though none of it is ferry's memory. Past a budget the mappings are
    // dropped: the page cache stays as it is (the map is read-only and shared, so nothing is
    // lost or written) and the pages the next transactions read come back with a minor
    // fault each. Checked after every commit; dropped rarely (each drop costs refaults).
    if (!map_base || !options.mapped_budget) return;
    size_t mapped = file_pages_mapped();
    if (mapped < mapped_after_release + options.mapped_budget / ResidentMemory::page_bytes())
        return;
    size_t used = size_t(pages_reach(env.get()));
    if (used == 0) return;
    madvise(map_base, std::min(used, size_t(map_size)), MADV_DONTNEED);
    mapped_after_release = file_pages_mapped();
}

}  // namespace ferry::store
