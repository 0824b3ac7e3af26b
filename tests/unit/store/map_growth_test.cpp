// A map another process grew past this one's (a larger store.map_size): LMDB fails every
// new transaction of this process with MDB_MAP_RESIZED until it adopts the larger map. The
// other process is a forked child that opens the folder anew, as `ferry run` beside
// `ferry serve` would.
#include "store/store.h"

#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace ferry;
using namespace ferry::store;

namespace {

using ferry::testing::TempDir;

constexpr uint64_t kMiB = 1 << 20;

std::unique_ptr<Store> open_with_map(const std::string& dir, uint64_t map_size) {
    StoreOptions options;
    options.map_size = map_size;
    auto opened = Store::open(dir, options);
    REQUIRE(opened.ok());
    return std::move(opened).value();
}

// In a child process: opens the store with a map of map_size and writes `bytes` of values
// under `prefix`. The exit status says whether it could.
void grow_in_another_process(const std::string& dir, uint64_t map_size, const std::string& prefix,
                             uint64_t bytes) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 0;
        {
            StoreOptions options;
            options.map_size = map_size;
            auto opened = Store::open(dir, options);
            if (!opened) ::_exit(2);
            Store& s = *opened.value();
            for (uint64_t i = 0; i * 64 * 1024 < bytes; ++i)
                s.put_kv(prefix + std::to_string(i), std::string(64 * 1024, 'g'));
            if (!s.commit().ok()) code = 3;
        }
        ::_exit(code);  // no Catch2 or sanitizer teardown in the child
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
}

}  // namespace

TEST_CASE("store: a map another process grew is adopted by the next read or commit",
          "[store][map]") {
    TempDir tmp;
    const std::string dir = tmp.sub("data");
    auto s = open_with_map(dir, 1 * kMiB);
    s->put_kv("mine", "1");
    REQUIRE(s->commit().ok());

    // A read first: it adopts the 4 MiB map and sees the other process's values.
    grow_in_another_process(dir, 4 * kMiB, "a", 2 * kMiB);
    CHECK(s->high_water_bytes() > 2 * kMiB);
    auto read = s->get_kv("a0");
    REQUIRE(read.ok());
    CHECK(read.value()->size() == 64 * 1024);
    CHECK(s->map_bytes() == 4 * kMiB);

    // Another thread may not adopt (the staging thread may be reading meanwhile): its read
    // fails as before, naming the cause; a commit on the staging thread then adopts the map.
    grow_in_another_process(dir, 8 * kMiB, "b", 5 * kMiB);
    REQUIRE(s->high_water_bytes() > 4 * kMiB);
    Result<std::optional<std::string>> elsewhere = std::optional<std::string>();
    std::thread([&] { elsewhere = s->get_kv("b0"); }).join();
    REQUIRE_FALSE(elsewhere.ok());
    CHECK_THAT(elsewhere.error().message, Catch::Contains("MDB_MAP_RESIZED"));
    CHECK(s->map_bytes() == 4 * kMiB);
    s->put_kv("mine", "2");
    REQUIRE(s->commit().ok());
    CHECK(s->map_bytes() == 8 * kMiB);
    CHECK(s->get_kv("mine").value() == std::optional<std::string>("2"));
    CHECK(s->get_kv("b0").value()->size() == 64 * 1024);

    // The same through the writer thread: its transaction cannot begin, and the batch is
    // written again once collected on the staging thread.
    grow_in_another_process(dir, 16 * kMiB, "c", 6 * kMiB);
    REQUIRE(s->high_water_bytes() > 8 * kMiB);
    s->start_writer([] {});
    bool durable = false;
    s->put_kv("mine", "3");
    s->after_commit([&] { durable = true; });
    REQUIRE(s->submit());
    REQUIRE(s->commit().ok());  // waits for the batch in flight and collects it
    CHECK(durable);
    s->stop_writer();
    CHECK(s->map_bytes() == 16 * kMiB);
    CHECK(s->get_kv("mine").value() == std::optional<std::string>("3"));

    // Usage reports the adopted map.
    Store::Usage usage = s->usage();
    CHECK(usage.map_bytes == 16 * kMiB);
    CHECK(usage.file_bytes > 8 * kMiB);
}

TEST_CASE("store: a map filled by small records makes room to delete them", "[store][map]") {
    // Deleting copies pages too: a map full of small records could not be pruned
    // (MDB_MAP_FULL on the deletes), the very remedy the full store's error names.
    TempDir tmp;
    const std::string dir = tmp.sub("data");
    auto s = open_with_map(dir, 1 * kMiB);
    std::vector<std::string> ids;
    for (int i = 0; i < 100000; ++i) {
        char id[16];
        std::snprintf(id, sizeof id, "e%06d", i);
        s->put_execution(id, "wf", "succeeded", "{\"status\":\"succeeded\"}");
        for (int k = 0; k < 20; ++k)
            s->put_step(id, "step" + std::to_string(k), std::string(100, 'x'));
        if (!s->commit().ok()) break;  // the map is full: this execution was not written
        ids.push_back(id);
    }
    REQUIRE(ids.size() > 10);
    CHECK(s->make_room_for_deletes());
    CHECK(s->map_bytes() > 1 * kMiB);
    CHECK(s->map_bytes() <= kMiB + kMiB / 8);
    for (size_t i = 0; i < ids.size(); ++i) {
        s->erase_execution(ids[i]);
        if (i % 8 == 7 || i + 1 == ids.size()) REQUIRE(s->commit().ok());
    }
    CHECK(s->list_executions({}).value().empty());
    CHECK_FALSE(s->make_room_for_deletes());  // room is back

    // The file holds every page the meta counts (LMDB leaves pages it freed in the same
    // transaction unwritten at the end): it opens again, not as a truncated copy.
    s.reset();
    auto again = open_with_map(dir, 1 * kMiB);
    CHECK(again->list_executions({}).value().empty());
}
