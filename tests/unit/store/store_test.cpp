#include "store/store.h"

#include "runtime/ids.h"
#include "runtime/integration/secrets.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <lmdb.h>

#include <fcntl.h>
#include <linux/fs.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

using namespace ferry;
using namespace ferry::store;
namespace fs = std::filesystem;

namespace {

using ferry::testing::TempDir;

std::unique_ptr<Store> open_ok(const std::string& dir, StoreOptions options = {}) {
    auto opened = Store::open(dir, options);
    if (!opened) FAIL(opened.error().describe());
    return std::move(opened).value();
}

void commit_ok(Store& s) {
    Status st = s.commit();
    if (!st) FAIL(st.error().describe());
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

// Every file of a folder with its bytes: "untouched" means this map did not change.
std::map<std::string, std::string> snapshot(const std::string& dir) {
    std::map<std::string, std::string> files;
    for (auto& e : fs::directory_iterator(dir))
        files[e.path().filename().string()] = read_file(e.path().string());
    return files;
}

std::string garbage(size_t n, unsigned seed) {
    std::string s(n, '\0');
    std::mt19937 rng(seed);
    for (auto& c : s)
        c = static_cast<char>(rng() & 0xff);
    return s;
}

std::string exec_json(const std::string& id, const std::string& wf, const std::string& status) {
    return R"({"id":")" + id + R"(","workflow":")" + wf + R"(","status":")" + status + R"("})";
}

std::vector<std::string> ids_of(const std::vector<std::string>& docs) {
    std::vector<std::string> ids;
    for (const auto& d : docs) {
        auto start = d.find(R"("id":")") + 6;
        ids.push_back(d.substr(start, d.find('"', start) - start));
    }
    return ids;
}

constexpr uint64_t kT0 = 1700000000000;  // 2023-11-14, a fixed time base for ids

}  // namespace

TEST_CASE("store: every record kind round-trips", "[store]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    CHECK(s->path() == tmp.sub("data"));
    std::string id = new_ulid();

    s->put_execution(id, "incident", "running", exec_json(id, "incident", "running"));
    s->put_step(id, "ticket", R"({"status":"running"})");
    s->put_step(id, "body", R"({"status":"succeeded"})");
    s->put_attempt(id, "ticket", 10, R"({"n":10})");
    s->put_attempt(id, "ticket", 2, R"({"n":2})");
    s->put_attempt(id, "ticket", 1, R"({"n":1})");
    s->put_attempt(id, "ticketx", 1, R"({"other":true})");
    s->add_change(id, R"({"op":"add"})");
    s->add_change(id, R"({"op":"remove"})");
    s->put_workflow("hash1", R"({"name":"incident"})");
    s->put_dlq("d1", R"({"dead":1})");
    s->put_kv("sched/a", "1");
    CHECK(s->has_pending());

    // Staged writes are not visible before the commit.
    CHECK_FALSE(s->get_execution(id).value().has_value());
    commit_ok(*s);
    CHECK_FALSE(s->has_pending());

    CHECK(*s->get_execution(id).value() == exec_json(id, "incident", "running"));
    auto steps = s->steps(id).value();
    REQUIRE(steps.size() == 2);
    CHECK(steps[0].key == "body");  // key order
    CHECK(steps[1].key == "ticket");
    CHECK(steps[1].json == R"({"status":"running"})");
    // A page of steps: after a step key, at most limit; the page after the last is empty.
    auto first = s->steps(id, "", 1).value();
    REQUIRE(first.size() == 1);
    CHECK(first[0].key == "body");
    auto next = s->steps(id, "body", 1).value();
    REQUIRE(next.size() == 1);
    CHECK(next[0].key == "ticket");
    CHECK(s->steps(id, "ticket", 1).value().empty());
    CHECK(s->steps(id, "bz", 0).value().at(0).key == "ticket");  // a key between two records

    auto attempts = s->attempts(id, "ticket").value();
    REQUIRE(attempts.size() == 3);  // numeric order (big-endian keys), not "10" < "2"
    CHECK(attempts[0].key == "1");
    CHECK(attempts[1].key == "2");
    CHECK(attempts[2].key == "10");
    CHECK(attempts[2].json == R"({"n":10})");

    auto changes = s->changes(id).value();
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].key == "1");
    CHECK(changes[0].json == R"({"op":"add"})");
    CHECK(changes[1].key == "2");

    // The engine stores a change without its patch; it is read with it.
    s->add_change(id, R"({"step":"t","kind":"k","id":"1","at":"x","before":null,"after":{"n":1}})");
    commit_ok(*s);
    changes = s->changes(id).value();
    REQUIRE(changes.size() == 3);
    CHECK(
        changes[2].json ==
        R"({"step":"t","kind":"k","id":"1","at":"x","patch":[{"op":"replace","path":"","value":{"n":1}}],"before":null,"after":{"n":1}})");

    CHECK(*s->get_workflow("hash1").value() == R"({"name":"incident"})");
    CHECK(*s->get_dlq("d1").value() == R"({"dead":1})");
    CHECK(*s->get_kv("sched/a").value() == "1");

    // Missing records are empty answers, not errors.
    std::string other = new_ulid();
    CHECK_FALSE(s->get_execution(other).value().has_value());
    CHECK(s->steps(other).value().empty());
    CHECK(s->attempts(id, "nope").value().empty());
    CHECK(s->changes(other).value().empty());
    CHECK_FALSE(s->get_workflow("nope").value().has_value());
    CHECK_FALSE(s->get_dlq("nope").value().has_value());
    CHECK_FALSE(s->get_kv("nope").value().has_value());
    CHECK_FALSE(s->get_kv("").value().has_value());
    CHECK_FALSE(s->get_kv(std::string(2000, 'k')).value().has_value());
    CHECK(s->steps(std::string(2000, 'x')).value().empty());
}

TEST_CASE("store: changes continue their sequence across commits", "[store]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    std::string a = new_ulid(), b = new_ulid();
    s->add_change(a, R"({"n":"a1"})");
    s->add_change(b, R"({"n":"b1"})");
    commit_ok(*s);
    s->add_change(a, R"({"n":"a2"})");
    s->add_change(a, R"({"n":"a3"})");
    commit_ok(*s);
    auto ca = s->changes(a).value();
    REQUIRE(ca.size() == 3);
    CHECK(ca[2].key == "3");
    CHECK(ca[2].json == R"({"n":"a3"})");
    REQUIRE(s->changes(b).value().size() == 1);
}

