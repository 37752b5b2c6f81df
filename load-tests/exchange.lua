-- wrk script: POST /oauth2/token, federated token exchange (RFC 8693) of the external tokens
-- in the file named by EXCHANGE_BODIES (see token-exchange.sh). Each external token can be
-- exchanged once: every thread walks its own slice from EXCHANGE_OFFSET on. Prints one JSON
-- line, as token.lua does.
local bodies = dofile(os.getenv("EXCHANGE_BODIES"))
local start = tonumber(os.getenv("EXCHANGE_OFFSET") or "0")
local threads = tonumber(os.getenv("EXCHANGE_THREADS") or "2")
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  n = 0
end

function request()
  local i = start + id + n * threads
  n = n + 1
  return wrk.format("POST", "/oauth2/token", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, bodies[(i % #bodies) + 1])
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "seconds": %.2f, "rps": %.0f, "errors": %d, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6), errors,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
