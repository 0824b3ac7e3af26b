// ferry.* modules that only make sense inside a running task: ferry.http (yields on
// libcurl), ferry.sleep (yields on a timer) and ferry.log (writes to the step's log).
#pragma once

#include "runtime/http_client.h"

struct lua_State;

namespace ferry::lua_api {

// Makes client the HttpClient that ferry.http uses in this VM (stored in the registry).
void set_http_client(lua_State* L, HttpClient* client);

int open_http(lua_State* L);   // ferry.http: request{...}, get(url, opts), post(url, opts)
int open_sleep(lua_State* L);  // ferry.sleep(ms | "2s"): a function, not a table
int open_log(lua_State* L);    // ferry.log: debug/info/warn/error(message [, fields])
int open_step(lua_State* L);   // ferry.step: change(kind, id, before, after) records a diff

}  // namespace ferry::lua_api
