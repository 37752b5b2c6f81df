-- wrk script: POST /oauth2/token with single-use requests (client assertions, external tokens,
-- DPoP proofs) from the file named by ONETIME_REQUESTS, one per line: body, Authorization
-- and DPoP headers, tab-separated, `-` for none (see token-methods.sh). Each request can succeed once: every thread walks its own slice.
-- Prints one JSON line, as token.lua does.
local requests = {}
for line in io.lines(os.getenv("ONETIME_REQUESTS")) do
  local body, auth, dpop = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
  requests[#requests + 1] = {
    body = body,
    auth = auth ~= "-" and auth or nil,
    dpop = dpop ~= "-" and dpop or nil,
  }
end
local threads = tonumber(os.getenv("ONETIME_THREADS") or "2")
local offset = tonumber(os.getenv("ONETIME_OFFSET") or "0")
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  n = 0
end

function request()
  local r = requests[((offset + id + n * threads) % #requests) + 1]
  n = n + 1
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  if r.auth then headers["Authorization"] = r.auth end
  if r.dpop then headers["DPoP"] = r.dpop end
  return wrk.format("POST", "/oauth2/token", headers, r.body)
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
