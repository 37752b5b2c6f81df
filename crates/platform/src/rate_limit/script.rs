//! The Lua script of the shared limiter.

/// Sliding-window check over every key; counts only if all allow. Returns, per key,
/// `{allowed, count, reset_ms, retry_ms}`.
pub(super) const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ok = 1
local state = {}
for i = 1, #KEYS do
  local max = tonumber(ARGV[i * 3 - 2])
  local bucket = tonumber(ARGV[i * 3 - 1])
  local nb = tonumber(ARGV[i * 3])
  local cur = math.floor(now / bucket)
  local floor = cur - nb
  local data = redis.call('HGETALL', KEYS[i])
  local total, oldest, stale = 0, cur, nil
  for j = 1, #data, 2 do
    local idx = tonumber(data[j])
    if idx < floor then
      stale = stale or {}
      stale[#stale + 1] = data[j]
    else
      total = total + tonumber(data[j + 1])
      if idx < oldest then oldest = idx end
    end
  end
  if stale then redis.call('HDEL', KEYS[i], unpack(stale)) end
  local allowed, retry = 1, 0
  if total >= max then
    allowed, ok = 0, 0
    local entries = {}
    for j = 1, #data, 2 do
      local idx = tonumber(data[j])
      if idx >= floor then entries[#entries + 1] = {idx, tonumber(data[j + 1])} end
    end
    table.sort(entries, function(a, b) return a[1] < b[1] end)
    local freed = 0
    for _, e in ipairs(entries) do
      freed = freed + e[2]
      if total - freed < max then
        retry = (e[1] + nb + 1) * bucket - now
        break
      end
    end
  end
  state[i] = {allowed, total, (oldest + nb + 1) * bucket - now, retry, cur, bucket * (nb + 1)}
end
local out = {}
for i = 1, #KEYS do
  local s = state[i]
  local count = s[2]
  if ok == 1 then
    -- The TTL only needs to move when a new bucket opens.
    if redis.call('HINCRBY', KEYS[i], s[5], 1) == 1 then
      redis.call('PEXPIRE', KEYS[i], s[6])
    end
    count = count + 1
  end
  out[#out + 1] = s[1]
  out[#out + 1] = count
  out[#out + 1] = s[3]
  out[#out + 1] = s[4]
end
return out
";
