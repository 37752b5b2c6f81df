//! [`RateLimiter`]: one check over every key of a request, in Redis or, failing that, in
//! memory.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::decision::{Backend, Check, Decision, KeyOutcome, decide};
use super::script::SCRIPT;
use super::window::{MemoryWindows, bucket_ms, buckets};
use crate::config::limits::{Limit, LimitTable};
use crate::redis::{Redis, RedisFailure, redis};
use crate::telemetry::Metrics;

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
            inv.key(k).arg(l.max).arg(bucket_ms(*l)).arg(buckets(*l));
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
