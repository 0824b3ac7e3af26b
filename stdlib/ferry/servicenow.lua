-- ferry.servicenow: a small client for the ServiceNow Table API, used by the ticket.*
-- tasks (provider servicenow). Requests go through ctx.http, so the step's integration
-- supplies base_url and credentials, retries, rate limit and dry-run.
--
-- Table API facts relied on (shared/reference/itsm-api-notes.md):
--   * /api/now/table/{table}[/{sys_id}]; POST -> 201, GET/PATCH -> 200;
--   * bodies wrapped in {"result": ...}; every value is a string;
--   * errors {"error": {"message", "detail"}, "status": "failure"};
--   * an encoded query part naming an unknown field is silently ignored, so every lookup
--     checks that the records it gets back really match.
local json = require("ferry.json")
local quoted = require("ferry.text").quoted
local clip = require("ferry.text").clip
local tickets = require("ferry.tickets")

local M = {}

-- Severity -> priority/impact/urgency. ServiceNow derives an incident's priority from
-- impact x urgency (and overwrites a priority sent alone), so the pair that yields the
-- wanted priority in the default matrix is sent too (see templates/priority.j2).
local PRIORITY = { critical = "1", high = "2", medium = "3", low = "4" }
local IMPACT = { critical = "1", high = "1", medium = "2", low = "2" }
local URGENCY = { critical = "1", high = "2", medium = "2", low = "3" }

-- State choices of the common task tables (choice label -> value). Other tables, or
-- instances with their own states: pass the value, or set ferry.yaml
-- `mappings.states.<table>: {Label: value}`.
local STATES = {
  incident = {
    { "New", "1" }, { "In Progress", "2" }, { "On Hold", "3" }, { "Resolved", "6" },
    { "Closed", "7" }, { "Canceled", "8" },
  },
  change_request = {
    { "New", "-5" }, { "Assess", "-4" }, { "Authorize", "-3" }, { "Scheduled", "-2" },
    { "Implement", "-1" }, { "Review", "0" }, { "Closed", "3" }, { "Canceled", "4" },
  },
  problem = {
    { "New", "101" }, { "Assess", "102" }, { "Root Cause Analysis", "103" },
    { "Fix in Progress", "104" }, { "Resolved", "106" }, { "Closed", "107" },
  },
  sc_task = {
    { "Pending", "-5" }, { "Open", "1" }, { "Work in Progress", "2" },
    { "Closed Complete", "3" }, { "Closed Incomplete", "4" }, { "Closed Skipped", "7" },
  },
}

-- ---------------------------------------------------------------------------------------
-- Names and paths

-- The table a step works on: input `table`, else the integration's `table`, else incident.
-- Table names go into the URL path, so only identifier characters are accepted.
function M.table_name(ctx, input, task)
  local t = input.table
  if not tickets.is_set(t) then t = ctx.integration and ctx.integration.table end
  if not tickets.is_set(t) then t = "incident" end
  if type(t) ~= "string" or not t:match("^[%a_][%w_]*$") then
    tickets.invalid(task .. ": 'table' must be a ServiceNow table name like incident or " ..
                    "change_request; got " .. quoted(t))
  end
  return t
end

-- /api/now/table/{table}[/{sys_id}], or /api/now/{api_version}/table/... when the
-- integration pins a Table API version (api_version: v2).
local function record_path(ctx, tbl, sys_id)
  local version = ctx.integration and ctx.integration.api_version
  local api = "/api/now/table/"
  if tickets.is_set(version) then
    if type(version) ~= "string" or not version:match("^v%d+$") then
      tickets.invalid("integration '" .. tostring(ctx.integration.name) .. "': api_version must look like v2, got " ..
                      quoted(version))
    end
    api = "/api/now/" .. version .. "/table/"
  end
  if sys_id then return api .. tbl .. "/" .. sys_id end
  return api .. tbl
end

local function is_sys_id(s)
  return type(s) == "string" and #s == 32 and s:match("^%x+$") ~= nil
end

-- The path of a table (create) or of one record.
function M.path(ctx, tbl, sys_id)
  return record_path(ctx, tbl, sys_id)
