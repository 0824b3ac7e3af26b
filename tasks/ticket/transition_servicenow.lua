-- ticket.transition, provider servicenow (the default): move a record to another state
-- (PATCH state), by state name (incident: New, In Progress, On Hold, Resolved, Closed,
-- Canceled; change_request, problem and sc_task have their own) or value.
--
-- Instances enforce data policies on some states: resolving an incident needs close_code
-- and close_notes, putting it on hold a hold_reason. Pass them in `fields`.
local tickets = require("ferry.tickets")
local sn = require("ferry.servicenow")

local TASK = "ticket.transition"
local MEMO = "transition"  -- ctx.remember's name for the state change about to be sent

-- True when the PATCH would only set the state (no extra fields, no journal entry).
local function only_state(body)
  for field in pairs(body) do
    if field ~= "state" then return false end
  end
  return true
end

return {
  name = TASK,
  provider = "servicenow",
  default = true,
  description = "Move a ServiceNow record to another state (by name or value)",
  integrations = { "servicenow" },  -- the integration types a step may name
  input = {
    id = { type = "string", description = "the record's sys_id (a number is accepted too)" },
    number = { type = "string", description = "the record's number, e.g. INC0010002" },
    key = { type = "string", description = "same as number" },
    table = { type = "string", description = "table name (default: the integration's table, else incident)" },
    to = { type = "any", required = true, description = "the target state: a name (Resolved) or a value (\"6\")" },
    fields = { type = "object", description = "fields the state needs, e.g. close_code and close_notes to resolve" },
    comment = { type = "string", description = "a comment (customer-visible journal: comments)" },
    work_note = { type = "string", description = "an internal work note (journal: work_notes)" },
  },
  output = { description = "{id, key, number, url, status (the new state), provider, raw}" },

  run = function(ctx, input)
    tickets.integration(ctx, { "servicenow" }, TASK)
    local tbl = sn.table_name(ctx, input, TASK)
    local state = sn.state_value(ctx, tbl, input.to, TASK)
    local body = sn.add_journal(tickets.merge(input.fields, { state = state }), input)

    if ctx.dry_run then
      ctx.http({ method = "PATCH", path = sn.preview_path(ctx, tbl, input, TASK), json = body,
                 headers = { Accept = "application/json" } })
    end

    local before = sn.resolve(ctx, tbl, input, TASK)
    local number = tostring(sn.value(before.number))
    local sys_id = sn.value(before.sys_id)
    -- Already there and nothing else to write: a retried step lands here, harmlessly.
    if sn.value(before.state) == state and only_state(body) then
      ctx.log.info(tbl .. " " .. number .. " is already " .. sn.state_label(ctx, tbl, state))
      -- Moved there by an earlier attempt of this step whose end went unrecorded (a crash,
      -- a lost answer): the change is this step's, from the state that attempt found.
      local planned = ctx.remembered(MEMO)
      if type(planned) == "table" and planned.sys_id == sys_id and planned.to == state then
        sn.record_change(ctx, tbl, { state = planned.from, number = before.number }, before, body)
      end
      return sn.ticket(ctx, tbl, before)
    end
    if only_state(body) then
      -- Kept durably before the PATCH, for the attempt after one that ends unrecorded.
      ctx.remember(MEMO, { sys_id = sys_id, from = sn.value(before.state), to = state })
    end

    local after = sn.patch(ctx, tbl, before, body,
                           "moving " .. tbl .. " " .. number .. " to " .. sn.state_label(ctx, tbl, state))
    if sn.value(after.state) ~= state then
      -- Business rules can refuse a state change without an error status.
      tickets.fail("http_4xx", "ServiceNow kept " .. tbl .. " " .. number .. " in state " ..
                   tostring(sn.value(after.state)) .. " instead of " .. sn.state_label(ctx, tbl, state) ..
                   " (a business rule or data policy may require other fields)")
    end
    sn.record_change(ctx, tbl, before, after, body)
    ctx.log.info(tbl .. " " .. number .. " moved to " .. sn.state_label(ctx, tbl, state))
    return sn.ticket(ctx, tbl, after)
  end,
}
