-- ticket.get, provider jira: read one Jira issue by key or id.
local quoted = require("ferry.text").quoted
local tickets = require("ferry.tickets")
local jira = require("ferry.jira")

local TASK = "ticket.get"

-- The `fields` query parameter: a list of names, joined; status is always included.
local function field_list(fields)
  if not tickets.is_set(fields) then return nil end
  if type(fields) ~= "table" then tickets.invalid(TASK .. ": 'fields' must be a list of field names") end
  local names = { "status" }
  for i, name in ipairs(fields) do
    if type(name) ~= "string" or not name:match("^[%w_%*]+$") then
      tickets.invalid(TASK .. ": fields[" .. (i - 1) .. "] must be a field name, got " .. quoted(name))
    end
    names[#names + 1] = name
  end
  return table.concat(names, ",")
end

return {
  name = TASK,
  provider = "jira",
  description = "Read a Jira issue by key or id",
  integrations = { "jira" },  -- the integration types a step may name
  input = {
    key = { type = "string", description = "issue key, e.g. OPS-12" },
    number = { type = "string", description = "same as key" },
    id = { type = "string", description = "issue id (or key)" },
    fields = { type = "array", description = "only these fields in raw (status always); default all" },
  },
  output = { description = "{id, key, number, url, status (status name), provider, raw}" },

  run = function(ctx, input)
    tickets.integration(ctx, { "jira" }, TASK)
    local ref = jira.reference(input, TASK)
    local issue = jira.get_issue(ctx, ref, field_list(input.fields), TASK)
    return jira.ticket(ctx, issue)
  end,
}
