-- ferry.jira: a small client for Jira Cloud REST API v3, used by the ticket.* tasks
-- (provider jira). Requests go through ctx.http, so the step's integration supplies
-- base_url and credentials, retries, rate limit and dry-run.
--
-- Jira facts relied on (shared/reference/itsm-api-notes.md):
--   * /rest/api/3; create POST /issue -> 201 {id, key, self}; edit PUT -> 204;
--     comment POST -> 201; transition POST -> 204; errors {errorMessages, errors};
--   * rich text (description, comments) must be ADF (ferry.adf);
--   * summary: one line, under 255 characters; labels: no spaces;
--   * search: /search/jql (bounded JQL), eventually consistent.
--
-- Idempotency: a created issue carries the step's idempotency key twice: in the issue
-- property `ferry.idempotency` ({"value": KEY}) and in the label "ferry-" .. 24 hex digits
-- of the key. Lookups search the label (labels are always searchable; JQL on an issue
-- property only works where an app indexes it) and confirm the property when Jira returns it.
local json = require("ferry.json")
local crypto = require("ferry.crypto")
local quoted = require("ferry.text").quoted
local clip = require("ferry.text").clip
local trim = require("ferry.text").trim
local tickets = require("ferry.tickets")
local adf = require("ferry.adf")

local M = {}

local API = "/rest/api/3"
local PROPERTY = "ferry.idempotency"
local PRIORITY = { critical = "Highest", high = "High", medium = "Medium", low = "Low" }
-- Jira's summary limit is "less than 255 characters", counted as Java (UTF-16) characters.
local SUMMARY_MAX = 254

-- ---------------------------------------------------------------------------------------
-- References, paths, responses

-- An issue key (OPS-12) or id (10000): it goes into URL paths, so nothing else passes.
local function check_ref(ref, name, task)
  if not ref:match("^[%w_]+%-%d+$") and not ref:match("^%d+$") then
    tickets.invalid(task .. ": '" .. name .. "' must be a Jira issue key like OPS-12 or an issue id, got " ..
                    quoted(ref))
  end
  return ref
end

-- The issue a step names (id, key or number), checked.
function M.reference(input, task)
  local ref, name = tickets.reference(input, task)
  return check_ref(ref, name, task)
end

function M.issue_path(ref, suffix)
  return API .. "/issue/" .. ref .. (suffix or "")
end

