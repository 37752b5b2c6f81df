//! Tier enforcement: daily counters in Redis checked against the tenant's tier.
//!
//! - `tier:<tenant>` holds the tenant's tier (`free`, `pro`, `enterprise`) for
//!   `TIER_CACHE_TTL_SECS` (60 s); on a miss it is fetched from billing
//!   (`GET /internal/v1/entitlements/{tenant}`, or billing's own store inside billing). Billing
//!   deletes the key when a webhook changes a tenant's subscription, so a change is seen at
//!   once, and within the TTL at worst.
//! - `usage:<tenant>:<YYYY-MM-DD>:<metric>` counts a tenant's calls of one UTC day; it expires
//!   an hour after the next midnight UTC.
//!
//! One Lua script reads the tier and the counter and, when the call is allowed, counts it:
//! one round trip per call. A refused call is not counted. Past the limit the answer is 429
//! with `Retry-After` = seconds to the next midnight UTC and a problem body naming the limit.
//!
//! Fail open: when Redis or billing cannot answer, calls are allowed (and not counted in
//! Redis); the failure is logged at most once a minute, and a Redis failure shows as a
//! `degraded` `quota` component in `/health/detailed` for a minute. `BILLING_ENABLED=false`
//! turns all of this off; `TIER_ENFORCEMENT=false` counts but never refuses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use domain::Tier;
use domain::usage::{Entitlements, Metric};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::BoxFuture;
use crate::config::BillingSettings;
use crate::errors::ApiError;
use crate::health::{Component, ExtraCheck, Status};
use crate::internal_http::InternalHttp;
use crate::redis::{Redis, redis};

/// Where a tenant's tier comes from when it is not cached.
pub trait TierSource: Send + Sync + 'static {
    /// The tenant's current tier.
    fn tier(&self, tenant: Uuid) -> BoxFuture<'_, anyhow::Result<Tier>>;
}

/// Billing's `GET /internal/v1/entitlements/{tenant}`.
#[derive(Debug, Clone)]
pub struct HttpTierSource(pub InternalHttp);

impl TierSource for HttpTierSource {
    fn tier(&self, tenant: Uuid) -> BoxFuture<'_, anyhow::Result<Tier>> {
        Box::pin(async move {
            let url = self
                .0
                .billing(&format!("/internal/v1/entitlements/{tenant}"));
            let e: Entitlements = self.0.get_json_once(url).await?;
            Ok(e.tier)
        })
    }
}

/// A daily limit that was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    /// The metric.
    pub metric: Metric,
    /// The tenant's tier.
    pub tier: Tier,
    /// The limit per day.
    pub limit: u64,
    /// Seconds to the next midnight UTC.
    pub retry_after_secs: u64,
}

impl Exceeded {
    /// The limit's name in problem bodies (`api_calls_per_day`, `token_issuances_per_day`).
    pub fn limit_name(&self) -> &'static str {
        match self.metric {
            Metric::ApiCalls => "api_calls_per_day",
            Metric::TokenIssuances => "token_issuances_per_day",
        }
    }

    /// A sentence for people.
    pub fn detail(&self) -> String {
        format!(
            "the {} tier allows {} {} per day; the limit resets at 00:00 UTC (in {} s)",
            self.tier,
            self.limit,
            self.metric.as_str().replace('_', " "),
            self.retry_after_secs
        )
    }

    /// 429 `quota_exceeded` with `Retry-After` and the limit named in the body.
    pub fn to_error(&self) -> ApiError {
        ApiError::too_many_requests("quota_exceeded", self.detail(), self.retry_after_secs)
            .with_extra("limit", self.limit_name().into())
            .with_extra("tier", self.tier.as_str().into())
            .with_extra("max", self.limit.into())
    }
}

/// The outcome of a quota check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The tenant's tier, when known.
    pub tier: Option<Tier>,
    /// Set when the call must be refused.
    pub exceeded: Option<Exceeded>,
}

impl Verdict {
    const OPEN: Verdict = Verdict {
        tier: None,
        exceeded: None,
    };
}

/// Reads the tier and counter; counts the call (`ARGV[5]` = 1) when it is allowed.
/// `ARGV[1..3]`: the metric's limit on free, pro, enterprise (-1 unlimited); `ARGV[4]`: the
/// counter's expiry (unix seconds); `ARGV[6]`: refuse past the limit (1/0); `ARGV[7]`: the
/// tier to use, and cache for `ARGV[8]` seconds, when `KEYS[1]` is missing ('' to ask).
/// Returns `{allowed (1/0, -1 = tier unknown), count, tier}`.
const SCRIPT: &str = r"
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

