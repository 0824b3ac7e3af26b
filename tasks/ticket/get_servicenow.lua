-- ticket.get, provider servicenow (the default): read one record of a ServiceNow table,
-- by sys_id (id) or number (number / key).
local quoted = require("ferry.text").quoted
local tickets = require("ferry.tickets")
local sn = require("ferry.servicenow")

local TASK = "ticket.get"

-- sysparm_display_value: false (values, the default), true (labels) or all (both).
local function display_value(v)
  if not tickets.is_set(v) then return nil end
  if v == true or v == false then return tostring(v) end
  if v == "true" or v == "false" or v == "all" then return v end
  tickets.invalid(TASK .. ": 'display_value' must be true, false or \"all\", got " .. quoted(v))
end

-- sysparm_fields: the fields asked for, plus those the normalized output needs.
local function field_list(fields)
  if not tickets.is_set(fields) then return nil end
  if type(fields) ~= "table" then
    tickets.invalid(TASK .. ": 'fields' must be a list of field names")
  end
  local names = { "sys_id", "number", "state" }
  for i, name in ipairs(fields) do
    if type(name) ~= "string" or not name:match("^[%w_%.]+$") then
      tickets.invalid(TASK .. ": fields[" .. (i - 1) .. "] must be a field name, got " .. quoted(name))
    end
    names[#names + 1] = name
  end
  return table.concat(names, ",")
end

return {
  name = TASK,
  provider = "servicenow",
  default = true,
  description = "Read a ServiceNow record by sys_id or number",
  integrations = { "servicenow" },  -- the integration types a step may name
  input = {
    id = { type = "string", description = "the record's sys_id (a number is accepted too)" },
    number = { type = "string", description = "the record's number, e.g. INC0010002" },
    key = { type = "string", description = "same as number" },
    table = { type = "string", description = "table name (default: the integration's table, else incident)" },
    display_value = { type = "any", description = "false (default), true (labels instead of values) or \"all\"" },
    fields = { type = "array", description = "only these fields in raw (sys_id, number, state always)" },
  },
  output = { description = "{id, key, number, url, status, provider, raw}" },

  run = function(ctx, input)
    tickets.integration(ctx, { "servicenow" }, TASK)
    local tbl = sn.table_name(ctx, input, TASK)
    local query = {
      sysparm_display_value = display_value(input.display_value),
      sysparm_fields = field_list(input.fields),
    }
    local record = sn.resolve(ctx, tbl, input, TASK, query)
    return sn.ticket(ctx, tbl, record)
  end,
}