TEST_CASE("store: kv and dlq", "[store]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    s->put_kv("idem/b", "2");
    s->put_kv("idem/a", "1");
    s->put_kv("idem0", "x");  // shares "idem" but not "idem/"
    s->put_kv("sched/x", "s");
    s->put_kv("gone", "g");
    s->erase_kv("gone");
    s->put_dlq("z", "Z");
    s->put_dlq("a", "A");
    commit_ok(*s);

    auto idem = s->scan_kv("idem/").value();
    REQUIRE(idem.size() == 2);
    CHECK(idem[0].key == "idem/a");
    CHECK(idem[1].key == "idem/b");
    CHECK(idem[1].json == "2");
    CHECK(s->scan_kv("").value().size() == 4);
    CHECK(s->scan_kv("zzz").value().empty());
    CHECK_FALSE(s->get_kv("gone").value().has_value());

    auto dlq = s->list_dlq().value();
    REQUIRE(dlq.size() == 2);
    CHECK(dlq[0].key == "a");
    s->erase_dlq("a");
    s->erase_dlq("never-there");  // erasing a missing record is not an error
    s->put_kv("idem/a", "1b");    // overwrite
    commit_ok(*s);
    REQUIRE(s->list_dlq().value().size() == 1);
    CHECK(s->dlq_size().value() == 1);
    CHECK(*s->get_kv("idem/a").value() == "1b");
}

TEST_CASE("store: dead letters in pages, and counted without reading them", "[store]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    CHECK(s->dlq_size().value() == 0);
    CHECK(s->list_dlq({}, 10).value().empty());
    std::vector<std::string> ids;
    for (int i = 0; i < 25; ++i) {
        ids.push_back(new_ulid(kT0 + i));
        s->put_dlq(ids.back(), "{\"n\":" + std::to_string(i) + "}");
    }
    commit_ok(*s);
    CHECK(s->dlq_size().value() == 25);
    std::vector<std::string> seen;
    std::string after;
    for (int page = 0; page < 5; ++page) {
        auto got = s->list_dlq(after, 10).value();
        for (const auto& e : got)
            seen.push_back(e.key);
        if (got.size() < 10) break;
        after = got.back().key;
    }
    CHECK(seen == ids);  // oldest first, each once, across pages of 10, 10 and 5
    // A cursor that names no record starts at the next one; past the last, nothing.
    auto from_between = s->list_dlq(ids[3] + "!", 2).value();
    REQUIRE(from_between.size() == 2);
    CHECK(from_between[0].key == ids[4]);
    CHECK(s->list_dlq(ids.back(), 10).value().empty());
    CHECK(s->list_dlq().value().size() == 25);  // no limit: all
    s->erase_dlq(ids[0]);
    commit_ok(*s);
    CHECK(s->dlq_size().value() == 24);
}

TEST_CASE("store: status and workflow indexes follow changes", "[store]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    std::string e1 = new_ulid(kT0), e2 = new_ulid(kT0 + 1), e3 = new_ulid(kT0 + 2);
    s->put_execution(e1, "wf", "running", exec_json(e1, "wf", "running"));
    s->put_execution(e2, "wf", "running", exec_json(e2, "wf", "running"));
    s->put_execution(e3, "other", "pending", exec_json(e3, "other", "pending"));
    commit_ok(*s);
    CHECK(s->executions_with_status("running").value() == std::vector<std::string>{e1, e2});

    s->put_execution(e1, "wf", "succeeded", exec_json(e1, "wf", "succeeded"));
    commit_ok(*s);
    CHECK(s->executions_with_status("running").value() == std::vector<std::string>{e2});
    CHECK(s->executions_with_status("succeeded").value() == std::vector<std::string>{e1});

    // Several status changes in one batch leave only the last one indexed.
    s->put_execution(e3, "other", "running", exec_json(e3, "other", "running"));
    s->put_execution(e3, "other", "waiting", exec_json(e3, "other", "waiting"));
    s->put_execution(e3, "other", "failed", exec_json(e3, "other", "failed"));
    commit_ok(*s);
    CHECK(s->executions_with_status("pending").value().empty());
    CHECK(s->executions_with_status("waiting").value().empty());
    CHECK(s->executions_with_status("running").value() == std::vector<std::string>{e2});
    CHECK(s->executions_with_status("failed").value() == std::vector<std::string>{e3});
    CHECK(*s->get_execution(e3).value() == exec_json(e3, "other", "failed"));

    ExecutionFilter f;
    f.status = "running";
    CHECK(ids_of(s->list_executions(f).value()) == std::vector<std::string>{e2});
    f.status = "failed";
    f.workflow = "wf";
    CHECK(s->list_executions(f).value().empty());
    f.workflow = "other";
    CHECK(ids_of(s->list_executions(f).value()) == std::vector<std::string>{e3});

    // A changed workflow moves the by_workflow entry too.
    s->put_execution(e3, "renamed", "failed", exec_json(e3, "renamed", "failed"));
    commit_ok(*s);
    ExecutionFilter wf;
    wf.workflow = "other";
    CHECK(s->list_executions(wf).value().empty());
    wf.workflow = "renamed";
    CHECK(ids_of(s->list_executions(wf).value()) == std::vector<std::string>{e3});
}

TEST_CASE("store: erasing an execution removes all its records and nothing else", "[store]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    // "ab" is a prefix of "abc": the '\0' after an id keeps their records apart.
    for (const std::string id : {"ab", "abc"}) {
        s->put_execution(id, "wf", "succeeded", exec_json(id, "wf", "succeeded"));
        s->put_step(id, "fetch", R"({"status":"succeeded"})");
        s->put_step(id, "notify", R"({"status":"succeeded"})");
        s->put_attempt(id, "fetch", 1, R"({"n":1})");
        s->put_attempt(id, "fetch", 2, R"({"n":2})");
        s->add_change(id, R"({"before":null,"after":{"a":1}})");
    }
    commit_ok(*s);

    s->erase_execution("ab");
    s->erase_execution("never-there");  // not an error
    commit_ok(*s);
    CHECK_FALSE(s->get_execution("ab").value());
    CHECK(s->steps("ab").value().empty());
    CHECK(s->attempts("ab", "fetch").value().empty());
    CHECK(s->changes("ab").value().empty());
    CHECK(s->executions_with_status("succeeded").value() == std::vector<std::string>{"abc"});
    ExecutionFilter f;
    f.workflow = "wf";
    CHECK(ids_of(s->list_executions(f).value()) == std::vector<std::string>{"abc"});

    CHECK(s->get_execution("abc").value());
    CHECK(s->steps("abc").value().size() == 2);
    CHECK(s->attempts("abc", "fetch").value().size() == 2);
    CHECK(s->changes("abc").value().size() == 1);

    // Written again after the erase, in one batch: a new execution, with no old records.
    s->erase_execution("abc");
    s->put_execution("abc", "wf2", "running", exec_json("abc", "wf2", "running"));
    commit_ok(*s);
    CHECK(s->steps("abc").value().empty());
    CHECK(s->executions_with_status("succeeded").value().empty());
    CHECK(s->executions_with_status("running").value() == std::vector<std::string>{"abc"});
}

