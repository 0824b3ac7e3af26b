-- sleep: wait without blocking anything else (the step's coroutine parks on a timer).
return {
  name = "sleep",
  description = "Wait for a duration (300ms, 2s, 1m) without blocking other steps",
  input = {
    duration = { type = "string", format = "duration", required = true,
                 description = "how long: 300ms, 2s, 1m, 1h" },
  },
  run = function(ctx, input)
    ferry.sleep(input.duration)
    return {}
  end,
}
