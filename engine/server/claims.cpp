#include "server/claims.h"

#include <map>

namespace ferry::engine::server {

namespace {

// Claims staged but not yet committed (the loop thread's only).
std::map<std::string, std::string>& staged_claims() {
    static std::map<std::string, std::string> claims;
    return claims;
}

}  // namespace

void claim(store::Store& store, const std::string& key, std::string value) {
    store.put_kv(key, value);
    staged_claims()[key] = std::move(value);
    store.after_commit([key] { staged_claims().erase(key); });
}

Result<std::optional<std::string>> claimed(const store::Store& store, const std::string& key) {
    if (auto it = staged_claims().find(key); it != staged_claims().end())
        return std::optional<std::string>(it->second);
    return store.get_kv(key);
}

bool claim_outlived_execution(const store::Store& store, const std::string& key,
                              std::string_view value) {
    if (staged_claims().count(key)) return false;
    auto record = store.get_execution(std::string(claimed_execution(value)));
    return record && !record.value();
}

}  // namespace ferry::engine::server