TEST_CASE("store: list_executions pages newest first with filters", "[store]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    std::vector<std::string> ids;  // oldest first
    for (int i = 0; i < 25; ++i) {
        std::string id = new_ulid(kT0 + 1000 * static_cast<uint64_t>(i));
        std::string wf = i % 2 ? "odd" : "even";
        std::string status = i % 3 ? "succeeded" : "failed";
        s->put_execution(id, wf, status, exec_json(id, wf, status));
        ids.push_back(id);
    }
    commit_ok(*s);
    std::vector<std::string> newest(ids.rbegin(), ids.rend());

    auto pages = [&](ExecutionFilter f) {
        std::vector<std::string> all;
        for (int guard = 0; guard < 100; ++guard) {
            auto page = ids_of(s->list_executions(f).value());
            REQUIRE(page.size() <= f.limit);
            all.insert(all.end(), page.begin(), page.end());
            if (page.size() < f.limit) break;
            f.cursor = page.back();
        }
        return all;
    };

    ExecutionFilter f;
    f.limit = 10;
    auto first = ids_of(s->list_executions(f).value());
    CHECK(first == std::vector<std::string>(newest.begin(), newest.begin() + 10));
    CHECK(pages(f) == newest);

    f.limit = 4;
    f.workflow = "odd";
    std::vector<std::string> odd;
    for (const auto& id : newest)
        if (ulid_time_ms(id) / 1000 % 2) odd.push_back(id);
    CHECK(pages(f) == odd);

    f.workflow = "";
    f.status = "failed";
    std::vector<std::string> failed;
    for (size_t i = 0; i < newest.size(); ++i)
        if ((24 - i) % 3 == 0) failed.push_back(newest[i]);
    CHECK(pages(f) == failed);

    f.workflow = "even";  // both filters
    std::vector<std::string> both;
    for (size_t i = 0; i < newest.size(); ++i)
        if ((24 - i) % 3 == 0 && (24 - i) % 2 == 0) both.push_back(newest[i]);
    CHECK(pages(f) == both);

    ExecutionFilter all;
    all.limit = 0;  // no limit
    CHECK(ids_of(s->list_executions(all).value()) == newest);
    all.cursor = ids[0];  // nothing is older than the oldest
    CHECK(s->list_executions(all).value().empty());
    all.cursor = std::string(600, 'Z');  // longer than any LMDB key: everything is below it
    CHECK(ids_of(s->list_executions(all).value()) == newest);
    ExecutionFilter none;
    none.workflow = "missing";
    CHECK(s->list_executions(none).value().empty());
}

TEST_CASE("store: execution ids by their start", "[store]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    for (const char* id : {"01ABC1", "01ABC2", "01ABD1", "01B"})
        s->put_execution(id, "wf", "succeeded", exec_json(id, "wf", "succeeded"));
    commit_ok(*s);
    auto ids = [&](const std::string& prefix, size_t limit) {
        auto found = s->execution_ids_with_prefix(prefix, limit);
        REQUIRE(found);
        return found.value();
    };
    using Ids = std::vector<std::string>;
    CHECK(ids("01ABC", 10) == Ids{"01ABC1", "01ABC2"});
    CHECK(ids("01AB", 10) == Ids{"01ABC1", "01ABC2", "01ABD1"});
    CHECK(ids("01AB", 2) == Ids{"01ABC1", "01ABC2"});
    CHECK(ids("01ABD1", 10) == Ids{"01ABD1"});
    CHECK(ids("01ABE", 10).empty());
    CHECK(ids("01", 0).empty());
}

TEST_CASE("store: list_executions since and until", "[store]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) {
        std::string id = new_ulid(kT0 + 1000 * static_cast<uint64_t>(i));
        std::string wf = i < 10 ? "early" : "late";
        s->put_execution(id, wf, "succeeded", exec_json(id, wf, "succeeded"));
        ids.push_back(id);
    }
    s->put_execution("not-a-ulid", "early", "succeeded", exec_json("not-a-ulid", "early", "x"));
    commit_ok(*s);

    ExecutionFilter f;
    f.limit = 0;
    f.since_ms = kT0 + 5000;
    f.until_ms = kT0 + 10000;  // exclusive
    CHECK(ids_of(s->list_executions(f).value()) ==
          std::vector<std::string>{ids[9], ids[8], ids[7], ids[6], ids[5]});

    f.since_ms = kT0 + 4500;  // inside a millisecond gap: starts at the next id
    f.until_ms = kT0 + 6001;
    CHECK(ids_of(s->list_executions(f).value()) == std::vector<std::string>{ids[6], ids[5]});

    f.since_ms = kT0 + 15000;
    f.until_ms = 0;
    f.limit = 2;
    CHECK(ids_of(s->list_executions(f).value()) == std::vector<std::string>{ids[19], ids[18]});

    f.since_ms = 0;
    f.until_ms = kT0 + 3000;
    f.limit = 0;
    f.workflow = "early";  // the non-ULID id has no time: excluded from a time window
    CHECK(ids_of(s->list_executions(f).value()) ==
          std::vector<std::string>{ids[2], ids[1], ids[0]});

    f.until_ms = kT0 + 12000;
    f.since_ms = kT0 + 8000;
    f.cursor = ids[9];
    CHECK(ids_of(s->list_executions(f).value()) == std::vector<std::string>{ids[8]});

    ExecutionFilter wide;
    wide.limit = 0;
    wide.workflow = "early";
    CHECK(s->list_executions(wide).value().size() == 11);  // no window: the odd id is listed
}

