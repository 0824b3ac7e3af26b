-- ticket.create, provider jira: create a Jira Cloud issue (POST /rest/api/3/issue).
--
-- Retries never create a second issue: the issue carries the step's idempotency key, or the
-- workflow's own `idempotency_key` (looked up before every create), in the issue property
-- ferry.idempotency and the label ferry-<24 hex>, and whenever an earlier attempt may
-- have created it (a retried or resumed step, a create whose answer was lost) the issue is
-- looked up by that key first (ferry.tickets.create_once).
local quoted = require("ferry.text").quoted
local tickets = require("ferry.tickets")
local jira = require("ferry.jira")

local TASK = "ticket.create"

-- What the diff records for a new issue: the main fields as sent (Jira's create answer
-- only has id and key).
local function record_created(ctx, key, fields)
  ctx.change("jira:issue", key, nil, {
    project = fields.project, issuetype = fields.issuetype, summary = fields.summary,
    priority = fields.priority, labels = fields.labels, components = fields.components,
  })
end

return {
  name = TASK,
  provider = "jira",
  description = "Create a Jira Cloud issue without duplicates on retry",
  integrations = { "jira" },  -- the integration types a step may name
  input = {
    project = { type = "string", description = "project key (default: the integration's project_key)" },
    issue_type = { type = "string", description = "issue type name (default: the integration's issue_type, else Task)" },
    summary = { type = "string", required = true, description = "one line; newlines become spaces, cut to 254 characters" },
    description = { type = "any", description = "text (paragraphs, line breaks) or an ADF document, as an object or JSON text" },
    priority = { type = "any", description = "priority name (High) or {id}; default from severity" },
    severity = { type = "string", description = "critical | high | medium | low -> Highest | High | Medium | Low (unless priority is given)" },
    labels = { type = "array", description = "labels, no spaces (ferry adds ferry-<key>)" },
    components = { type = "array", description = "component names or {id} objects" },
    fields = { type = "object", description = "other fields, e.g. customfield_10010, duedate (over the integration's defaults)" },
    idempotency_key = { type = "string",
                        description = "a key of your own (text; past 100 characters its SHA-256 stands for it) instead of the step's: looked up before every create, so executions giving the same key share one issue" },
  },
  output = { description = "{id, key, number (= key), url, status (null: the create answer has none), provider, raw, created}" },

  run = function(ctx, input)
    tickets.integration(ctx, { "jira" }, TASK)
    local own = tickets.own_idempotency_key(input, TASK)
    local key = own or ctx.idempotency_key
    local label = jira.idempotency_label(key, own ~= nil)
    local fields = jira.issue_fields(ctx, input, TASK, { create = true, label = label })
    local body = { fields = fields, properties = jira.idempotency_properties(key) }

    return tickets.create_once({
      ctx = ctx,
      what = "Jira issue",
      send = function()
        return ctx.http({ method = "POST", path = "/rest/api/3/issue", json = body })
      end,
      accept = function(res)
        local project = tickets.is_set(fields.project.key) and fields.project.key or fields.project.id
        jira.check(res, "creating an issue in " .. quoted(project))
        local issue = res.json
        if type(issue) ~= "table" or not tickets.has_text(issue.key) then
          tickets.fail("http_5xx", "Jira: the create answer (" .. tickets.answer_summary(res) ..
                       ") has no issue key")
        end
        record_created(ctx, issue.key, fields)
        ctx.log.info("created Jira issue " .. issue.key, { id = issue.id })
        return jira.ticket(ctx, issue)
      end,
      lookup = function()
        local issue = jira.find_by_idempotency(ctx, key, label)
        return issue and jira.ticket(ctx, issue) or nil
      end,
      created_by_us = own == nil and function(ticket) record_created(ctx, ticket.key, fields) end
                      or nil,
      look_first = own ~= nil,
      key = key,
    })
  end,
}
