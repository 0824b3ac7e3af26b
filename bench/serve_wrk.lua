-- wrk script of bench/serve_bench.sh: POSTs one alert as JSON to the path given on the
-- command line, checks every answer carries a ticket number (`"number":"INC...`, which both
-- the nginx floor and ferry's ?wait= execution JSON contain) and prints one JSON line of
-- results, so the benchmark counts wrong answers and not only failed ones.
--
--   wrk -t2 -c50 -d15s --latency -s bench/serve_wrk.lua http://127.0.0.1:PORT -- /hooks/alert?wait=10s
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.path = args[1] or "/"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"title": "  Orders API: PostgreSQL connection pool exhausted on orders-db  ",' ..
             ' "severity": "HIGH", "host": "orders-db-1",' ..
             ' "description": "pool 100/100 in use for 5 minutes; p99 of /orders above 2 s;' ..
             ' 37 % of checkouts failing since 10:41 UTC"}'
  checked, bad = 0, 0
end

function response(status, headers, body)
  checked = checked + 1
  if status < 200 or status > 299 or not body:find('"number":%s*"INC') then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local c, b = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("checked")
    b = b + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, ' ..
    '"max_ms": %.3f, "non_2xx_3xx": %d, "socket_errors": %d, "checked": %d, "without_number": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(90) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3, e.status,
    e.connect + e.read + e.write + e.timeout, c, b))
end
