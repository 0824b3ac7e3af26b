-- ferry.pages: an API read that answers in pages, gathered into one list (http.request's
-- `paginate`). Three ways to the next page, as vendors do it:
--   link    the Link header's rel="next" URL (RFC 8288: ServiceNow's Table API, GitHub...)
--   token   a field of the answer holds the next page's token (Jira's nextPageToken), sent
--           back as a query parameter, or in the JSON body of a request that has one
--   offset  a query parameter counts the items read so far (sysparm_offset, startAt)
-- Every page goes through ctx.http, so the step's integration (credentials, retries, rate
-- limit) and dry-run apply to each. Bounded: max_pages pages, MAX_ITEMS items.
local http = require("ferry.http")
local M = {}

M.MAX_ITEMS = 50000 -- what a for_each over the result may run
M.DEFAULT_MAX_PAGES = 100
M.MAX_PAGES = 10000

local function invalid(message)
  error({ kind = "validation", message = "paginate: " .. message }, 0)
end

local function answer_error(page, message)
  -- Not the API's answer (a login page, a proxy) or not the shape the spec says: a retry of
  -- the step may find it back.
  error({ kind = "http_5xx", message = "paginate: page " .. page .. ": " .. message }, 0)
end

local function text_field(p, key)
  local v = p[key]
  if v ~= nil and (type(v) ~= "string" or v == "") then
    invalid("'" .. key .. "' must be non-empty text")
  end
  return v
end

-- The spec of `paginate:` checked, defaults filled in. Its keys, their types and `next`'s
-- styles are the input schema's (http.request declares them, so a step gets them checked
-- before it starts and `ferry validate` finds a typo); here, how they go together.
function M.spec(p)
  if type(p) ~= "table" then invalid("an object expected") end
  local spec = { items = text_field(p, "items"), token = text_field(p, "token"),
                 param = text_field(p, "param") }
  spec.next = text_field(p, "next") or (spec.token and "token") or "link"
  if spec.next == "token" then
    spec.token = spec.token or "nextPageToken"
    spec.param = spec.param or spec.token:match("([^.]+)$")
  elseif spec.next == "offset" and not spec.param then
    invalid("next: offset needs 'param', the query parameter that counts the items " ..
            "read so far (sysparm_offset, startAt...)")
  elseif spec.next == "link" and (spec.token or spec.param) then
    invalid("'token' and 'param' go with next: token or offset, not link")
  end
  local size = p.page_size
  if size ~= nil and (math.type(size) ~= "integer" or size < 1) then
    invalid("'page_size' must be a positive integer")
  end
  spec.page_size = size
  local max = p.max_pages == nil and M.DEFAULT_MAX_PAGES or p.max_pages
  if math.type(max) ~= "integer" or max < 1 or max > M.MAX_PAGES then
    invalid("'max_pages' must be an integer from 1 to " .. M.MAX_PAGES)
  end
  spec.max_pages = max
  return spec
end

-- A dotted path (data.items) into a JSON value; nil where it leads nowhere.
local function at_path(value, path)
  for key in path:gmatch("[^.]+") do
    if type(value) ~= "table" then return nil end
    value = value[key]
  end
  return value
end

local function is_list(v)
  if type(v) ~= "table" then return false end
  if ferry.json.is_null(v) then return false end
  local n = #v
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

local function items_of(res, spec, page)
  local body = res.json
  if body == nil then
    answer_error(page, "the answer (HTTP " .. res.status .. ", " ..
                 tostring(res.headers["content-type"] or "no content type") .. ") is not JSON")
  end
  local list = spec.items and at_path(body, spec.items) or body
  if not is_list(list) then
    answer_error(page, spec.items and ("the answer has no list at '" .. spec.items .. "'")
                 or "the answer is not a list (say where its items are with 'items')")
  end
  return list
end

-- scheme://host[:port] of an absolute http(s) URL, lower case; nil for anything else.
local function origin_of(url)
  local origin = type(url) == "string" and url:match("^([hH][tT][tT][pP][sS]?://[^/?#]+)")
  return origin and origin:lower()
end

-- A page that cannot be followed as its answer says (another system, a loop): the vendor's
-- answer says so every time, so no retry of the step reads it differently.
local function refuse(page, message)
  error({ kind = "validation", message = "paginate: page " .. page .. ": " .. message }, 0)
end

