-- The ctx every task receives (CONTRACT.md section 4): who and where it runs, and the
-- operations bound to its step: log, http (bound to the step's integration, dry-run aware)
-- and change (records a resource diff).
local log = require("ferry.log")
local step = require("ferry.step")
local http = require("ferry.http")

local M = {}

-- Header values that carry credentials never leave the process, not even in dry-run output.
-- Which headers those are is the runtime's one list (ferry.http.is_credential_header).
function M.redact_headers(headers)
  local out = {}
  for name, value in pairs(headers or {}) do
    if http.is_credential_header(name) then
      out[name] = "[REDACTED]"
    else
      out[name] = value
    end
  end
  return out
end

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

local function join_url(base, path)
  if not path or path == "" then return base end
  if path:lower():match("^https?://") then return path end  -- a scheme in any case
  return (base:gsub("/+$", "")) .. "/" .. (path:gsub("^/+", ""))
end

-- The operations that need nothing of the invocation's own data: one copy for every ctx
-- (step.change and step.dead_letter find the running task themselves).
local methods = { log = log }

function methods.change(kind, id, before, after)
  step.change(kind, id, before, after)
end

-- A delivery the task gives up on, kept in the dead-letter queue (`ferry dlq`).
function methods.dead_letter(entry)
  if type(entry) ~= "table" then
    error("ctx.dead_letter: a table expected, got " .. type(entry), 2)
  end
  step.dead_letter(entry)
end

-- ctx.remember(name, value): kept durably with the step before it returns, for the step's
-- later attempts (a retry, or the resumed step after a crash) to read with
-- ctx.remembered(name): what an attempt was about to do, where the target cannot tell
-- afterwards (docs/tasks.md, section 11). nil forgets the name.
function methods.remember(name, value)
  local ok, err = step.remember(name, value)
  if not ok then error(err, 2) end
end

methods.remembered = step.remembered

-- ctx.http{method=, url= | path=, headers=, query=, json= | body=, timeout=,
--          idempotent=, retry=}
-- With the step's integration, the request goes through it (runtime/integration): base
-- URL, auth, retries, rate limit, circuit breaker, attempt records. Returns the response,
-- or nil and an error table.
local function http_of(ctx)
  local integration = ctx.integration
  return function(req)
    if type(req) ~= "table" then
      error("ctx.http: a request table expected, got " .. type(req), 2)
    end
    local r = copy(req)
    -- string.upper would turn a number into a method ("5"): refused as ferry.http refuses it.
    if r.method ~= nil and type(r.method) ~= "string" then
      error("ctx.http: bad argument 'method' (string expected, got " .. type(r.method) .. ")", 2)
    end
    r.method = string.upper(r.method or "GET")
    -- An integration the request names: the step's own, or one for a step that has none.
    -- Another than the step's was dropped in silence (the request went out with the
    -- step's credentials to the step's system).
    local named = r.integration
    if named ~= nil and type(named) ~= "string" then
      error("ctx.http: bad argument 'integration' (string expected, got " .. type(named) .. ")", 2)
    end
    if named and integration and integration.type and named ~= integration.name then
      error("ctx.http: the request names integration '" .. named .. "', but the step's is '"
            .. integration.name .. "': a step sends through its own integration; a "
            .. "second system is a second step", 2)
    end
    if named or (integration and integration.type) then
      r.integration = named or integration.name
      r.url = r.url or r.path
      r.path = nil
      if ctx.dry_run then
        r.preview = true
        local preview, err = http.request(r)
        if not preview then error(err, 0) end
        error({ kind = "dry_run", message = "dry run: the request was not sent", data = preview }, 0)
      end
      return http.request(r)
    end
    if not r.url then
      local base = integration and integration.base_url
      if not base then
        error("ctx.http: 'url' is required (the step has no integration with a base_url)", 2)
      end
      r.url = join_url(base, r.path)
    end
    r.path = nil
    if ctx.dry_run then
      -- Dry run: stop here and report exactly what would have been sent.
      local body = r.body
      if r.json ~= nil then body = r.json end
      error({
        kind = "dry_run",
        message = "dry run: the request was not sent",
        data = { method = r.method, url = http.shown_url(r.url, r.query),
                 headers = M.redact_headers(r.headers), body = body },
      }, 0)
    end
    return http.request(r)
  end
end

-- The metatable of every ctx of one step (the engine makes one per step and dry-run mode,
-- and sets it on each invocation's own table of execution_id, unit, attempt,
-- idempotency_key, resumed, item, index and integration). `shared` holds what all of them
-- have in common: workflow, step_id, task, provider, dry_run. Reads fall through to it, then
-- to the methods; ctx.http is made on first use (it is bound to its ctx's integration). No
-- closures per invocation: most tasks never call http, and a parked task keeps its ctx alive.
-- ctx -> its ctx.http function; weak keys: an invocation's ctx goes with it.
local http_functions = setmetatable({}, { __mode = "k" })

function M.step_metatable(shared)
  return {
    -- Shared by every invocation of the step, in every execution: a task that could reach
    -- it could change what later executions see (dry_run among them). getmetatable(ctx)
    -- answers the name, setmetatable(ctx, ...) raises; the engine reads it through the C API.
    __metatable = "ferry.ctx",
    -- Read raw by the JSON encoder (runtime/json_lua.h kSharedField): returning ctx, or
    -- logging it as fields, shows these fields as pairs(ctx) does.
    __shared = shared,
    __index = function(ctx, key)
      local v = shared[key]
      if v ~= nil then return v end
      local m = methods[key]
      if m ~= nil then return m end
      if key == "http" then
        -- Made once per ctx, and kept beside it rather than in it: as a field it would be
        -- listed by pairs(ctx) and break ctx returned as output or logged as fields.
        local f = http_functions[ctx]
        if f == nil then
          f = http_of(ctx)
          http_functions[ctx] = f
        end
        return f
      end
      return nil
    end,
    -- pairs(ctx) lists the shared fields too (those the task has not replaced).
    __pairs = function(ctx)
      local in_shared, key = false, nil
      return function()
        local value
        if not in_shared then
          key, value = next(ctx, key)
          if key ~= nil then return key, value end
          in_shared = true
        end
        repeat
          key, value = next(shared, key)
        until key == nil or rawget(ctx, key) == nil
        return key, value
      end, ctx, nil
    end,
  }
end

return M
