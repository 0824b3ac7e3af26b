-- ticket.create, provider servicenow (the default): create a record in any ServiceNow
-- table through the Table API (POST /api/now/table/{table}).
--
-- Retries never create a second record: the record carries the step's idempotency key (or
-- the workflow's own `idempotency_key`, looked up before every create) in correlation_id,
-- and whenever an earlier attempt may have created it (a retried or resumed step, a create
-- whose answer was lost) the record is looked up by that key first
-- (ferry.tickets.create_once).
local quoted = require("ferry.text").quoted
local tickets = require("ferry.tickets")
local sn = require("ferry.servicenow")

local TASK = "ticket.create"

-- The key stored on the record and looked up: the step's idempotency key, unless the
-- workflow gives its own (`idempotency_key`: looked up before every create, so executions
-- giving the same key share the record) or sets correlation_id itself (then that value
-- identifies the record on retries). Returns the key and whether to look first.
local function correlation(ctx, input, fields)
  local own = tickets.own_idempotency_key(input, TASK)
  local given = fields.correlation_id
  if own and own:find("^", 1, true) then
    tickets.invalid(TASK .. ": 'idempotency_key' must not contain '^' (it goes into " ..
                    "correlation_id, which a ServiceNow query matches), got " .. quoted(own))
  end
  if tickets.is_set(given) then
    if type(given) ~= "string" or given:find("^", 1, true) or not given:match("%S") then
      tickets.invalid(TASK .. ": fields.correlation_id must be a non-empty string without '^' " ..
                      "(it is used in a ServiceNow query), got " .. quoted(given))
    end
    if own and own ~= given then
      tickets.invalid(TASK .. ": 'idempotency_key' and fields.correlation_id differ (" ..
                      quoted(own) .. ", " .. quoted(given) .. "): give one of them")
    end
    return given, own ~= nil
  end
  fields.correlation_id = own or ctx.idempotency_key
  return fields.correlation_id, own ~= nil
end

-- The change recorded for `ferry executions diff`: the fields sent, as the record now has them.
local function record_created(ctx, tbl, record, fields)
  local after = { sys_id = record.sys_id, number = record.number, state = record.state }
  for field in pairs(fields) do after[field] = record[field] end
  ctx.change("servicenow:" .. tbl, sn.value(record.number) or sn.value(record.sys_id), nil, after)
end

return {
  name = TASK,
  provider = "servicenow",
  default = true,
  description = "Create a ServiceNow record (incident by default) without duplicates on retry",
  integrations = { "servicenow" },  -- the integration types a step may name
  input = {
    table = { type = "string", description = "table name (default: the integration's table, else incident)" },
    fields = { type = "object", required = true,
               description = "the record's fields (short_description, description, ...), over the integration's defaults" },
    severity = { type = "string",
                 description = "critical | high | medium | low: sets priority (and impact, urgency on incidents) unless fields has them" },
    idempotency_key = { type = "string",
                        description = "a key of your own (text without '^'; past 100 characters its SHA-256 stands for it) instead of the step's: stored in correlation_id and looked up before every create, so executions giving the same key share one record" },
  },
  output = { description = "{id (sys_id), key, number, url, status (state), provider, raw (the record), created}" },

  run = function(ctx, input)
    tickets.integration(ctx, { "servicenow" }, TASK)
    local tbl = sn.table_name(ctx, input, TASK)
    local fields = sn.fields(ctx, input, tbl, TASK, true)
    local key, look_first = correlation(ctx, input, fields)
    local what = "ServiceNow " .. tbl .. " record"

    return tickets.create_once({
      ctx = ctx,
      what = what,
      send = function()
        return ctx.http({ method = "POST", path = sn.path(ctx, tbl), json = fields,
                          headers = { Accept = "application/json" } })
      end,
      accept = function(res)
        local article = tbl:match("^[aeiouAEIOU]") and "an " or "a "
        local record = sn.result(res, "creating " .. article .. tbl .. " record", "record")
        if sn.value(record.correlation_id) ~= key then
          ctx.log.warn("the created record does not keep correlation_id: a retry of this step " ..
                       "could not find it and might create a duplicate", { table = tbl })
        end
        record_created(ctx, tbl, record, fields)
        -- Tables without numbers (cmdb_ci_server) by name, else sys_id.
        ctx.log.info("created " .. tbl .. " " .. tostring(sn.value(record.number) or
                     sn.value(record.name) or sn.value(record.sys_id)),
                     { sys_id = sn.value(record.sys_id) })
        return sn.ticket(ctx, tbl, record)
      end,
      -- Only under the step's own key: a correlation_id the workflow gives may be another's.
      created_by_us = key == ctx.idempotency_key and function(ticket)
        record_created(ctx, tbl, ticket.raw, fields)
      end or nil,
      lookup = function()
        local record = sn.find_one(ctx, tbl, "correlation_id", key)
        return record and sn.ticket(ctx, tbl, record) or nil
      end,
      look_first = look_first,
      key = key,
    })
  end,
}
