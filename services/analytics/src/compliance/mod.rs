//! Compliance: the per-tenant report (cached in Redis), the control catalogue and the
//! agent-card export.
//!
//! The report is computed on demand from the projection and two internal calls to
//! identity, then kept in Redis under `cache:compliance:<tenant>` for
//! `COMPLIANCE_CACHE_TTL_SECS`. Redis is an optimisation only: when it fails the report is
//! computed fresh.

pub mod controls;
pub mod report;

use std::time::Duration;

use domain::audit::{ChainReport, SigningKeys};
use platform::db::Db;
use platform::internal_http::InternalHttp;
use platform::redis::{Redis, redis};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::repo::{agents, credentials};

/// The Redis key of a tenant's cached report.
pub fn cache_key(r: &Redis, tenant: Uuid) -> String {
    r.key("cache", &format!("compliance:{tenant}"))
}

/// The cached report of `tenant`, if Redis has one (and answers).
pub async fn cached(r: &Redis, tenant: Uuid) -> Option<serde_json::Value> {
    let key = cache_key(r, tenant);
    let raw = r
        .run(|mut c| async move {
            redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<String>>(&mut c)
                .await
        })
        .await;
    match raw {
        Ok(Some(s)) => serde_json::from_str(&s).ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::debug!(error = %e, "compliance cache unavailable");
            None
        }
    }
}

/// Keeps `report` for `ttl_secs` (failures are logged and ignored).
pub async fn store(r: &Redis, tenant: Uuid, report: &serde_json::Value, ttl_secs: u64) {
    let key = cache_key(r, tenant);
    let value = report.to_string();
    let res = r
        .run(|mut c| async move {
            redis::cmd("SET")
                .arg(&key)
                .arg(value)
                .arg("EX")
                .arg(ttl_secs)
                .query_async::<()>(&mut c)
                .await
        })
        .await;
    if let Err(e) = res {
        tracing::debug!(error = %e, "could not cache the compliance report");
    }
}

/// Where a report came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Redis had a report younger than `COMPLIANCE_CACHE_TTL_SECS`.
    Cache,
    /// Computed now (and cached).
    Computed,
}

/// Builds and caches tenants' reports: what it needs of the projection, Redis and identity.
#[derive(Debug)]
pub struct Compliance {
    db: Db,
    redis: Redis,
    internal: InternalHttp,
    cache_ttl: Duration,
}

impl Compliance {
    /// Reports from `db` and identity (through `internal`), cached in `redis` for `cache_ttl`.
    pub fn new(db: Db, redis: Redis, internal: InternalHttp, cache_ttl: Duration) -> Self {
        Self {
            db,
            redis,
            internal,
            cache_ttl,
        }
    }

    /// The report of `tenant`: the cached one, else a fresh one that is then cached.
    pub async fn report(&self, tenant: Uuid) -> anyhow::Result<(serde_json::Value, Source)> {
        if let Some(r) = cached(&self.redis, tenant).await {
            return Ok((r, Source::Cache));
        }
        let r = self.compute(tenant).await?;
        store(&self.redis, tenant, &r, self.cache_ttl.as_secs()).await;
        Ok((r, Source::Computed))
    }

    async fn chain_report(&self, tenant: Uuid) -> Result<ChainReport, String> {
        let url = self
            .internal
            .identity(&format!("/internal/v1/audit/integrity/{tenant}"));
        self.internal.get_json(url).await.map_err(|e| e.to_string())
    }

    async fn signing_keys(&self) -> Result<SigningKeys, String> {
        let url = self.internal.identity("/internal/v1/signing-keys");
        self.internal.get_json(url).await.map_err(|e| e.to_string())
    }

    /// Computes a fresh report of `tenant`.
    pub async fn compute(&self, tenant: Uuid) -> anyhow::Result<serde_json::Value> {
        let (agents, credentials) = {
            let c = self.db.pool().get().await?;
            (
                agents::list(&c, tenant, None).await?,
                credentials::active(&c, tenant).await?,
            )
        };
        let (chain, keys) = tokio::join!(self.chain_report(tenant), self.signing_keys());
        if let Err(e) = &chain {
            tracing::warn!(tenant.id = %tenant, error = %e, "audit chain status unavailable");
        }
        Ok(report::build(&report::Inputs {
            tenant_id: tenant,
            now: OffsetDateTime::now_utc(),
            agents,
            credentials,
            chain,
            keys,
        }))
    }
}
