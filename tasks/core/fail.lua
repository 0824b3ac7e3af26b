-- fail: end the step with an error (useful behind `when`, and to test on_error paths).
return {
  name = "fail",
  pure = true,  -- no I/O: may run before its "running" record is durable
  description = "Fail the step with a message",
  input = {
    message = { type = "string", default = "failed by the workflow" },
  },
  run = function(ctx, input)
    error(tostring(input.message or "failed by the workflow"), 0)
  end,
}
