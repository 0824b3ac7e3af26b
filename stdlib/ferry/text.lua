-- ferry.text: text as messages show it. Error messages quote what they got, and what they
-- got may be a whole document; a quote is cut after a few hundred bytes, never inside a
-- UTF-8 character (the message is stored and shown as JSON).
local json = require("ferry.json")

local M = {}

-- text itself, or its first `limit` bytes (cut back to a character boundary) and "...".
function M.clip(text, limit)
  if #text <= limit then return text end
  local cut = limit
  while cut > 0 and (text:byte(cut + 1) or 0) & 0xC0 == 0x80 do cut = cut - 1 end
  return text:sub(1, cut) .. "..."
end

-- v in single quotes for a message: tables as JSON (not their address), clipped.
function M.quoted(v, limit)
  local text = type(v) == "table" and json.encode(v) or tostring(v)
  return "'" .. M.clip(text, limit or 64) .. "'"
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