TEST_CASE("store: a commit with a bad key writes nothing", "[store][atomic]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    std::string id = new_ulid();
    s->put_kv("before", "1");
    commit_ok(*s);

    bool ran = false;
    s->put_execution(id, "wf", "running", exec_json(id, "wf", "running"));
    s->put_step(id, "a", "{}");
    s->add_change(id, "{}");
    s->put_kv("before", "2");
    s->erase_kv("before");
    SECTION("a key longer than LMDB's maximum") {
        s->put_kv(std::string(600, 'k'), "too long");
    }
    SECTION("an execution id whose index key is too long") {
        std::string long_id(505, 'x');
        s->put_execution(long_id, "wf", "running", "{}");
    }
    SECTION("a NUL byte inside a composite key part") {
        s->put_step(id, std::string("a\0b", 3), "{}");
    }
    SECTION("an empty id") {
        s->put_attempt("", "a", 1, "{}");
    }
    s->put_kv("after", "3");
    s->after_commit([&] { ran = true; });

    Status st = s->commit();
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().kind == ErrorKind::Validation);
    CHECK_THAT(st.error().message,
               Catch::Contains(tmp.sub("data")) && Catch::Contains("nothing written"));
    INFO(st.error().message);
    // Nothing of the batch is visible, the callback did not run, the batch was dropped.
    CHECK_FALSE(ran);
    CHECK_FALSE(s->has_pending());
    CHECK_FALSE(s->get_execution(id).value().has_value());
    CHECK(s->steps(id).value().empty());
    CHECK(s->changes(id).value().empty());
    CHECK(*s->get_kv("before").value() == "1");
    CHECK_FALSE(s->get_kv("after").value().has_value());
    CHECK(s->executions_with_status("running").value().empty());

    // The store stays usable.
    s->put_kv("after", "3");
    commit_ok(*s);
    CHECK(*s->get_kv("after").value() == "3");
}

TEST_CASE("store: scan_kv pages through a prefix after a key", "[store][kv]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    for (const char* k : {"a:1", "b:1", "b:2", "b:3", "b:4", "c:1"})
        s->put_kv(k, k);
    commit_ok(*s);
    auto keys = [&](const std::string& prefix, const std::string& after, size_t limit) {
        auto page = s->scan_kv(prefix, after, limit);
        REQUIRE(page.ok());
        std::vector<std::string> out;
        for (const KeyedJson& kv : page.value())
            out.push_back(kv.key);
        return out;
    };
    using V = std::vector<std::string>;
    CHECK(keys("b:", "", 0) == V{"b:1", "b:2", "b:3", "b:4"});
    CHECK(keys("b:", "", 2) == V{"b:1", "b:2"});
    CHECK(keys("b:", "b:2", 2) == V{"b:3", "b:4"});
    CHECK(keys("b:", "b:4", 2).empty());
    // A page's last key gone before the next page is read: the next page still follows it.
    s->erase_kv("b:2");
    commit_ok(*s);
    CHECK(keys("b:", "b:2", 0) == V{"b:3", "b:4"});
    CHECK(keys("", "b:3", 0) == V{"b:4", "c:1"});
    CHECK(keys("a:", "b:3", 0) == V{"a:1"});  // an `after` outside the prefix: from its start
}

TEST_CASE("store: usage reports the high-water mark and the map", "[store][usage]") {
    TempDir tmp;
    StoreOptions options;
    options.map_size = 4 << 20;
    Store::Usage empty, grown;
    {
        auto s = open_ok(tmp.sub("data"), options);
        empty = s->usage();
        CHECK(empty.map_bytes == uint64_t(4 << 20));
        CHECK(empty.file_bytes > 0);
        for (int i = 0; i < 8; ++i)
            s->put_kv("big" + std::to_string(i), std::string(64 * 1024, 'v'));
        commit_ok(*s);
        grown = s->usage();
        CHECK(grown.file_bytes >= empty.file_bytes + 8 * 64 * 1024);
        CHECK(grown.map_bytes == empty.map_bytes);
        CHECK(grown.used_bytes() <= grown.file_bytes);
        CHECK(s->high_water_bytes() == grown.file_bytes);
        CHECK(s->map_bytes() == grown.map_bytes);

        // Erased, the values' pages go to the freelist: the high-water mark stays (but for a
        // few pages of the tree and the freelist, copied on write), the bytes in use fall by
        // them, and later writes reuse them before the file grows.
        for (int i = 0; i < 8; ++i)
            s->erase_kv("big" + std::to_string(i));
        commit_ok(*s);
        Store::Usage pruned = s->usage();
        CHECK(pruned.file_bytes < grown.file_bytes + 64 * 1024);
        CHECK(pruned.free_bytes >= 8 * 64 * 1024);
        CHECK(pruned.used_bytes() + 8 * 64 * 1024 <= grown.used_bytes());
        s->put_kv("marker", "x");  // LMDB reuses a commit's freed pages two commits later
        commit_ok(*s);
        for (int i = 0; i < 4; ++i)
            s->put_kv("again" + std::to_string(i), std::string(64 * 1024, 'v'));
        commit_ok(*s);
        Store::Usage reused = s->usage();
        CHECK(reused.file_bytes < pruned.file_bytes + 64 * 1024);  // not 256 KiB more
        CHECK(reused.used_bytes() >= pruned.used_bytes() + 4 * 64 * 1024);
        for (int i = 0; i < 4; ++i)
            s->erase_kv("again" + std::to_string(i));
        for (int i = 0; i < 8; ++i)
            s->put_kv("big" + std::to_string(i), std::string(64 * 1024, 'v'));
        commit_ok(*s);
        grown = s->usage();
    }
    // Asked for less than it already holds, a store opens at its own size: it can be read,
    // but not grown.
    StoreOptions smaller;
    smaller.map_size = 64 * 1024;
    auto s = open_ok(tmp.sub("data"), smaller);
    CHECK(s->usage().map_bytes == grown.file_bytes);
    CHECK(s->get_kv("big7").value()->size() == 64 * 1024);
}

TEST_CASE("store: a commit that fills the map writes nothing", "[store][atomic]") {
    TempDir tmp;
    StoreOptions small;
    small.map_size = 256 * 1024;
    auto s = open_ok(tmp.sub("data"), small);
    s->put_kv("small", "ok");
    commit_ok(*s);

    std::string id = new_ulid();
    bool ran = false;
    s->put_execution(id, "wf", "running", exec_json(id, "wf", "running"));
    for (int i = 0; i < 8; ++i)
        s->put_kv("big" + std::to_string(i), std::string(64 * 1024, 'v'));
    s->after_commit([&] { ran = true; });
    Status st = s->commit();
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().kind == ErrorKind::Storage);
    CHECK_THAT(st.error().message,
               Catch::Contains("MDB_MAP_FULL") && Catch::Contains(tmp.sub("data")) &&
                   Catch::Contains("the map is 262144 bytes") && Catch::Contains("store.map_size"));
    CHECK_FALSE(ran);
    CHECK_FALSE(s->get_execution(id).value().has_value());
    CHECK(s->scan_kv("big").value().empty());
    CHECK(s->executions_with_status("running").value().empty());

    s->put_kv("small2", "ok");
    commit_ok(*s);
    CHECK(s->scan_kv("small").value().size() == 2);
}