end

-- ---------------------------------------------------------------------------------------
-- Responses

-- A field of a record: plain value, or the `value` of a {display_value, value} pair
-- (sysparm_display_value=all) or of a reference {link, value}.
function M.value(v)
  if type(v) == "table" and v.value ~= nil then return v.value end
  return v
end

-- "HTTP 400: Invalid table nope (detail)" from a ServiceNow error answer.
local function error_text(res)
  local text = "HTTP " .. tostring(res.status) .. tickets.location_note(res)
  local e = type(res.json) == "table" and res.json.error
  if type(e) == "table" then
    if tickets.has_text(e.message) then text = text .. ": " .. e.message end
    if tickets.has_text(e.detail) and e.detail ~= e.message then text = text .. " (" .. e.detail .. ")" end
  elseif tickets.has_text(res.body) then
    text = text .. ": " .. clip(res.body, 300)
  end
  return text .. tickets.rate_limit_note(res)
end

-- The unwrapped `result` of a successful answer; a step error for anything else.
-- `shape` is "record" (an object with a sys_id: a create, a read, an update) or "list" (a
-- query's records). Any other `result` is an error, never "nothing there": after a create
-- whose outcome is unknown, an empty lookup means creating the record again, and a create
-- answered without a sys_id is no ticket.
function M.result(res, doing, shape)
  if res.status < 200 or res.status >= 300 then
    tickets.fail(tickets.kind_for_status(res.status), "ServiceNow: " .. doing .. " failed: " .. error_text(res))
  end
  local body = res.json
  if type(body) ~= "table" or body.result == nil then
    tickets.fail("http_5xx", "ServiceNow: " .. doing .. ": the answer (" .. tickets.answer_summary(res) ..
                 ") has no JSON 'result'")
  end
  local result = body.result
  local fits
  if shape == "list" then
    -- A JSON array, not an object: {} decodes to an empty table too ("nothing there").
    fits = type(result) == "table" and getmetatable(result) == "ferry.json.array"
  else
    fits = type(result) == "table" and result[1] == nil and tickets.has_text(M.value(result.sys_id))
  end
  if not fits then
    tickets.fail("http_5xx", "ServiceNow: " .. doing .. ": the answer's 'result' is not " ..
                 (shape == "list" and "a list of records" or "a record with a sys_id") .. ": " ..
                 quoted(result, 120))
  end
  return result
end

-- Send a request; transport failures become step errors, any HTTP answer is returned.
function M.request(ctx, req, doing)
  local res, err = ctx.http(req)
  if not res then tickets.raise_transport(err, "ServiceNow: " .. doing) end
  return res
end

-- ---------------------------------------------------------------------------------------
-- Normalized ticket

function M.record_url(ctx, tbl, sys_id)
  local base = tickets.base_url(ctx)
  if not base or not sys_id then return nil end
  return base .. "/nav_to.do?uri=" .. tbl .. ".do?sys_id=" .. sys_id
end

function M.ticket(ctx, tbl, record)
  local sys_id = M.value(record.sys_id)
  local number = M.value(record.number)
  return tickets.output({
    id = sys_id, key = number, number = number,
    url = M.record_url(ctx, tbl, sys_id),
    status = M.value(record.state),
    provider = "servicenow",
    raw = record,
  })
end

-- ---------------------------------------------------------------------------------------
-- Reading records

-- GET one record by sys_id: the record, or nil when it does not exist (404).
function M.get_by_sys_id(ctx, tbl, sys_id, query)
  local res = M.request(ctx, { method = "GET", path = record_path(ctx, tbl, sys_id), query = query,
                               headers = { Accept = "application/json" } },
                        "reading " .. tbl .. " " .. sys_id)
  if res.status == 404 then return nil end
  return M.result(res, "reading " .. tbl .. " " .. sys_id, "record")
end

-- The first record where field = value, checked field by field: a query on an unknown
-- field is ignored by ServiceNow and would return unrelated records.
function M.find_one(ctx, tbl, field, value, query)
  local q = tickets.merge(query, {
    sysparm_query = field .. "=" .. value .. "^ORDERBYsys_created_on",
    sysparm_limit = "5",
  })
  local doing = "looking up " .. tbl .. " by " .. field
  local res = M.request(ctx, { method = "GET", path = record_path(ctx, tbl), query = q,
                               headers = { Accept = "application/json" } }, doing)
  local rows = M.result(res, doing, "list")
  for _, row in ipairs(rows) do
    if M.value(row[field]) == value then return row end
  end
  return nil
end

-- Encoded-query values cannot contain the query syntax (^ separates terms); ticket
-- numbers and keys never do.
local function check_query_value(v, name, task)
  if not v:match("^[%w_.:%-]+$") then
    tickets.invalid(task .. ": '" .. name .. "' " .. quoted(v) ..
                    " is not a ServiceNow number or sys_id (letters, digits, - _ . : only)")
  end
end

-- The record a step names (id = sys_id, or number/key = number; an `id` that is not a
-- sys_id is taken as a number), or a not_found error.
function M.resolve(ctx, tbl, input, task, query)
  local ref, name = tickets.reference(input, task)
  check_query_value(ref, name, task)
  local record
  if is_sys_id(ref) then
    record = M.get_by_sys_id(ctx, tbl, ref, query)
  else
    record = M.find_one(ctx, tbl, "number", ref, query)
  end
  if not record then
    tickets.fail("not_found", task .. ": no " .. tbl .. " record with " ..
                 (is_sys_id(ref) and "sys_id " or "number ") .. ref)
  end
  return record
end

-- The URL path of the record a step names, without reading it: what dry-run previews.
-- A number cannot be turned into a sys_id without a request, so the path says which.
function M.preview_path(ctx, tbl, input, task)
  local ref = tickets.reference(input, task)
  if is_sys_id(ref) then return record_path(ctx, tbl, ref) end
  return record_path(ctx, tbl, "sys_id-of-" .. ref)
end

-- ---------------------------------------------------------------------------------------
-- Field building

-- The fields to send: input `fields` (over the integration's `defaults` when creating),
-- plus what `severity` implies unless the step's own fields already say it. The severity is
-- the step's word, so it wins over the defaults' priority, impact and urgency. Incidents
-- get impact and urgency as well (see IMPACT above), and ServiceNow computes their
-- priority from that pair: with one of the pair given by the step, the severity fills the
-- other and sends no priority, which the pair would contradict; with a priority given by
-- the step alone, the defaults' pair is not sent.
function M.fields(ctx, input, tbl, task, with_defaults)
  local own = tickets.merge(nil, input.fields)
  local severity = tickets.severity(input.severity, task)
  local pair_given = tbl == "incident" and (tickets.is_set(own.impact) or tickets.is_set(own.urgency))
  local priority_given = tickets.is_set(own.priority)
  local from_severity = severity and not priority_given
  if from_severity then
    local mappings = ctx.integration and ctx.integration.mappings or {}
    if not pair_given then
      own.priority = tickets.map_severity(severity, PRIORITY, mappings.priority)
    end
    if tbl == "incident" then
      if not tickets.is_set(own.impact) then
        own.impact = tickets.map_severity(severity, IMPACT, mappings.impact)
      end
      if not tickets.is_set(own.urgency) then
        own.urgency = tickets.map_severity(severity, URGENCY, mappings.urgency)
      end
    end
  end
  local base = with_defaults and ctx.integration and ctx.integration.defaults or nil
  local fields = tickets.merge(base, own)
  if from_severity and pair_given then fields.priority = nil end  -- not the defaults' either
  -- An incident's priority the step gives without impact or urgency: the defaults' pair
  -- sent beside it would make ServiceNow compute another.
  if tbl == "incident" and priority_given and not pair_given then
    fields.impact, fields.urgency = nil, nil
  end
  return fields
end

-- Journal entries: `comment` (customer-visible comments) and `work_note` (internal).
function M.add_journal(body, input)
  if tickets.has_text(input.comment) then body.comments = input.comment end
  if tickets.has_text(input.work_note) then body.work_notes = input.work_note end
  return body
end

-- ---------------------------------------------------------------------------------------
-- States

-- The state value for `to`: a choice label (case-insensitive, "_" = " ") of the table's
-- states, or a value used as is (a number, or a string of digits).
function M.state_value(ctx, tbl, to, task)
  if math.type(to) == "integer" then return tostring(to) end
  if type(to) ~= "string" or not to:match("%S") then
    tickets.invalid(task .. ": 'to' must be a state name or value, got " .. quoted(to))
  end
  if to:match("^%s*%-?%d+%s*$") then return (to:match("%-?%d+")) end

  local wanted = tickets.name_key(to)
  local custom = tickets.setting(ctx, "mappings", "states")
  custom = type(custom) == "table" and custom[tbl] or nil
  if type(custom) == "table" then
    for label, value in pairs(custom) do
      if tickets.name_key(tostring(label)) == wanted then return tostring(value) end
    end
  end
  local known = STATES[tbl]
  if known then
    for _, pair in ipairs(known) do
      if tickets.name_key(pair[1]) == wanted then return pair[2] end
    end
  end
  local names = {}
  for _, pair in ipairs(known or {}) do names[#names + 1] = pair[1] .. " (" .. pair[2] .. ")" end
  if type(custom) == "table" then
    for label, value in pairs(custom) do names[#names + 1] = tostring(label) .. " (" .. tostring(value) .. ")" end
  end
  if #names == 0 then
    tickets.invalid(task .. ": no state names are known for table " .. tbl .. "; give the state " ..
                    "value (e.g. to: \"3\") or set mappings.states." .. tbl .. " in ferry.yaml")
  end
  tickets.invalid(task .. ": unknown " .. tbl .. " state " .. quoted(to) .. "; known: " ..
                  table.concat(names, ", "))
end

-- The label of a state value, for logs ("6" -> "Resolved"), or the value itself.
function M.state_label(ctx, tbl, value)
  local custom = tickets.setting(ctx, "mappings", "states")
  custom = type(custom) == "table" and custom[tbl] or nil
  if type(custom) == "table" then
    for label, v in pairs(custom) do
      if tostring(v) == value then return tostring(label) end
    end
  end
  for _, pair in ipairs(STATES[tbl] or {}) do
    if pair[2] == value then return pair[1] end
  end
  return value
end

-- ---------------------------------------------------------------------------------------
-- Change records

-- before/after of the fields a PATCH sent, read back from the records, so
-- `ferry executions diff` shows what changed. Journal fields read back empty, so the
-- text sent is recorded as their new value.
function M.record_change(ctx, tbl, before, after, body)
  local b, a = {}, {}
  for field, sent in pairs(body) do
    if field == "work_notes" or field == "comments" then
      a[field] = sent
    else
      b[field] = M.value(before and before[field])
      a[field] = M.value(after and after[field])
    end
  end
  local number = M.value(after.number) or M.value(before and before.number)
  ctx.change("servicenow:" .. tbl, number or M.value(after.sys_id), b, a)
end

-- Whether a record read back after a PATCH with an unknown outcome shows that PATCH: its
-- modification count or time moved, or a field we changed now holds the value we sent.
local function applied(before, now, body)
  if not now then return false end
  for _, f in ipairs({ "sys_mod_count", "sys_updated_on" }) do
    local b, n = M.value(before[f]), M.value(now[f])
    if b ~= nil and n ~= nil and b ~= n then return true end
  end
  for field, sent in pairs(body) do
    if field ~= "work_notes" and field ~= "comments" then
      local b, n = M.value(before[field]), M.value(now[field])
      if b ~= n and tostring(n) == tostring(sent) then return true end
    end
  end
  return false
end

-- Whether the record's journal (work_notes or comments) holds `text` for element among its
-- latest 50 entries: true, false, or nil and why it cannot be read (an account without read
-- access to sys_journal_field, a failure).
local function journal_has(ctx, sys_id, element, text)
  local res, err = ctx.http({ method = "GET", path = record_path(ctx, "sys_journal_field"),
                              query = { sysparm_query = "element_id=" .. sys_id .. "^element=" ..
                                                        element .. "^ORDERBYDESCsys_created_on",
                                        sysparm_fields = "value", sysparm_limit = "50" } })
  if not res then return nil, { kind = err and err.kind or "network", text = tostring(err and err.message) } end
  if res.status ~= 200 or type(res.json) ~= "table" or type(res.json.result) ~= "table" then
    return nil, { kind = res.status == 200 and "http_5xx" or tickets.kind_for_status(res.status),
                  text = tickets.answer_summary(res) }
  end
  for _, entry in ipairs(res.json.result) do
    if type(entry) == "table" and M.value(entry.value) == text then return true end
  end
  return false
end

-- The journal fields of body an earlier attempt (or a process that died while sending
-- them) already added, looked up as a create is (tickets.landed): a resumed or retried
-- step must not post its note twice. The record read back cannot tell, as the earlier
-- PATCH may have landed before `before` was read.
local function already_posted(ctx, sys_id, body)
  local posted = {}
  for _, element in ipairs({ "work_notes", "comments" }) do
    local text = body[element]
    if type(text) == "string" and text ~= "" then
      local unreadable
      posted[element] = tickets.landed(ctx, function()
        local has, why = journal_has(ctx, sys_id, element, text)
        unreadable = why
        return has
      end)
      -- Not known to be absent: sending it again could add the note twice.
      if not posted[element] and unreadable then
        local kind = unreadable.kind == "not_found" and "http_4xx" or unreadable.kind
        tickets.fail(kind, "ServiceNow: cannot tell whether the " .. element .. " of an earlier " ..
                     "attempt were added (reading sys_journal_field: " .. unreadable.text ..
                     "), so they are not sent again; give the integration's account read " ..
                     "access to sys_journal_field")
      end
    end
  end
  return posted
end

-- PATCH a record. A PATCH without journal fields is idempotent (ctx.http may retry it);
-- with a work note or comment a blind retry would add the note twice, so it is sent as
-- non-idempotent and, when its outcome is unknown, the record is read back: a PATCH is
-- applied as a whole, so a record that changed since `before` got the note too.
function M.patch(ctx, tbl, before, body, doing)
  local sys_id = M.value(before.sys_id)
  if (body.work_notes ~= nil or body.comments ~= nil) and ((ctx.attempt or 1) > 1 or ctx.resumed) then
    local posted = already_posted(ctx, sys_id, body)
    if next(posted) then
      local rest = {}
      for k, v in pairs(body) do
        if not posted[k] then rest[k] = v end
      end
      ctx.log.info("the note is already on the record (an earlier attempt posted it)",
                   { table = tbl, sys_id = sys_id })
      if next(rest) == nil then return M.get_by_sys_id(ctx, tbl, sys_id) end
      body = rest
    end
  end
  local journal = body.work_notes ~= nil or body.comments ~= nil
  local res, err = ctx.http({ method = "PATCH", path = record_path(ctx, tbl, sys_id), json = body,
                              headers = { Accept = "application/json" },
                              idempotent = not journal })
  local ambiguous = (res and res.ambiguous) or (res == nil and type(err) == "table" and err.ambiguous)
  if ambiguous then
    -- Read back as the vendor settles (now, after 1 s and 2 s, and past a stopped
    -- process's request timeout): a note whose answer was lost often lands a moment later.
    local now
    if tickets.landed(ctx, function()
      now = M.get_by_sys_id(ctx, tbl, sys_id)
      return applied(before, now, body)
    end) then
      ctx.log.info("the update's answer was lost, but the record shows it was applied",
                   { table = tbl, sys_id = sys_id })
      return now
    end
    if res then
      tickets.fail(tickets.kind_for_status(res.status), "ServiceNow: " .. doing .. " failed: " .. error_text(res))
    end
    -- Not "unchanged": only that it did not show the change when read back.
    tickets.raise_transport(err, "ServiceNow: " .. doing .. " (the record did not show the " ..
                            "change when read back; it may still be applied: look before " ..
                            "sending it again)")
  end
  if not res then tickets.raise_transport(err, "ServiceNow: " .. doing) end
  return M.result(res, doing, "record")
end

return M