-- RFC 3986 5.2.4: "." and ".." segments of a path taken out.
local function without_dot_segments(path)
  local out = {}
  for segment in (path .. "/"):gmatch("([^/]*)/") do
    if segment == ".." then
      if #out > 1 then out[#out] = nil end
    elseif segment ~= "." then
      out[#out + 1] = segment
    end
  end
  local last = path:match("[^/]*$")
  if last == "." or last == ".." then out[#out + 1] = "" end
  return table.concat(out, "/")
end

-- A URI reference (RFC 3986: absolute, //authority, /path, ?query, relative path) resolved
-- against the absolute URL base; nil when base is none.
function M.resolve(ref, base)
  if ref:match("^%a[%w+.-]*:") then return ref end
  local origin = origin_of(base)
  if not origin then return nil end
  if ref:sub(1, 2) == "//" then return base:match("^(%a[%w+.-]*:)") .. ref end
  local rest = base:sub(#origin + 1)
  local path = rest:match("^([^?#]*)")
  if path == "" then path = "/" end
  if ref == "" or ref:sub(1, 1) == "#" then return origin .. rest:match("^([^#]*)") end
  if ref:sub(1, 1) == "?" then return origin .. path .. ref end
  local ref_path, suffix = ref:match("^([^?#]*)(.*)$")
  if ref_path:sub(1, 1) ~= "/" then ref_path = path:match("^(.*/)") .. ref_path end
  return origin .. without_dot_segments(ref_path) .. suffix
end

-- The rel="next" target of a Link header (`<url>; rel="next", <url>; rel="last"`); names of
-- parameters in any case (RFC 8288: REL= is rel=).
function M.next_link(header)
  if type(header) ~= "string" then return nil end
  for target, params in header:gmatch("<([^>]*)>([^<]*)") do
    params = params:lower()
    local rel = params:match('[;%s]rel%s*=%s*"([^"]*)"') or params:match("[;%s]rel%s*=%s*([^;,%s]+)")
    if rel then
      for value in rel:gmatch("%S+") do
        if value == "next" then return target end
      end
    end
  end
  return nil
end

local function copy(t)
  local c = {}
  if type(t) == "table" then
    for k, v in pairs(t) do c[k] = v end
  end
  return c
end

-- Whether a request body is a JSON object (an empty table is one unless it came as []).
local function is_object_body(body)
  if type(body) ~= "table" or ferry.json.is_null(body) then return false end
  local text = ferry.json.encode(body)
  return type(text) == "string" and text:sub(1, 1) == "{"
end

-- The request for the page after `res`, or nil after the last one. state.url: the absolute
-- URL of the page just read; state.seen: the next links and tokens followed so far;
-- state.object_body: whether the request's body is a JSON object.
local function next_request(req, res, list, spec, state, page)
  if spec.next == "link" then
    local target = M.next_link(res.headers.link)
    if not target or target == "" then return nil end
    local url = M.resolve(target, state.url)
    if not url then
      refuse(page, "a relative next link ('" .. target .. "') with no absolute URL to start from")
    end
    -- The integration's credentials go with every page: never to another system.
    if origin_of(url) ~= state.origin then
      refuse(page, "the next link leads to another origin (" ..
             http.shown_url(tostring(origin_of(url) or url)) .. ", not " ..
             http.shown_url(tostring(state.origin)) .. ")")
    end
    if state.seen[url] then
      refuse(page, "the next link leads back to a page already read (" .. http.shown_url(url) .. ")")
    end
    state.seen[url], state.url = true, url
    local r = copy(req)
    r.url, r.path, r.query = url, nil, nil
    return r
  end
  if spec.next == "token" then
    local token = res.json and at_path(res.json, spec.token)
    if token == nil or ferry.json.is_null(token) or token == "" then return nil end
    if type(token) ~= "string" and type(token) ~= "number" then
      answer_error(page, "'" .. spec.token .. "' is not a token (" .. type(token) .. ")")
    end
    local seen = type(token) .. ":" .. tostring(token)
    if state.seen[seen] then refuse(page, "the answer gives a token already used (" .. tostring(token) .. ")") end
    state.seen[seen] = true
    local r = copy(req)
    if state.object_body then
      r.json = copy(req.json)
      r.json[spec.param] = token
    else
      r.query = copy(req.query)
      r.query[spec.param] = token
    end
    return r
  end
  -- offset
  if #list == 0 or (spec.page_size and #list < spec.page_size) then return nil end
  state.offset = state.offset + #list
  local r = copy(req)
  r.query = copy(req.query)
  r.query[spec.param] = state.offset
  return r
end

-- The absolute URL of the first page: its url, or the integration's base_url joined with
-- its path (or relative url); nil when neither is absolute.
local function first_url(ctx, request)
  if origin_of(request.url) then return request.url end
  local base = ctx.integration and ctx.integration.base_url
  if not origin_of(base) then return nil end
  local relative = request.url or request.path or ""
  return (base:gsub("/+$", "")) .. "/" .. (relative:gsub("^/+", ""))
end

-- Reads every page of `request` (a ctx.http request table): {status (the last page's),
-- records, pages, attempts} (not `items`: a template reading output.items would get the
-- dict's method, as in Jinja2). check(res, page) raises on an answer that is no page (a 4xx).
function M.collect(ctx, request, spec, check)
  local url = first_url(ctx, request)
  -- Whether a token goes into the body: the body's kind is the same on every page.
  local state = { url = url, origin = origin_of(url), offset = 0, seen = {},
                  object_body = is_object_body(request.json) }
  if spec.next == "offset" then
    local start = request.query and tonumber(request.query[spec.param])
    state.offset = start and math.tointeger(start) or 0
  end
  local items, attempts, req = ferry.json.array(), 0, request
  for page = 1, spec.max_pages do
    local res, err = ctx.http(req)
    if not res then error(err, 0) end
    attempts = attempts + (res.attempts or 1)
    check(res, page)
    local list = items_of(res, spec, page)
    if #items + #list > M.MAX_ITEMS then
      error({ kind = "limit", message = "paginate: more than " .. M.MAX_ITEMS .. " items by page " ..
              page .. "; narrow the query" }, 0)
    end
    for _, item in ipairs(list) do items[#items + 1] = item end
    local following = next_request(req, res, list, spec, state, page)
    if not following then
      return { status = res.status, records = items, pages = page, attempts = attempts }
    end
    req = following
  end
  error({ kind = "limit", message = "paginate: more than max_pages (" .. spec.max_pages ..
          ") pages; raise paginate.max_pages or narrow the query" }, 0)
end

return M
