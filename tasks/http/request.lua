-- http.request: a generic API call. With `integration:` the URL is relative to the
-- integration's base_url (and later its auth, retries and rate limit apply through ctx.http).
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
    timeout = { type = "string", description = "e.g. 10s (default 30s)" },
    fail_on_status = { type = "boolean", default = true },
  },
  run = function(ctx, input)
    local res, err = ctx.http {
      method = input.method, url = input.url, path = input.path, headers = input.headers,
      query = input.query, json = input.json, body = input.body, timeout = input.timeout,
    }
    if not res then error(err, 0) end
    if input.fail_on_status ~= false and res.status >= 400 then
      error({
        kind = res.status >= 500 and "http_5xx" or "http_4xx",
        message = "HTTP " .. res.status .. " from " .. (input.url or input.path or "?"),
      })
    end
    return { status = res.status, headers = res.headers, json = res.json, body = res.body }
  end,
}
