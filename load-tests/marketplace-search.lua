-- wrk script: GET /api/v1/marketplace/agents over the request mix in the file named by
-- MARKET_QUERIES (see marketplace-search.sh). A share LONG_TAIL (default 0.01) of requests are
-- composed at random from two or three words (object, role, brand): mostly never seen
-- before, so they reach the search index. With PACE_MS set, each connection waits that long
-- between requests (a paced run: connections x 1000 / PACE_MS requests per second at most).
-- Prints one JSON line like the other wrk scripts.
local data = dofile(os.getenv("MARKET_QUERIES"))
local tail = tonumber(os.getenv("LONG_TAIL") or "0.01")
local pace = tonumber(os.getenv("PACE_MS") or "0")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter * 7919)
end

function init(args)
  math.randomseed((seed or 1) + os.time())
end

local function pick(list)
  return list[math.random(#list)]
end

function request()
  local path
  if math.random() < tail then
    local q = pick(data.objects) .. "+" .. pick(data.roles)
    if math.random() < 0.5 then
      q = q .. "+" .. pick(data.brands)
    end
    path = "/api/v1/marketplace/agents?q=" .. q
  else
    path = pick(data.queries)
  end
  return wrk.format("GET", path)
end

function delay()
  return pace
end

-- done(): the JSON summary line every wrk script here prints.
dofile("plain.lua")
