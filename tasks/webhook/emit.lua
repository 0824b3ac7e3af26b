-- webhook.emit: deliver one event to a webhook integration (type webhook in ferry.yaml),
-- signed per Standard Webhooks.
--
--   POST <integration url>
--   webhook-id: msg_<32 hex of the step's idempotency key>   (the same on every retry)
--   {"type": "ticket.created", "timestamp": "<RFC 3339>", "data": {...}}
--
-- Ferry's HTTP layer adds webhook-timestamp and webhook-signature to every attempt (fresh
-- timestamp, every configured secret), retries with backoff, and honours Retry-After.
-- Receivers deduplicate on webhook-id, so the request is marked idempotent.
--
-- When the last attempt fails, the delivery goes to the dead-letter queue (`ferry dlq
-- list | replay | drop`) and the step still succeeds with status "dead_lettered", so one
-- unreachable receiver does not fail the workflow. fail_on_error: true fails it instead.
local json = require("ferry.json")
local quoted = require("ferry.text").quoted
local time = require("ferry.time")
local text = require("ferry.text")
local tickets = require("ferry.tickets")

local TASK = "webhook.emit"

-- Event types are dotted names (ticket.created); receivers route on them.
local function check_type(t)
  if type(t) ~= "string" or not t:match("^[%w][%w%._:%-]*$") then
    tickets.invalid(TASK .. ": 'type' must be an event type like ticket.created (letters, digits, " ..
                    ". _ : -), got " .. quoted(t))
  end
end

-- The event time: input `timestamp` (RFC 3339 text or Unix ms) or now.
local function event_time(value)
  if not tickets.is_set(value) then return time.now() end
  if math.type(value) == "integer" then return time.format(value) end
  local ms = type(value) == "string" and time.parse(value)
  if not ms then
    tickets.invalid(TASK .. ": 'timestamp' must be an RFC 3339 time, got " .. quoted(value))
  end
  return time.format(ms)
end

-- Why a delivery failed, for the log, the output and the dead letter.
local function failure(res, err)
  if res then
    return text.http_status(res)
  end
  return tostring(err and err.kind or "error") .. ": " .. tostring(err and err.message or "no response")
end

local function target_url(integ)
  if tickets.has_text(integ.url) then return integ.url end
  if tickets.has_text(integ.base_url) then return integ.base_url end
  return nil
end

return {
  name = TASK,
  description = "Send a signed event to a webhook (Standard Webhooks); dead-letters failed deliveries",
  integrations = { "webhook" },  -- the integration types a step may name
  input = {
    type = { type = "string", required = true, description = "event type, e.g. ticket.created" },
    data = { type = "any", required = true, description = "the event's data (an object, usually)" },
    timestamp = { type = "any", description = "the event time (RFC 3339); default now" },
    fail_on_error = { type = "boolean", default = false,
                      description = "fail the step when delivery fails (after dead-lettering it)" },
  },
  output = { description = "{webhook_id, status (HTTP status, or \"dead_lettered\"), attempts, error}" },

  run = function(ctx, input)
    local integ = tickets.integration(ctx, { "webhook" }, TASK)
    check_type(input.type)
    local webhook_id = "msg_" .. ctx.idempotency_key:sub(1, 32)
    local payload = { type = input.type, timestamp = event_time(input.timestamp), data = input.data }
    -- Serialized once: the bytes signed, sent and (on failure) dead-lettered are the same.
    local body = json.encode(payload)
    local headers = { ["webhook-id"] = webhook_id, ["content-type"] = "application/json" }

    local res, err = ctx.http({ method = "POST", body = body, headers = headers, idempotent = true })
    local attempts = (res and res.attempts) or (err and err.attempts) or 1
    if res and res.status >= 200 and res.status < 300 then
      ctx.log.info("webhook delivered", { webhook_id = webhook_id, status = res.status, attempts = attempts })
      return { webhook_id = webhook_id, status = res.status, attempts = attempts }
    end

    local why = failure(res, err)
    ctx.dead_letter({
      kind = "webhook",
      integration = integ.name,
      request = { method = "POST", url = target_url(integ), headers = headers, body = body },
      webhook_id = webhook_id,
      error = why,
      attempts = attempts,
    })
    ctx.log.warn("webhook delivery failed; kept in the dead-letter queue (ferry dlq list)",
                 { webhook_id = webhook_id, error = why, attempts = attempts })
    if input.fail_on_error then
      local kind = res and tickets.kind_for_status(res.status) or (err and err.kind) or "network"
      if kind == "not_found" then kind = "http_4xx" end
      tickets.fail(kind, TASK .. ": delivery to '" .. tostring(integ.name) .. "' failed after " ..
                   attempts .. " attempt(s): " .. why .. " (dead-lettered as " .. webhook_id .. ")")
    end
    return { webhook_id = webhook_id, status = "dead_lettered", attempts = attempts, error = why }
  end,
}