TEST_CASE("store: after_commit callbacks run in order once durable", "[store]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    std::vector<int> order;
    s->put_kv("k", "v");
    s->after_commit([&] {
        order.push_back(1);
        CHECK(*s->get_kv("k").value() == "v");  // the write it waited for is visible
    });
    s->after_commit([&] {
        order.push_back(2);
        // Staged from a callback: it belongs to the next commit.
        s->put_kv("later", "x");
        s->after_commit([&] { order.push_back(4); });
    });
    s->after_commit([&] { order.push_back(3); });
    CHECK(order.empty());
    commit_ok(*s);
    CHECK(order == std::vector<int>{1, 2, 3});
    CHECK(s->has_pending());
    CHECK_FALSE(s->get_kv("later").value().has_value());
    commit_ok(*s);
    CHECK(order == std::vector<int>{1, 2, 3, 4});
    CHECK(*s->get_kv("later").value() == "x");

    // Only callbacks staged: nothing to write, they run at once.
    s->after_commit([&] { order.push_back(5); });
    commit_ok(*s);
    CHECK(order.back() == 5);
    commit_ok(*s);  // an empty commit is fine
}

TEST_CASE("store: the writer thread commits batches in order, cut after a callback",
          "[store][writer]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    CHECK_FALSE(s->submit());  // no writer yet: nothing is handed over
    std::atomic<int> notified{0};
    s->start_writer([&] { ++notified; });
    auto wait_notified = [&](int n) {
        for (int i = 0; i < 5000 && notified.load() < n; ++i)
            ::usleep(1000);
        REQUIRE(notified.load() == n);
    };
    std::vector<int> order;
    // Two transitions of two writes each, a callback after each.
    s->put_kv("a1", "1");
    s->put_kv("a2", "1");
    s->after_commit([&] {
        order.push_back(1);
        CHECK(s->get_kv("a2").value().has_value());
        CHECK_FALSE(s->get_kv("b1").value().has_value());  // the second transition waits
    });
    s->put_kv("b1", "1");
    s->put_kv("b2", "1");
    s->after_commit([&] {
        order.push_back(2);
        CHECK(s->get_kv("b2").value().has_value());
    });
    REQUIRE(s->submit(3));  // at most about 3 writes: cut after the first callback
    CHECK(s->writer_busy());
    CHECK_FALSE(s->submit());  // one batch in flight at a time
    wait_notified(1);
    CHECK(order.empty());  // callbacks run on the staging thread, in collect()
    REQUIRE(s->collect());
    CHECK(order == std::vector<int>{1});
    CHECK_FALSE(s->writer_busy());
    REQUIRE(s->submit(3));  // the rest
    wait_notified(2);
    REQUIRE(s->collect());
    CHECK(order == std::vector<int>{1, 2});
    CHECK_FALSE(s->has_pending());

    // commit() waits for a batch in flight and keeps its meaning.
    s->put_kv("c", "1");
    s->after_commit([&] { order.push_back(3); });
    REQUIRE(s->submit());
    s->put_kv("d", "1");
    s->after_commit([&] { order.push_back(4); });
    commit_ok(*s);
    CHECK(order == std::vector<int>{1, 2, 3, 4});
    CHECK(*s->get_kv("d").value() == "1");
    wait_notified(3);       // its notification comes all the same:
    REQUIRE(s->collect());  // nothing left to collect
    CHECK(order.size() == 4);

    // A failed batch is dropped with its callbacks and reported by collect().
    s->put_kv(std::string(600, 'k'), "too long a key");
    s->after_commit([&] { order.push_back(5); });
    int before = notified.load();
    REQUIRE(s->submit());
    wait_notified(before + 1);
    Status failed = s->collect();
    REQUIRE_FALSE(failed);
    CHECK(failed.error().kind == ErrorKind::Validation);
    CHECK(order.size() == 4);
    CHECK_FALSE(s->has_pending());
    s->stop_writer();
}

TEST_CASE("store: data survives close and reopen", "[store]") {
    TempDir tmp;
    std::string dir = tmp.sub("nested/data");  // missing parents are created
    std::string id = new_ulid();
    StoreOptions options;
    options.durable = GENERATE(true, false);
    {
        auto s = open_ok(dir, options);
        s->put_execution(id, "wf", "waiting", exec_json(id, "wf", "waiting"));
        s->add_change(id, R"({"n":"c1"})");
        s->put_kv("k", "v");
        commit_ok(*s);
        s->put_kv("uncommitted", "lost");  // dropped when the store closes
    }
    CHECK(fs::exists(dir + "/data.mdb"));
    auto s = open_ok(dir, options);
    CHECK(*s->get_execution(id).value() == exec_json(id, "wf", "waiting"));
    CHECK(s->executions_with_status("waiting").value() == std::vector<std::string>{id});
    CHECK(*s->get_kv("k").value() == "v");
    CHECK_FALSE(s->get_kv("uncommitted").value().has_value());
    s->add_change(id, R"({"n":"c2"})");
    commit_ok(*s);
    auto changes = s->changes(id).value();
    REQUIRE(changes.size() == 2);
    CHECK(changes[1].key == "2");
}

TEST_CASE("store: leftovers of an interrupted creation are adopted", "[store][open]") {
    TempDir tmp;
    std::string dir = tmp.sub("data");
    fs::create_directories(dir);
    SECTION("an empty folder") {}
    SECTION("only a lock file") {
        write_file(dir + "/lock.mdb", "");
    }
    SECTION("an empty data.mdb") {
        write_file(dir + "/data.mdb", "");
    }
    SECTION("an LMDB environment without any record") {
        MDB_env* env = nullptr;
        REQUIRE(mdb_env_create(&env) == 0);
        REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0644) == 0);
        mdb_env_close(env);
    }
    auto s = open_ok(dir);
    s->put_kv("k", "v");
    commit_ok(*s);
}

