#include "runtime/lua_api/task_api.h"

#include "runtime/duration.h"
#include "runtime/http_text.h"
#include "runtime/integration/secrets.h"
#include "runtime/json_lua.h"
#include "runtime/json_numbers.h"
#include "runtime/lua_api/args.h"
#include "runtime/scheduler.h"
#include "runtime/utf8.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace ferry::lua_api {

namespace {

constexpr const char* kHttpClientKey = "ferry.http_client";

HttpClient* http_client(lua_State* L) {
    lua_getfield(L, LUA_REGISTRYINDEX, kHttpClientKey);
    auto* c = static_cast<HttpClient*>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    return c;
}

// A timeout argument: milliseconds as a number, or a duration text such as "2s".
uint64_t check_duration(lua_State* L, int idx, const char* what) {
    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Number n = lua_tonumber(L, idx);
        // Checked before the conversion: a NaN or a double past 2^64 made uint64_t(n)
        // undefined (ferry.sleep(math.huge) returned at once).
        if (std::isnan(n))
            luaL_error(L, "%s: duration must be a number of milliseconds, got nan", what);
        if (n < 0) luaL_error(L, "%s: duration must not be negative", what);
        if (!(n < 0x1p64)) luaL_error(L, "%s: duration too long (%f ms)", what, n);
        return uint64_t(n);
    }
    if (lua_type(L, idx) == LUA_TSTRING) {
        Result<uint64_t> ms = parse_duration_ms(lua_tostring(L, idx));
        if (!ms) luaL_error(L, "%s: %s", what, ms.error().message.c_str());
        return ms.value();
    }
    luaL_error(L, "%s: duration expected (milliseconds or text like \"2s\"), got %s", what,
               luaL_typename(L, idx));
    return 0;
}

struct HttpOp final : PendingOp {
    HttpClient* client;
    uint64_t transfer = 0;
    explicit HttpOp(HttpClient* c) : client(c) {}
    void cancel() override {
        if (transfer) client->cancel(transfer);
        transfer = 0;
    }
    const char* what() const override { return "http"; }
};

}  // namespace

void push_http_response(lua_State* L, const HttpResponse& res) {
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, res.status);
    lua_setfield(L, -2, "status");
    // Repeated headers are joined with ", " here, once per name: joined in Lua, each repeat
    // made a new string of all before it (8,000 one-byte repeats were 64 MiB of garbage
    // that failed the task's memory limit). Sorted by name (stable: repeats keep their
    // order), each run of one name is joined and pushed once.
    std::vector<std::pair<std::string, std::string>> headers;
    headers.reserve(res.headers.size());
    for (const auto& [name, raw_value] : res.headers) {
        std::string key = ascii_lower(name);
        // Headers are text a task returns and records (a Latin-1 filename in a
        // Content-Disposition failed a step whose request had been made): shown as U+FFFD,
        // as records show them. The body stays bytes (http.request gives it as base64).
        if (invalid_utf8_at(key) != std::string::npos) key = to_valid_utf8(key);
        headers.emplace_back(std::move(key), to_valid_utf8(raw_value));
    }
    std::stable_sort(headers.begin(), headers.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    lua_createtable(L, 0, int(headers.size()));
    for (size_t i = 0; i < headers.size();) {
        std::string& value = headers[i].second;
        size_t next = i + 1;
        for (; next < headers.size() && headers[next].first == headers[i].first; ++next) {
            value += ", ";
            value += headers[next].second;
        }
        lua_pushlstring(L, value.data(), value.size());
        lua_setfield(L, -2, headers[i].first.c_str());
        i = next;
    }
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, res.body.data(), res.body.size());
    lua_setfield(L, -2, "body");
    lua_pushnumber(L, res.duration_ms);
    lua_setfield(L, -2, "duration_ms");
    std::string type = res.header("content-type");
    if (type.find("json") != std::string::npos && !res.body.empty()) {
        // Parsed in place in a copy (NUL-terminated, strings decoded where they lie): the
        // length-checked stream rapidjson uses otherwise cost twice as much a byte, and
        // vendor answers echo whole records back (a ticket's rendered report). A NUL in
        // the body ends the text early, which is a parse error, as the NUL itself would be.
        // A vendor's bytes that are not UTF-8 (a Latin-1 name, a cut multi-byte character)
        // would make every record and answer holding them invalid JSON: shown as U+FFFD.
        std::string text = invalid_utf8_at(res.body) == std::string::npos ? std::string(res.body)
                                                                          : to_valid_utf8(res.body);
        // RapidJSON would decode a lone low surrogate escape to bytes that are not UTF-8.
        for (size_t at = lone_low_surrogate_escape_at(text); at != std::string::npos;
             at = lone_low_surrogate_escape_at(text, at + 6))
            text.replace(at, 6, "\\uFFFD");  // same length: what follows stays where it was
        rapidjson::Document doc;
        // The in-place parse stops at a NUL: a body with one is not JSON, even when what
        // comes before it would be ({"a":1}\0garbage).
        bool has_nul = text.find('\0') != std::string::npos;
        // A byte order mark before the JSON, which RFC 8259 lets a parser ignore (some
        // Windows-hosted services send one).
        size_t start = std::string_view(text).starts_with("\xEF\xBB\xBF") ? 3 : 0;
        if (!has_nul &&
            !json_numbers::parse_insitu<rapidjson::kParseIterativeFlag>(doc, text.data() + start)
                 .IsError()) {
            json_lua::push(L, doc);
            lua_setfield(L, -2, "json");
        }
    }
}

