//! [`Quota`]: the tier enforcer of one application, and its checks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use domain::Tier;
use domain::usage::Metric;
use time::OffsetDateTime;
use uuid::Uuid;

use super::script::SCRIPT;
use super::source::TierSource;
use super::verdict::{Exceeded, Verdict, limit_of, secs_to_midnight};
use crate::config::BillingSettings;
use crate::metering::utc_day;
use crate::redis::{Redis, redis};

/// How long a tier learnt from a reply is remembered in this process (for the per-minute
/// limit, which is checked before the daily one).
const MEMO_TTL: Duration = Duration::from_secs(60);
/// After billing failed to answer, how long to stop asking it.
const BILLING_BACKOFF: Duration = Duration::from_secs(5);
/// How long successful calls are gathered before [`Quota::record`] adds them to Redis.
pub const RECORD_DELAY: Duration = Duration::from_millis(20);
/// How long a Redis failure shows in health, and the minimum interval between warnings.
pub(super) const DEGRADED_FOR: Duration = Duration::from_secs(60);

pub(super) struct Inner {
    pub(super) redis: Redis,
    pub(super) enabled: bool,
    pub(super) enforce: bool,
    pub(super) tier_ttl: Duration,
    pub(super) script: redis::Script,
    pub(super) default_source: Arc<dyn TierSource>,
    pub(super) source: OnceLock<Arc<dyn TierSource>>,
    pub(super) memo: Mutex<HashMap<Uuid, (Tier, Instant)>>,
    /// Successful calls not yet added to their counters: key → (count, expiry).
    pub(super) unrecorded: Mutex<HashMap<String, (u64, i64)>>,
    pub(super) recording: std::sync::atomic::AtomicBool,
    pub(super) billing_down_until: Mutex<Option<Instant>>,
    pub(super) redis_failed: Mutex<Option<(Instant, String)>>,
    pub(super) warned_at: Mutex<Option<Instant>>,
}

/// The tier enforcer of one application; cheap to clone.
#[derive(Clone)]
pub struct Quota {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quota")
            .field("enabled", &self.inner.enabled)
            .field("enforce", &self.inner.enforce)
            .finish()
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let day = utc_day(OffsetDateTime::now_utc());
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

    pub(super) fn redis_failed(&self, e: &dyn std::fmt::Display) {
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

    pub(super) fn remember(&self, tenant: Uuid, tier: Tier) {
        let mut memo = lock(&self.inner.memo);
        if memo.len() >= 100_000 {
            memo.retain(|_, (_, at)| at.elapsed() < MEMO_TTL);
        }
        memo.insert(tenant, (tier, Instant::now()));
    }

    /// Asks the source, unless it failed moments ago.
    pub(super) async fn fetch_tier(&self, tenant: Uuid) -> Option<Tier> {
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
}