/// How long a tier learnt from a reply is remembered in this process (for the per-minute
/// limit, which is checked before the daily one).
const MEMO_TTL: Duration = Duration::from_secs(60);
/// After billing failed to answer, how long to stop asking it.
const BILLING_BACKOFF: Duration = Duration::from_secs(5);
/// How long successful calls are gathered before [`Quota::record`] adds them to Redis.
pub const RECORD_DELAY: Duration = Duration::from_millis(20);
/// How long a Redis failure shows in health, and the minimum interval between warnings.
const DEGRADED_FOR: Duration = Duration::from_secs(60);

struct Inner {
    redis: Redis,
    enabled: bool,
    enforce: bool,
    tier_ttl: Duration,
    script: redis::Script,
    default_source: Arc<dyn TierSource>,
    source: OnceLock<Arc<dyn TierSource>>,
    memo: Mutex<HashMap<Uuid, (Tier, Instant)>>,
    /// Successful calls not yet added to their counters: key → (count, expiry).
    unrecorded: Mutex<HashMap<String, (u64, i64)>>,
    recording: std::sync::atomic::AtomicBool,
    billing_down_until: Mutex<Option<Instant>>,
    redis_failed: Mutex<Option<(Instant, String)>>,
    warned_at: Mutex<Option<Instant>>,
}

/// The tier enforcer of one application; cheap to clone.
#[derive(Clone)]
pub struct Quota {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quota")
            .field("enabled", &self.inner.enabled)
            .field("enforce", &self.inner.enforce)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Seconds from `now` to the next midnight UTC (at least 1).
pub fn secs_to_midnight(now: OffsetDateTime) -> u64 {
    let secs = now.to_offset(time::UtcOffset::UTC).time();
    let elapsed =
        u64::from(secs.hour()) * 3600 + u64::from(secs.minute()) * 60 + u64::from(secs.second());
    (86_400 - elapsed).max(1)
}

fn limit_of(tier: Tier, metric: Metric) -> Option<u64> {
    let l = tier.limits();
    match metric {
        Metric::ApiCalls => l.api_calls_per_day,
        Metric::TokenIssuances => l.token_issuances_per_day,
    }
}

impl Quota {
    /// An enforcer over `redis`, asking `source` for tiers it has not cached.
    pub fn new(redis: Redis, settings: &BillingSettings, source: Arc<dyn TierSource>) -> Self {
        Self {
            inner: Arc::new(Inner {
                redis,
                enabled: settings.enabled,
                enforce: settings.enabled && settings.enforcement,
                tier_ttl: settings.tier_cache_ttl,
                script: redis::Script::new(SCRIPT),
                default_source: source,
                source: OnceLock::new(),
                memo: Mutex::new(HashMap::new()),
                unrecorded: Mutex::new(HashMap::new()),
                recording: std::sync::atomic::AtomicBool::new(false),
                billing_down_until: Mutex::new(None),
                redis_failed: Mutex::new(None),
                warned_at: Mutex::new(None),
            }),
        }
    }

    /// Replaces the tier source (billing reads its own tables); the first call wins.
    pub fn set_source(&self, source: Arc<dyn TierSource>) {
        let _ = self.inner.source.set(source);
    }

    /// `BILLING_ENABLED`.
    pub fn enabled(&self) -> bool {
        self.inner.enabled
    }

    /// `BILLING_ENABLED` and `TIER_ENFORCEMENT`.
    pub fn enforcing(&self) -> bool {
        self.inner.enforce
    }

    /// `tier:<tenant>`.
    pub fn tier_key(&self, tenant: Uuid) -> String {
        self.inner.redis.key("tier", &tenant.to_string())
    }

    /// `usage:<tenant>:<day>:<metric>` for today (UTC).
    pub fn usage_key(&self, tenant: Uuid, metric: Metric) -> String {
        let day = crate::metering::utc_day(OffsetDateTime::now_utc());
        self.inner
            .redis
            .key("usage", &format!("{tenant}:{day}:{}", metric.as_str()))
    }

    fn source(&self) -> &Arc<dyn TierSource> {
        self.inner
            .source
            .get()
            .unwrap_or(&self.inner.default_source)
    }

    fn warn(&self, what: &str, error: &str) {
        let mut at = lock(&self.inner.warned_at);
        if at.is_none_or(|t| t.elapsed() >= DEGRADED_FOR) {
            *at = Some(Instant::now());
            tracing::warn!(
                error,
                "{what}; tier limits are not enforced meanwhile (fail open)"
            );
        }
    }

    fn redis_failed(&self, e: &dyn std::fmt::Display) {
        let msg = e.to_string();
        *lock(&self.inner.redis_failed) = Some((Instant::now(), msg.clone()));
        self.warn("quota counters are unavailable (redis)", &msg);
    }

