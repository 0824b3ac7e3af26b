-- ferry.tickets: what the ticket.* tasks share, whatever the vendor.
--
--   * small value helpers (null handling, merging, severities);
--   * raising errors with the kind that drives step retries (docs/tasks.md, section 10);
--   * the normalized ticket output {id, key, number, url, status, provider, raw};
--   * create_once: the "no duplicate tickets" loop around a vendor's create request.
--
-- Vendor clients (ferry.servicenow, ferry.jira) build on this; tasks call the clients.
local crypto = require("ferry.crypto")
local json = require("ferry.json")
local clip = require("ferry.text").clip
local quoted = require("ferry.text").quoted
local trim = require("ferry.text").trim

local M = {}

-- The four severities the RCA engine, scanners and workflows speak.
local SEVERITIES = { critical = true, high = true, medium = true, low = true }

-- ---------------------------------------------------------------------------------------
-- Values

-- True when v holds a value: JSON null arrives as ferry.json.null, which is truthy in Lua.
function M.is_set(v)
  return v ~= nil and v ~= json.null
end

-- A state, status or transition name as ticket.transition's `to` is compared, on every
-- provider: trimmed, ASCII case folded, `_` and `-` as spaces, runs of white space as one,
-- "cancelled" as "canceled" (a workflow written for one provider reads the same on the
-- other). nil for what is not text.
function M.name_key(name)
  if type(name) ~= "string" then return nil end
  local key = trim((name:lower():gsub("[_%-]", " "):gsub("%s+", " ")))
  if key == "cancelled" then key = "canceled" end
  return key
end

-- A string that is set and not blank.
function M.has_text(v)
  return type(v) == "string" and v:match("%S") ~= nil
end

