//! Reading a tenant's audit log: events, verification of its chain (bounded by
//! [`super::walks`]), retention checkpoints, and the chain status other services ask for.

use std::time::Duration;

use domain::audit::ChainReport;
use platform::ApiError;
use platform::db::Db;
use platform::rate_limit::{Action, Check, Decision, RateLimiter};
use time::OffsetDateTime;
use uuid::Uuid;

use super::event::ChainedEvent;
use super::verify::Walked;
use super::walks::{WalkError, Walks};
use crate::keys::ring::KeyRing;
use crate::repo::audit::{self as repo, EventFilter};
use crate::repo::checkpoints::{self, CheckpointRow};
use platform::Failure;

/// Why an audit read was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuditLogError {
    /// No such event in the tenant.
    #[error("audit event not found")]
    NotFound,
    /// Verification runs too often for this tenant.
    #[error("rate limited")]
    RateLimited(Decision),
    /// A walk of this tenant's chain is running, or this instance runs all the walks it may.
    #[error("a verification is already running")]
    Busy,
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(AuditLogError);

impl From<WalkError> for AuditLogError {
    fn from(e: WalkError) -> Self {
        match e {
            WalkError::Busy => Self::Busy,
            WalkError::Failure(f) => Self::Failure(f),
        }
    }
}

/// Reads the audit log.
#[derive(Debug)]
pub struct AuditLog {
    db: Db,
    walks: Walks,
    keys: KeyRing,
    issuer: String,
    limiter: RateLimiter,
    verify_interval: Duration,
}

impl AuditLog {
    /// The log in `db`, whose checkpoints are signed by `keys` for `issuer`; verification on
    /// demand runs within `walks` and is limited by `limiter`, and a background verification
    /// younger than two `verify_interval`s is recent enough for the chain status.
    pub fn new(
        db: Db,
        walks: Walks,
        keys: KeyRing,
        issuer: String,
        limiter: RateLimiter,
        verify_interval: Duration,
    ) -> Self {
        Self {
            db,
            walks,
            keys,
            issuer,
            limiter,
            verify_interval,
        }
    }

    /// Up to `limit` of a tenant's events matching `filter`, newest first.
    pub async fn list(
        &self,
        tenant: Uuid,
        filter: &EventFilter,
        limit: i64,
    ) -> Result<Vec<ChainedEvent>, AuditLogError> {
        let c = self.db.get().await?;
        Ok(repo::list(&c, tenant, filter, limit).await?)
    }

    /// One event of a tenant.
    pub async fn get(&self, tenant: Uuid, id: Uuid) -> Result<ChainedEvent, AuditLogError> {
        let c = self.db.get().await?;
        repo::get(&c, tenant, id)
            .await?
            .ok_or(AuditLogError::NotFound)
    }

    /// Walks the tenant's chain now, from where it was last verified intact unless `full`
    /// (bounded by [`Walks`], limited per tenant); what the walk found and the limit's
    /// decision (its headers go on the answer). A refusal for a bound spends no budget.
    pub async fn verify(
        &self,
        tenant: Uuid,
        full: bool,
    ) -> Result<(Walked, Decision), AuditLogError> {
        let turn = self
            .walks
            .try_turn(tenant, full)
            .ok_or(AuditLogError::Busy)?;
        let subject = tenant.to_string();
        let decision = self
            .limiter
            .check(&[Check::new(Action::AuditVerify, &subject)])
            .await;
        if !decision.allowed {
            return Err(AuditLogError::RateLimited(decision));
        }
        let walked = self
            .walks
            .walk(&turn, &self.keys.current(), &self.issuer)
            .await?;
        Ok((walked, decision))
    }

    /// Up to `limit` of a tenant's retention checkpoints, newest first.
    pub async fn checkpoints(
        &self,
        tenant: Uuid,
        limit: i64,
    ) -> Result<Vec<CheckpointRow>, AuditLogError> {
        let c = self.db.get().await?;
        Ok(checkpoints::checkpoints(&c, tenant, limit).await?)
    }

    /// The latest background verification of the tenant's chain when it is recent (within
    /// two verification intervals), else a fresh full walk, stored; while a bound keeps that
    /// walk from running, the latest verification however old.
    pub async fn integrity(&self, tenant: Uuid) -> Result<ChainReport, AuditLogError> {
        let stored = {
            let c = self.db.get().await?;
            checkpoints::verification(&c, tenant)
                .await?
                .and_then(|(report, at)| {
                    Some((serde_json::from_value::<ChainReport>(report).ok()?, at))
                })
        };
        let fresh_after = OffsetDateTime::now_utc() - self.verify_interval * 2;
        if let Some((report, at)) = &stored
            && *at > fresh_after
        {
            return Ok(report.clone());
        }
        let Some(turn) = self.walks.try_turn(tenant, true) else {
            return stored.map(|(report, _)| report).ok_or(AuditLogError::Busy);
        };
        let report = self
            .walks
            .walk(&turn, &self.keys.current(), &self.issuer)
            .await?
            .report;
        drop(turn);
        let c = self.db.get().await?;
        let json = serde_json::to_value(&report).map_err(ApiError::internal)?;
        checkpoints::store_verification(&c, tenant, report.valid, &json, report.verified_at)
            .await?;
        Ok(report)
    }
}