    /// The tier remembered from a recent reply in this process.
    pub fn known_tier(&self, tenant: Uuid) -> Option<Tier> {
        lock(&self.inner.memo)
            .get(&tenant)
            .filter(|(_, at)| at.elapsed() < MEMO_TTL)
            .map(|(t, _)| *t)
    }

    fn remember(&self, tenant: Uuid, tier: Tier) {
        let mut memo = lock(&self.inner.memo);
        if memo.len() >= 100_000 {
            memo.retain(|_, (_, at)| at.elapsed() < MEMO_TTL);
        }
        memo.insert(tenant, (tier, Instant::now()));
    }

    /// Asks the source, unless it failed moments ago.
    async fn fetch_tier(&self, tenant: Uuid) -> Option<Tier> {
        if lock(&self.inner.billing_down_until).is_some_and(|t| Instant::now() < t) {
            return None;
        }
        match self.source().tier(tenant).await {
            Ok(t) => Some(t),
            Err(e) => {
                *lock(&self.inner.billing_down_until) = Some(Instant::now() + BILLING_BACKOFF);
                self.warn("tier lookup failed", &format!("{e:#}"));
                None
            }
        }
    }

    async fn run(&self, tenant: Uuid, metric: Metric, count: bool) -> Verdict {
        if !self.inner.enabled {
            return Verdict::OPEN;
        }
        let now = OffsetDateTime::now_utc();
        let to_midnight = secs_to_midnight(now);
        let expire_at = now.unix_timestamp() + to_midnight as i64 + 3600;
        let keys = [self.tier_key(tenant), self.usage_key(tenant, metric)];
        let limits = Tier::ALL.map(|t| limit_of(t, metric).map_or(-1, |l| l as i64));
        let mut fallback: Option<(String, u64)> = None;
        for _ in 0..2 {
            let (tier_arg, ttl_arg) = fallback.clone().unwrap_or_default();
            let mut inv = self.inner.script.prepare_invoke();
            inv.key(&keys[0])
                .key(&keys[1])
                .arg(limits[0])
                .arg(limits[1])
                .arg(limits[2])
                .arg(expire_at)
                .arg(u8::from(count))
                .arg(u8::from(self.inner.enforce))
                .arg(tier_arg)
                .arg(ttl_arg);
            let (allowed, cur, tier): (i64, i64, String) = match self
                .inner
                .redis
                .run(|mut c| async move { inv.invoke_async(&mut c).await })
                .await
            {
                Ok(v) => v,
                Err(e) => {
                    self.redis_failed(&e);
                    return Verdict::OPEN;
                }
            };
            if allowed == -1 {
                fallback = Some(match self.fetch_tier(tenant).await {
                    Some(t) => (t.as_str().to_owned(), self.inner.tier_ttl.as_secs()),
                    None => ("unknown".to_owned(), 0),
                });
                continue;
            }
            let tier = tier.parse::<Tier>().ok();
            if let Some(t) = tier {
                self.remember(tenant, t);
            }
            let exceeded = match (allowed, tier) {
                (0, Some(t)) => Some(Exceeded {
                    metric,
                    tier: t,
                    limit: limit_of(t, metric).unwrap_or(cur.max(0) as u64),
                    retry_after_secs: to_midnight,
                }),
                _ => None,
            };
            return Verdict { tier, exceeded };
        }
        Verdict::OPEN
    }

    /// Counts one call of `metric` for `tenant`, refusing it (uncounted) past the tier's daily
    /// limit. One Redis round trip when the tier is cached.
    pub async fn consume(&self, tenant: Uuid, metric: Metric) -> Verdict {
        self.run(tenant, metric, true).await
    }

    /// Checks the daily limit without counting (pair with [`Quota::record`] once the
    /// operation succeeded, so failed attempts never use up a tenant's quota). Nothing to do,
    /// and no Redis call, when limits are not enforced.
    pub async fn check(&self, tenant: Uuid, metric: Metric) -> Verdict {
        if !self.inner.enforce {
            return Verdict::OPEN;
        }
        self.run(tenant, metric, false).await
    }