// One query value as text: a string, number or boolean; anything else raises.
std::string query_value(lua_State* L, int idx, const char* key) {
    int type = lua_type(L, idx);
    if (type == LUA_TBOOLEAN) return lua_toboolean(L, idx) ? "true" : "false";
    if (type != LUA_TSTRING && type != LUA_TNUMBER) {
        luaL_error(L,
                   "ferry.http: query '%s': a %s cannot be a query value (string, number, "
                   "boolean, or a list of them)",
                   key, luaL_typename(L, idx));
    }
    // As headers refuse them: "-nan" and "inf" went out as values.
    if (type == LUA_TNUMBER && !lua_isinteger(L, idx) && !std::isfinite(lua_tonumber(L, idx)))
        luaL_error(L, "ferry.http: query '%s': NaN or an infinity cannot be a query value", key);
    size_t n = 0;
    const char* v = lua_tolstring(L, idx, &n);
    return std::string(v, n);
}

// How many values the list at the top of the stack gives `key`. A proxy with its own
// __len is taken at its word (add() bounds what it gives); any other table must be a list,
// read raw: a map ({status = 'open'}), one with holes or a mixed table lost what the length
// did not reach, in silence, and a GET or DELETE went out without its filter.
lua_Integer query_list_length(lua_State* L, const std::string& key) {
    if (luaL_getmetafield(L, -1, "__len") != LUA_TNIL) {
        lua_pop(L, 1);
        return luaL_len(L, -1);
    }
    lua_Integer count = 0, top = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
            luaL_error(L,
                       "ferry.http: query '%s': a table that is not a list cannot be a query "
                       "value (give each value its own key, or encode it: ferry.json.encode)",
                       key.c_str());
        top = std::max(top, lua_tointeger(L, -1));
        ++count;
    }
    if (count != top)
        luaL_error(L, "ferry.http: query '%s': a list with holes cannot be a query value",
                   key.c_str());
    return top;
}

// The most text a query's keys and values may add up to (before percent-encoding).
constexpr size_t kMaxQueryBytes = 1 << 20;

// Appends a query table (the table at idx: string keys; values strings, numbers, booleans,
// or lists of them for a repeated key) to url, percent-encoded and before any #fragment:
// the one place that turns `query=` into a URL. Keys go in sorted order, so the same
// request is the same URL (signatures, caches, tests).
void append_query(lua_State* L, int idx, std::string& url) {
    idx = lua_absindex(L, idx);
    std::vector<std::pair<std::string, std::string>> pairs;
    // The pairs live outside the task's Lua memory limit: a list whose __len and __index
    // answer forever filled them for as long as the step's timeout let it (minutes, GBs).
    // No server takes a URL near this size.
    size_t text = 0;
    auto add = [&](const std::string& key) {
        pairs.emplace_back(key, query_value(L, -1, key.c_str()));
        text += key.size() + pairs.back().second.size() + 2;
        if (text > kMaxQueryBytes)
            luaL_error(L,
                       "ferry.http: the query is over %d bytes (a list's length or __len "
                       "wrong?)",
                       int(kMaxQueryBytes));
    };
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "ferry.http: query keys must be strings, got a %s", luaL_typename(L, -2));
        std::string key = lua_tostring(L, -2);
        if (lua_istable(L, -1)) {
            const lua_Integer n = query_list_length(L, key);
            for (lua_Integer i = 1; i <= n; ++i) {
                lua_geti(L, -1, i);
                add(key);
                lua_pop(L, 1);
            }
        } else {
            add(key);
        }
        lua_pop(L, 1);
    }
    std::stable_sort(pairs.begin(), pairs.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t hash = url.find('#');
    std::string fragment = hash == std::string::npos ? std::string() : url.substr(hash);
    if (hash != std::string::npos) url.resize(hash);
    char sep = url.find('?') == std::string::npos ? '?' : '&';
    for (const auto& [key, value] : pairs) {
        url += sep;
        url += url_encode(key);
        url += '=';
        url += url_encode(value);
        sep = '&';
    }
    url += fragment;
}

