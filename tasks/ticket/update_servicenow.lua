-- ticket.update, provider servicenow (the default): change fields of a record and/or add a
-- comment or work note, with one PATCH /api/now/table/{table}/{sys_id}.
local tickets = require("ferry.tickets")
local sn = require("ferry.servicenow")

local TASK = "ticket.update"

return {
  name = TASK,
  provider = "servicenow",
  default = true,
  description = "Update a ServiceNow record's fields and add a comment or work note",
  integrations = { "servicenow" },  -- the integration types a step may name
  input = {
    id = { type = "string", description = "the record's sys_id (a number is accepted too)" },
    number = { type = "string", description = "the record's number, e.g. INC0010002" },
    key = { type = "string", description = "same as number" },
    table = { type = "string", description = "table name (default: the integration's table, else incident)" },
    fields = { type = "object", description = "fields to set" },
    severity = { type = "string", description = "critical | high | medium | low: sets priority (and impact, urgency on incidents) unless fields has them" },
    comment = { type = "string", description = "a comment (customer-visible journal: comments)" },
    work_note = { type = "string", description = "an internal work note (journal: work_notes)" },
  },
  output = { description = "{id, key, number, url, status, provider, raw (the updated record)}" },

  run = function(ctx, input)
    tickets.integration(ctx, { "servicenow" }, TASK)
    local tbl = sn.table_name(ctx, input, TASK)
    local body = sn.add_journal(sn.fields(ctx, input, tbl, TASK, false), input)
    if next(body) == nil then
      tickets.invalid(TASK .. ": nothing to update: give 'fields', 'severity', 'comment' or 'work_note'")
    end

    if ctx.dry_run then
      -- Preview the PATCH itself (this call ends the task in dry-run).
      ctx.http({ method = "PATCH", path = sn.preview_path(ctx, tbl, input, TASK), json = body,
                 headers = { Accept = "application/json" } })
    end

    local before = sn.resolve(ctx, tbl, input, TASK)
    local after = sn.patch(ctx, tbl, before, body, "updating " .. tbl .. " " .. tostring(sn.value(before.number)))
    sn.record_change(ctx, tbl, before, after, body)
    return sn.ticket(ctx, tbl, after)
  end,
}