TEST_CASE("store: a folder that is not a store is refused and left alone", "[store][open]") {
    TempDir tmp;
    std::string dir = tmp.sub("data");
    fs::create_directories(dir);
    std::string expect;

    SECTION("other files and no data.mdb") {
        write_file(dir + "/notes.txt", "my notes\n");
        fs::create_directories(dir + "/sub");
        expect = "not a Ferry store";
    }
    SECTION("data.mdb full of garbage") {
        write_file(dir + "/data.mdb", garbage(16384, 1));
        expect = "MDB_INVALID";
    }
    SECTION("data.mdb shorter than a page") {
        write_file(dir + "/data.mdb", "garbage!");
        expect = "data.mdb";
    }
    SECTION("an empty data.mdb beside what a store that ran leaves") {
        // Cut to nothing by a copy on a full disk: not an interrupted creation to adopt.
        write_file(dir + "/data.mdb", "");
        write_file(dir + "/lock.mdb", "");
        fs::create_directories(dir + "/locks");
        expect = "data.mdb is empty, but the folder has held a store (it holds 'locks')";
    }
    SECTION("a Ferry store whose header pages were overwritten") {
        {
            auto s = open_ok(dir);
            s->put_kv("k", "v");
            commit_ok(*s);
        }
        std::string bytes = read_file(dir + "/data.mdb");
        REQUIRE(bytes.size() >= 8192);
        bytes.replace(0, 8192, garbage(8192, 2));
        write_file(dir + "/data.mdb", bytes);
        expect = "data.mdb";
    }
    SECTION("another program's LMDB environment") {
        MDB_env* env = nullptr;
        MDB_txn* txn = nullptr;
        MDB_dbi dbi = 0;
        REQUIRE(mdb_env_create(&env) == 0);
        REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0644) == 0);
        REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
        REQUIRE(mdb_dbi_open(txn, nullptr, 0, &dbi) == 0);
        MDB_val k{4, const_cast<char*>("meta")}, v{1, const_cast<char*>("x")};
        REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);  // even a plain key named "meta"
        REQUIRE(mdb_txn_commit(txn) == 0);
        mdb_env_close(env);
        expect = "not a Ferry store";
    }
    SECTION("a Ferry store of an unknown schema version") {
        { auto s = open_ok(dir); }
        MDB_env* env = nullptr;
        MDB_txn* txn = nullptr;
        MDB_dbi dbi = 0;
        REQUIRE(mdb_env_create(&env) == 0);
        REQUIRE(mdb_env_set_maxdbs(env, 32) == 0);
        REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0644) == 0);
        REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
        REQUIRE(mdb_dbi_open(txn, "meta", 0, &dbi) == 0);
        MDB_val k{6, const_cast<char*>("schema")}, v{2, const_cast<char*>("99")};
        REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
        REQUIRE(mdb_txn_commit(txn) == 0);
        mdb_env_close(env);
        expect = "schema version '99'";
    }

    auto before = snapshot(dir);
    auto opened = Store::open(dir);
    REQUIRE_FALSE(opened.ok());
    INFO(opened.error().message);
    CHECK(opened.error().kind == ErrorKind::Storage);
    CHECK_THAT(opened.error().message, Catch::Contains(dir) && Catch::Contains(expect));
    CHECK(snapshot(dir) == before);  // no file changed, none added (not even lock.mdb)
}

TEST_CASE("store: a path that is a file is refused", "[store][open]") {
    TempDir tmp;
    std::string file = tmp.sub("plain");
    write_file(file, "x");
    auto opened = Store::open(file);
    REQUIRE_FALSE(opened.ok());
    CHECK_THAT(opened.error().message, Catch::Contains(file) && Catch::Contains("not a folder"));
    CHECK(read_file(file) == "x");
}

TEST_CASE("store: a data.mdb or lock.mdb that is a folder is named", "[store][open]") {
    // It said "cannot read the folder: Is a directory", though the folder read fine.
    for (const char* name : {"data.mdb", "lock.mdb"}) {
        TempDir tmp;
        std::string dir = tmp.sub("d");
        fs::create_directories(dir + "/" + name);
        auto opened = Store::open(dir);
        REQUIRE_FALSE(opened.ok());
        CHECK_THAT(opened.error().message,
                   Catch::Contains(std::string(name) + " is not a file: move it away"));
        CHECK(fs::is_directory(dir + "/" + name));
    }
}

TEST_CASE("store: a folder it makes, and the files in it, are the owner's alone", "[store][open]") {
    // The history holds tickets, inputs and approvals: under the usual umask 022 a store
    // made with 0644 files was readable by every account on the host.
    TempDir tmp;
    std::string dir = tmp.sub("made/data");
    { auto s = open_ok(dir); }
    auto mode = [](const std::string& path) {
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        return st.st_mode & 0777;
    };
    CHECK(mode(dir) == 0700);
    CHECK(mode(dir + "/data.mdb") == 0600);
    CHECK(mode(dir + "/lock.mdb") == 0600);
}

TEST_CASE("store: a refused open leaves no folder it made behind", "[store][open]") {
    TempDir tmp;
    std::string dir = tmp.sub("data");
    StoreOptions options;
    options.map_size = uint64_t(1) << 62;  // no address space holds it: mdb_env_open fails
    auto opened = Store::open(dir, options);
    REQUIRE_FALSE(opened.ok());
    CHECK_THAT(opened.error().message, Catch::Contains(dir));
    CHECK_FALSE(fs::exists(dir));

    // A folder that was there before the refusal stays, with what it held.
    fs::create_directories(dir);
    write_file(dir + "/data.mdb", "");
    REQUIRE_FALSE(Store::open(dir, options).ok());
    CHECK(fs::exists(dir + "/data.mdb"));
}

namespace {

// Store::open's error as seen by a user who may not write to the folder. Root writes anywhere,
// so when the tests run as root the open happens in a child that has become "nobody".
std::string open_error_without_write_access(const std::string& dir) {
    if (::geteuid() != 0) {
        auto opened = Store::open(dir);
        return opened ? std::string("opened") : opened.error().message;
    }
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        const passwd* nobody = ::getpwnam("nobody");
        uid_t uid = nobody ? nobody->pw_uid : 65534;
        gid_t gid = nobody ? nobody->pw_gid : 65534;
        std::string msg;
        if (::setgid(gid) != 0 || ::setuid(uid) != 0) {
            msg = "cannot drop privileges";
        } else {
            auto opened = Store::open(dir);
            msg = opened ? std::string("opened") : opened.error().message;
        }
        ssize_t w = ::write(fds[1], msg.data(), msg.size());
        (void)w;
        ::_exit(0);  // no Catch2 or sanitizer teardown in the child
    }
    ::close(fds[1]);
    std::string msg;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
        msg.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return msg;
}

}  // namespace

