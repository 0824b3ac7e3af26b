// StoreRoom against a real store with a small map: refusals start at 90 % of the map in use,
// and end once pruning frees pages, though the file's high-water mark stays where it was.
#include "server/store_room.h"

#include "temp_dir.h"

#include <catch2/catch.hpp>

using namespace ferry;
using namespace ferry::engine::server;

namespace {

using ferry::testing::TempDir;

constexpr size_t kValue = 64 * 1024;

std::unique_ptr<store::Store> open_small(const std::string& dir) {
    store::StoreOptions options;
    options.map_size = 2 << 20;
    auto opened = store::Store::open(dir, options);
    REQUIRE(opened.ok());
    return std::move(opened).value();
}

// Writes values (a commit each) until the store is past `percent` of its map; returns how
// many. Large values take runs of contiguous pages, which a freelist may not have.
int fill_to(store::Store& s, uint64_t percent, const std::string& prefix = "v",
            size_t value_bytes = kValue) {
    int n = 0;
    while (s.usage().used_bytes() < s.map_bytes() / 100 * percent) {
        s.put_kv(prefix + std::to_string(n++), std::string(value_bytes, 'v'));
        REQUIRE(s.commit().ok());
        REQUIRE(n < 4096);
    }
    return n;
}

}  // namespace

TEST_CASE("store room: new executions are refused at 90 % of the map", "[server][store_room]") {
    TempDir dir;
    auto s = open_small(dir.path());
    StoreRoom room(*s);
    uint64_t now = 1000;
    CHECK(room.refusal(now).empty());

    int written = fill_to(*s, 80);
    CHECK(room.refusal(now).empty());  // 80 %: still room
    written += fill_to(*s, StoreRoom::kAdmitBelowPercent);
    std::string why = room.refusal(now);
    CHECK_THAT(why, Catch::Contains("fills") && Catch::Contains("of its 2.0 MiB map") &&
                        Catch::Contains("store.keep") && Catch::Contains("store.map_size"));
    // A map this small keeps its last 256 KiB: the limit is below 90 % here.
    CHECK_THAT(why, Catch::Contains("(new executions start below 88 %)"));
    CHECK(room.refusal(now + 1) == why);
    CHECK(room.refused() == 2);

    // Pruned: the pages go to the freelist and the high-water mark stays past the limit,
    // but the look after this process's commit finds room at once.
    for (int i = 0; i < written; ++i)
        s->erase_kv("v" + std::to_string(i));
    REQUIRE(s->commit().ok());
    CHECK(s->high_water_bytes() >= s->map_bytes() / 100 * StoreRoom::kAdmitBelowPercent);
    CHECK(room.refusal(now + 2).empty());
    CHECK(room.refusal(now + 3).empty());  // kept: nothing committed since
    CHECK(room.refused() == 2);

    // Filled again at the same moment: this process's commits used the freed pages, so the
    // answer kept a moment ago is stale at once (a burst of starts must not outrun it).
    fill_to(*s, StoreRoom::kAdmitBelowPercent, "w", 1000);
    CHECK_FALSE(room.refusal(now + 3).empty());
    CHECK(room.refused() == 3);
}

TEST_CASE("store room: the refusal names the limit as a whole percentage, rounded",
          "[server][store_room]") {
    // 90 % of a map that is no multiple of 100 bytes (most, 16 GiB among them) read as 89.
    TempDir dir;
    store::StoreOptions options;
    options.map_size = 4 << 20;
    auto opened = store::Store::open(dir.path(), options);
    REQUIRE(opened.ok());
    store::Store& s = *opened.value();
    StoreRoom room(s);
    fill_to(s, StoreRoom::kAdmitBelowPercent);
    CHECK_THAT(room.refusal(1000), Catch::Contains("of its 4.0 MiB map (new executions start "
                                                   "below 90 %)"));
}

TEST_CASE("store room: far from the limit, commits do not make it look again at once",
          "[server][store_room]") {
    TempDir dir;
    auto s = open_small(dir.path());
    StoreRoom room(*s, 512 * 1024);  // "far": 512 KiB below the limit (256 MiB in service)
    uint64_t now = 1000;
    int written = fill_to(*s, StoreRoom::kAdmitBelowPercent);
    CHECK_FALSE(room.refusal(now).empty());
    for (int i = 0; i < written; ++i)
        s->erase_kv("v" + std::to_string(i));
    REQUIRE(s->commit().ok());
    CHECK(room.refusal(now).empty());  // the last look was near the limit: looked again

    // Now ~1.8 MB below it: the answer is kept through commits until kRecheckMs pass.
    fill_to(*s, StoreRoom::kAdmitBelowPercent, "w", 1000);
    CHECK(room.refusal(now + 1).empty());
    CHECK_FALSE(room.refusal(now + 1000).empty());
}

TEST_CASE("store room: a small map keeps at least 256 KiB free", "[server][store_room]") {
    // 10 % of 1 MiB is less than a commit may need once the pages the last commits freed
    // (not reusable yet) are counted as free: a start admitted at 87 % filled the map.
    TempDir dir;
    store::StoreOptions options;
    options.map_size = 1 << 20;
    auto opened = store::Store::open(dir.path(), options);
    REQUIRE(opened.ok());
    auto s = std::move(opened).value();
    StoreRoom room(*s);
    fill_to(*s, 70, "v", 16 * 1024);
    CHECK(room.refusal(1000).empty());
    fill_to(*s, 76, "w", 16 * 1024);
    CHECK_THAT(room.refusal(1000), Catch::Contains("of its 1.0 MiB map (new executions start "
                                                   "below 75 %)"));
}

TEST_CASE("store room: new executions are refused while the disk has no room",
          "[server][store_room]") {
    // A commit that finds the disk full stops the server (exit 3); /healthz said ok and
    // starts were taken until the freed pages ran out. Here the disk "needs" more than any
    // disk has, then nothing.
    TempDir dir;
    auto s = open_small(dir.path());
    StoreRoom full(*s, StoreRoom::kWideHeadroom, UINT64_MAX);
    std::string why = full.refusal(1000);
    CHECK_THAT(
        why, Catch::StartsWith("the disk holding the execution history (" + s->path() + ") has ") &&
                 Catch::Contains("free, and new executions start with") &&
                 Catch::Contains("free disk space there"));
    CHECK(full.refusal(1001) == why);  // asked again only after a while
    CHECK(full.refused() == 2);
    StoreRoom roomy(*s, StoreRoom::kWideHeadroom, 0);
    CHECK(roomy.refusal(1000).empty());
}
