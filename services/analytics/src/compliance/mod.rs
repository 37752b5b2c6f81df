//! Compliance: the per-tenant report (cached in Redis), the control catalogue and the
//! agent-card export.
//!
//! The report is computed on demand from the projection and two internal calls to
//! identity, then kept in Redis under `cache:compliance:<tenant>` for
//! `COMPLIANCE_CACHE_TTL_SECS`. Redis is an optimisation only: when it fails the report is
//! computed fresh.

pub mod controls;
pub mod report;

use domain::audit::{ChainReport, SigningKeys};
use platform::redis::{Redis, redis};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::repo::{agents, credentials};
use crate::startup::AppState;

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

async fn chain_report(state: &AppState, tenant: Uuid) -> Result<ChainReport, String> {
    let url = state
        .core
        .internal
        .identity(&format!("/internal/v1/audit/integrity/{tenant}"));
    state
        .core
        .internal
        .get_json(url)
        .await
        .map_err(|e| e.to_string())
}

async fn signing_keys(state: &AppState) -> Result<SigningKeys, String> {
    let url = state.core.internal.identity("/internal/v1/signing-keys");
    state
        .core
        .internal
        .get_json(url)
        .await
        .map_err(|e| e.to_string())
}

/// Computes a fresh report of `tenant`.
pub async fn compute(state: &AppState, tenant: Uuid) -> anyhow::Result<serde_json::Value> {
    let (agents, credentials) = {
        let c = state.core.db.pool().get().await?;
        (
            agents::list(&c, tenant, None).await?,
            credentials::active(&c, tenant).await?,
        )
    };
    let (chain, keys) = tokio::join!(chain_report(state, tenant), signing_keys(state));
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
