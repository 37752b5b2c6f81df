//! Rate limiting shared by every instance of a service.
//!
//! Every limited action is declared once, in [`ACTIONS`], with its key, default and the
//! variables that override it. A check runs one Lua script in Redis that evaluates every key
//! of the request (for example client *and* IP on the token endpoint) and counts the request
//! only if all of them allow it, so instances never disagree and a refused request costs
//! nothing. The window slides in ten buckets: a key counts the requests of the last
//! `window + window/10` at most, so no window of length `window` ever admits more than `max`.
//!
//! `REDIS_RATE_LIMIT_ENABLED=false`, or Redis being unreachable, switches to an in-memory
//! limiter with the same algorithm (per instance); see `crate::redis` for the warning and the
//! way back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::Reader;
use crate::errors::ApiError;
use crate::redis::{Redis, RedisFailure, redis};
use crate::telemetry::Metrics;

/// What is being limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Every public request, per client IP.
    Ip,
    /// `/oauth2/token`, per `client_id`.
    TokenClient,
    /// `/oauth2/token`, per client IP.
    TokenIp,
    /// Management API calls, per tenant.
    Tenant,
    /// `GET /api/v1/audit/verify`, per tenant.
    AuditVerify,
}

/// The declaration of one limited action.
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    /// The action.
    pub action: Action,
    /// Its name in keys (`rate:<name>:<subject>`), metrics and problem bodies.
    pub name: &'static str,
    /// What the subject of the limit is.
    pub keyed_by: &'static str,
    /// Requests allowed per window by default.
    pub default_max: u64,
    /// Window length in ms by default.
    pub default_window_ms: u64,
    /// Variable overriding the maximum.
    pub max_var: &'static str,
    /// Variable overriding the window.
    pub window_var: &'static str,
}

/// Every limited action, with its defaults. Documented in `docs/ENVIRONMENT.md`.
pub const ACTIONS: [ActionSpec; 5] = [
    ActionSpec {
        action: Action::Ip,
        name: "ip",
        keyed_by: "client IP; every public route except health, metrics, /internal and the token endpoint",
        default_max: 1000,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_MAX_REQUESTS",
        window_var: "RATE_LIMIT_WINDOW_MS",
    },
    ActionSpec {
        action: Action::TokenClient,
        name: "token_client",
        keyed_by: "client_id on POST /oauth2/token",
        default_max: 600,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_TOKEN_CLIENT_MAX",
        window_var: "RATE_LIMIT_TOKEN_CLIENT_WINDOW_MS",
    },
    ActionSpec {
        action: Action::TokenIp,
        name: "token_ip",
        keyed_by: "client IP on POST /oauth2/token",
        default_max: 6000,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_TOKEN_IP_MAX",
        window_var: "RATE_LIMIT_TOKEN_IP_WINDOW_MS",
    },
    ActionSpec {
        action: Action::Tenant,
        name: "tenant",
        keyed_by: "tenant on the management API (the tier's requests per minute when billing is enabled)",
        default_max: 1000,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_TENANT_MAX",
        window_var: "RATE_LIMIT_TENANT_WINDOW_MS",
    },
    ActionSpec {
        action: Action::AuditVerify,
        name: "audit_verify",
        keyed_by: "tenant on GET /api/v1/audit/verify",
        default_max: 30,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_AUDIT_VERIFY_MAX",
        window_var: "RATE_LIMIT_AUDIT_VERIFY_WINDOW_MS",
    },
];

/// Paths the per-IP limit never counts.
pub const IP_LIMIT_EXEMPT_PREFIXES: [&str; 6] = [
    "/health/",
    "/metrics",
    "/internal/",
    "/oauth2/token",
    "/api/v1/token",
    "/api/v1/billing/webhooks/",
];

impl Action {
    /// The declaration of this action.
    pub fn spec(self) -> &'static ActionSpec {
        let i = self.index();
        &ACTIONS[i]
    }

    fn index(self) -> usize {
        match self {
            Self::Ip => 0,
            Self::TokenClient => 1,
            Self::TokenIp => 2,
            Self::Tenant => 3,
            Self::AuditVerify => 4,
        }
    }

    /// The action's name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }
}

/// A maximum per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests allowed per window.
    pub max: u64,
    /// The window.
    pub window: Duration,
}

