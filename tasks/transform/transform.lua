-- transform: build an object from another one with field mappings, value maps, named
-- transforms, defaults and expressions. Pure data: no I/O, fast.
--
--   with:
--     data: "{{ inputs.finding }}"
--     mappings:
--       - {source: severity, target: fields.priority, map: {critical: "1", high: "2"}, default: "3"}
--       - {source: score, target: fields.confidence, transform: scale_to_100}
--       - {source: cert.not_after, target: days_left, transform: date_to_days_remaining}
--       - {target: summary, template: "{{ data.host }}: {{ value }}", source: title}
local json = require("ferry.json")
local time = require("ferry.time")
local text = require("ferry.text")
local quoted = text.quoted

local NULL = json.null  -- an upvalue: ferry.json is a read-only proxy, each lookup a metamethod

local function is_null(v) return v == nil or v == NULL end

-- Parsed paths by text: the same few mapping paths come back on every invocation, and
-- parsing them (gmatch, match) was most of this task's time and garbage. Bounded, since a
-- path may come from data; callers never modify the parts they get.
local path_cache, path_cache_size = {}, 0
local PATH_CACHE_MAX = 1024

-- "a.b[2].c" -> {"a", "b", 3, "c"} (Lua indices are 1-based; [-1], the last item, is 0).
-- `indexed` and `from_end` say whether any part is an index, a negative one: paths of names
-- only, the usual kind, then take the short way in get and set.
local function parse_path(path)
  local parts = {}
  for piece in string.gmatch(path, "[^%.]+") do
    local name, rest = piece:match("^([^%[]*)(.*)$")
    if name ~= "" then parts[#parts + 1] = name end
    for index in rest:gmatch("%[(%-?%d+)%]") do
      local key = tonumber(index) + 1
      parts[#parts + 1] = key
      parts.indexed = true
      if key <= 0 then parts.from_end = true end
    end
  end
  return parts
end

local function split_path(path)
  local parts = path_cache[path]
  if parts then return parts end
  parts = parse_path(path)
  if path_cache_size >= PATH_CACHE_MAX then path_cache, path_cache_size = {}, 0 end
  path_cache[path] = parts
  path_cache_size = path_cache_size + 1
  return parts
end

local function get(data, parts)
  local cur = data
  local from_end = parts.from_end
  for i = 1, #parts do
    if type(cur) ~= "table" then return nil end
    local key = parts[i]
    if from_end and type(key) == "number" and key <= 0 then key = #cur + key end
    cur = cur[key]
    if cur == NULL then return nil end
  end
  return cur
end

-- Writing list[key]: a negative index is refused, and an index past the end puts null in
-- the places before it (JSON arrays have no holes).
local function place(list, key, path)
  if key <= 0 then
    error({ kind = "validation", message = "transform: target '" .. path ..
            "': a negative index can be read, not written" })
  end
  for i = #list + 1, key - 1 do list[i] = NULL end
end

-- A table the output took from the input (a default, a mapped value, a part of data) is the
-- input's, and the input is not ours to change (keeps_input, below): before a later target
-- writes into it, the output gets its own copy of that level.
local function own_copy(t, borrowed)
  local c = getmetatable(t) == "ferry.json.array" and json.array() or {}
  for k, v in pairs(t) do
    c[k] = v
    if type(v) == "table" then borrowed[v] = true end
  end
  return c
end

local function set(data, parts, path, value, borrowed)
  local n = #parts
  if n == 0 then error({ kind = "validation", message = "transform: empty target path" }) end
  local indexed = parts.indexed
  local cur = data
  for i = 1, n - 1 do
    local key = parts[i]
    local next_level = cur[key]
    if type(next_level) ~= "table" then
      if indexed and type(key) == "number" then place(cur, key, path) end
      next_level = indexed and type(parts[i + 1]) == "number" and json.array() or {}
      cur[key] = next_level
    elseif borrowed and borrowed[next_level] then
      next_level = own_copy(next_level, borrowed)
      cur[key] = next_level
    end
    cur = next_level
  end
  local key = parts[n]
  if indexed and type(key) == "number" then place(cur, key, path) end
  cur[key] = value
end

-- Times beyond this (Unix ms, ~285,000 years) are refused rather than computed with.
local MAX_TIME_MS = 2^53

-- Epoch seconds (numbers below 10^11) or milliseconds, or a date/time text, as RFC 3339
-- UTC text with milliseconds; a validation error naming the transform otherwise.
local function utc_text(name, v)
  local ms
  if type(v) == "number" then
    ms = v < 1e11 and math.floor(v * 1000) or math.floor(v)
  else
    ms = time.parse(tostring(v))
  end
  if not ms then error({ kind = "validation", message = name .. ": not a time: " .. text.quoted(v) }) end
  local ok, formatted = pcall(time.format, ms)
  if not ok then
    error({ kind = "validation", message = name .. ": out of range: " .. text.quoted(v) })
  end
  return formatted
end

local TRANSFORMS = {
  lowercase = function(v) return type(v) == "string" and string.lower(v) or v end,
  uppercase = function(v) return type(v) == "string" and string.upper(v) or v end,
  trim = function(v) return type(v) == "string" and text.trim(v) or v end,
  to_string = function(v)
    if is_null(v) then return "" end
    if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2^53 then
      return string.format("%d", v)
    end
    -- A list or an object as its JSON text, not Lua's "table: 0x..." (a new address each run).
    if type(v) == "table" then return json.encode(v) end
    return tostring(v)
  end,
  to_number = function(v)
    if type(v) == "number" then return v end
    local n = tonumber(type(v) == "string" and text.trim(v) or v)
    if n == nil then error({ kind = "validation", message = "to_number: not a number: " .. text.quoted(v) }) end
    -- "1e999" reads as infinity, which no JSON record can hold.
    if n ~= n or n == math.huge or n == -math.huge then
      error({ kind = "validation", message = "to_number: not a finite number: " .. text.quoted(v) })
    end
    return n
  end,
  -- A score in [0, 1] becomes a percentage (0.87 -> 87); larger numbers are taken as
  -- percentages already. Rounded to a whole number.
  scale_to_100 = function(v)
    local n = tonumber(v)
    if n == nil then error({ kind = "validation", message = "scale_to_100: not a number: " .. text.quoted(v) }) end
    if n <= 1 then n = n * 100 end
    return math.floor(n + 0.5)
  end,
  -- A date or RFC 3339 time -> whole days from now until then (negative once past).
  date_to_days_remaining = function(v)
    local ms = type(v) == "number" and v or time.parse(tostring(v))
    if not ms then error({ kind = "validation", message = "date_to_days_remaining: not a date: " .. text.quoted(v) }) end
    -- Past about 285,000 years either way the difference below would wrap around (a date
    -- long past came out as far in the future).
    if not (math.abs(ms) < MAX_TIME_MS) then
      error({ kind = "validation", message = "date_to_days_remaining: out of range: " .. text.quoted(v) })
    end
    return math.floor((ms - time.now_ms()) / 86400000)
  end,
  -- The same instant as ServiceNow's date-time fields take it: "YYYY-MM-DD HH:MM:SS", UTC,
  -- whole seconds (an offset is applied, a fraction dropped; "T" for " " alone is not
  -- enough for a time given with an offset).
  servicenow_datetime = function(v)
    if type(v) == "string" then
      -- Read as a request form's datetime field reads it: seconds optional, and a time
      -- without an offset is UTC (ServiceNow's own reading of an API value).
      local date, hm, rest = v:match("^%s*(%d%d%d%d%-%d%d%-%d%d)[Tt ](%d%d:%d%d)(.-)%s*$")
      if date then
        if not rest:match("^:") then rest = ":00" .. rest end
        if not rest:match("[Zz]$") and not rest:match("[+-]%d%d:?%d%d$") then rest = rest .. "Z" end
        v = date .. "T" .. hm .. rest
      end
    end
    local utc = utc_text("servicenow_datetime", v)
    return utc:sub(1, 10) .. " " .. utc:sub(12, 19)
  end,
  -- Epoch seconds or milliseconds, or a date/time text -> RFC 3339 UTC.
  iso8601 = function(v) return utc_text("iso8601", v) end,
}

local TRANSFORM_NAMES = {}
for name in pairs(TRANSFORMS) do TRANSFORM_NAMES[#TRANSFORM_NAMES + 1] = name end
table.sort(TRANSFORM_NAMES)

local function transform_named(name)
  local fn = TRANSFORMS[name]
  if fn then return fn end
  error({ kind = "validation", message = "transform: unknown transform '" .. tostring(name) ..
          "' (known: " .. table.concat(TRANSFORM_NAMES, ", ") .. ")" })
end

local MAPPING_KEYS = { source = true, target = true, map = true, transform = true, default = true,
                       template = true }

-- The mappings checked and their paths parsed once per mappings table: the engine hands
-- every invocation of a step the same table (keeps_input, below). Weak keys: mappings built
-- for one invocation (they hold expressions) go with it.
local plans = setmetatable({}, { __mode = "k" })

local function plan_of(mappings)
  local plan = plans[mappings]
  if plan then return plan end
  plan = {}
  for i, m in ipairs(mappings) do
    if type(m) ~= "table" or type(m.target) ~= "string" then
      error({ kind = "validation", message = "transform: mappings[" .. (i - 1) .. "] needs a 'target' path" })
    end
    -- Checked here, once per mappings table, not when a value comes: a misspelt key
    -- (transfrom, defualt) lost its transform or default without a word, and a misspelt
    -- transform passed every run whose value was null, until the first that had one.
    for key in pairs(m) do
      if not MAPPING_KEYS[key] then
        error({ kind = "validation", message = "transform: mappings[" .. (i - 1) .. "] has no key " ..
                quoted(tostring(key)) .. " (keys: source, target, map, transform, default, template)" })
      end
    end
    if not is_null(m.transform) then transform_named(m.transform) end
    plan[i] = {
      source = type(m.source) == "string" and split_path(m.source) or nil,
      target = split_path(m.target),
      target_text = m.target,
      map = type(m.map) == "table" and m.map or nil,
      transform = not is_null(m.transform) and m.transform or nil,
      template = type(m.template) == "string" and m.template or nil,
      default = m.default,
    }
  end
  plans[mappings] = plan
  return plan
end

return {
  name = "transform",
  pure = true,  -- no I/O: may run before its "running" record is durable
  keeps_input = true,  -- never modifies its input: constant mappings are built once
  description = "Build an object from data with field mappings, value maps and named transforms",
  input = {
    data = { type = "object", description = "the source object (null or absent: {})" },
    mappings = {
      type = "array", required = true,
      description = "[{source, target, map, transform, default, template}]",
      -- Declared so that `ferry validate` finds a misspelt key or transform name in what
      -- `with:` writes; plan_of checks the same when the step runs.
      items = { type = "object", properties = {
        source = { type = "string", description = "dotted path in data" },
        target = { type = "string", required = true, description = "dotted path in the output" },
        map = { type = "object", description = "value -> replacement" },
        transform = { type = "string", enum = TRANSFORM_NAMES, description = "a named transform" },
        default = { description = "when the value is null or missing" },
        template = { type = "string", description = "an expression over value and data" },
      } },
    },
  },
  output = { description = "the object built from the mappings' targets" },
  -- The mappings' templates are rendered here, per value, not by the workflow engine.
  raw = { "mappings.*.template" },
  transforms = TRANSFORMS,
  run = function(ctx, input)
    local data = input.data
    if is_null(data) then data = {} end
    if type(input.mappings) ~= "table" then
      error({ kind = "validation", message = "transform: 'mappings' must be a list" })
    end
    local out = {}
    local borrowed  -- the input's tables placed in out, copied before anything writes in them
    local plan = plan_of(input.mappings)
    for i = 1, #plan do
      local m = plan[i]
      local value = nil
      if m.source then value = get(data, m.source) end
      if value ~= nil and value ~= NULL and m.map then
        local mapped = m.map[tostring(value)]
        if mapped ~= nil then value = mapped elseif m.default ~= nil then value = nil end
      end
      if value ~= nil and value ~= NULL and m.transform ~= nil then
        value = transform_named(m.transform)(value)
      end
      if m.template then
        value = ferry.template.evaluate(m.template, { value = value, data = data, item = value })
      end
      if (value == nil or value == NULL) and m.default ~= nil then value = m.default end
      if value == nil then value = NULL end
      if type(value) == "table" then
        borrowed = borrowed or {}
        borrowed[value] = true
      end
      set(out, m.target, m.target_text, value, borrowed)
    end
    return out
  end,
}