// ferry.http.url(url, query) -> the URL a request with that query goes to.
int http_url(lua_State* L) {
    std::string url = luaL_checkstring(L, 1);
    if (lua_istable(L, 2))
        append_query(L, 2, url);
    else if (!lua_isnoneornil(L, 2))
        luaL_typeerror(L, 2, "table or nil");
    lua_pushlstring(L, url.data(), url.size());
    return 1;
}

// ferry.http.shown_url(url [, query]): http_url's URL as history and previews show it, a
// password in it replaced (url_without_password).
int http_shown_url(lua_State* L) {
    http_url(L);
    std::string shown = url_without_password(lua_tostring(L, -1));
    lua_pushlstring(L, shown.data(), shown.size());
    return 1;
}

void check_request_field(lua_State* L, const char* field, int type) {
    if (lua_isnil(L, -1) || lua_type(L, -1) == type) return;
    // A field a workflow left null (`idempotent: null` in a step's with:) reaches the task
    // as ferry.json.null: not given, as nil is.
    if (json_lua::is_null(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return;
    }
    luaL_error(L, "ferry.http.request: bad argument '%s' (%s expected, got %s)", field,
               lua_typename(L, type), luaL_typename(L, -1));
}

bool read_http_request(lua_State* L, int idx, HttpRequest& req, bool url_required) {
    idx = lua_absindex(L, idx);
    // Read whole, NULs included, and refused with one: as C strings they were cut at the
    // NUL (a request for "/echo\0/x" went to /echo).
    auto whole = [L](const char* field) {
        size_t n = 0;
        const char* text = lua_tolstring(L, -1, &n);
        if (std::memchr(text, '\0', n))
            luaL_error(L, "ferry.http.request: '%s' contains a NUL byte", field);
        return std::string(text, n);
    };
    auto expect = [L](const char* field, int type) { check_request_field(L, field, type); };
    lua_getfield(L, idx, "method");
    expect("method", LUA_TSTRING);
    if (!lua_isnil(L, -1)) {
        req.method = whole("method");
    }
    lua_getfield(L, idx, "url");
    if (lua_isstring(L, -1)) {
        req.url = whole("url");
    } else if (url_required || !lua_isnil(L, -1)) {
        luaL_error(L, "ferry.http.request: bad argument 'url' (string expected, got %s)",
                   luaL_typename(L, -1));
    }
    lua_pop(L, 2);
    lua_getfield(L, idx, "query");
    expect("query", LUA_TTABLE);
    if (lua_istable(L, -1)) append_query(L, lua_gettop(L), req.url);
    lua_pop(L, 1);
    lua_getfield(L, idx, "headers");
    expect("headers", LUA_TTABLE);
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            // Silently dropping a header (a table value, a list entry) would send a request
            // the task did not ask for; a NUL inside one is refused by the HTTP layer.
            if (lua_type(L, -2) != LUA_TSTRING)
                luaL_error(L, "ferry.http.request: header names must be strings, got a %s",
                           luaL_typename(L, -2));
            if (!lua_isstring(L, -1)) {
                luaL_error(L, "ferry.http.request: header '%s': string expected, got %s",
                           lua_tostring(L, -2), luaL_typename(L, -1));
            }
            if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1) &&
                !std::isfinite(lua_tonumber(L, -1))) {
                luaL_error(L, "ferry.http.request: header '%s': %s is not a header value",
                           lua_tostring(L, -2),
                           lua_tonumber(L, -1) != lua_tonumber(L, -1) ? "NaN"
                                                                      : "an infinite number");
            }
            size_t kn = 0, vn = 0;
            const char* k = lua_tolstring(L, -2, &kn);
            const char* v = lua_tolstring(L, -1, &vn);
            req.headers.emplace_back(std::string(k, kn), std::string(v, vn));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "json");
    if (!lua_isnil(L, -1)) {
        Result<std::string> text = json_lua::to_json_text(L, lua_gettop(L));
        if (!text) luaL_error(L, "ferry.http.request: json: %s", text.error().message.c_str());
        req.body = std::move(text.value());
        bool has_type = false;
        for (auto& [k, v] : req.headers) {
            if (iequals(k, "content-type")) has_type = true;
        }
        if (!has_type) req.headers.emplace_back("Content-Type", "application/json");
    } else {
        lua_getfield(L, idx, "body");
        if (!lua_isnil(L, -1)) {
            if (!lua_isstring(L, -1)) {
                luaL_error(L,
                           "ferry.http.request: body must be a string, got %s (a table goes "
                           "in json =)",
                           luaL_typename(L, -1));
            }
            size_t n = 0;
            const char* b = lua_tolstring(L, -1, &n);
            req.body.assign(b, n);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "timeout");
    bool timeout_given = !lua_isnil(L, -1);
    if (timeout_given) {
        req.timeout_ms = check_duration(L, -1, "ferry.http.request: timeout");
        // libcurl reads 0 as "no timeout at all".
        if (req.timeout_ms == 0) luaL_error(L, "ferry.http.request: timeout must be more than 0");
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "verify_tls");
    expect("verify_tls", LUA_TBOOLEAN);
    if (lua_isboolean(L, -1)) req.verify_tls = lua_toboolean(L, -1);
    lua_pop(L, 1);
    for (auto [field, target] :
         {std::pair{"ca_file", &req.ca_file}, std::pair{"client_cert", &req.client_cert},
          std::pair{"client_key", &req.client_key}}) {
        lua_getfield(L, idx, field);
        expect(field, LUA_TSTRING);
        if (lua_isstring(L, -1)) *target = whole(field);
        lua_pop(L, 1);
    }

    return timeout_given;
}

