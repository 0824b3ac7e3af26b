// Keys the server claims in the store (an idempotency key for its execution, a webhook id
// as delivered) that must be visible before the commit that makes them durable: a second
// request inside the same commit window has to find the first one's claim, and store reads
// do not see staged writes.
#pragma once

#include "runtime/error.h"
#include "store/store.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::engine::server {

// Stages key = value and answers it from memory until the commit that writes it.
void claim(store::Store& store, const std::string& key, std::string value);
// The value claimed under key: committed, or staged by claim() and not yet committed.
Result<std::optional<std::string>> claimed(const store::Store& store, const std::string& key);
// Whether key has a claim staged or in the batch being committed: a store read still shows
// the value before it, so whatever that read decides about the key is out of date.
bool claim_pending(const std::string& key);

// Runs `answer` now when key's claim is durable (or there is none), else once the commit
// that writes it has run: an answer that rests on a claim (a repeat told the execution the
// first request started, a replay refused) must not reach a client before a crash could
// no longer take the claim back. Should that commit fail, `answer` is dropped with what it
// holds (a Responder answers 500 then, as the first request's does).
void when_claim_durable(store::Store& store, const std::string& key, std::function<void()> answer);

// Idempotency-Key claims (starter.cpp) are kept under this prefix, their value
// "EXECUTION_ID FINGERPRINT" (a bare id in claims made before requests were fingerprinted).
inline constexpr std::string_view kIdempotencyClaims = "idem:";
// The execution an idempotency claim's value names.
inline std::string_view claimed_execution(std::string_view value) {
    return value.substr(0, value.find(' '));
}
// Whether an idempotency claim is durable but the execution it names is gone: pruned, its
// claim not yet released (prune releases claims after the executions). Such a key starts a
// new execution, and prune releases it. A claim still staged is never stale: its execution
// is staged with it. A read that fails says no (the claim is left alone).
bool claim_outlived_execution(const store::Store& store, const std::string& key,
                              std::string_view value);

}  // namespace ferry::engine::server