TEST_CASE("store: a read-only folder gives a clear error", "[store][open]") {
    TempDir tmp;
    // The test folder must be reachable by the unprivileged user.
    fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_exec |
                                    fs::perms::others_exec | fs::perms::group_read |
                                    fs::perms::others_read);
    std::string dir = tmp.sub("data");
    const auto ro_dir = fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                        fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec;
    const auto ro_file = fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read;

    SECTION("an existing store") {
        {
            auto s = open_ok(dir);
            s->put_kv("k", "v");
            commit_ok(*s);
        }
        std::remove((dir + "/lock.mdb").c_str());  // a clean shutdown elsewhere, say
        for (auto& e : fs::directory_iterator(dir))
            fs::permissions(e.path(), ro_file);
        fs::permissions(dir, ro_dir);
        auto before = snapshot(dir);
        std::string msg = open_error_without_write_access(dir);
        CHECK_THAT(msg, Catch::Contains(dir) && Catch::Contains("permission denied"));
        CHECK(snapshot(dir) == before);
    }
    SECTION("a lock.mdb another user made") {
        // A command run as root after a restore re-creates lock.mdb as root's: the message
        // names that file and its owner, not only the folder (which the service owns).
        if (::geteuid() != 0) return;  // the same user would open it
        {
            auto s = open_ok(dir);
            s->put_kv("k", "v");
            commit_ok(*s);
        }
        fs::permissions(dir, fs::perms::all);
        fs::permissions(dir + "/data.mdb", fs::perms::owner_read | fs::perms::owner_write |
                                               fs::perms::group_read | fs::perms::group_write |
                                               fs::perms::others_read | fs::perms::others_write);
        std::string msg = open_error_without_write_access(dir);
        CHECK_THAT(msg, Catch::Contains("permission denied") &&
                            Catch::Contains("lock.mdb belongs to uid 0 and this process"));
    }
    SECTION("a data.mdb its owner's mode does not let write") {
        if (::geteuid() != 0) return;  // the folder must become the unprivileged user's
        {
            auto s = open_ok(dir);
            s->put_kv("k", "v");
            commit_ok(*s);
        }
        const passwd* nobody = ::getpwnam("nobody");
        const uid_t uid = nobody ? nobody->pw_uid : 65534;
        const gid_t gid = nobody ? nobody->pw_gid : 65534;
        for (const std::string& path : {dir, dir + "/data.mdb", dir + "/lock.mdb"})
            REQUIRE(::chown(path.c_str(), uid, gid) == 0);
        fs::permissions(dir + "/data.mdb", fs::perms::owner_read);
        std::string msg = open_error_without_write_access(dir);
        CHECK_THAT(msg, Catch::Contains("data.mdb is this process's (uid " + std::to_string(uid) +
                                        ") but its mode (0400) does not let its owner write it: "
                                        "chmod u+w " +
                                        dir + "/data.mdb"));
    }
    SECTION("an immutable data.mdb") {
        // Its owner runs ferry and its mode allows writing: "run ferry as the owner" (the
        // advice for another user's file) sent them in circles.
        {
            auto s = open_ok(dir);
            s->put_kv("k", "v");
            commit_ok(*s);
        }
        const std::string data = dir + "/data.mdb";
        int fd = ::open(data.c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        int flags = 0;
        const bool marked = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && [&] {
            int immutable = flags | FS_IMMUTABLE_FL;
            return ::ioctl(fd, FS_IOC_SETFLAGS, &immutable) == 0;
        }();
        if (!marked) {  // not root, or a file system without the flag (tmpfs)
            ::close(fd);
            return;
        }
        auto opened = Store::open(dir);
        ::ioctl(fd, FS_IOC_SETFLAGS, &flags);  // back, so that the folder can be removed
        ::close(fd);
        REQUIRE_FALSE(opened);
        CHECK_THAT(opened.error().message,
                   Catch::Contains("data.mdb cannot be opened for writing, though its owner "
                                   "(uid 0) and mode let this process (uid 0) write it: is it "
                                   "immutable (lsattr " +
                                   data + "; chattr -i)"));
    }
    SECTION("a new store under a read-only parent") {
        std::string parent = tmp.sub("ro");
        fs::create_directories(parent);
        fs::permissions(parent, ro_dir);
        std::string msg = open_error_without_write_access(parent + "/data");
        CHECK_THAT(msg, Catch::Contains(parent + "/data") &&
                            Catch::Contains("cannot create the folder") &&
                            Catch::Contains("ermission denied"));
    }
}

namespace {

// Resident pages of the process backed by files (/proc/self/statm, third field).
size_t file_pages_resident() {
    std::ifstream statm("/proc/self/statm");
    size_t size = 0, resident = 0, shared = 0;
    statm >> size >> resident >> shared;
    return shared;
}

// Writes history the way the engine does (an execution record, then step records updating
// it, one commit per group) until the data file holds at least `bytes`; returns how many
// more file pages the process has resident afterwards.
size_t mapped_growth_writing(const std::string& dir, size_t mapped_budget, size_t bytes) {
    StoreOptions options;
    options.durable = false;
    options.mapped_budget = mapped_budget;
    auto s = open_ok(dir, options);
    size_t before = file_pages_resident();
    const std::string output(600, 'x');
    uint64_t t = kT0;
    while (fs::file_size(dir + "/data.mdb") < bytes) {
        for (int i = 0; i < 50; ++i) {
            std::string id = new_ulid(t++);
            s->put_execution(id, "wf", "running", exec_json(id, "wf", "running"));
            for (const char* step : {"a", "b", "c"})
                s->put_step(id, step, R"({"output":")" + output + R"("})");
            s->put_execution(id, "wf", "succeeded", exec_json(id, "wf", "succeeded"));
        }
        commit_ok(*s);
    }
    return file_pages_resident() - before;
}

}  // namespace

TEST_CASE("store: the history file does not stay mapped into the process", "[store][memory]") {
    // Reading the tree maps pages of the file (with their page-cache neighbours) into the
    // process: RSS would grow with the history. Past the budget the store drops them.
    constexpr size_t kMiB = size_t(1) << 20;
    const size_t page = size_t(getpagesize());
    TempDir tmp;
    size_t kept = mapped_growth_writing(tmp.sub("kept"), 0, 96 * kMiB);
    size_t dropped = mapped_growth_writing(tmp.sub("dropped"), 8 * kMiB, 96 * kMiB);
    INFO("file pages mapped: without a budget +" << kept * page / kMiB << " MiB, with 8 MiB +"
                                                 << dropped * page / kMiB << " MiB");
    CHECK(kept * page > 32 * kMiB);     // the growth this guards against
    CHECK(dropped * page < 16 * kMiB);  // the budget, and at most one commit more
}