-- "HTTP 400: summary: You must specify a summary of the issue." from a Jira error answer.
local function error_text(res)
  local parts = {}
  local body = res.json
  if type(body) == "table" then
    if type(body.errorMessages) == "table" then
      for _, m in ipairs(body.errorMessages) do parts[#parts + 1] = tostring(m) end
    end
    if type(body.errors) == "table" then
      local names = {}
      for name in pairs(body.errors) do names[#names + 1] = name end
      table.sort(names)
      for _, name in ipairs(names) do parts[#parts + 1] = name .. ": " .. tostring(body.errors[name]) end
    end
  end
  if #parts == 0 and tickets.has_text(res.body) then parts[1] = clip(res.body, 300) end
  local text = "HTTP " .. tostring(res.status) .. tickets.location_note(res)
  if #parts > 0 then text = text .. ": " .. table.concat(parts, "; ") end
  return text .. tickets.rate_limit_note(res)
end

-- A step error for a non-2xx answer; the answer otherwise.
function M.check(res, doing)
  if res.status < 200 or res.status >= 300 then
    tickets.fail(tickets.kind_for_status(res.status), "Jira: " .. doing .. " failed: " .. error_text(res))
  end
  return res
end

-- The JSON object of a 2xx answer, which must carry `field` (of Lua type `kind`, when
-- given). A login page, an empty body
-- or a proxy's error page with status 200 is an error, never "nothing there": after a
-- create whose outcome is unknown, "not found" means creating the issue again.
function M.answer(res, doing, field, kind)
  local body = res.json
  if type(body) ~= "table" or body[field] == nil or (kind and type(body[field]) ~= kind) then
    tickets.fail("http_5xx", "Jira: " .. doing .. ": the answer (" .. tickets.answer_summary(res) ..
                 ") is not a JSON object with '" .. field .. "'" .. (kind == "table" and " (a list)" or ""))
  end
  return body
end

-- A write's answer: a 2xx, and Jira's own (204 No Content, or a JSON object). A login page
-- or a proxy's page with status 200 reached no Jira: the write was not done, and the step
-- must not pass as if it were.
function M.is_written(res)
  return res ~= nil and res.status >= 200 and res.status < 300 and
         (res.status == 204 or type(res.json) == "table")
end

function M.check_written(res, doing)
  M.check(res, doing)
  if not M.is_written(res) then
    tickets.fail("http_5xx", "Jira: " .. doing .. ": the answer (" .. tickets.answer_summary(res) ..
                 ") is not Jira's (204, or a JSON object), so the write cannot be taken as done")
  end
  return res
end

-- Send a request; transport failures become step errors, any HTTP answer is returned.
function M.request(ctx, req, doing)
  local res, err = ctx.http(req)
  if not res then tickets.raise_transport(err, "Jira: " .. doing) end
  return res
end

-- ---------------------------------------------------------------------------------------
-- Normalized ticket

function M.browse_url(ctx, key)
  local base = tickets.base_url(ctx)
  if not base or not tickets.is_set(key) then return nil end
  return base .. "/browse/" .. key
end

function M.ticket(ctx, issue)
  local fields = type(issue.fields) == "table" and issue.fields or {}
  local status = type(fields.status) == "table" and fields.status.name or nil
  return tickets.output({
    id = issue.id, key = issue.key, number = issue.key,
    url = M.browse_url(ctx, issue.key),
    status = status,
    provider = "jira",
    raw = issue,
  })
end

-- ---------------------------------------------------------------------------------------
-- Field values

-- One line, at most SUMMARY_MAX UTF-16 units; longer text is cut at a character boundary
-- and ends with "…".
function M.summary(value, task)
  if not tickets.has_text(value) then
    tickets.invalid(task .. ": 'summary' is required and must be non-blank text")
  end
  local s = trim((value:gsub("[%c]+", " "):gsub("%s%s+", " ")))
  local units, cut = 0, nil
  for pos, code in utf8.codes(s) do
    units = units + (code >= 0x10000 and 2 or 1)
    if units > SUMMARY_MAX - 1 and not cut then cut = pos end
    if units > SUMMARY_MAX then
      return s:sub(1, cut - 1) .. "…"
    end
  end
  return s
end

-- White space beyond ASCII's %s that Jira refuses in a label as it refuses " ": the
-- Unicode spaces (no-break, ideographic, em...) and separators.
local function unicode_space(code)
  return (code >= 0x1C and code <= 0x1F) or code == 0x85 or code == 0xA0 or code == 0x1680 or
         (code >= 0x2000 and code <= 0x200A) or code == 0x2028 or code == 0x2029 or
         code == 0x202F or code == 0x205F or code == 0x3000
end

-- A label's length as Jira counts it (UTF-16 units); bytes when it is not UTF-8.
local function label_length(label)
  local units = 0
  for _, code in utf8.codes(label) do
    if unicode_space(code) then return nil, true end
    units = units + (code >= 0x10000 and 2 or 1)
  end
  return units, false
end

-- Labels: a list of strings without spaces (Jira refuses "a b"); duplicates dropped.
function M.labels(value, task, extra)
  local out, seen = json.array(), {}
  local function add(label, where)
    if type(label) == "number" then label = tostring(label) end
    if type(label) ~= "string" or label == "" then
      tickets.invalid(task .. ": " .. where .. " must be a non-empty string, got " .. quoted(label))
    end
    local ok, length, spaced = pcall(label_length, label)
    if not ok then length, spaced = #label, false end  -- not UTF-8: Jira will say what it thinks
    if spaced or label:find("%s") then
      tickets.invalid(task .. ": " .. where .. " " .. quoted(label) .. " contains spaces, which " ..
                      "Jira labels cannot have (use '-' or '_')")
    end
    if length > 255 then tickets.invalid(task .. ": " .. where .. " is longer than 255 characters") end
    if not seen[label] then
      seen[label] = true
      out[#out + 1] = label
    end
  end
  if tickets.is_set(value) then
    if type(value) == "string" then value = { value } end
    if type(value) ~= "table" then
      tickets.invalid(task .. ": 'labels' must be a list of strings, got " .. quoted(value))
    end
    for i, label in ipairs(value) do add(label, "labels[" .. (i - 1) .. "]") end
  end
  if extra then add(extra, "label") end
  return out
end

-- Setting an issue's labels replaces them all, the `ferry-` label a create's lookup searches
-- for included: without it the next execution with the same idempotency key would find
-- nothing and open a second issue. The new labels keep the ones `issue` (read before the
-- edit) carries.
local function is_own_label(label)
  return type(label) == "string" and #label == 30 and label:match("^ferry%-%x+$") ~= nil
end

function M.keep_own_labels(labels, issue)
  local current = type(issue) == "table" and type(issue.fields) == "table" and issue.fields.labels
  if type(labels) ~= "table" or type(current) ~= "table" then return labels end
  local out, seen = json.array(), {}
  for _, l in ipairs(labels) do
    out[#out + 1] = l
    seen[l] = true
  end
  for _, l in ipairs(current) do
    if is_own_label(l) and not seen[l] then out[#out + 1] = l end
  end
  return out
end

-- Components: names ("API") or Jira objects ({"name": ...} / {"id": ...}).
function M.components(value, task)
  if type(value) == "string" then value = { value } end
  if type(value) ~= "table" then
    tickets.invalid(task .. ": 'components' must be a list of names, got " .. quoted(value))
  end
  local out = json.array()
  for i, c in ipairs(value) do
    if type(c) == "string" and c:match("%S") then
      out[#out + 1] = { name = c }
    elseif type(c) == "table" and (tickets.is_set(c.name) or tickets.is_set(c.id)) then
      out[#out + 1] = c
    else
      tickets.invalid(task .. ": components[" .. (i - 1) .. "] must be a name or {name}/{id}, got " ..
                      quoted(c))
    end
  end
  return out
end

-- A name ("High") becomes {"name": "High"}; an object ({"id": "2"}) passes as is.
local function named(value, what, task)
  if type(value) == "string" and value:match("%S") then return { name = value } end
  if type(value) == "table" and (tickets.is_set(value.name) or tickets.is_set(value.id)) then return value end
  tickets.invalid(task .. ": '" .. what .. "' must be a name or {name}/{id}, got " .. quoted(value))
end

local function project_value(value, task)
  if type(value) == "string" and value:match("^%d+$") then return { id = value } end
  if type(value) == "string" and value:match("^[%a][%w_]*$") then return { key = value } end
  if type(value) == "table" and (tickets.is_set(value.key) or tickets.is_set(value.id)) then return value end
  tickets.invalid(task .. ": 'project' must be a project key like OPS (or {key}/{id}), got " .. quoted(value))
end

-- The first set value among the arguments.
local function first(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if tickets.is_set(v) then return v end
  end
  return nil
end

-- The `fields` of a create or edit request. Precedence, highest first: the named inputs
-- (summary, description, priority, labels, components, project, issue_type), input
-- `fields`, and, on create, the integration's `defaults`. `severity` sets the priority
-- when neither the named inputs nor `fields` do: it is the step's word, so it wins over
-- the defaults' priority. On create the idempotency label is added (opts.label).
function M.issue_fields(ctx, input, task, opts)
  local base = opts.create and ctx.integration and ctx.integration.defaults or nil
  local fields = tickets.merge(base, input.fields)
  local own_fields = type(input.fields) == "table" and input.fields or {}
  local integ = ctx.integration or {}

  if opts.create then
    local project = first(input.project, fields.project, integ.project_key)
    if not project then
      tickets.invalid(task .. ": 'project' is required (or set project_key on the integration)")
    end
    fields.project = project_value(project, task)
    fields.issuetype = named(first(input.issue_type, fields.issuetype, integ.issue_type, "Task"),
                             "issue_type", task)
  end

  local summary = first(input.summary, fields.summary)
  if summary or opts.create then fields.summary = M.summary(summary, task) end

  local description = first(input.description, fields.description)
  fields.description = adf.coerce(description, "description", task)  -- nil when blank: left out
  -- The other rich-text system field: Jira refuses it as a plain string ("Operation value
  -- must be an Atlassian Document"). Rich-text custom fields cannot be told apart from
  -- plain ones without the field metadata: those take an ADF document as given.
  -- null clears it on an update, as Jira takes it.
  if fields.environment ~= json.null then
    fields.environment = adf.coerce(fields.environment, "environment", task)
  end

  local priority = first(input.priority, own_fields.priority)
  local severity = tickets.severity(input.severity, task)
  if not priority and severity then
    local mappings = integ.mappings or {}
    priority = tickets.map_severity(severity, PRIORITY, mappings.priority)
  end
  priority = first(priority, fields.priority)  -- the defaults'
  fields.priority = priority and named(priority, "priority", task) or nil

  local labels = first(input.labels, fields.labels)
  if labels or opts.label then fields.labels = M.labels(labels, task, opts.label) end

  local components = first(input.components, fields.components)
  fields.components = components and M.components(components, task) or nil
  return fields
end

-- ---------------------------------------------------------------------------------------
-- Idempotency

-- own: the key is a workflow's `idempotency_key` (any text): the label takes 24 hex digits
-- of its SHA-256, as a step's key gives its own first 24.
function M.idempotency_label(key, own)
  return "ferry-" .. (own and crypto.sha256(key) or key):sub(1, 24)
end

-- The create request's `properties`: the key, readable with GET .../properties/ferry.idempotency.
function M.idempotency_properties(key)
  return json.array({ { key = PROPERTY, value = { value = key } } })
end

-- Whether a search hit really is the issue carrying `key`: the label matched; the property,
-- when returned, must hold the whole key.
local function carries(issue, key, label)
  local fields = type(issue.fields) == "table" and issue.fields or {}
  if type(fields.labels) == "table" then
    local has = false
    for _, l in ipairs(fields.labels) do has = has or l == label end
    if not has then return false end
  end
  local props = type(issue.properties) == "table" and issue.properties[PROPERTY]
  if type(props) == "table" and props.value ~= nil then return props.value == key end
  return true
end

-- The issue created with `key` and `label` (idempotency_label's), or nil. The JQL names the
-- label only: the label is unique to the step (or to the workflow's own key), and a
-- `project = X` clause would fail with 400 when the project has no issue yet or its key
-- is mistyped. (Search is eventually consistent: ferry.tickets repeats the lookup right
-- after a create with an unknown outcome.)
function M.find_by_idempotency(ctx, key, label)
  local body = {
    jql = 'labels = "' .. label .. '"',
    fields = json.array({ "summary", "status", "labels", "issuetype", "priority" }),
    properties = json.array({ PROPERTY }),
    maxResults = 5,
  }
  local res = M.request(ctx, { method = "POST", path = API .. "/search/jql", json = body,
                               idempotent = true }, "searching for the issue created by this step")
  M.check(res, "searching for the issue created by this step")
  local issues = M.answer(res, "searching for the issue created by this step", "issues", "table").issues
  for _, issue in ipairs(issues) do
    if type(issue) == "table" and carries(issue, key, label) then return issue end
  end
  return nil
end

-- ---------------------------------------------------------------------------------------
-- Reading and writing issues

-- GET an issue (all fields, or `fields`); not_found when it does not exist.
function M.get_issue(ctx, ref, fields, task)
  local query = fields and { fields = fields } or nil
  local res = M.request(ctx, { method = "GET", path = M.issue_path(ref), query = query },
                        "reading issue " .. ref)
  if res.status == 404 then
    tickets.fail("not_found", task .. ": Jira issue " .. ref .. " does not exist or is not visible " ..
                 "to the integration's user")
  end
  M.check(res, "reading issue " .. ref)
  return M.answer(res, "reading issue " .. ref, "key", "string")
end

-- PUT fields (idempotent: setting the same values twice is harmless).
function M.edit_issue(ctx, ref, fields)
  local res = M.request(ctx, { method = "PUT", path = M.issue_path(ref), json = { fields = fields },
                               idempotent = true }, "updating issue " .. ref)
  M.check_written(res, "updating issue " .. ref)
end

-- Whether the issue already has a comment with this text (among the latest 50). nil and
-- why when the comments cannot be read (a 429, a login page): not known to be absent.
local function has_comment(ctx, ref, text)
  local res, err = ctx.http({ method = "GET", path = M.issue_path(ref, "/comment"),
                              query = { orderBy = "-created", maxResults = "50" } })
  if not res then return nil, { kind = err and err.kind or "network", text = tostring(err and err.message) } end
  if res.status ~= 200 or type(res.json) ~= "table" or type(res.json.comments) ~= "table" then
    return nil, { kind = res.status == 200 and "http_5xx" or tickets.kind_for_status(res.status),
                  text = tickets.answer_summary(res) }
  end
  for _, c in ipairs(res.json.comments or {}) do
    if type(c) == "table" and type(c.body) == "table" and adf.to_text(c.body) == text then return true end
  end
  return false
end

-- POST a comment. Comments are not idempotent: when an earlier attempt may have posted it
-- (a retried or resumed step, or an answer lost in transit), the latest comments are
-- checked first, as the vendor settles and past a stopped process's attempt's timeout
-- (tickets.landed), so the same text is not added twice. after_own_write: the comment
-- follows a write this attempt made (a transition not found done by an earlier one), so
-- no earlier attempt can have posted it: the check, and its wait, are skipped.
function M.add_comment(ctx, ref, body, after_own_write)
  local text = adf.to_text(body)
  local maybe_posted = not after_own_write and ((ctx.attempt or 1) > 1 or ctx.resumed)
  for try = 1, 2 do
    if maybe_posted then
      local unreadable
      local posted = tickets.landed(ctx, function()
        local has, why = has_comment(ctx, ref, text)
        unreadable = why
        return has
      end)
      if posted then
        ctx.log.info("the comment is already on the issue", { issue = ref })
        return
      end
      -- Not known to be absent (a rate-limited read, a login page): posting it again could
      -- add it twice, as ServiceNow's notes could; the step fails (and is retried) instead.
      if unreadable then
        local kind = unreadable.kind == "not_found" and "http_4xx" or unreadable.kind
        tickets.fail(kind, "Jira: cannot tell whether the comment of an earlier attempt was " ..
                     "added to " .. ref .. " (reading its comments: " .. unreadable.text ..
                     "), so it is not sent again")
      end
    end
    local res, err = ctx.http({ method = "POST", path = M.issue_path(ref, "/comment"), json = { body = body } })
    local answered_at = ferry.time.now_ms()
    local ambiguous = (res and res.ambiguous) or (res == nil and type(err) == "table" and err.ambiguous)
    if not ambiguous or try == 2 then
      if not res then tickets.raise_transport(err, "Jira: adding a comment to " .. ref) end
      M.check_written(res, "adding a comment to " .. ref)
      return
    end
    tickets.wait_retry_after(ctx, res, answered_at, "Jira: adding a comment to " .. ref)
    maybe_posted = true
  end
end

-- The record of what a write changed, read back from the issue (for `ferry executions
-- diff`): the fields `changed` names as keys (its values are not read: the fields a write
-- sent will do), plus `extra_before`/`extra_after` as given (a status by
-- name; a comment added, as its text: ServiceNow's records show theirs).
function M.record_change(ctx, before, after, changed, extra_before, extra_after)
  local b, a = {}, {}
  local bf = type(before.fields) == "table" and before.fields or {}
  local af = type(after.fields) == "table" and after.fields or {}
  for field in pairs(changed or {}) do
    b[field] = bf[field]
    a[field] = af[field]
  end
  for k, v in pairs(extra_before or {}) do b[k] = v end
  for k, v in pairs(extra_after or {}) do a[k] = v end
  ctx.change("jira:issue", after.key or before.key, b, a)
end

-- ---------------------------------------------------------------------------------------
-- Transitions

-- The transition for `to`, matched (tickets.name_key) on the transition's name, then on
-- the status it leads to, then on its id. nil when none matches.
function M.match_transition(transitions, to)
  local wanted = tickets.name_key(tostring(to))
  for _, t in ipairs(transitions) do
    if tickets.name_key(t.name) == wanted then return t end
  end
  for _, t in ipairs(transitions) do
    if type(t.to) == "table" and tickets.name_key(t.to.name) == wanted then return t end
  end
  wanted = trim(tostring(to))
  for _, t in ipairs(transitions) do
    if tostring(t.id) == wanted then return t end
  end
  return nil
end

function M.transitions(ctx, ref)
  local res = M.request(ctx, { method = "GET", path = M.issue_path(ref, "/transitions") },
                        "listing the transitions of " .. ref)
  M.check(res, "listing the transitions of " .. ref)
  return M.answer(res, "listing the transitions of " .. ref, "transitions", "table").transitions
end

-- POST a transition (Jira answers 204). Returns what ctx.http returned: the task decides,
-- because a transition whose answer was lost may already have happened.
function M.send_transition(ctx, ref, id, fields)
  local body = { transition = { id = tostring(id) } }
  if tickets.is_set(fields) and next(fields) then body.fields = fields end
  return ctx.http({ method = "POST", path = M.issue_path(ref, "/transitions"), json = body })
end

-- The names of the transitions, for error messages: "Start Progress (-> In Progress), Done".
function M.transition_names(transitions)
  local names = {}
  for _, t in ipairs(transitions) do
    local to = type(t.to) == "table" and t.to.name
    if to and to ~= t.name then
      names[#names + 1] = tostring(t.name) .. " (-> " .. tostring(to) .. ")"
    else
      names[#names + 1] = tostring(t.name)
    end
  end
  return #names > 0 and table.concat(names, ", ") or "none"
end

function M.error_text(res) return error_text(res) end

return M