impl Limit {
    fn bucket_ms(self) -> u64 {
        (self.window.as_millis() as u64).div_ceil(BUCKETS).max(1)
    }

    fn buckets(self) -> u64 {
        (self.window.as_millis() as u64).div_ceil(self.bucket_ms())
    }
}

const BUCKETS: u64 = 10;

/// The effective limits of this process.
#[derive(Debug, Clone)]
pub struct LimitTable {
    limits: [Limit; 5],
    /// `REDIS_RATE_LIMIT_ENABLED` (true): share limits through Redis.
    pub redis_enabled: bool,
}

impl LimitTable {
    /// Reads overrides for every action in [`ACTIONS`].
    pub fn read(r: &mut Reader<'_>) -> Self {
        let limits = ACTIONS.map(|spec| Limit {
            max: r.u64_in(spec.max_var, spec.default_max, 1, 1 << 40),
            window: r.millis(spec.window_var, spec.default_window_ms, 1_000, 86_400_000),
        });
        Self {
            limits,
            redis_enabled: r.bool("REDIS_RATE_LIMIT_ENABLED", true),
        }
    }

    /// The limit of an action.
    pub fn get(&self, action: Action) -> Limit {
        self.limits[action.index()]
    }
}

/// One key to check: an action and its subject, optionally with a limit of its own
/// (a tenant's tier, say) instead of the table's.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    /// The action.
    pub action: Action,
    /// The subject (IP, client id, tenant id).
    pub subject: &'a str,
    /// Overrides the table's limit.
    pub limit: Option<Limit>,
}

impl<'a> Check<'a> {
    /// A check with the table's limit.
    pub fn new(action: Action, subject: &'a str) -> Self {
        Self {
            action,
            subject,
            limit: None,
        }
    }
}

/// Which store answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Shared, in Redis.
    Redis,
    /// Local to this instance.
    Memory,
}

/// The outcome of a check, reported for its most restrictive key.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    /// Whether the request may proceed (it was counted if so).
    pub allowed: bool,
    /// The action the numbers refer to.
    pub action: Action,
    /// Its maximum.
    pub limit: u64,
    /// Its window.
    pub window: Duration,
    /// Requests left in the window.
    pub remaining: u64,
    /// Time until the window has room again (denied) or fully resets (allowed).
    pub reset: Duration,
    /// When denied, how long to wait.
    pub retry_after: Duration,
    /// Which store answered.
    pub backend: Backend,
}

impl Decision {
    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (and `Retry-After` when
    /// denied) for a response.
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut h = vec![
            (
                HeaderName::from_static("ratelimit-limit"),
                HeaderValue::from(self.limit),
            ),
            (
                HeaderName::from_static("ratelimit-remaining"),
                HeaderValue::from(self.remaining),
            ),
            (
                HeaderName::from_static("ratelimit-reset"),
                HeaderValue::from(ceil_secs(self.reset)),
            ),
        ];
        if !self.allowed {
            h.push((
                actix_web::http::header::RETRY_AFTER,
                HeaderValue::from(ceil_secs(self.retry_after).max(1)),
            ));
        }
        h
    }

    /// Adds the headers to a response's header map.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (k, v) in self.headers() {
            headers.insert(k, v);
        }
    }

    /// The 429 problem for a denied decision.
    pub fn to_error(&self) -> ApiError {
        let spec = self.action.spec();
        let mut e = ApiError::too_many_requests(
            "rate_limited",
            format!(
                "rate limit exceeded for {} ({} requests per {} s); retry after {} s",
                spec.name,
                self.limit,
                ceil_secs(self.window),
                ceil_secs(self.retry_after).max(1)
            ),
            ceil_secs(self.retry_after),
        )
        .with_extra("limit", spec.name.into());
        for (k, v) in self.headers() {
            if k != actix_web::http::header::RETRY_AFTER {
                e = e.with_header(k, v.to_str().unwrap_or_default());
            }
        }
        e
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}

/// Sliding-window check over every key; counts only if all allow. Returns, per key,
/// `{allowed, count, reset_ms, retry_ms}`.
const SCRIPT: &str = r"
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