TEST_CASE("store: JSON records are stored as valid UTF-8, each bad byte replaced", "[store]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    std::string id = new_ulid();
    const std::string bad = "{\"text\":\"caf\xe9 \xed\xa0\x80!\"}";  // Latin-1, a surrogate
    const std::string repaired =
        "{\"text\":\"caf\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!\"}";
    s->put_execution(id, "wf", "running", bad);
    s->put_step(id, "a", bad);
    s->put_attempt(id, "a", 1, bad);
    s->add_change(id, bad);
    s->put_dlq("d1", bad);
    commit_ok(*s);
    CHECK(*s->get_execution(id).value() == repaired);
    CHECK(s->steps(id).value().at(0).json == repaired);
    CHECK(s->attempts(id, "a").value().at(0).json == repaired);
    CHECK(*s->get_dlq("d1").value() == repaired);
    CHECK(s->changes(id).value().at(0).json.find("\xe9") == std::string::npos);
}

TEST_CASE("store: history records are scrubbed of secret values as they are written",
          "[store][secrets]") {
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    const std::string secret = "store-test-secret-5b1c9e";
    Redactor::instance().add(secret);
    std::string id = new_ulid();
    const std::string leaky = R"({"token":")" + secret + R"("})";
    s->put_execution(id, "wf", "running", leaky);
    s->put_step(id, "a", leaky);
    s->put_attempt(id, "a", 1, leaky);
    s->add_change(id, leaky);
    s->put_workflow("h", leaky);
    commit_ok(*s);
    const std::string scrubbed = R"({"token":"[REDACTED]"})";
    CHECK(*s->get_execution(id).value() == scrubbed);
    // A step record says a secret was taken out of it: read back by a resume, its
    // "[REDACTED]" stands for a value the run cannot send.
    CHECK(s->steps(id).value().at(0).json == R"({"token":"[REDACTED]","redacted":true})");
    s->put_step(id, "b", R"({"note":"[REDACTED] by the vendor"})");
    s->put_step(id, "c", "{ }");
    commit_ok(*s);
    CHECK(s->steps(id).value().at(1).json == R"({"note":"[REDACTED] by the vendor"})");
    CHECK(s->attempts(id, "a").value().at(0).json == scrubbed);
    CHECK(s->changes(id).value().at(0).json == scrubbed);
    // A workflow definition is not history: it is kept as it must run.
    CHECK(*s->get_workflow("h").value() == leaky);
}

TEST_CASE("store: a file short only until its writer fills the tail opens", "[store]") {
    // Another process sharing the store may be between its commit (a meta page counting
    // pages at the end) and filling that tail: a `ferry run` opening then was told the
    // store was a truncated copy to restore from a backup.
    TempDir tmp;
    std::string dir = tmp.sub("data");
    {
        auto s = open_ok(dir);
        for (int i = 0; i < 50; ++i) {
            std::string id = new_ulid();
            s->put_execution(id, "w", "succeeded", exec_json(id, "w", "succeeded"));
        }
        commit_ok(*s);
    }
    const std::string path = dir + "/data.mdb";
    const std::string whole = read_file(path);
    REQUIRE(whole.size() > 4 * 4096);
    const size_t cut = whole.size() - 2 * 4096;
    REQUIRE(::truncate(path.c_str(), off_t(cut)) == 0);
    std::thread filler([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        std::ofstream(path, std::ios::binary | std::ios::app) << whole.substr(cut);
    });
    auto opened = Store::open(dir);
    filler.join();
    INFO((opened ? std::string() : opened.error().describe()));
    CHECK(opened);
    CHECK(read_file(path) == whole);
}

namespace {

// In a child process: opens the folder's LMDB environment, begins a read transaction and
// dies inside it, as a `ferry executions export` killed by `timeout` does.
void die_while_reading(const std::string& dir) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        MDB_env* env = nullptr;
        MDB_txn* txn = nullptr;
        if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 32) != 0 ||
            mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0600) != 0 ||
            mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) != 0)
            ::_exit(2);
        ::_exit(0);  // the slot stays taken: nothing ends the transaction
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
}

}  // namespace

TEST_CASE("store: a reader that died inside its transaction stops pinning pages", "[store]") {
    // Its snapshot kept every page freed after it from reuse: pruning gave nothing back and
    // data.mdb grew with each execution until the map was full.
    TempDir tmp;
    const std::string dir = tmp.sub("d");
    auto store = open_ok(dir);
    const std::string big(64 * 1024, 'x');
    for (int i = 0; i < 8; ++i)
        store->put_kv("k" + std::to_string(i), big);
    commit_ok(*store);
    die_while_reading(dir);
    CHECK(store->clear_dead_readers() == 1);
    CHECK(store->clear_dead_readers() == 0);
    // Freed pages are reused again: rewriting the same data does not grow the file.
    for (int round = 0; round < 4; ++round) {
        for (int i = 0; i < 8; ++i)
            store->put_kv("k" + std::to_string(i), big + std::to_string(round));
        commit_ok(*store);
    }
    const uint64_t settled = store->high_water_bytes();
    die_while_reading(dir);
    store->usage();  // what the server's room check calls: it frees the slot first
    for (int round = 0; round < 8; ++round) {
        for (int i = 0; i < 8; ++i)
            store->put_kv("k" + std::to_string(i), big + std::to_string(round));
        commit_ok(*store);
    }
    CHECK(store->high_water_bytes() <= settled + 64 * 1024);
    store.reset();
    // A process opening the folder frees such slots too.
    die_while_reading(dir);
    store = open_ok(dir);
    CHECK(store->clear_dead_readers() == 0);
}

TEST_CASE("store: a damaged change record is reported, not passed on", "[store]") {
    // Spliced as it was into `executions export` (exit 0) and the API's diff (200), it made
    // them invalid JSON behind a success: the documented backup check passed on a damaged copy.
    TempDir tmp;
    auto s = open_ok(tmp.sub("data"));
    std::string id = new_ulid();
    s->add_change(id, R"({"step":"t","kind":"k","id":"1","at":"x","before":null,"after":{}})");
    s->add_change(id, R"([{"step":"t","kind":"k","id":"1","at":"x","before":null,)");
    commit_ok(*s);
    auto changes = s->changes(id);
    REQUIRE_FALSE(changes);
    CHECK(changes.error().kind == ErrorKind::Storage);
    CHECK(changes.error().message ==
          "change 2 of execution " + id +
              " is damaged (its record is not a JSON object): restore the data folder from a "
              "backup (see 'A data directory Ferry cannot read' in docs/operations.md)");
}
