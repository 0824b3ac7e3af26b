-- http.request: a generic API call. With `integration:` the URL is relative to the
-- integration's base_url, and its auth, retries, rate limit and circuit breaker apply
-- (ctx.http). A POST or PATCH is retried only when the server surely did not act on it,
-- unless `idempotent: true` says repeating it is harmless.
local text = require("ferry.text")
local http = require("ferry.http")
local ctx_module = require("ferry.ctx")
local pages = require("ferry.pages")

return {
  name = "http.request",
  description = "Call an HTTP API; fails on 4xx/5xx unless fail_on_status is false",
  input = {
    method = { type = "string", default = "GET" },
    url = { type = "string", description = "absolute URL (or use path with an integration)" },
    path = { type = "string", description = "path relative to the integration's base_url" },
    headers = { type = "object" },
    query = { type = "object" },
    json = { type = "any", description = "a JSON body" },
    body = { type = "string", description = "a raw body" },
    timeout = { type = "string", format = "duration", description = "e.g. 10s (default 30s)" },
    fail_on_status = { type = "boolean", default = true },
    idempotent = { type = "boolean", description = "safe to repeat (default: all but POST/PATCH)" },
    retry = { type = "boolean", default = true, description = "false: a single attempt" },
    paginate = {
      type = "object",
      description = "read every page into one list (output {status, records, pages, attempts})",
      -- Declared so that `ferry validate` finds a misspelt key; pages.spec checks how they
      -- go together when the step runs.
      properties = {
        items = { type = "string", description = "dotted path to the list in each answer (default: the answer itself)" },
        next = { type = "string", enum = { "link", "token", "offset" }, description = "how the next page is found (default link, or token when 'token' is given)" },
        token = { type = "string", description = "next: token: dotted path to the next page's token (default nextPageToken)" },
        param = { type = "string", description = "the query parameter (or body field) that carries the token or the offset" },
        page_size = { type = "integer", description = "items asked for per page" },
        max_pages = { type = "integer", description = "pages read at most (default 100, at most 10000)" },
      },
    },
  },
  run = function(ctx, input)
    if (input.url == nil or input.url == ferry.json.null) and not ctx.integration then
      error({ kind = "validation", message = "http.request: 'url' is required" ..
        (input.path and " ('path' is relative to an integration's base_url, and the step has " ..
          "no integration:)" or "") }, 0)
    end
    local request = {
      method = input.method, url = input.url, path = input.path, headers = input.headers,
      query = input.query, json = input.json, body = input.body, timeout = input.timeout,
      idempotent = input.idempotent, retry = input.retry,
    }
    local function check(res, page)
      if res.status >= 400 then
        error({
          kind = res.status >= 500 and "http_5xx" or "http_4xx",
          message = text.http_status(res) .. " (from " ..
            (input.url and http.shown_url(input.url) or input.path or "?") ..
            (page and page > 1 and (", page " .. page) or "") ..
            (res.attempts and res.attempts > 1 and (", after " .. res.attempts .. " attempts") or "") .. ")",
        }, 0)
      end
    end
    if input.paginate ~= nil then
      -- Checked before anything is sent. Every page must answer 2xx (fail_on_status
      -- cannot apply: a failed page has no items).
      local spec = pages.spec(input.paginate)
      return pages.collect(ctx, request, spec, check)
    end
    local res, err = ctx.http(request)
    if not res then error(err, 0) end
    if input.fail_on_status ~= false then check(res) end
    -- A body that is not UTF-8 (an image, a gzip a server sent unasked) cannot be stored as
    -- text: it comes base64-encoded instead of failing a call that succeeded.
    local body, body_base64 = res.body, nil
    if type(body) == "string" and not utf8.len(body) then
      body, body_base64 = nil, ferry.crypto.base64_encode(res.body)
    end
    -- A session cookie (Set-Cookie) is a credential: the output is history, shown as the
    -- attempt records show it.
    return { status = res.status, headers = ctx_module.redact_headers(res.headers), json = res.json, body = body,
             body_base64 = body_base64, attempts = res.attempts }
  end,
}