#[derive(Debug, Clone, Copy)]
struct KeyOutcome {
    allowed: bool,
    count: u64,
    reset_ms: u64,
    retry_ms: u64,
}

/// The limiter of one process.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<LimiterInner>,
}

struct LimiterInner {
    redis: Redis,
    table: LimitTable,
    script: redis::Script,
    memory: Mutex<MemoryWindows>,
    metrics: Metrics,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("table", &self.inner.table)
            .finish()
    }
}

impl RateLimiter {
    /// A limiter over `redis` with the limits of `table`.
    pub fn new(redis: Redis, table: LimitTable, metrics: Metrics) -> Self {
        Self {
            inner: Arc::new(LimiterInner {
                redis,
                table,
                script: redis::Script::new(SCRIPT),
                memory: Mutex::new(MemoryWindows::default()),
                metrics,
            }),
        }
    }

    /// The effective limits.
    pub fn table(&self) -> &LimitTable {
        &self.inner.table
    }

    /// Checks every key; the request is counted against all of them only if all allow it.
    pub async fn check(&self, checks: &[Check<'_>]) -> Decision {
        let limits: Vec<Limit> = checks
            .iter()
            .map(|c| c.limit.unwrap_or_else(|| self.inner.table.get(c.action)))
            .collect();
        let keys: Vec<String> = checks
            .iter()
            .map(|c| {
                self.inner
                    .redis
                    .key("rate", &format!("{}:{}", c.action.name(), c.subject))
            })
            .collect();
        let (outcomes, backend) = if self.inner.table.redis_enabled {
            match self.check_redis(&keys, &limits).await {
                Ok(o) => (o, Backend::Redis),
                Err(_) => (self.check_memory(&keys, &limits), Backend::Memory),
            }
        } else {
            (self.check_memory(&keys, &limits), Backend::Memory)
        };
        let decision = decide(checks, &limits, &outcomes, backend);
        if !decision.allowed {
            self.inner
                .metrics
                .counter(
                    "agentidp_rate_limit_hits_total",
                    &[("action", decision.action.name())],
                )
                .increment(1);
        }
        decision
    }

    async fn check_redis(
        &self,
        keys: &[String],
        limits: &[Limit],
    ) -> Result<Vec<KeyOutcome>, RedisFailure> {
        let mut inv = self.inner.script.prepare_invoke();
        for (k, l) in keys.iter().zip(limits) {
            inv.key(k).arg(l.max).arg(l.bucket_ms()).arg(l.buckets());
        }
        let raw: Vec<i64> = self
            .inner
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        if raw.len() != keys.len() * 4 {
            return Err(RedisFailure::Command(redis::RedisError::from((
                redis::ErrorKind::Parse,
                "unexpected rate-limit script reply",
            ))));
        }
        Ok(raw
            .chunks_exact(4)
            .map(|c| KeyOutcome {
                allowed: c[0] == 1,
                count: c[1].max(0) as u64,
                reset_ms: c[2].max(0) as u64,
                retry_ms: c[3].max(0) as u64,
            })
            .collect())
    }

    fn check_memory(&self, keys: &[String], limits: &[Limit]) -> Vec<KeyOutcome> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut mem = self
            .inner
            .memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        mem.check(keys, limits, now)
    }
}

