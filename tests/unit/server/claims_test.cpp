// Idempotency claims: answered from memory until their commit, and stale once durable with
// their execution gone.
#include "server/claims.h"

#include "runtime/ids.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

using namespace ferry;
using namespace ferry::engine::server;

namespace {

struct OpenStore {
    testing::TempDir dir;
    std::unique_ptr<store::Store> store;
    OpenStore() {
        auto opened = store::Store::open(dir.path());
        REQUIRE(opened.ok());
        store = std::move(opened).value();
    }
};

}  // namespace

TEST_CASE("a claim is answered before its commit and stale once its execution is gone",
          "[claims]") {
    OpenStore s;
    const std::string key = std::string(kIdempotencyClaims) + "k", id = new_ulid();
    const std::string value = id + " fingerprint";

    // Staged with its execution, neither durable yet: answered, and not stale.
    claim(*s.store, key, value);
    s.store->put_execution(id, "wf", "running", R"({"id":")" + id + R"("})");
    CHECK(*claimed(*s.store, key).value() == value);
    CHECK_FALSE(s.store->get_execution(id).value().has_value());
    CHECK_FALSE(claim_outlived_execution(*s.store, key, value));

    REQUIRE(s.store->commit().ok());
    CHECK(*claimed(*s.store, key).value() == value);
    CHECK_FALSE(claim_outlived_execution(*s.store, key, value));

    // The execution pruned, its claim not yet released: stale.
    s.store->erase_execution(id);
    REQUIRE(s.store->commit().ok());
    CHECK(claim_outlived_execution(*s.store, key, value));
    CHECK(claim_outlived_execution(*s.store, key, id));  // a bare id, as older claims hold

    // A new claim under the key, staged: not stale while its execution is staged too.
    const std::string next = new_ulid();
    claim(*s.store, key, next + " fingerprint");
    CHECK_FALSE(claim_outlived_execution(*s.store, key, next + " fingerprint"));
    REQUIRE(s.store->commit().ok());  // the staged claims are the process's: leave none
}

TEST_CASE("a claim is pending until the commit of its own batch", "[claims]") {
    // The hook-id sweep reads committed values: a key claimed again since then must not be
    // erased by it, or the erase (staged after the claim) forgets that delivery.
    OpenStore s;
    const std::string key = "hookid:h1:msg_1";
    CHECK_FALSE(claim_pending(key));
    claim(*s.store, key, "1000 first");
    CHECK(claim_pending(key));
    REQUIRE(s.store->commit().ok());
    CHECK_FALSE(claim_pending(key));
    CHECK(*claimed(*s.store, key).value() == "1000 first");

    // Claimed twice before one commit: the first claim's callback leaves the second alone,
    // the second's forgets it; the store holds the second.
    claim(*s.store, key, "2000 second");
    claim(*s.store, key, "3000 third");
    CHECK(*claimed(*s.store, key).value() == "3000 third");
    REQUIRE(s.store->commit().ok());
    CHECK_FALSE(claim_pending(key));
    CHECK(*s.store->get_kv(key).value() == "3000 third");
}
