-- Runs one task invocation for the engine: builds ctx from the engine's plain data, then
-- calls the task's run(ctx, input). Whatever run returns is the step's output.
local context = require("ferry.ctx")

return function(run, data, input)
  local ctx = context.new(data)
  return run(ctx, input)
end
