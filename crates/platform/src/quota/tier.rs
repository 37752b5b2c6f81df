//! A tenant's tier, its agent limit, and forgetting a cached tier.

use domain::Tier;
use uuid::Uuid;

use super::enforcer::{Quota, lock};
use crate::redis::redis;

impl Quota {
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
}