namespace {

// Builds and sends the request of ferry.http.request and parks the task on it: kParked, or
// the number of results pushed.
int start_http_request(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    // A field it does not know was ignored: `heders = {...}` went out without its headers,
    // `path` (ctx.http's) to the integration's base URL itself.
    static constexpr const char* kFields[] = {
        "method",     "url",         "query",      "headers", "json",
        "body",       "timeout",     "verify_tls", "ca_file", "client_cert",
        "client_key", "integration", "idempotent", "retry",   "preview"};
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        const char* name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : nullptr;
        if (!name || std::none_of(std::begin(kFields), std::end(kFields),
                                  [&](const char* f) { return std::strcmp(f, name) == 0; }))
            return luaL_error(L,
                              "ferry.http.request: %s%s%s is no field (it takes method, url, "
                              "query, headers, json, body, timeout, verify_tls, ca_file, "
                              "client_cert, client_key, integration, idempotent, retry)",
                              name ? "'" : "a ", name ? name : luaL_typename(L, -1),
                              name ? "'" : " key");
    }
    lua_getfield(L, 1, "integration");
    check_request_field(L, "integration", LUA_TSTRING);
    if (lua_type(L, -1) == LUA_TSTRING) {
        std::string name = lua_tostring(L, -1);
        lua_pop(L, 1);
        return integration_request(L, name.c_str());
    }
    lua_pop(L, 1);
    Task* task = Scheduler::current(L, "HTTP (ctx.http, ferry.http.request)");
    HttpClient* client = http_client(L);
    if (!client) return luaL_error(L, "ferry.http.request: no HTTP client in this process");
    Scheduler* sched = Scheduler::of(L);

    HttpRequest req;
    read_http_request(L, 1, req, true);

    auto op = std::make_unique<HttpOp>(client);
    HttpOp* raw = op.get();
    task->park(std::move(op));
    // The callback must not touch the op: a cancelled task has already destroyed it, and
    // the client then reports Cancelled, which is ignored here.
    raw->transfer = client->send(
        std::move(req), [sched, task](Result<HttpResponse> res, const HttpTransferInfo& info) {
            bool sent = info.request_sent;
            if (res) {
                auto response = std::make_shared<HttpResponse>(std::move(res.value()));
                sched->complete(task, [response](lua_State* co) {
                    push_http_response(co, *response);
                    return 1;
                });
            } else {
                Error err = res.error();
                if (err.kind == ErrorKind::Cancelled) return;  // the task is gone or ending
                sched->complete(task, [err, sent](lua_State* co) {
                    lua_pushnil(co);
                    push_error_table(co, err);
                    lua_pushboolean(co, sent);
                    lua_setfield(co, -2, "request_sent");
                    return 2;
                });
            }
        });
    return kParked;
}