    /// Counts one successful call, not awaited: calls are gathered for [`RECORD_DELAY`] and
    /// added with one pipelined `INCRBY` per counter, so a busy token endpoint sends a few
    /// commands per interval instead of one per token.
    pub fn record(&self, tenant: Uuid, metric: Metric) {
        if !self.inner.enabled {
            return;
        }
        let key = self.usage_key(tenant, metric);
        let now = OffsetDateTime::now_utc();
        let expire_at = now.unix_timestamp() + secs_to_midnight(now) as i64 + 3600;
        lock(&self.inner.unrecorded)
            .entry(key)
            .and_modify(|e| e.0 += 1)
            .or_insert((1, expire_at));
        if self
            .inner
            .recording
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RECORD_DELAY).await;
            // Cleared before taking the counts: a call recorded from now on starts a new round.
            this.inner
                .recording
                .store(false, std::sync::atomic::Ordering::Release);
            let counts = std::mem::take(&mut *lock(&this.inner.unrecorded));
            if counts.is_empty() {
                return;
            }
            let mut pipe = redis::pipe();
            for (key, (n, expire_at)) in &counts {
                pipe.cmd("INCRBY").arg(key).arg(*n).ignore();
                pipe.cmd("EXPIREAT")
                    .arg(key)
                    .arg(*expire_at)
                    .arg("NX")
                    .ignore();
            }
            let res = this
                .inner
                .redis
                .run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
                .await;
            if let Err(e) = res {
                this.redis_failed(&e);
            }
        });
    }

    /// The tenant's tier: cached in Redis, else from the source. `None` when billing is
    /// disabled or neither answers (callers fail open).
    pub async fn tier(&self, tenant: Uuid) -> Option<Tier> {
        if !self.inner.enabled {
            return None;
        }
        let key = self.tier_key(tenant);
        let cached = self
            .inner
            .redis
            .run(|mut c| {
                let key = key.clone();
                async move {
                    redis::cmd("GET")
                        .arg(&key)
                        .query_async::<Option<String>>(&mut c)
                        .await
                }
            })
            .await;
        let tier = match cached {
            Ok(Some(t)) => t.parse::<Tier>().ok(),
            Ok(None) => None,
            Err(e) => {
                self.redis_failed(&e);
                return None;
            }
        };
        if let Some(t) = tier {
            self.remember(tenant, t);
            return Some(t);
        }
        let t = self.fetch_tier(tenant).await?;
        let ttl = self.inner.tier_ttl.as_secs();
        let res = self
            .inner
            .redis
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(t.as_str())
                    .arg("EX")
                    .arg(ttl)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
        if let Err(e) = res {
            self.redis_failed(&e);
        }
        self.remember(tenant, t);
        Some(t)
    }

    /// The most agents `tenant` may have, when enforced and limited.
    pub async fn agent_limit(&self, tenant: Uuid) -> Option<(Tier, u64)> {
        if !self.inner.enforce {
            return None;
        }
        let tier = self.tier(tenant).await?;
        tier.limits().max_agents.map(|max| (tier, max))
    }

    /// Forgets the cached tier of `tenant` (billing, after a subscription change).
    pub async fn invalidate(&self, tenant: Uuid) {
        lock(&self.inner.memo).remove(&tenant);
        let key = self.tier_key(tenant);
        let res = self
            .inner
            .redis
            .run(
                |mut c| async move { redis::cmd("DEL").arg(&key).query_async::<i64>(&mut c).await },
            )
            .await;
        if let Err(e) = res {
            self.redis_failed(&e);
        }
    }

    /// The `quota` component of `/health/detailed`: `degraded` for a minute after Redis failed
    /// a quota call (counting and enforcement fail open meanwhile).
    pub fn health_check(&self) -> ExtraCheck {
        let this = self.clone();
        Arc::new(move || {
            if !this.inner.enabled {
                return None;
            }
            let failed = lock(&this.inner.redis_failed).clone();
            let c = match failed {
                Some((at, msg)) if at.elapsed() < DEGRADED_FOR => Component {
                    status: Status::Degraded,
                    latency_ms: 0,
                    message: Some(format!(
                        "tier limits fail open: redis failed {} s ago ({msg})",
                        at.elapsed().as_secs()
                    )),
                },
                _ => Component {
                    status: Status::Healthy,
                    latency_ms: 0,
                    message: None,
                },
            };
            Some(("quota", c))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_to_midnight_utc() {
        let t = time::macros::datetime!(2026-11-25 23:59:30 UTC);
        assert_eq!(secs_to_midnight(t), 30);
        let t = time::macros::datetime!(2026-11-25 00:00:00 UTC);
        assert_eq!(secs_to_midnight(t), 86_400);
        let t = time::macros::datetime!(2026-11-25 01:00:00 +02:00);
        assert_eq!(secs_to_midnight(t), 3_600);
    }

    #[test]
    fn exceeded_names_the_limit() {
        let e = Exceeded {
            metric: Metric::ApiCalls,
            tier: Tier::Free,
            limit: 1000,
            retry_after_secs: 42,
        };
        let body = e.to_error().problem_body(None);
        assert_eq!(body["code"], "quota_exceeded");
        assert_eq!(body["limit"], "api_calls_per_day");
        assert_eq!(body["tier"], "free");
        assert_eq!(body["max"], 1000);
    }
}
