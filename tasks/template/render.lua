-- template.render: render a template (the project's templates/ first, then the bundled
-- ones) with vars; vars default to the expression context (inputs, vars, steps).
return {
  name = "template.render",
  pure = true,  -- no I/O: may run before its "running" record is durable
  description = "Render a Jinja2 template to text",
  input = {
    template = { type = "string", required = true, description = "a name under templates/" },
    vars = { type = "object", description = "defaults to {inputs, vars, steps, execution}" },
  },
  run = function(ctx, input)
    return { text = ferry.template.render(input.template, input.vars or {}) }
  end,
}
