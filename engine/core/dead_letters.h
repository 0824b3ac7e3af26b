// Replaying a dead letter: the stored delivery sent again through its integration (fresh
// signature and credentials, same webhook-id), removed from the queue on a 2xx, kept with
// its last error otherwise. Shared by `ferry dlq replay` and POST /api/v1/dlq/{id}/replay.
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

}  // namespace ferry::engine