// ferry.http.request{method=, url=, headers=, query=, json=, body=, timeout=, ...}
//
// Lua built as C++ yields by throwing, and the unwinder runs a landing pad in every frame
// that still holds C++ objects (a request, a callback, a string): with the request built in
// start_http_request, this frame yields with none alive (two landing pads cost as much as
// the throw itself, ~20k instructions per request).
int http_request(lua_State* L) {
    int results = start_http_request(L);
    return results == kParked ? lua_yield(L, 0) : results;
}

int sleep_fn(lua_State* L) {
    uint64_t ms = check_duration(L, 1, "ferry.sleep");
    Task* task = Scheduler::current(L, "ferry.sleep");
    Scheduler::of(L)->sleep(task, ms);
    return lua_yield(L, 0);
}

int log_at(lua_State* L, const char* level) {
    lua_settop(L, 2);  // what luaL_tolstring pushes below is not taken for the fields
    // A table without __tostring is logged as its JSON text, not as "table: 0x55..."
    // (an address that tells the reader nothing).
    std::string table_text;
    if (lua_type(L, 1) == LUA_TTABLE && !luaL_getmetafield(L, 1, "__tostring")) {
        Result<std::string> text = json_lua::to_json_text(L, 1, json_lua::InvalidUtf8::Repair);
        if (text) table_text = std::move(text.value());
    }
    size_t n = table_text.size();
    const char* msg = table_text.empty() ? luaL_tolstring(L, 1, &n) : table_text.data();
    std::string fields;
    if (lua_istable(L, 2)) {
        // Bytes that are not UTF-8 (a vendor's Latin-1 name) dropped every field.
        Result<std::string> text = json_lua::to_json_text(L, 2, json_lua::InvalidUtf8::Repair);
        fields = text ? std::move(text.value()) : fields_not_stored(text.error().message);
    } else if (!lua_isnoneornil(L, 2)) {
        fields =
            fields_not_stored(std::string("fields must be a table, got a ") + luaL_typename(L, 2));
    }
    Task* t = *static_cast<Task**>(lua_getextraspace(L));
    std::string_view text(msg, n);
    if (t)
        t->log(level, std::string(text), std::move(fields));
    else
        vm_of(L)->write_untasked(level, text);
    return 0;
}

// A limit error: the invocation's logs, changes and dead letters reached Task::kRecordBudget.
int raise_record_budget(lua_State* L, const char* what) {
    push_error_table(L, make_error(ErrorKind::Limit, std::string(what) +
                                                         ": the task has recorded more than " +
                                                         std::to_string(Task::kRecordBudget >> 20) +
                                                         " MiB of logs, changes and dead letters"));
    return lua_error(L);
}

// change(kind, id, before, after): the step changed a resource; stored as a JSON Patch.
int step_change(lua_State* L) {
    const char* kind = luaL_checkstring(L, 1);
    // Text or a number: anything else (a misspelt field's nil, a table) was stored as
    // "nil" or "table: 0x...", an id no diff can be read by.
    const int id_type = lua_type(L, 2);
    if (id_type != LUA_TSTRING && id_type != LUA_TNUMBER)
        return luaL_argerror(
            L, 2,
            (std::string("the resource's id must be text or a number, got ") + luaL_typename(L, 2))
                .c_str());
    if (id_type == LUA_TNUMBER && !lua_isinteger(L, 2) && !std::isfinite(lua_tonumber(L, 2)))
        return luaL_argerror(L, 2, "the resource's id must be a finite number (got NaN or inf)");
    size_t n = 0;
    const char* id = luaL_tolstring(L, 2, &n);
    std::string id_text(id, n);
    lua_pop(L, 1);
    Task* t = *static_cast<Task**>(lua_getextraspace(L));
    if (!t) return luaL_error(L, "ferry.step.change is only allowed inside a task");
    TaskChange change;
    change.kind = kind;
    change.id = std::move(id_text);
    for (int idx : {3, 4}) {
        rapidjson::Document& target = idx == 3 ? change.before : change.after;
        if (lua_isnoneornil(L, idx)) continue;  // a Document starts as null
        Status converted = json_lua::to_json(L, idx, target, target.GetAllocator());
        if (!converted) {
            return luaL_error(L, "ferry.step.change: argument #%d: %s", idx,
                              converted.error().message.c_str());
        }
    }
    if (!t->record_change(std::move(change))) return raise_record_budget(L, "ferry.step.change");
    return 0;
}

