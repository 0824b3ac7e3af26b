// SmallBlocks: the Lua VM's header-less small-block allocator.
#include "runtime/lua_vm.h"
#include "runtime/small_blocks.h"

#include <lua.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

using ferry::SmallBlocks;

TEST_CASE("small blocks: classes of 16 bytes, aligned, disjoint", "[runtime][small_blocks]") {
    CHECK(SmallBlocks::class_of(1) == 0);
    CHECK(SmallBlocks::class_of(16) == 0);
    CHECK(SmallBlocks::class_of(17) == 1);
    CHECK(SmallBlocks::class_of(256) == 15);

    SmallBlocks pool;
    std::vector<std::pair<char*, size_t>> blocks;
    for (size_t size = 1; size <= SmallBlocks::kLargest; ++size) {
        auto* p = static_cast<char*>(pool.allocate(size));
        REQUIRE(p != nullptr);
        CHECK(reinterpret_cast<uintptr_t>(p) % SmallBlocks::kGrain == 0);
        std::memset(p, int(size & 0xff), size);
        blocks.emplace_back(p, size);
    }
    // Every block still holds what was written: none overlaps another.
    for (const auto& [p, size] : blocks)
        for (size_t i = 0; i < size; ++i)
            REQUIRE(static_cast<unsigned char>(p[i]) == (size & 0xff));
}

TEST_CASE("small blocks: a released block is reused by its class", "[runtime][small_blocks]") {
    SmallBlocks pool;
    void* a = pool.allocate(40);
    void* b = pool.allocate(48);  // same class as 40 (33..48)
    pool.release(a, 40);
    CHECK(pool.allocate(33) == a);  // the list, not the slab
    void* c = pool.allocate(64);    // another class: not a
    CHECK(c != a);
    CHECK(c != b);
    CHECK(pool.slab_bytes() == 64 * 1024);
}

TEST_CASE("small blocks: slabs are added as needed and their tails are not lost",
          "[runtime][small_blocks]") {
    SmallBlocks pool;
    std::set<void*> seen;
    // 64 KB / 240 = 273 blocks and a 16-byte tail; the tail serves a 16-byte request later.
    for (int i = 0; i < 274; ++i)
        REQUIRE(seen.insert(pool.allocate(240)).second);
    CHECK(pool.slab_bytes() == 2 * 64 * 1024);
    void* tail = pool.allocate(16);
    CHECK(seen.count(tail) == 0);
    CHECK(pool.slab_bytes() == 2 * 64 * 1024);
}

TEST_CASE("the Lua VM runs on the pool and counts what it holds", "[runtime][small_blocks]") {
    ferry::LuaVM vm;
    lua_State* L = vm.state();
    size_t before = vm.memory_used();
    // Strings and tables of every small size, grown past the pool into malloc and back.
    REQUIRE(luaL_dostring(L, R"(
        local t = {}
        for i = 1, 2000 do t[i] = string.rep("x", i % 300) .. i end
        local n = 0
        for i = 1, #t do n = n + #t[i] end
        t = nil
        return n
    )") == LUA_OK);
    CHECK(lua_tointeger(L, -1) > 0);
    lua_pop(L, 1);
    lua_gc(L, LUA_GCCOLLECT);
    CHECK(vm.memory_used() <= before + 4096);
}

TEST_CASE("small blocks: slabs whose blocks are all free go back, the rest stay usable",
          "[runtime][small_blocks]") {
    SmallBlocks pool;
    constexpr size_t kSize = 64;
    // Ten slabs' worth of blocks (64 KB slabs of 64-byte blocks), each marked.
    std::vector<char*> blocks;
    for (size_t i = 0; i < 10 * 1024; ++i) {
        blocks.push_back(static_cast<char*>(pool.allocate(kSize)));
        REQUIRE(blocks.back() != nullptr);
        std::memset(blocks.back(), int(i & 0xff), kSize);
    }
    REQUIRE(pool.slab_bytes() == 10 * 64 * 1024);
    CHECK(pool.release_free_slabs() == 0);  // nothing free yet

    // Free the first eight slabs' blocks but one block in the fourth; keep the last two.
    std::set<char*> kept_alive;
    for (size_t i = 0; i < blocks.size(); ++i) {
        if (i >= 8 * 1024 || i == 3 * 1024 + 7)
            kept_alive.insert(blocks[i]);
        else
            pool.release(blocks[i], kSize);
    }
    // Seven slabs had every block free; the fourth (one live block) and the one being carved
    // from stay.
    CHECK(pool.release_free_slabs() == 7 * 64 * 1024);
    CHECK(pool.slab_bytes() == 3 * 64 * 1024);
    CHECK(pool.release_free_slabs() == 0);  // idempotent

    // Live blocks kept their contents.
    for (size_t i = 0; i < blocks.size(); ++i)
        if (kept_alive.count(blocks[i]))
            for (size_t b = 0; b < kSize; ++b)
                REQUIRE(static_cast<unsigned char>(blocks[i][b]) == (i & 0xff));
    // What the free lists still hand out lies in the kept slabs (the fourth's free blocks),
    // never in a freed one; then new slabs.
    std::set<char*> fourth;
    for (size_t i = 3 * 1024; i < 4 * 1024; ++i)
        if (!kept_alive.count(blocks[i])) fourth.insert(blocks[i]);
    for (size_t n = 0; n < fourth.size(); ++n) {
        auto* p = static_cast<char*>(pool.allocate(kSize));
        REQUIRE(fourth.count(p) == 1);
        std::memset(p, 0xee, kSize);
    }
    auto* fresh = static_cast<char*>(pool.allocate(kSize));
    REQUIRE(fresh != nullptr);
    CHECK_FALSE(fourth.count(fresh));
    std::memset(fresh, 0xdd, kSize);
    for (char* p : kept_alive)
        pool.release(p, kSize);
}

TEST_CASE("LuaVM::release_idle_memory: once idle, collects and gives empty slabs back",
          "[runtime][small_blocks]") {
    ferry::LuaVM vm;
    lua_State* L = vm.state();
    constexpr size_t kGrowth = size_t(4) << 20;
    // A burst of small garbage (tables and strings) that nothing refers to any more.
    REQUIRE(luaL_dostring(L, "local t = {} for i = 1, 200000 do t[i] = {i, tostring(i)} end "
                             "t = nil") == LUA_OK);
    // Lua ran since the last call: busy, nothing done, not even a collection.
    size_t used_before = vm.memory_used();
    CHECK(vm.release_idle_memory(kGrowth) == 0);
    CHECK(vm.memory_used() == used_before);
    // Nothing ran since: a full collection, then the empty slabs go.
    size_t released = vm.release_idle_memory(kGrowth);
#if defined(__SANITIZE_ADDRESS__)
    CHECK(released == 0);  // no pool under ASan (every block is malloc's): nothing to do
#else
    CHECK(vm.memory_used() < used_before / 2);
    CHECK(released >= size_t(8) << 20);
#endif
    // The pool has not grown again: the next idle checks do nothing.
    CHECK(vm.release_idle_memory(kGrowth) == 0);
    CHECK(vm.release_idle_memory(kGrowth) == 0);
    // The VM still works.
    REQUIRE(luaL_dostring(L, "x = {} for i = 1, 1000 do x[i] = {i} end") == LUA_OK);
}
