-- ticket.update, provider jira: edit an issue's fields (PUT /issue/{key}) and/or add a
-- comment (POST /issue/{key}/comment). Status changes are ticket.transition's job.
local tickets = require("ferry.tickets")
local adf = require("ferry.adf")
local jira = require("ferry.jira")

local TASK = "ticket.update"

return {
  name = TASK,
  provider = "jira",
  description = "Update a Jira issue's fields and add a comment",
  integrations = { "jira" },  -- the integration types a step may name
  input = {
    key = { type = "string", description = "issue key, e.g. OPS-12" },
    number = { type = "string", description = "same as key" },
    id = { type = "string", description = "issue id (or key)" },
    summary = { type = "string", description = "new summary (one line)" },
    description = { type = "any", description = "new description: text or an ADF document" },
    priority = { type = "any", description = "priority name or {id}" },
    severity = { type = "string", description = "critical | high | medium | low: sets the priority unless priority is given" },
    labels = { type = "array", description = "the new labels (replace the issue's labels, but for Ferry's own ferry-... label)" },
    components = { type = "array", description = "the new components (names or {id})" },
    fields = { type = "object", description = "other fields to set, e.g. customfield_10010" },
    comment = { type = "any", description = "a comment to add: text or an ADF document" },
  },
  output = { description = "{id, key, number, url, status, provider, raw (the issue after the update)}" },

  run = function(ctx, input)
    tickets.integration(ctx, { "jira" }, TASK)
    local ref = jira.reference(input, TASK)
    local fields = jira.issue_fields(ctx, input, TASK, { create = false })
    local comment = adf.coerce(input.comment, "comment", TASK)
    if next(fields) == nil and not comment then
      tickets.invalid(TASK .. ": nothing to update: give fields (summary, description, priority, " ..
                      "severity, labels, components, fields) or a comment")
    end

    if ctx.dry_run then
      -- Preview the first write (this call ends the task in dry-run).
      if next(fields) then
        ctx.http({ method = "PUT", path = jira.issue_path(ref), json = { fields = fields } })
      end
      ctx.http({ method = "POST", path = jira.issue_path(ref, "/comment"), json = { body = comment } })
    end

    local before = jira.get_issue(ctx, ref, nil, TASK)
    if fields.labels then fields.labels = jira.keep_own_labels(fields.labels, before) end
    if next(fields) then jira.edit_issue(ctx, ref, fields) end
    if comment then jira.add_comment(ctx, ref, comment) end
    local after = jira.get_issue(ctx, ref, nil, TASK)
    jira.record_change(ctx, before, after, fields, nil, comment and { comment = adf.to_text(comment) })
    return jira.ticket(ctx, after)
  end,
}