// dead_letter(entry): a delivery the task gave up on, kept for `ferry dlq replay`.
int step_dead_letter(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    Task* t = *static_cast<Task**>(lua_getextraspace(L));
    if (!t) return luaL_error(L, "ferry.step.dead_letter is only allowed inside a task");
    Result<std::string> text = json_lua::to_json_text(L, 1);
    if (!text) {
        return luaL_error(L, "ferry.step.dead_letter: %s", text.error().message.c_str());
    }
    // Ferry adds its id, execution and step to the entry's fields: a list has none, and
    // would be kept with no id to replay or drop it by.
    if (text.value().empty() || text.value()[0] != '{')
        return luaL_error(L, "ferry.step.dead_letter: the entry must be a table of fields "
                             "(integration, request...), not a list");
    if (!t->record("dead_letter", Redactor::instance().redact_json(text.value())))
        return raise_record_budget(L, "ferry.step.dead_letter");
    return 0;
}

// ferry.http.is_credential_header(name) -> boolean
int http_is_credential_header(lua_State* L) {
    size_t len = 0;
    const char* name = luaL_checklstring(L, 1, &len);
    lua_pushboolean(L, is_credential_header(std::string_view(name, len)));
    return 1;
}

// ferry.http.redact was public until it was found to disclose secrets: a task that still
// calls it is told why and what to use, not "attempt to call a nil value".
int http_redact_removed(lua_State* L) {
    return luaL_error(L, "ferry.http.redact was removed (it told a task which texts hold a "
                         "secret); records are redacted as they are written: cut texts with "
                         "ferry.text.clip, repair bytes with ferry.http.text");
}

// ferry.http.text(bytes) -> the bytes as text: every byte that is not part of a UTF-8
// character as U+FFFD, as records keep it. For a vendor's text a task hands to what takes
// only UTF-8 (a message, ctx.dead_letter, its output). Redaction is not offered to Lua: a
// task that could see which texts get redacted could test guesses of every secret.
int http_text(lua_State* L) {
    size_t len = 0;
    const char* bytes = luaL_checklstring(L, 1, &len);
    std::string_view in(bytes, len);
    if (invalid_utf8_at(in) == std::string_view::npos) {
        lua_settop(L, 1);
        return 1;
    }
    std::string out = to_valid_utf8(in);
    lua_pushlstring(L, out.data(), out.size());
    return 1;
}

}  // namespace

void set_http_client(lua_State* L, HttpClient* client) {
    lua_pushlightuserdata(L, client);
    lua_setfield(L, LUA_REGISTRYINDEX, kHttpClientKey);
}

int open_http(lua_State* L) {
    luaL_Reg fns[] = {{"request", http_request},
                      {"url", http_url},
                      {"shown_url", http_shown_url},
                      {"is_credential_header", http_is_credential_header},
                      {"text", http_text},
                      {"redact", http_redact_removed},
                      {nullptr, nullptr}};
    luaL_newlib(L, fns);
    return 1;
}

int open_sleep(lua_State* L) {
    lua_pushcfunction(L, sleep_fn);
    return 1;
}

int open_step(lua_State* L) {
    luaL_Reg fns[] = {
        {"change", step_change}, {"dead_letter", step_dead_letter}, {nullptr, nullptr}};
    luaL_newlib(L, fns);
    add_memo_functions(L);
    return 1;
}

int open_log(lua_State* L) {
    luaL_Reg fns[] = {{"debug", [](lua_State* S) { return log_at(S, "debug"); }},
                      {"info", [](lua_State* S) { return log_at(S, "info"); }},
                      {"warn", [](lua_State* S) { return log_at(S, "warn"); }},
                      {"error", [](lua_State* S) { return log_at(S, "error"); }},
                      {nullptr, nullptr}};
    luaL_newlib(L, fns);
    return 1;
}

}  // namespace ferry::lua_api
