//! Counting successful calls in batches, off the request path.

use domain::usage::Metric;
use time::OffsetDateTime;
use uuid::Uuid;

use super::enforcer::{Quota, RECORD_DELAY, lock};
use super::verdict::secs_to_midnight;
use crate::redis::redis;

impl Quota {
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
}
