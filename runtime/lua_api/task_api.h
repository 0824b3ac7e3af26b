// ferry.* modules that only make sense inside a running task: ferry.http (yields on
// libcurl), ferry.sleep (yields on a timer), ferry.lock (yields while another task holds
// the key) and ferry.log (writes to the step's log).
#pragma once

#include "runtime/http_client.h"

struct lua_State;

namespace ferry {
class IntegrationRegistry;
}

namespace ferry::lua_api {

// Makes client the HttpClient that ferry.http uses in this VM (stored in the registry).
void set_http_client(lua_State* L, HttpClient* client);
// Makes registry the integrations ferry.http.request{integration = NAME} reaches.
void set_integrations(lua_State* L, IntegrationRegistry* registry);

// Raises unless the value at the top of the stack is nil or of the type: a field of the
// wrong type ignored would send a request the task did not ask for (no headers, no query,
// TLS checks it meant to turn off, a PUT it marked not idempotent retried).
void check_request_field(lua_State* L, const char* field, int type);
// Shared by the plain and the integration request paths (task_api.cpp).
// Reads method, url, query, headers, json | body, timeout, verify_tls, ca_file,
// client_cert, client_key from the table at idx; raises on misuse. A missing url is
// allowed when url_required is false. Returns whether a timeout was given.
bool read_http_request(lua_State* L, int idx, HttpRequest& req, bool url_required);
// [-0, +1] The response table {status, headers (lower-case names), body, json, duration_ms}.
void push_http_response(lua_State* L, const HttpResponse& res);
// What a request function returns when it has parked the task: its caller yields then.
constexpr int kParked = -1;
// ferry.http.request{integration = NAME, ...} (runtime/lua_api/integration.cpp): kParked, or
// the number of results pushed (a preview).
int integration_request(lua_State* L, const char* name);

int open_http(lua_State* L);   // ferry.http: request, url, is_credential_header, text
int open_sleep(lua_State* L);  // ferry.sleep(ms | "2s"): a function, not a table
int open_lock(lua_State* L);   // ferry.lock(key) -> handle, waited: a key one task holds
int open_log(lua_State* L);    // ferry.log: debug/info/warn/error(message [, fields])
// ferry.step: change(kind, id, before, after) records a diff, dead_letter(entry), and
// remember(name, value) / remembered(name) (memo.cpp): what a task keeps for its retries.
int open_step(lua_State* L);
// [-0, +0] Sets remember and remembered in the table at the top of the stack (memo.cpp).
void add_memo_functions(lua_State* L);

}  // namespace ferry::lua_api
