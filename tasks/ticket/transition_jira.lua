-- ticket.transition, provider jira: move an issue through its workflow by transition NAME
-- (transition ids differ per workflow, so they are looked up, never hard-coded):
-- GET /issue/{key}/transitions, match `to` against the transitions' names (then their
-- target status names, then ids), POST the id. An optional comment is added afterwards.
local json = require("ferry.json")
local quoted = require("ferry.text").quoted
local tickets = require("ferry.tickets")
local adf = require("ferry.adf")
local jira = require("ferry.jira")

local TASK = "ticket.transition"
local MEMO = "transition"  -- ctx.remember's name for the transition about to be sent

local function status_of(issue)
  local f = type(issue.fields) == "table" and issue.fields or {}
  return type(f.status) == "table" and f.status.name or nil
end

local function same(a, b)
  local ka, kb = tickets.name_key(a), tickets.name_key(b)
  return ka ~= nil and ka == kb
end

return {
  name = TASK,
  provider = "jira",
  description = "Move a Jira issue through its workflow by transition name",
  integrations = { "jira" },  -- the integration types a step may name
  input = {
    key = { type = "string", description = "issue key, e.g. OPS-12" },
    number = { type = "string", description = "same as key" },
    id = { type = "string", description = "issue id (or key)" },
    to = { type = "any", required = true, description = "transition name (Done, Start Progress), target status name, or transition id (31 or \"31\")" },
    fields = { type = "object", description = "fields the transition screen needs, e.g. resolution: {name: Done}" },
    comment = { type = "any", description = "a comment to add: text or an ADF document" },
  },
  output = { description = "{id, key, number, url, status (the new status), provider, raw}" },

  run = function(ctx, input)
    tickets.integration(ctx, { "jira" }, TASK)
    local ref = jira.reference(input, TASK)
    local to = input.to
    -- A transition id written as a number (`to: 31`), as ServiceNow's `to: 6` is a state value.
    if math.type(to) == "integer" then to = tostring(to) end
    if not tickets.has_text(to) then
      tickets.invalid(TASK .. ": 'to' must name a transition (its name, its target status or its id)")
    end
    local comment = adf.coerce(input.comment, "comment", TASK)

    if ctx.dry_run then
      -- The transition id is only known after a GET, which dry-run must not send: preview
      -- the POST with a placeholder id (this call ends the task).
      local body = { transition = { id = "<id of transition " .. json.encode(to) .. ">" } }
      if tickets.is_set(input.fields) then body.fields = input.fields end
      ctx.http({ method = "POST", path = jira.issue_path(ref, "/transitions"), json = body })
    end

    local before = jira.get_issue(ctx, ref, nil, TASK)
    local current = status_of(before)
    -- What an earlier attempt of this step (or the stopped process) was about to do: a
    -- transition is offered only from its source status, so once made, its name matches
    -- nothing; the status it led to tells (kept before the POST, below).
    local planned = ctx.remembered(MEMO)
    if type(planned) ~= "table" or planned.issue ~= ref or planned.to ~= to then planned = nil end
    local function unchanged(made_earlier)
      ctx.log.info("issue " .. ref .. " is already in status " .. current)
      if comment then jira.add_comment(ctx, ref, comment) end
      if made_earlier then
        -- This step moved the issue, in an attempt whose end went unrecorded.
        jira.record_change(ctx, before, before, nil, { status = planned.from_status },
                           { status = current, comment = comment and adf.to_text(comment) or nil })
      end
      return jira.ticket(ctx, before)
    end
    -- Checked before the transitions: a retried step whose transition already happened must
    -- not run it again (a global "all statuses" transition would be offered again, and its
    -- post-functions and notifications would repeat). What an earlier attempt kept comes
    -- first: `to` may name the target status too, and the change that attempt made is this
    -- step's, to be recorded.
    if planned and same(current, planned.target) then
      ctx.log.info("an earlier attempt of this step made the transition",
                   { issue = ref, transition = planned.transition, status = current })
      return unchanged(true)
    end
    if same(current, to) then return unchanged() end
    local transitions = jira.transitions(ctx, ref)
    local t = jira.match_transition(transitions, to)
    if t and type(t.to) == "table" and same(current, t.to.name) then return unchanged() end

    if not t then
      tickets.invalid(TASK .. ": issue " .. ref .. " (status " .. tostring(current) .. ") has no " ..
                      "transition " .. quoted(to) .. "; available: " .. jira.transition_names(transitions) ..
                      (planned and "; an earlier attempt of this step sent " .. quoted(planned.transition) ..
                       " (to " .. tostring(planned.target) .. "): the issue moved on since, or " ..
                       "the transition was refused" or ""))
    end

    local target = type(t.to) == "table" and t.to.name or nil
    local screen = input.fields
    if type(screen) == "table" and type(screen.labels) == "table" then
      screen = tickets.copy(screen)
      screen.labels = jira.keep_own_labels(screen.labels, before)
    end
    local doing = "transitioning " .. ref .. " with " .. json.encode(t.name)
    local function arrived()
      return target ~= nil and same(status_of(jira.get_issue(ctx, ref, "status", TASK)), target)
    end
    -- A resumed step: the stopped process may have sent this transition, still in the
    -- vendor's hands (and a global transition is offered from its own target status too:
    -- sent again, its post-functions ran twice). It is looked for as the vendor settles and
    -- past that request's timeout (tickets.landed) before it is sent, as comments are;
    -- once that window is over (a retry after the resume), the status read above tells.
    local sent_before = tickets.stopped_process_may_be_sending(ctx) and tickets.landed(ctx, arrived)
    if sent_before then
      ctx.log.info("the transition is already made (the stopped process sent it)", { issue = ref })
    elseif target then
      -- Kept durably before the POST: should this attempt end unrecorded (a crash, a lost
      -- answer), the next one knows the transition may be made by the status it leads to.
      ctx.remember(MEMO, { issue = ref, to = to, transition = t.name, target = target,
                           from_status = current })
    end
    for try = 1, sent_before and 0 or 2 do
      local res, err = jira.send_transition(ctx, ref, t.id, screen)
      local answered_at = ferry.time.now_ms()
      if jira.is_written(res) then break end
      -- Refused (a 4xx: the screen's fields, a condition), failed, lost, or not Jira's (a
      -- login page): if the issue is in the target status, or reaches it as the vendor
      -- settles when the outcome is unknown, the transition did happen (this request, or
      -- an earlier, lost one).
      local refused = res and res.status >= 400 and res.status < 500 and res.status ~= 429
      if refused and arrived() or not refused and tickets.landed(ctx, arrived) then break end
      -- Not there: sent again once unless refused. It was not in the target status, so a
      -- second one does no harm.
      if try == 2 or refused then
        if not res then tickets.raise_transport(err, "Jira: " .. doing) end
        jira.check_written(res, doing)
      end
      tickets.wait_retry_after(ctx, res, answered_at, "Jira: " .. doing)
    end

    -- An earlier attempt (or the stopped process) comments only after its transition is
    -- made: when this one found it not made and made it, the comment is surely not there.
    if comment then jira.add_comment(ctx, ref, comment, not sent_before) end
    local after = jira.get_issue(ctx, ref, nil, TASK)
    -- As ServiceNow's: an issue that ends elsewhere (a post-function, an automation that
    -- moved it back) fails the step rather than passing as done.
    if target and not same(status_of(after), target) then
      tickets.fail("http_4xx", "Jira: " .. doing .. ": the issue is in status " ..
                   tostring(status_of(after)) .. " afterwards, not " .. target ..
                   " (a post-function or an automation moved it?)")
    end
    jira.record_change(ctx, before, after, type(screen) == "table" and screen or nil, { status = current },
                       { status = status_of(after), comment = comment and adf.to_text(comment) or nil })
    ctx.log.info("issue " .. ref .. " moved from " .. tostring(current) .. " to " .. tostring(status_of(after)),
                 { transition = t.name })
    return jira.ticket(ctx, after)
  end,
}
