-- siem.send, provider splunk_hec (the default): send events to Splunk's HTTP Event
-- Collector, POST /services/collector/event.
--
-- Each event gets the HEC envelope {time, host, source, sourcetype, index, fields, event};
-- several events go in one request as concatenated JSON objects (HEC batches that way, not
-- with a JSON array). Metadata comes from the inputs, else the integration's settings
-- (index, source, sourcetype, host), else its defaults.
--
-- Splunk does not deduplicate: a retried batch may be indexed twice. For a SIEM a
-- duplicate beats a lost event, so requests are sent as idempotent (retried on timeouts).
local json = require("ferry.json")
local quoted = require("ferry.text").quoted
local time = require("ferry.time")
local tickets = require("ferry.tickets")

local TASK = "siem.send"
local PATH = "/services/collector/event"
-- Keep each request under Splunk Cloud's 1 MB request limit; larger batches are split.
local MAX_REQUEST_BYTES = 900 * 1024

-- HEC answer codes (itsm-api-notes.md) -> what to tell the user, and whether retrying can help.
local HEC_CODES = {
  [1] = { "the HEC token is disabled", false },
  [2] = { "the HEC token is missing (check the integration's auth)", false },
  [3] = { "invalid authorization (check the integration's token)", false },
  [4] = { "invalid HEC token (check the integration's token)", false },
  [5] = { "no data", false },
  [6] = { "invalid data format", false },
  [7] = { "incorrect index (the token may not write to it)", false },
  [8] = { "Splunk internal server error", true },
  [9] = { "Splunk server is busy", true },
  [10] = { "data channel is missing (the token requires indexer acknowledgment)", false },
  [11] = { "invalid data channel", false },
  [12] = { "an event field is required", false },
  [13] = { "an event field cannot be blank", false },
  [14] = { "ACK is disabled", false },
  [15] = { "error in handling indexed fields", false },
  [16] = { "query string authorization is not enabled", false },
  [18] = { "HEC is unhealthy, queues are full", true },
}

-- The events to send, as a list; exactly one of `event` and `events`.
local function event_list(input)
  local one, many = tickets.is_set(input.event), tickets.is_set(input.events)
  if one == many then
    tickets.invalid(TASK .. ": give either 'event' (one event) or 'events' (a list), not " ..
                    (one and "both" or "neither"))
  end
  local events = one and { input.event } or input.events
  if #events == 0 then tickets.invalid(TASK .. ": 'events' is empty: nothing to send") end
  -- Checked before the first batch goes: a refusal after some batches were sent would
  -- send those again when the step is retried. Named as the step wrote it: 'event' for
  -- the one event (events[0] named an input it did not give).
  for i, e in ipairs(events) do
    local name = one and "'event'" or ("events[" .. (i - 1) .. "]")
    local blank = not tickets.is_set(e) or (type(e) == "string" and not e:match("%S")) or
                  (type(e) == "table" and next(e) == nil)
    if blank then
      tickets.invalid(TASK .. ": " .. name .. " is empty; Splunk rejects blank events")
    end
    local list = type(e) == "table" and (getmetatable(e) == "ferry.json.array" or e[1] ~= nil)
    if list or (type(e) ~= "string" and type(e) ~= "table") then
      tickets.invalid(TASK .. ": " .. name .. " is " .. (list and "a list" or type(e)) ..
                      ": a Splunk HEC event is text or an object (wrap it, e.g. {value: ...})")
    end
  end
  return events
end