fn decide(
    checks: &[Check<'_>],
    limits: &[Limit],
    outcomes: &[KeyOutcome],
    backend: Backend,
) -> Decision {
    let allowed = outcomes.iter().all(|o| o.allowed);
    // Report the denied key with the longest wait, else the key with the least room.
    let pick = (0..outcomes.len())
        .max_by_key(|&i| {
            let o = outcomes[i];
            if allowed {
                (0, u64::MAX - limits[i].max.saturating_sub(o.count))
            } else {
                (u64::from(!o.allowed), o.retry_ms)
            }
        })
        .unwrap_or(0);
    match (checks.get(pick), outcomes.get(pick), limits.get(pick)) {
        (Some(c), Some(o), Some(l)) => Decision {
            allowed,
            action: c.action,
            limit: l.max,
            window: l.window,
            remaining: l.max.saturating_sub(o.count),
            reset: Duration::from_millis(o.reset_ms),
            retry_after: Duration::from_millis(o.retry_ms.max(1)),
            backend,
        },
        _ => Decision {
            allowed: true,
            action: Action::Ip,
            limit: 0,
            window: Duration::ZERO,
            remaining: 0,
            reset: Duration::ZERO,
            retry_after: Duration::ZERO,
            backend,
        },
    }
}

/// The in-memory equivalent of [`SCRIPT`].
#[derive(Default)]
struct MemoryWindows {
    keys: HashMap<String, Vec<(u64, u64)>>,
    checks_since_sweep: u32,
}

impl MemoryWindows {
    fn check(&mut self, keys: &[String], limits: &[Limit], now: u64) -> Vec<KeyOutcome> {
        self.checks_since_sweep += 1;
        if self.checks_since_sweep >= 10_000 {
            self.sweep(now);
        }
        let mut out = Vec::with_capacity(keys.len());
        let mut ok = true;
        for (key, limit) in keys.iter().zip(limits) {
            let (bucket, nb) = (limit.bucket_ms(), limit.buckets());
            let cur = now / bucket;
            let entries = self.keys.entry(key.clone()).or_default();
            entries.retain(|(idx, _)| *idx + nb >= cur);
            let total: u64 = entries.iter().map(|e| e.1).sum();
            let mut o = KeyOutcome {
                allowed: total < limit.max,
                count: total,
                reset_ms: entries
                    .first()
                    .map_or(cur, |e| e.0)
                    .saturating_add(nb + 1)
                    .saturating_mul(bucket)
                    .saturating_sub(now),
                retry_ms: 0,
            };
            if !o.allowed {
                ok = false;
                let mut freed = 0;
                for (idx, c) in entries.iter() {
                    freed += c;
                    if total - freed < limit.max {
                        o.retry_ms = ((idx + nb + 1) * bucket).saturating_sub(now);
                        break;
                    }
                }
            }
            out.push(o);
        }
        if ok {
            for ((key, limit), o) in keys.iter().zip(limits).zip(out.iter_mut()) {
                let cur = now / limit.bucket_ms();
                let entries = self.keys.entry(key.clone()).or_default();
                match entries.last_mut() {
                    Some((idx, c)) if *idx == cur => *c += 1,
                    _ => entries.push((cur, 1)),
                }
                o.count += 1;
            }
        }
        out
    }

    fn sweep(&mut self, now: u64) {
        self.checks_since_sweep = 0;
        // Drop keys whose newest bucket is older than a day: longer than any window.
        self.keys.retain(|_, e| {
            e.last()
                .is_some_and(|(idx, _)| *idx > 0 && now.saturating_sub(*idx) < 86_400_000)
        });
        self.keys.retain(|_, e| !e.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max: u64, window_ms: u64) -> Limit {
        Limit {
            max,
            window: Duration::from_millis(window_ms),
        }
    }

    #[test]
    fn memory_window_counts_and_refuses() {
        let mut m = MemoryWindows::default();
        let keys = vec!["a".to_owned()];
        let l = [limit(3, 10_000)];
        let t0 = 1_000_000;
        for i in 0..3 {
            let o = m.check(&keys, &l, t0 + i);
            assert!(o[0].allowed, "request {i}");
        }
        let o = m.check(&keys, &l, t0 + 10);
        assert!(!o[0].allowed);
        assert!(
            o[0].retry_ms > 0 && o[0].retry_ms <= 11_000,
            "{}",
            o[0].retry_ms
        );
        // After a window and a bucket, room again.
        let o = m.check(&keys, &l, t0 + 11_001);
        assert!(o[0].allowed);
    }

    #[test]
    fn memory_all_or_nothing() {
        let mut m = MemoryWindows::default();
        let keys = vec!["client".to_owned(), "ip".to_owned()];
        let l = [limit(100, 60_000), limit(1, 60_000)];
        assert!(m.check(&keys, &l, 5_000).iter().all(|o| o.allowed));
        let o = m.check(&keys, &l, 5_001);
        assert!(o[0].allowed && !o[1].allowed);
        // The refused request was not counted against the client key.
        assert_eq!(m.keys["client"].iter().map(|e| e.1).sum::<u64>(), 1);
    }

    #[test]
    fn every_action_is_declared_once() {
        for (i, spec) in ACTIONS.iter().enumerate() {
            assert_eq!(spec.action.index(), i);
        }
    }
}
