-- log: write a message to the step's log (stored with the execution).
local json = require("ferry.json")

local LEVELS = { debug = true, info = true, warn = true, error = true }

return {
  name = "log",
  pure = true,  -- no I/O: may run before its "running" record is durable
  description = "Write a message to the execution's log",
  input = {
    message = { type = "any", required = true, description = "text; any other value is logged as JSON" },
    level = { type = "string", enum = { "debug", "info", "warn", "error" }, default = "info" },
    fields = { type = "object", description = "structured fields stored with the message" },
  },
  run = function(ctx, input)
    local level = input.level or "info"
    if not LEVELS[level] then
      error({ kind = "validation", message = "log: level must be debug, info, warn or error, got '" .. tostring(level) .. "'" })
    end
    -- "{{ item }}" keeps the item's type (a number, a table): log what it is, as JSON.
    local message = input.message
    if type(message) ~= "string" then message = json.encode(message) end
    ctx.log[level](message, input.fields)
    return {}
  end,
}