-- ticket.create's `idempotency_key`: a key of the workflow's own in place of the step's,
-- so that executions giving the same key share one ticket; nil when not given. A key past
-- 100 characters (ServiceNow's correlation_id keeps 100) stands for itself by its digest:
-- keys are built from data (a scanner's rule id and a host), which may run long.
local OWN_KEY_MAX = 100
function M.own_idempotency_key(input, task)
  local key = input.idempotency_key
  if not M.is_set(key) then return nil end
  local length = type(key) == "string" and utf8.len(key) or nil
  if not M.has_text(key) or not length then
    M.invalid(task .. ": 'idempotency_key' must be text (valid UTF-8, not blank), got " .. quoted(key))
  end
  if length > OWN_KEY_MAX then return "sha256:" .. crypto.sha256(key) end
  return key
end

-- A shallow copy of t, or a new table when t is nil / null / not a table.
function M.copy(t)
  local out = {}
  if type(t) == "table" then
    for k, v in pairs(t) do out[k] = v end
  end
  return out
end

-- Keys of `over` replace those of `base` (one level: a field is replaced, not merged).
function M.merge(base, over)
  local out = M.copy(base)
  if type(over) == "table" then
    for k, v in pairs(over) do out[k] = v end
  end
  return out
end

-- v, or JSON null when v is missing: normalized outputs keep every key.
function M.or_null(v)
  if M.is_set(v) then return v end
  return json.null
end

-- ---------------------------------------------------------------------------------------
-- Errors

-- Fail the step with a Ferry error table; `kind` decides whether the step is retried.
function M.fail(kind, message)
  error({ kind = kind, message = message }, 0)
end

function M.invalid(message)
  M.fail("validation", message)
end

-- The error kind for an HTTP status that ended a request.
function M.kind_for_status(status)
  if status >= 500 then return "http_5xx" end
  if status == 404 then return "not_found" end
  return "http_4xx"
end

-- A transport failure (nil, err from ctx.http) becomes the step's error, keeping its kind
-- (network and timeout are retried by the step's retry policy) and saying what was tried.
function M.raise_transport(err, doing)
  local message = (type(err) == "table" and err.message) or tostring(err)
  local kind = (type(err) == "table" and err.kind) or "network"
  local text = doing .. ": " .. message
  if type(err) == "table" and err.ambiguous then
    text = text .. " (the request may have reached the server)"
  end
  M.fail(kind, text)
end

-- ---------------------------------------------------------------------------------------
-- Severity and priority

-- "High " -> "high"; nil when not given; a validation error for anything else, because a
-- typo here would silently give a ticket the wrong priority.
function M.severity(value, task)
  if not M.is_set(value) then return nil end
  local s = type(value) == "string" and trim(value:lower()) or nil
  if not s or not SEVERITIES[s] then
    M.invalid(task .. ": 'severity' must be one of critical, high, medium, low; got " ..
              quoted(value))
  end
  return s
end

-- The priority for a severity: the integration's `mappings.<name>` (ferry.yaml) first, then
-- the built-in map. Keys of the override are matched case-insensitively.
function M.map_severity(severity, defaults, override)
  if type(override) == "table" then
    for k, v in pairs(override) do
      if type(k) == "string" and k:lower() == severity and M.is_set(v) then return v end
    end
  end
  return defaults[severity]
end

-- ---------------------------------------------------------------------------------------
-- Ticket references and output

-- The ticket a step names: `id`, `key` or `number` (first one given, in that order).
-- Returns the value and the input's name, for messages.
function M.reference(input, task)
  for _, name in ipairs({ "id", "key", "number" }) do
    local v = input[name]
    if M.is_set(v) then
      if type(v) == "number" and math.type(v) == "integer" then v = tostring(v) end
      if type(v) ~= "string" or not v:match("%S") then
        M.invalid(task .. ": '" .. name .. "' must be a non-empty string")
      end
      return trim(v), name
    end
  end
  M.invalid(task .. ": say which ticket: give 'id', 'key' or 'number'")
end

-- The output every ticket.* task returns, whatever the provider.
function M.output(t)
  return {
    id = M.or_null(t.id),
    key = M.or_null(t.key),
    number = M.or_null(t.number),
    url = M.or_null(t.url),
    status = M.or_null(t.status),
    provider = t.provider,
    raw = M.or_null(t.raw),
  }
end

-- ---------------------------------------------------------------------------------------
-- Integration settings (ctx.integration: ferry.yaml without secrets)

-- The step's integration, checked against the provider's type. A step without one cannot
-- reach any system: say so before trying.
function M.integration(ctx, expected_types, task)
  local integ = ctx.integration
  if type(integ) ~= "table" then
    M.invalid(task .. " needs an integration: add `integration: NAME` to the step, naming a " ..
              table.concat(expected_types, " or ") .. " integration from ferry.yaml")
  end
  if M.is_set(integ.type) then
    for _, t in ipairs(expected_types) do
      if integ.type == t then return integ end
    end
    M.invalid(task .. ": integration '" .. tostring(integ.name) .. "' is of type '" ..
              tostring(integ.type) .. "'; this provider needs type " ..
              table.concat(expected_types, " or "))
  end
  return integ
end

-- integration.<section>.<key>, or nil (defaults, mappings are optional tables).
function M.setting(ctx, section, key)
  local integ = ctx.integration
  if type(integ) ~= "table" or type(integ[section]) ~= "table" then return nil end
  local v = integ[section][key]
  if M.is_set(v) then return v end
  return nil
end

-- How many times a create may be sent when its outcome stays unknown: the integration's
-- retry.max_attempts (ferry.yaml), 3 by default.
function M.max_attempts(ctx)
  local n = M.setting(ctx, "retry", "max_attempts")
  if math.type(n) == "integer" and n >= 1 then return n end
  return 3
end

-- base_url without trailing slashes, or nil.
function M.base_url(ctx)
  local base = ctx.integration and ctx.integration.base_url
  if type(base) ~= "string" or base == "" then return nil end
  return (base:gsub("/+$", ""))
end

-- ", Location https://..." for a redirect (never followed: a vendor's client decides), or "".
function M.location_note(res)
  local location = res.headers and res.headers["location"]
  if res.status >= 300 and res.status < 400 and M.has_text(location) then
    return ", Location " .. clip(location, 200)
  end
  return ""
end

-- An answer a task cannot read, for its message: "HTTP 200, text/html: '<html>...'". A
-- hibernating instance's or a single sign-on proxy's page answers 200 too; what it says,
-- and a redirect's Location (http:// on an https-only instance), tell them apart.
function M.answer_summary(res)
  local headers = res.headers or {}
  local text = "HTTP " .. tostring(res.status)
  if M.has_text(headers["content-type"]) then text = text .. ", " .. headers["content-type"] end
  text = text .. M.location_note(res)
  local coding = headers["content-encoding"]
  if M.has_text(coding) and coding:lower() ~= "identity" then
    -- Ferry asks for no coding and decodes none (a coding libcurl did not know failed a
    -- call the vendor had acted on): its bytes say nothing readable.
    return text .. ", Content-Encoding " .. clip(coding, 40) .. " (sent unasked: Ferry decodes none)"
  end
  if type(res.body) == "string" and res.body:match("%S") then
    text = text .. ": " .. quoted(trim(res.body), 120)
  elseif res.body == nil or res.body == "" then
    text = text .. ", no body"
  end
  return text
end

-- ---------------------------------------------------------------------------------------
-- Retry-After

-- How long an answer asks to wait, for messages: "30 s" (Retry-After as seconds or an HTTP
-- date, read by ctx.http into res.retry_after_ms), else the header as it came.
function M.retry_after_text(res)
  if math.type(res.retry_after_ms) == "integer" then
    return tostring((res.retry_after_ms + 999) // 1000) .. " s"
  end
  return tostring(res.headers and res.headers["retry-after"])
end

-- What a vendor's error message adds for a 429 that says when to come back, or "".
function M.rate_limit_note(res)
  if res.status == 429 and res.headers and res.headers["retry-after"] then
    return " (rate limited; Retry-After " .. M.retry_after_text(res) .. ")"
  end
  return ""
end

-- Before sending again a request whose outcome was unknown (a 5xx to a create), wait what
-- is left of the answer's Retry-After (a vendor that is overloaded says when to come back).
-- Longer than the integration's retry.max_retry_after: the step fails instead of blocking.
function M.wait_retry_after(ctx, res, answered_at_ms, doing)
  if not res or math.type(res.retry_after_ms) ~= "integer" then return end
  local limit = M.setting(ctx, "retry", "max_retry_after_ms")
  if math.type(limit) == "integer" and res.retry_after_ms > limit then
    M.fail(M.kind_for_status(res.status), doing .. ": HTTP " .. res.status .. " asks to wait " ..
           M.retry_after_text(res) .. " (Retry-After), longer than the integration's " ..
           "retry.max_retry_after; not sent again by this attempt (a step retry waits for it, " ..
           "at most 1 h, and looks the ticket up first)")
  end
  local left = res.retry_after_ms - (ferry.time.now_ms() - answered_at_ms)
  if left > 0 then
    ctx.log.info("waiting as the vendor asked (Retry-After) before sending again", { wait_ms = left })
    ferry.sleep(left)
  end
end

-- ---------------------------------------------------------------------------------------
-- Creating without duplicates
--
-- A create (POST) is not idempotent: when its outcome is unknown — a timeout or a dropped
-- connection after the request was sent (err.ambiguous), or a 5xx (res.ambiguous) — the
-- ticket may exist. ctx.http does not retry such requests; this loop does, safely:
--
--   1. On a retried or resumed step (ctx.attempt > 1, ctx.resumed), an earlier attempt may
--      have created the ticket: look it up first and return it when found.
--   2. Send the create. A definite answer (any status, or a failure before sending) is
--      handled by spec.accept / raised.
--   3. After an ambiguous failure, look the ticket up: found -> return it; not found ->
--      create again, at most max_attempts creates in all, then fail with the last error.
--
-- Right after an unknown outcome the lookup is repeated after 1 s and 2 s before
-- concluding "not created": a search index may lag behind the create (Jira), and a
-- request that timed out may still be finishing on the server.
--
-- spec = {
--   ctx, what = "ServiceNow incident",
--   send   = function() return ctx.http{...} end,  -- the create request
--   accept = function(res) return ticket end,        -- a definite response: ticket or raise
--   lookup = function() return ticket or nil end,    -- the ticket carrying the key, if any
--   created_by_us = function(ticket) end,  -- records the create of a ticket found after a
--                                          -- lost answer; given only when the key is the
--                                          -- step's own (no other step gives it)
--   look_first = true,  -- the key is the workflow's own (an `idempotency_key` input): another
--                       -- execution may have created the ticket, so every attempt looks first
--   key = "...",        -- that key (with look_first): executions of this process giving the
--                       -- same key take turns, so the second looks only after the first
--                       -- created (ferry.lock), instead of both finding nothing and creating
-- }
-- The ticket returned gets `created` = true when this call's create made it, false when it
-- was found by the lookup.
local SETTLE_MS = { 1000, 2000 }

-- lookup() until it finds something, again after 1 s and 2 s: a vendor that is still
-- writing what an earlier attempt sent, or whose search lags, answers "nothing" at first.
function M.settled(lookup)
  for round = 0, #SETTLE_MS do
    if round > 0 then ferry.sleep(SETTLE_MS[round]) end
    local found = lookup()
    if found then return found end
  end
  return nil
end

local function lookup_settled(spec)
  return M.settled(spec.lookup)
end

-- The integration's request timeout: how long a request may stay in the vendor's hands.
local function request_timeout_ms(ctx)
  local timeout = ctx.integration and ctx.integration.timeout_ms
  return type(timeout) == "number" and timeout or 30000
end

-- Until when a create sent earlier may still be in the vendor's hands (nil: none known):
-- the attempt the process died in, from its start; a create of this process with the same
-- key that was cut short mid-request (cancelled, timed out: ferry.lock says when), from
-- then; each plus the integration's request timeout. Until then a lookup that finds
-- nothing proves nothing.
local function unknown_until(ctx, turn)
  local timeout = request_timeout_ms(ctx)
  local started = ctx.interrupted_attempt_started_ms
  local until_ms = ctx.resumed and type(started) == "number" and started + timeout or nil
  local cut = turn and turn:interrupted()
  if cut and (not until_ms or cut + timeout > until_ms) then until_ms = cut + timeout end
  return until_ms
end

-- The lookup after an unknown outcome: repeated as the vendor settles, and once more after
-- busy_until when it found nothing (a vendor slower than the settle rounds, but within the
-- timeout, would otherwise see a second create while it is still writing the first).
local function look_after_unknown(spec, busy_until)
  local found = lookup_settled(spec)
  local wait_ms = busy_until and busy_until - ferry.time.now_ms() or 0
  if not found and wait_ms > 0 then
    spec.ctx.log.info("not found yet; waiting for a create sent earlier (by a stopped " ..
                      "process or a create cut short) to reach its timeout before looking " ..
                      "again", { wait_ms = wait_ms })
    ferry.sleep(wait_ms)
    found = lookup_settled(spec)
  end
  return found
end

-- Whether a request the stopped process sent may still be in the vendor's hands: a resumed
-- step within an integration timeout of being taken up (ctx.resumed_at_ms). Past it, what
-- the vendor shows is what it did.
function M.stopped_process_may_be_sending(ctx)
  if not ctx.resumed then return false end
  local timeout = request_timeout_ms(ctx)
  local taken_up = type(ctx.resumed_at_ms) == "number" and ctx.resumed_at_ms or ferry.time.now_ms()
  return ferry.time.now_ms() < taken_up + timeout
end

-- Whether a write that is not idempotent (a comment, a work note), which an earlier attempt
-- may have sent, has landed: look() (truthy when it is there) asked as the vendor settles,
-- and, after a crash, once more when a request the stopped process sent may no longer be
-- in the vendor's hands (a comment a slow vendor was still writing was found missing at
-- once, and posted twice).
function M.landed(ctx, look)
  -- A comment is seldom the attempt's first request (a lookup, a field update come
  -- first), so when it was sent is not known: only that it was before the process
  -- stopped, and so before this process took the step up (ctx.resumed_at_ms). It may be
  -- in the vendor's hands until then plus the request timeout; not later (a retry after
  -- the resume, or a second write of the same step, waited the whole window again).
  local busy_until = unknown_until(ctx, nil)
  if busy_until then
    local timeout = request_timeout_ms(ctx)
    local taken_up = type(ctx.resumed_at_ms) == "number" and ctx.resumed_at_ms or ferry.time.now_ms()
    busy_until = math.max(busy_until, taken_up + timeout)
  end
  local found = M.settled(look)
  local wait_ms = busy_until and busy_until - ferry.time.now_ms() or 0
  if not found and wait_ms > 0 then
    ctx.log.info("not found yet; waiting for a write sent by a stopped process to reach " ..
                 "its timeout before looking again", { wait_ms = wait_ms })
    ferry.sleep(wait_ms)
    found = look()
  end
  return found
end

-- A ticket the lookup found instead of a create: said so in the step's log, returned as
-- not created by this call.
local function existing(spec, found, what_happened)
  spec.ctx.log.info(spec.what .. " " .. what_happened,
                    { id = found.id, key = found.key, number = found.number })
  found.created = false
  return found
end

-- A ticket found after a create whose answer was lost is this step's own create when the
-- key is the step's (no other step gives it): recorded as created (spec.created_by_us), so
-- the execution's changes list it as a create that answered would be. With a workflow's own
-- key another execution may have made it: not recorded.
local function own_create_found(spec, found)
  if spec.created_by_us then spec.created_by_us(found) end
end

-- The turn of this create among the creates of this process giving the same key to the
-- same integration for the same kind of ticket (spec.what names the ServiceNow table: a
-- change and an incident with one key are two records), nil when the key is the step's
-- own, which no other step gives: the lock's handle and whether another create held it
-- first.
local function take_turn(spec)
  local ctx = spec.ctx
  if ctx.dry_run or not spec.look_first then return nil, false end
  local integration = ctx.integration and ctx.integration.name or ""
  return ferry.lock("ticket.create " .. integration .. " " .. spec.what .. " " .. spec.key)
end

local function create_or_find(spec, turn, waited)
  local ctx = spec.ctx
  -- In dry-run the first ctx.http call must be the create itself (it ends the task).
  if not ctx.dry_run and ((ctx.attempt or 1) > 1 or ctx.resumed) then
    -- An earlier attempt, or a process that died mid-create, left the outcome unknown,
    -- exactly as an ambiguous answer does: the vendor may still be writing the record and
    -- its search may lag, so the lookup is repeated as there (a restart within a second of
    -- a crash found nothing and created a second ticket).
    local found = look_after_unknown(spec, unknown_until(ctx, turn))
    if found then
      own_create_found(spec, found)
      return existing(spec, found, "already exists (created by an earlier attempt)")
    end
  elseif not ctx.dry_run and spec.look_first then
    -- One lookup: what another execution created with the same key was committed by the
    -- vendor long ago, or (in another process) is racing this one, which no lookup settles.
    -- After waiting for a create of this process with the same key, or after one that was
    -- cut short, the vendor's search may lag behind it (Jira), or the vendor may still be
    -- writing it: looked up as after an unknown outcome.
    local found
    if waited or turn:interrupted() then
      found = look_after_unknown(spec, unknown_until(ctx, turn))
    else
      found = spec.lookup()
    end
    if found then
      return existing(spec, found, "already exists with this idempotency_key: not created again")
    end
  end

  local limit = M.max_attempts(ctx)
  for n = 1, limit do
    local res, err = spec.send()
    local answered_at = ferry.time.now_ms()
    local ambiguous = (res and res.ambiguous) or (res == nil and type(err) == "table" and err.ambiguous)
    if not ambiguous then
      if res == nil then M.raise_transport(err, "creating the " .. spec.what) end
      local ticket = spec.accept(res)
      ticket.created = true
      return ticket
    end

    local why = res and ("HTTP " .. tostring(res.status)) or (err.kind .. ": " .. tostring(err.message))
    ctx.log.warn("the create may or may not have happened (" .. why .. "); looking the " ..
                 spec.what .. " up before sending it again", { create = n, of = limit })
    local found = lookup_settled(spec)
    if found then
      own_create_found(spec, found)
      return existing(spec, found, "found: the create had succeeded")
    end
    if n == limit then
      if res then
        M.fail(M.kind_for_status(res.status), "creating the " .. spec.what .. " failed " ..
               limit .. " times with an unknown outcome (last: HTTP " .. res.status ..
               "); no ticket carrying this step's idempotency key exists")
      end
      M.raise_transport(err, "creating the " .. spec.what .. " failed " .. limit ..
                        " times with an unknown outcome; no ticket carrying this step's " ..
                        "idempotency key exists; last error")
    end
    M.wait_retry_after(ctx, res, answered_at, "creating the " .. spec.what ..
                       " (no ticket carrying this step's idempotency key exists)")
    ctx.log.warn("no " .. spec.what .. " carries this step's idempotency key: creating it again",
                 { create = n + 1, of = limit })
  end
end

function M.create_once(spec)
  local turn <close>, waited = take_turn(spec)
  local passed = turn and turn:passed()
  if passed then
    -- What a create of this process with this key made or found: no search needed, however
    -- far the vendor's lags behind it.
    return existing(spec, passed,
                    "already exists: created with this idempotency_key by another execution " ..
                    "of this process, not created again")
  end
  local ticket = create_or_find(spec, turn, waited)
  if turn then turn:pass(ticket) end
  return ticket
end

return M
