-- log: write a message to the step's log (stored with the execution).
local LEVELS = { debug = true, info = true, warn = true, error = true }

return {
  name = "log",
  pure = true,  -- no I/O: may run before its "running" record is durable
  description = "Write a message to the execution's log",
  input = {
    message = { type = "string", required = true },
    level = { type = "string", enum = { "debug", "info", "warn", "error" }, default = "info" },
    fields = { type = "object", description = "structured fields stored with the message" },
  },
  run = function(ctx, input)
    local level = input.level or "info"
    if not LEVELS[level] then
      error({ kind = "validation", message = "log: level must be debug, info, warn or error, got '" .. tostring(level) .. "'" })
    end
    ctx.log[level](tostring(input.message), input.fields)
    return {}
  end,
}
