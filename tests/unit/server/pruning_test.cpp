// HistoryPruner against a real store: pages of a few executions, each committed before the
// next is read (as both drivers do), so the walk must find its way past erased pages.
#include "server/pruning.h"

#include "core/values.h"
#include "runtime/ids.h"
#include "server/claims.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <set>
#include <vector>

using namespace ferry;
using namespace ferry::engine::server;

namespace {

using ferry::testing::TempDir;

constexpr uint64_t kT0 = 1700000000000;  // ids' creation times count from here

struct History {
    TempDir dir;
    std::unique_ptr<store::Store> store;
    uint64_t next_ms = kT0;

    History() {
        auto opened = store::Store::open(dir.path());
        REQUIRE(opened.ok());
        store = std::move(opened).value();
    }
    std::string add(const std::string& workflow, const std::string& status,
                    const std::string& parent = "") {
        std::string id = new_ulid(next_ms);
        next_ms += 1000;
        std::string json = R"({"id":")" + id + R"(","workflow":")" + workflow + R"(","status":")" +
                           status + R"(","created_at":"x")";
        if (!parent.empty()) json += R"(,"parent":{"execution":")" + parent + R"(","step":"s"})";
        store->put_execution(id, workflow, status, json + "}");
        store->put_step(id, "s", R"({"status":")" + status + R"("})");
        commit();
        return id;
    }
    void commit() { REQUIRE(store->commit().ok()); }
    std::set<std::string> ids() {
        store::ExecutionFilter all;
        all.limit = 0;
        std::set<std::string> out;
        auto docs = store->list_executions(all);
        REQUIRE(docs.ok());
        for (const std::string& doc : docs.value()) {
            size_t at = doc.find(R"("id":")") + 6;
            out.insert(doc.substr(at, doc.find('"', at) - at));
        }
        return out;
    }
    // Runs a pruner to its end as `ferry executions prune` does; returns the steps taken.
    size_t run(HistoryPruner& pruner) {
        size_t steps = 0;
        for (;;) {
            Result<bool> more = pruner.step();
            REQUIRE(more.ok());
            commit();
            if (!more.value()) return steps;
            REQUIRE(++steps < 1000);
        }
    }
};

}  // namespace

TEST_CASE("pruning walks every page of every ended status, committing between pages", "[pruning]") {
    History h;
    std::set<std::string> ended, kept;
    for (int i = 0; i < 7; ++i)
        ended.insert(h.add("wf", i % 3 == 0 ? "failed" : "succeeded"));
    ended.insert(h.add("other", "cancelled"));
    kept.insert(h.add("wf", "running"));
    kept.insert(h.add("wf", "waiting"));
    std::string waiting_parent = *kept.rbegin();
    std::string child_of_waiting = h.add("child", "succeeded", waiting_parent);
    kept.insert(child_of_waiting);
    std::string ended_parent = *ended.begin();
    ended.insert(h.add("child", "succeeded", ended_parent));
    uint64_t cutoff = h.next_ms;
    std::string younger = h.add("wf", "succeeded");  // created at the cutoff: stays
    kept.insert(younger);

    std::vector<std::string> listed;
    HistoryPruner::Options options;
    options.before_ms = cutoff;
    options.page = 2;
    HistoryPruner pruner(*h.store, options, [&](const tmpl::Value& record) {
        listed.push_back(std::string(engine::dict_get(record, "id")->str()));
    });
    size_t steps = h.run(pruner);
    CHECK(pruner.pruned() == ended.size());
    CHECK(pruner.kept_children() == 1);
    CHECK(std::set<std::string>(listed.begin(), listed.end()) == ended);
    CHECK(listed.size() == ended.size());  // each once
    CHECK(steps > ended.size() / 2);       // it really went page by page
    CHECK(h.ids() == kept);
    for (const std::string& id : ended)
        CHECK(h.store->steps(id).value().empty());
    CHECK(h.store->steps(child_of_waiting).value().size() == 1);
    auto record = h.store->get_kv(std::string(kLastPruneKey)).value();
    REQUIRE(record.has_value());
    CHECK(record->find(R"("pruned":)" + std::to_string(ended.size())) != std::string::npos);
}

