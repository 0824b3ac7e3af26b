-- Runs a workflow hook (before_step, after_step, on_failure) for the engine.
-- A hook file returns a function(ctx, event), or a table of such functions by hook name.
-- The hook may change event.input / event.output / event.annotations in place, return a
-- new event table, or return false to veto the step (before_step).
return function(hook, ctx, event)
  if type(hook) == "table" then
    hook = hook[ctx.hook]
    if hook == nil then return event end
  end
  if type(hook) ~= "function" then
    error("a hook file must return a function(ctx, event) or a table of them, got " .. type(hook), 0)
  end
  local result = hook(ctx, event)
  if result == false then
    return { veto = true, reason = event.reason }
  end
  if type(result) == "table" then return result end
  -- Nothing (or true) keeps the event as the hook left it. Anything else from a before_step
  -- was a mistake silently ignored (a hook returning its message, or a status, meant
  -- something); an after_step or on_failure runs after the step's effects, and what it
  -- returns besides an event is ignored, as before, rather than fail a step that is done.
  if ctx.hook == "before_step" and result ~= nil and result ~= true then
    error("a " .. ctx.hook .. " hook returns the event (a table), false to veto, or nothing; got "
          .. type(result), 0)
  end
  return event
end
