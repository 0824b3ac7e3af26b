-- lua: an inline script step. The chunk sees `input` and `ctx` and returns the output; it
-- runs in the same sandbox, with the same limits, as any task.
return {
  name = "lua",
  description = "Run an inline Lua chunk; it sees `input` and `ctx` and returns the step's output",
  input = {
    script = { type = "string", required = true, description = "a Lua chunk" },
    input = { type = "any", description = "the value the chunk sees as `input`" },
  },
  raw = { "script" },  -- Lua code is passed as written, never rendered as a template
  run = function(ctx, input)
    if type(input.script) ~= "string" then
      error({ kind = "validation", message = "lua: 'script' must be a string of Lua code" })
    end
    -- The chunk's globals: input and ctx, falling back to the sandbox's (read-only) ones.
    -- As in a task file, assigning a global is an error and the metatable is protected.
    local env = setmetatable({ input = input.input, ctx = ctx }, {
      __index = _ENV,
      __newindex = function(_, name)
        name = tostring(name)
        error("assignment to global '" .. name .. "': tasks cannot set globals (use 'local " ..
              name .. "')", 2)
      end,
      __metatable = "ferry.sandbox",
    })
    local chunk, err = load(input.script, "=" .. ctx.step_id .. ".script", "t", env)
    if not chunk then
      error({ kind = "validation", message = "lua: " .. tostring(err) })
    end
    return chunk()
  end,
}