TEST_CASE("a dry run lists what would go and writes nothing", "[pruning]") {
    History h;
    std::string a = h.add("wf", "succeeded"), b = h.add("other", "failed");
    h.add("wf", "running");
    std::set<std::string> before = h.ids();
    HistoryPruner::Options options;
    options.before_ms = h.next_ms;
    options.dry_run = true;
    options.page = 1;
    std::set<std::string> listed;
    HistoryPruner pruner(*h.store, options, [&](const tmpl::Value& record) {
        listed.insert(std::string(engine::dict_get(record, "id")->str()));
    });
    h.run(pruner);
    CHECK(listed == std::set<std::string>{a, b});
    CHECK(pruner.pruned() == 2);
    CHECK(h.ids() == before);
    CHECK_FALSE(h.store->get_kv(std::string(kLastPruneKey)).value().has_value());
}

TEST_CASE("pruning one workflow releases only the claims of what it removed", "[pruning]") {
    History h;
    std::string gone = h.add("wf", "succeeded"), stays = h.add("other", "succeeded");
    std::string gone_too = h.add("wf", "failed");
    const std::string claim = std::string(kIdempotencyClaims);
    h.store->put_kv(claim + "k1", gone + " fingerprint");
    h.store->put_kv(claim + "k2", stays);  // a bare id: claims made before fingerprints
    h.store->put_kv(claim + "k3", gone_too + " fingerprint");
    h.store->put_kv(claim + "k4", stays + " fingerprint");
    h.store->put_kv("schedule:k5", gone);  // not a claim
    h.commit();
    HistoryPruner::Options options;
    options.before_ms = h.next_ms;
    options.workflow = "wf";
    options.claims_page = 1;  // each claim its own step, the one before committed
    HistoryPruner pruner(*h.store, options);
    h.run(pruner);
    CHECK(pruner.pruned() == 2);
    CHECK(pruner.released_claims() == 2);
    CHECK(h.ids() == std::set<std::string>{stays});
    auto left = h.store->scan_kv("");
    REQUIRE(left.ok());
    std::set<std::string> keys;
    for (const store::KeyedJson& kv : left.value())
        keys.insert(kv.key);
    CHECK(keys == std::set<std::string>{claim + "k2", claim + "k4", "schedule:k5",
                                        std::string(kLastPruneKey)});
}

TEST_CASE("nothing to prune takes no record", "[pruning]") {
    History h;
    h.add("wf", "running");
    HistoryPruner::Options options;
    options.before_ms = h.next_ms;
    HistoryPruner pruner(*h.store, options);
    h.run(pruner);
    CHECK(pruner.pruned() == 0);
    CHECK_FALSE(h.store->get_kv(std::string(kLastPruneKey)).value().has_value());
}

TEST_CASE("an execution erased twice counts once: what the commit found, not what was staged",
          "[pruning]") {
    // Two prunes at once (two processes) both stage the same pages; only the commit that
    // finds an execution erases it, and only that one may count it.
    History h;
    std::string a = h.add("wf", "succeeded"), b = h.add("wf", "failed");
    uint64_t before = h.store->executions_erased();
    h.store->erase_execution(a);
    h.store->erase_execution(a);
    h.store->erase_execution("01NOSUCHEXECUTIONXXXXXXXXX");
    h.commit();
    CHECK(h.store->executions_erased() - before == 1);

    HistoryPruner::Options options;
    options.before_ms = h.next_ms;
    HistoryPruner pruner(*h.store, options);
    h.run(pruner);
    CHECK(pruner.pruned() == 1);  // b: a was gone before this walk
    CHECK(h.ids().empty());
}
