-- ferry.adf: Atlassian Document Format (ADF) for Jira Cloud rich-text fields.
--
-- Jira REST v3 wants an ADF document, not a string, in `description`, comment bodies and
-- multi-line custom fields. This module:
--   * turns plain text into a document (paragraphs, line breaks), never producing the empty
--     text nodes Jira rejects;
--   * accepts a document given as a table or as JSON text (the output of template.render
--     over templates/jira-issue.adf.json.j2), checks its root and drops empty text nodes;
--   * extracts the plain text of a document (to compare comments, to log).
local json = require("ferry.json")
local trim_end = require("ferry.text").trim_end

local M = {}

local ROOT_KEYS = { type = true, version = true, content = true }

local function array(t) return json.array(t or {}) end

-- A paragraph from lines of text: text nodes separated by hardBreak nodes. Blank lines
-- were used to split blocks, so every line has text (never an empty text node).
local function paragraph(lines)
  local content = array()
  for _, line in ipairs(lines) do
    if #content > 0 then content[#content + 1] = { type = "hardBreak" } end
    content[#content + 1] = { type = "text", text = line }
  end
  return { type = "paragraph", content = content }
end

-- A bullet list from "- item" / "* item" lines.
local function bullet_list(items)
  local list = { type = "bulletList", content = array() }
  for _, item in ipairs(items) do
    list.content[#list.content + 1] = { type = "listItem", content = array({ paragraph({ item }) }) }
  end
  return list
end

-- The nodes of one block of text (no blank lines inside): runs of ordinary lines become
-- paragraphs, runs of "- " / "* " lines bullet lists.
local function block_nodes(block, out)
  local lines, items = {}, {}
  local function flush()
    if #lines > 0 then out[#out + 1] = paragraph(lines); lines = {} end
    if #items > 0 then out[#out + 1] = bullet_list(items); items = {} end
  end
  for line in (block .. "\n"):gmatch("(.-)\n") do
    line = trim_end(line)
    local item = line:match("^%s*[-*]%s+(%S.*)$")
    if item then
      if #lines > 0 then flush() end
      items[#items + 1] = item
    elseif line ~= "" then
      if #items > 0 then flush() end
      lines[#lines + 1] = line
    end
  end
  flush()
end

-- Plain text -> ADF document. Paragraphs are separated by blank lines; single newlines are
-- line breaks; lines starting with "- " or "* " make a bullet list. Empty or blank text
-- gives a document with no content.
function M.from_text(text)
  text = tostring(text):gsub("\r\n?", "\n")
  local doc = { type = "doc", version = 1, content = array() }
  -- Split on blank lines (lines holding only whitespace count as blank).
  for block in (text .. "\n\n"):gmatch("(.-)\n[ \t]*\n") do
    if block:match("%S") then block_nodes(block, doc.content) end
  end
  return doc
end

-- True when v looks like an ADF document (a table with type "doc").
function M.is_doc(v)
  return type(v) == "table" and v.type == "doc"
end

-- A copy of an ADF node tree without empty text nodes (Jira answers 400 for them). Arrays
-- stay arrays, even when they end up empty.
local function clean(node)
  if type(node) ~= "table" then return node end
  local is_array = getmetatable(node) == "ferry.json.array" or (#node > 0 and next(node, #node) == nil)
  if is_array then
    local out = array()
    for _, child in ipairs(node) do
      local empty_text = type(child) == "table" and child.type == "text" and
                         (child.text == nil or child.text == json.null or child.text == "")
      if not empty_text then out[#out + 1] = clean(child) end
    end
    return out
  end
  local out = {}
  for k, v in pairs(node) do out[k] = clean(v) end
  return out
end

-- A document checked at its root and cleaned, or a validation error naming the field (and
-- the task, when given: "ticket.create: 'description' ..."). Deeper structure is left to
-- Jira, whose 400 answer names the problem.
function M.check(doc, field, task)
  local function bad(why)
    error({ kind = "validation", message = (task and task .. ": " or "") .. "'" .. field ..
            "' is not a valid ADF document: " .. why }, 0)
  end
  if doc.version ~= 1 then bad("'version' must be 1") end
  if type(doc.content) ~= "table" then bad("'content' must be a list of block nodes") end
  for k in pairs(doc) do
    if not ROOT_KEYS[k] then bad("unexpected key '" .. tostring(k) .. "' at the root (only type, version, content)") end
  end
  for i, block in ipairs(doc.content) do
    if type(block) ~= "table" or type(block.type) ~= "string" then
      bad("content[" .. (i - 1) .. "] is not a node (a table with a 'type')")
    end
    if block.type == "text" then
      bad("content[" .. (i - 1) .. "] is a text node; text must sit inside a paragraph")
    end
  end
  return clean(doc)
end

-- The ADF document for a rich-text input:
--   * a table: an ADF document (checked, cleaned);
--   * a string holding a JSON ADF document ({"type": "doc", ...}): decoded, then as above;
--   * any other string: plain text, converted with from_text.
-- Returns nil for null/absent/blank input, so callers can leave the field out.
function M.coerce(value, field, task)
  if value == nil or value == json.null then return nil end
  if type(value) == "table" then
    if not M.is_doc(value) then
      error({ kind = "validation", message = (task and task .. ": " or "") .. "'" .. field ..
              "' must be text or an ADF document " ..
              "({\"type\": \"doc\", \"version\": 1, \"content\": [...]}); got an object without type \"doc\"" }, 0)
    end
    return M.check(value, field, task)
  end
  if type(value) ~= "string" then value = tostring(value) end
  if not value:match("%S") then return nil end
  if value:match("^%s*{") then
    local decoded = json.decode(value)
    if M.is_doc(decoded) then return M.check(decoded, field, task) end
  end
  return M.from_text(value)
end

-- The plain text of a document: text nodes concatenated, hardBreak as "\n", blocks
-- separated by "\n". Used to compare a comment with one already posted.
function M.to_text(doc)
  local parts = {}
  local function walk(node, depth)
    if type(node) ~= "table" then return end
    if node.type == "text" and type(node.text) == "string" then
      parts[#parts + 1] = node.text
    elseif node.type == "hardBreak" then
      parts[#parts + 1] = "\n"
    end
    if type(node.content) == "table" then
      for _, child in ipairs(node.content) do walk(child, depth + 1) end
      if depth > 0 and node.type ~= "listItem" then parts[#parts + 1] = "\n" end
    end
  end
  walk(doc, 0)
  return trim_end(table.concat(parts))
end

return M