-- Indexed fields must be flat: strings, numbers or lists of them (booleans become text).
local function flat_fields(fields)
  if not tickets.is_set(fields) then return nil end
  local out = {}
  local function scalar(v, where)
    if type(v) == "string" or type(v) == "number" then return v end
    if type(v) == "boolean" then return tostring(v) end
    tickets.invalid(TASK .. ": fields." .. where .. " must be a string, a number or a list of them " ..
                    "(Splunk indexed fields are flat), got " .. quoted(v))
  end
  for name, v in pairs(fields) do
    if type(v) == "table" and (getmetatable(v) == "ferry.json.array" or #v > 0) then
      local list = json.array()
      for i, item in ipairs(v) do list[i] = scalar(item, name .. "[" .. (i - 1) .. "]") end
      out[name] = list
    elseif tickets.is_set(v) then
      out[name] = scalar(v, name)
    end
  end
  return next(out) and out or nil
end

-- The last second of year 9999: past it a number is no time in seconds; epoch milliseconds
-- of today (1.7e12) are past it, and went out as a time in the year 57970.
local MAX_EPOCH_SECONDS = 253402300799

-- Epoch seconds with milliseconds, from input `time` (RFC 3339 text, or epoch seconds as a
-- number or as text, which a payload read from text gives) or now.
local function epoch_seconds(value)
  if not tickets.is_set(value) then return time.now_ms() / 1000 end
  local seconds = value
  if type(value) == "string" then
    -- Decimal text as Lua reads a number ("1e9", ".5", " 12 "); not hex, inf or nan.
    seconds = not value:find("[xXnN]") and tonumber(value) or nil
    if not seconds then
      local ms = time.parse(value)
      seconds = ms and ms / 1000
    end
  end
  if type(seconds) ~= "number" then
    tickets.invalid(TASK .. ": 'time' must be an RFC 3339 time or epoch seconds, got " .. quoted(value))
  end
  if not (seconds >= 0 and seconds <= MAX_EPOCH_SECONDS) then
    tickets.invalid(TASK .. ": 'time' must be epoch seconds between 0 and " .. MAX_EPOCH_SECONDS ..
                    " (year 9999), got " .. quoted(value) ..
                    (type(seconds) == "number" and seconds > MAX_EPOCH_SECONDS and
                     seconds <= MAX_EPOCH_SECONDS * 1000 and " (epoch milliseconds? divide by 1000)" or ""))
  end
  return seconds
end

-- input, else integration.<key>, else integration.defaults.<key>.
local function meta(ctx, input, key)
  if tickets.is_set(input[key]) then return input[key] end
  local integ = ctx.integration or {}
  if tickets.is_set(integ[key]) then return integ[key] end
  return tickets.setting(ctx, "defaults", key)
end

-- The request bodies: one JSON object per event, newline-separated, split by size.
local function batches(envelopes)
  local out, lines, size = {}, {}, 0
  for _, env in ipairs(envelopes) do
    local line = json.encode(env)
    if #lines > 0 and size + #line + 1 > MAX_REQUEST_BYTES then
      out[#out + 1] = { body = table.concat(lines, "\n"), count = #lines }
      lines, size = {}, 0
    end
    lines[#lines + 1] = line
    size = size + #line + 1
  end
  out[#out + 1] = { body = table.concat(lines, "\n"), count = #lines }
  return out
end

-- A step error from a HEC answer that is not a success.
local function hec_failure(res, sent, total)
  local body = type(res.json) == "table" and res.json or {}
  local code = math.tointeger(body.code)
  local known = code and HEC_CODES[code]
  local text = known and known[1] or (tickets.has_text(body.text) and body.text or
               (res.status == 200 and "an answer without HEC's code 0" or "unexpected answer"))
  -- An answer HEC would not give (a proxy's page, a load balancer's redirect) is quoted.
  local answer = (code or tickets.has_text(body.text)) and ("HTTP " .. res.status) or tickets.answer_summary(res)
  local message = TASK .. ": Splunk HEC refused the events: " .. text ..
                  " (" .. answer .. (code and (", code " .. code) or "") .. ")"
  if math.tointeger(body["invalid-event-number"]) then
    message = message .. "; first bad event: #" .. (sent + body["invalid-event-number"])
  end
  if sent > 0 then message = message .. "; " .. sent .. " of " .. total .. " events were sent before" end
  local retryable = res.status >= 500 or (known and known[2])
  tickets.fail(retryable and "http_5xx" or "http_4xx", message)
end

return {
  name = TASK,
  provider = "splunk_hec",
  default = true,
  description = "Send events to Splunk HTTP Event Collector (batched)",
  integrations = { "splunk_hec" },  -- the integration types a step may name
  input = {
    event = { type = "any", description = "one event (an object or text)" },
    events = { type = "array", description = "several events, sent in one request" },
    sourcetype = { type = "string", description = "default: the integration's sourcetype" },
    source = { type = "string", description = "default: the integration's source" },
    index = { type = "string", description = "default: the integration's index (the token must allow it)" },
    host = { type = "string", description = "default: the integration's host" },
    fields = { type = "object", description = "indexed fields: flat strings, numbers or lists of them" },
    time = { type = "any", description = "event time: RFC 3339 or epoch seconds; default now" },
  },
  output = { description = "{sent, status, ack_ids (when indexer acknowledgment is on)}" },

  run = function(ctx, input)
    tickets.integration(ctx, { "splunk_hec" }, TASK)
    local events = event_list(input)
    local common = {
      time = epoch_seconds(input.time),
      host = meta(ctx, input, "host"),
      source = meta(ctx, input, "source"),
      sourcetype = meta(ctx, input, "sourcetype"),
      index = meta(ctx, input, "index"),
      fields = flat_fields(input.fields),
    }
    local envelopes = {}
    for i, e in ipairs(events) do
      local env = tickets.copy(common)
      env.event = e
      envelopes[i] = env
    end

    -- A token with indexer acknowledgment needs a data channel: the integration's
    -- `channel`, which ctx.http sends with every request. HEC then answers each batch with
    -- an ackId to poll /services/collector/ack with.
    local headers = { ["content-type"] = "application/json" }
    local sent, status, ack_ids = 0, nil, json.array()
    for _, batch in ipairs(batches(envelopes)) do
      local res, err = ctx.http({ method = "POST", path = PATH, body = batch.body, idempotent = true,
                                  headers = headers })
      if not res then
        tickets.raise_transport(err, TASK .. ": sending " .. batch.count .. " event(s) to Splunk HEC" ..
                                (sent > 0 and (" (" .. sent .. " sent before)") or ""))
      end
      -- Success is code 0, always present: a 200 without it (another service on the port, a
      -- proxy's JSON) did not reach HEC, and the events would be lost.
      local code = type(res.json) == "table" and math.tointeger(res.json.code)
      if res.status ~= 200 or code ~= 0 then hec_failure(res, sent, #events) end
      if type(res.json) == "table" and tickets.is_set(res.json.ackId) then ack_ids[#ack_ids + 1] = res.json.ackId end
      sent = sent + batch.count
      status = res.status
    end
    ctx.log.info("sent " .. sent .. " event(s) to Splunk", { index = common.index, sourcetype = common.sourcetype })
    local out = { sent = sent, status = status }
    if #ack_ids > 0 then out.ack_ids = ack_ids end
    return out
  end,
}
