-- siem.send, provider http: POST events as a JSON array to any collector that takes JSON
-- (an http or webhook integration: its url, or base_url + `path`). For collectors without
-- a Ferry-specific provider.
local tickets = require("ferry.tickets")
local json = require("ferry.json")
local text = require("ferry.text")

local TASK = "siem.send"

return {
  name = TASK,
  provider = "http",
  description = "POST events as a JSON array to a generic collector",
  integrations = { "http", "webhook" },  -- the integration types a step may name
  input = {
    event = { type = "any", description = "one event" },
    events = { type = "array", description = "several events" },
    path = { type = "string", description = "path under the integration's base_url (default: its url)" },
  },
  output = { description = "{sent, status}" },

  run = function(ctx, input)
    tickets.integration(ctx, { "http", "webhook" }, TASK)
    local one, many = tickets.is_set(input.event), tickets.is_set(input.events)
    if one == many then
      tickets.invalid(TASK .. ": give either 'event' (one event) or 'events' (a list), not " ..
                      (one and "both" or "neither"))
    end
    local events = one and json.array({ input.event }) or input.events
    if #events == 0 then tickets.invalid(TASK .. ": 'events' is empty: nothing to send") end

    local res, err = ctx.http({ method = "POST", path = input.path, json = events, idempotent = true })
    if not res then tickets.raise_transport(err, TASK .. ": sending " .. #events .. " event(s)") end
    if res.status < 200 or res.status >= 300 then
      local kind = tickets.kind_for_status(res.status)
      if kind == "not_found" then kind = "http_4xx" end
      tickets.fail(kind, TASK .. ": the collector answered " .. text.http_status(res, 300))
    end
    ctx.log.info("sent " .. #events .. " event(s)", { status = res.status })
    return { sent = #events, status = res.status }
  end,
}
