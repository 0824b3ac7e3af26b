// One integration's settings as the runtime needs them: where requests go, how they
// authenticate, and the policies around them. The engine fills it from ferry.yaml; the
// runtime knows nothing of that file. Secret fields hold references (`${env:NAME}`), never
// values: they are resolved when a request is prepared.
#pragma once

#include "runtime/integration/policy.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ferry {

struct IntegrationAuth {
    std::string type = "none";         // none | basic | bearer | api_key | splunk | oauth2
    std::string username;              // basic
    std::string password;              // basic (secret)
    std::string token;                 // bearer, splunk (secret)
    std::string header = "X-API-Key";  // api_key
    std::string value;                 // api_key (secret)
    std::string token_url;             // oauth2: absolute, or relative to base_url
    std::string client_id;             // oauth2
    std::string client_secret;         // oauth2 (secret)
    std::string scope;                 // oauth2 (optional)
};

struct IntegrationTls {
    bool verify = true;
    std::string ca_file;
    std::string client_cert;  // mutual TLS
    std::string client_key;   // mutual TLS (a path; the file is the secret)
};

struct IntegrationConfig {
    std::string name;
    std::string type;  // servicenow | jira | splunk_hec | webhook | http
    std::string base_url;
    std::string url;  // webhook target (used when a request names no path/url)
    IntegrationAuth auth;
    IntegrationTls tls;
    uint64_t timeout_ms = 30000;
    RetryPolicy retry;
    double rate_per_second = 0;  // 0: unlimited
    double rate_burst = 0;
    int breaker_failures = 5;  // consecutive failures that open the breaker (0: off)
    uint64_t breaker_reset_ms = 30000;
    bool dry_run = false;
    std::vector<std::string> webhook_secrets;  // whsec_... references (several: rotation)
    // Sent with every request to the integration's own origins unless the request sets
    // the header itself (HEC's data channel: acknowledgments belong to the channel, so
    // the poll for them must carry it as the batches did).
    std::vector<std::pair<std::string, std::string>> headers;
    size_t max_logged_body = 4096;             // bytes of each body kept in attempt records
    // ... of an attempt answered 2xx/3xx: the task's output keeps what it used of the
    // answer and the step's input what was sent, so a long copy here only repeats them
    // (a create's description was stored twice more per attempt).
    size_t max_logged_body_answered = 256;
    std::string public_json;  // the settings a task may see (no secrets), a JSON object
};

}  // namespace ferry
