// SmallBlocks: the Lua VM's header-less small-block allocator.
#include "runtime/lua_vm.h"
#include "runtime/small_blocks.h"

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
