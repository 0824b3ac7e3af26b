-- ferry.text: text as messages show it, and text as input gives it. Error messages quote
-- what they got, and what they got may be a whole document; a quote is cut after a few
-- hundred bytes, never inside a UTF-8 character (the message is stored and shown as JSON).
-- Input text is trimmed here, because Lua's own idioms for it backtrack (below).
local json = require("ferry.json")
local http = require("ferry.http")

local M = {}

-- text as text (bytes not UTF-8 as U+FFFD: a quote goes into messages, outputs and dead
-- letters, which take only UTF-8), whole or its first `limit` bytes (cut back to a character
-- boundary) and "...". A secret the cut splits is still redacted where the text is
-- recorded: records look for a secret's first part before "..." (secrets.h, kClipMark).
function M.clip(text, limit)
  -- A whole number, as an integer or a float (200 / 2, an input given as 80.0).
  local whole = math.tointeger(limit)
  if not whole or whole < 0 then
    error("ferry.text.clip: the limit must be a whole number of bytes, 0 or more, got "
          .. tostring(limit), 2)
  end
  limit = whole
  text = http.text(text)
  if #text <= limit then return text end
  local cut = limit
  while cut > 0 and (text:byte(cut + 1) or 0) & 0xC0 == 0x80 do cut = cut - 1 end
  return text:sub(1, cut) .. "..."
end

-- v in single quotes for a message, clipped: text as it is, anything else as JSON (a
-- table's content rather than its address, json.null as null).
function M.quoted(v, limit)
  local text = v
  if type(v) ~= "string" then
    local ok, encoded = pcall(json.encode, v)
    text = ok and encoded or tostring(v)
  end
  return "'" .. M.clip(text, limit or 64) .. "'"
end

-- Without leading and trailing whitespace (%s: space, \t, \n, \v, \f, \r). Lua's idioms
-- for this, s:gsub("%s+$", "") and s:match("^%s*(.-)%s*$"), backtrack over every run of
-- whitespace inside the text: quadratic in the run's length (a 40 KB run: 10 s), inside C,
-- where neither a step's instruction budget nor its deadline can stop them, and the text
-- may be a request body. These patterns make one pass each.
function M.trim(s)
  local first = s:find("%S")
  if not first then return "" end
  return s:sub(first, s:match("^.*()%S"))
end

-- Without trailing whitespace; see trim.
function M.trim_end(s)
  local last = s:match("^.*()%S")
  return last and s:sub(1, last) or ""
end

-- "HTTP 502" and, when the answer has a body, its start: "HTTP 502: upstream timed out".
function M.http_status(res, limit)
  local text = "HTTP " .. tostring(res.status)
  if type(res.body) == "string" and res.body:match("%S") then
    text = text .. ": " .. M.clip(res.body, limit or 200)
  end
  return text
end

return M
