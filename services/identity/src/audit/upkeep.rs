//! Background upkeep of the audit log: verification of every chain (the
//! `agentidp_audit_chain_integrity` gauge) and retention.
//!
//! Each job runs on one instance at a time, chosen by a PostgreSQL advisory lock held on a
//! session for the job's duration; every instance reads the stored verification results
//! into its own gauge, so whichever pod Prometheus scrapes reports the same integrity. The
//! jobs never hold a write transaction open for long: a long walk inside a transaction with
//! an id would hold back the change feed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use metrics::Gauge;
use platform::ApiError;
use platform::db::Db;
use tokio_util::sync::CancellationToken;

use super::{checkpoint, verify};
use crate::config::AuditConfig;
use crate::keys::ring::KeyRing;
use crate::repo::{checkpoints as repo, locks};

/// Advisory lock keys of the jobs.
const VERIFY_LOCK: i64 = 0x4147_4944_0001;
const RETENTION_LOCK: i64 = 0x4147_4944_0002;

/// What the jobs need.
#[derive(Debug, Clone)]
pub struct Upkeep {
    /// Pool.
    pub db: Db,
    /// Signing keys (checkpoints).
    pub keys: KeyRing,
    /// Token issuer, stated in checkpoints.
    pub issuer: String,
    /// Intervals and retention.
    pub config: AuditConfig,
    /// `agentidp_audit_chain_integrity`: 1 when every chain verified, 0 when one is broken.
    pub integrity: Gauge,
}

/// Runs `job` if this instance gets the advisory lock `key`; `Ok(None)` when another
/// instance holds it.
async fn exclusively<T, F, Fut>(db: &Db, key: i64, job: F) -> Result<Option<T>, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let c = db.get().await?;
    if !locks::try_lock(&c, key).await? {
        return Ok(None);
    }
    let result = job().await;
    if locks::unlock(&c, key).await.is_err() {
        // Never hand a connection that may still hold the lock back to the pool.
        drop(deadpool_postgres::Object::take(c));
    }
    result.map(Some)
}

impl Upkeep {
    /// Verifies every chain (if no other instance is doing it) and refreshes the gauge.
    pub async fn verify_once(&self) -> Result<(), ApiError> {
        let keys = self.keys.current();
        exclusively(&self.db, VERIFY_LOCK, || {
            verify::verify_all(&self.db, &keys, &self.issuer)
        })
        .await?;
        self.refresh_gauge().await
    }

    /// Sets the gauge from the stored results.
    pub async fn refresh_gauge(&self) -> Result<(), ApiError> {
        let c = self.db.get().await?;
        if let Some(all) = repo::all_verified(&c).await? {
            self.integrity.set(if all { 1.0 } else { 0.0 });
        }
        Ok(())
    }

    /// Runs retention once (if no other instance is doing it).
    pub async fn retain_once(&self) -> Result<Option<checkpoint::RetentionOutcome>, ApiError> {
        let before = time::OffsetDateTime::now_utc() - self.config.retention;
        exclusively(&self.db, RETENTION_LOCK, || {
            checkpoint::run_retention(&self.db, &self.keys, &self.issuer, before)
        })
        .await
    }

    /// Starts both jobs; they stop with `stop`.
    pub fn spawn(self, stop: CancellationToken) {
        let this = Arc::new(self);
        let verifier = this.clone();
        let stop_verify = stop.clone();
        tokio::spawn(async move {
            every(verifier.config.verify_interval, stop_verify, || async {
                if let Err(e) = verifier.verify_once().await {
                    tracing::warn!(error = %e, "audit verification did not run");
                }
            })
            .await;
        });
        tokio::spawn(async move {
            every(this.config.retention_interval, stop, || async {
                match this.retain_once().await {
                    Ok(Some(o)) if o.removed > 0 || o.resigned > 0 => {
                        tracing::info!(
                            removed = o.removed,
                            checkpoints = o.checkpoints,
                            resigned = o.resigned,
                            "audit retention ran"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "audit retention did not run"),
                }
            })
            .await;
        });
    }
}

/// Runs `f` now and then every `interval` until `stop`.
async fn every<F, Fut>(interval: Duration, stop: CancellationToken, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        f().await;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
