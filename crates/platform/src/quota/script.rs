//! The Lua script of a quota check.

/// Reads the tier and counter; counts the call (`ARGV[5]` = 1) when it is allowed.
/// `ARGV[1..3]`: the metric's limit on free, pro, enterprise (-1 unlimited); `ARGV[4]`: the
/// counter's expiry (unix seconds); `ARGV[6]`: refuse past the limit (1/0); `ARGV[7]`: the
/// tier to use, and cache for `ARGV[8]` seconds, when `KEYS[1]` is missing ('' to ask).
/// Returns `{allowed (1/0, -1 = tier unknown), count, tier}`.
pub(super) const SCRIPT: &str = r"
local tier = redis.call('GET', KEYS[1])
if not tier then
  tier = ARGV[7]
  if tier == '' then return {-1, 0, ''} end
  if tonumber(ARGV[8]) > 0 then redis.call('SET', KEYS[1], tier, 'EX', ARGV[8]) end
end
local limit = -1
if tier == 'free' then limit = tonumber(ARGV[1])
elseif tier == 'pro' then limit = tonumber(ARGV[2])
elseif tier == 'enterprise' then limit = tonumber(ARGV[3]) end
local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[6] == '1' and limit >= 0 and cur >= limit then return {0, cur, tier} end
if ARGV[5] == '1' then
  cur = redis.call('INCR', KEYS[2])
  if cur == 1 then redis.call('EXPIREAT', KEYS[2], ARGV[4]) end
end
return {1, cur, tier}
";
