// Replaying a dead letter: the stored delivery sent again through its integration (fresh
// signature and credentials, same webhook-id), removed from the queue on a 2xx, kept with
// its last error otherwise; or dropping it. Shared by `ferry dlq replay|drop` and
// POST /api/v1/dlq/{id}/replay, DELETE /api/v1/dlq/{id}.
#pragma once

#include "core/app.h"

#include <functional>
#include <string>

namespace ferry::engine {

struct ReplayResult {
    bool delivered = false;
    long status = 0;  // 0: no HTTP answer
    int attempts = 0;
    std::string error;  // when not delivered
    // Nothing was sent, for a reason no retry mends (a secret that does not resolve, a
    // malformed one): the entry waits for the configuration, not for the receiver.
    bool refused = false;
    // Nothing was sent: another replay of the entry is in flight, in this process or
    // another on the same data folder (error says which).
    bool busy = false;
};

// done runs on the loop; errors: NotFound (no such entry), Validation (its integration is
// no longer configured, or it holds no request).
void replay_dead_letter(App& app, const std::string& id,
                        std::function<void(Result<ReplayResult>)> done);

// Removes the entry: staged, durable at the next commit (after_commit callbacks staged
// after this call run once it is). Not while a replay of it is in flight, in this process
// or another on the same data folder: its failure would put the entry back. Returns whether
// it was removed (false: busy, message says so); errors: NotFound, Storage.
struct DropResult {
    bool dropped = false;
    std::string busy;  // why not, when not
};
Result<DropResult> drop_dead_letter(App& app, const std::string& id);

// A stored entry as listings show it (`ferry dlq list --json`, GET /api/v1/dlq): a password
// in its request's URL replaced, as history shows one. The entry keeps it: a replay sends
// the request as it was.
std::string shown_dead_letter(const std::string& json);

}  // namespace ferry::engine
