#include "server/claims.h"

#include <map>

namespace ferry::engine::server {

namespace {

struct StagedClaim {
    std::string value;
    uint64_t serial;  // which claim of the key: only its own commit forgets it
};

// Claims staged but not yet committed (the loop thread's only).
std::map<std::string, StagedClaim>& staged_claims() {
    static std::map<std::string, StagedClaim> claims;
    return claims;
}

}  // namespace

void claim(store::Store& store, const std::string& key, std::string value) {
    static uint64_t serials = 0;
    const uint64_t serial = ++serials;
    store.put_kv(key, value);
    staged_claims()[key] = StagedClaim{std::move(value), serial};
    // A claim of the same key staged after this one (in a later batch) stays remembered
    // until its own commit.
    store.after_commit([key, serial] {
        auto it = staged_claims().find(key);
        if (it != staged_claims().end() && it->second.serial == serial) staged_claims().erase(it);
    });
}

Result<std::optional<std::string>> claimed(const store::Store& store, const std::string& key) {
    if (auto it = staged_claims().find(key); it != staged_claims().end())
        return std::optional<std::string>(it->second.value);
    return store.get_kv(key);
}

bool claim_pending(const std::string& key) {
    return staged_claims().count(key) != 0;
}

void when_claim_durable(store::Store& store, const std::string& key, std::function<void()> answer) {
    if (!claim_pending(key)) return answer();
    store.after_commit(std::move(answer));
}

bool claim_outlived_execution(const store::Store& store, const std::string& key,
                              std::string_view value) {
    if (claim_pending(key)) return false;
    auto record = store.get_execution(std::string(claimed_execution(value)));
    return record && !record.value();
}

}  // namespace ferry::engine::server
