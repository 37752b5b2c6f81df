//! Chain walks made on request (`GET /api/v1/audit/verify`, the integrity check other
//! services ask for), bounded so that no number of callers can starve the service:
//!
//! - they run on a pool of their own, `AUDIT_VERIFY_CONCURRENCY` connections, so a walk never
//!   holds a connection the token path is waiting for;
//! - an instance runs at most `AUDIT_VERIFY_CONCURRENCY` walks at once, at most one of them a
//!   full walk, and at most one per tenant; across instances a transaction-level advisory
//!   lock keeps one walk per tenant. A walk over a bound is refused at once (the caller
//!   answers 429 `verify_busy` with `Retry-After`), never queued;
//! - a walk runs inside the request's future, in a read-only transaction: when the caller
//!   goes away the future is dropped, the transaction rolls back and every turn is released.
//!   Nothing is spawned.
//!
//! `agentidp_audit_verify_walks_in_flight{walk}` and `agentidp_audit_verify_walks_peak{walk}`
//! (`walk` = `all` or `full`) show the walks running now and the most that ever ran at once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{Counter, Gauge};
use platform::config::DatabaseConfig;
use platform::db::Db;
use platform::telemetry::Metrics;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::IsolationLevel;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::verify::{self, Anchor, Walked};
use crate::keys::ring::KeySet;
use crate::repo::{checkpoints, locks};
use platform::Failure;

/// Why a walk did not run.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// A bound is reached: this tenant is being walked, or the instance runs all it may.
    #[error("a verification is already running")]
    Busy,
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(WalkError);

/// A gauge and the count behind it, with the highest count seen.
#[derive(Debug)]
struct Level {
    now: AtomicUsize,
    max: AtomicUsize,
    in_flight: Gauge,
    peak: Gauge,
}

impl Level {
    fn new(metrics: &Metrics, walk: &str) -> Self {
        Self {
            now: AtomicUsize::new(0),
            max: AtomicUsize::new(0),
            in_flight: metrics.gauge("agentidp_audit_verify_walks_in_flight", &[("walk", walk)]),
            peak: metrics.gauge("agentidp_audit_verify_walks_peak", &[("walk", walk)]),
        }
    }

    fn up(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.in_flight.set(now as f64);
        let max = self.max.fetch_max(now, Ordering::SeqCst).max(now);
        self.peak.set(max as f64);
    }

    fn down(&self) {
        let now = self.now.fetch_sub(1, Ordering::SeqCst) - 1;
        self.in_flight.set(now as f64);
    }
}

#[derive(Debug)]
struct Shared {
    walking: Mutex<HashSet<Uuid>>,
    all: Level,
    full: Level,
    busy: Counter,
}

/// The walks of one instance.
#[derive(Debug, Clone)]
pub struct Walks {
    db: Db,
    any: Arc<Semaphore>,
    full: Arc<Semaphore>,
    shared: Arc<Shared>,
}

/// One walk's turn; dropping it frees the tenant and the instance's slots.
#[derive(Debug)]
pub struct Turn {
    tenant: Uuid,
    full: bool,
    shared: Arc<Shared>,
    _any: OwnedSemaphorePermit,
    _full: Option<OwnedSemaphorePermit>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.shared
            .walking
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.tenant);
        self.shared.all.down();
        if self.full {
            self.shared.full.down();
        }
    }
}

/// The cross-instance lock of one tenant's walks (both halves of the id count).
fn tenant_lock(tenant: Uuid) -> i64 {
    let (hi, lo) = tenant.as_u64_pair();
    (hi ^ lo.rotate_left(17) ^ 0x4147_4944_5741_4c4b) as i64
}

impl Walks {
    /// Walks on a pool of `concurrency` connections of their own to `database`.
    pub fn new(
        database: &DatabaseConfig,
        concurrency: usize,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let mut cfg = database.clone();
        cfg.pool_max = concurrency;
        cfg.pool_min = 0;
        Ok(Self {
            db: Db::new(&cfg, "identity", "identity-audit-verify")?,
            any: Arc::new(Semaphore::new(concurrency)),
            full: Arc::new(Semaphore::new(1)),
            shared: Arc::new(Shared {
                walking: Mutex::default(),
                all: Level::new(metrics, "all"),
                full: Level::new(metrics, "full"),
                busy: metrics.counter("agentidp_audit_verify_refused_total", &[("reason", "busy")]),
            }),
        })
    }

    /// Closes the pool's idle connections until `stop`.
    pub fn spawn_upkeep(&self, stop: CancellationToken) {
        self.db.spawn_upkeep(stop);
    }

    /// A turn for a walk of `tenant`'s chain (`full`: from the start), or `None` when a
    /// bound is reached.
    pub fn try_turn(&self, tenant: Uuid, full: bool) -> Option<Turn> {
        let turn = self.turn(tenant, full);
        if turn.is_none() {
            self.shared.busy.increment(1);
        }
        turn
    }

    fn turn(&self, tenant: Uuid, full: bool) -> Option<Turn> {
        let full_permit = if full {
            Some(self.full.clone().try_acquire_owned().ok()?)
        } else {
            None
        };
        let any = self.any.clone().try_acquire_owned().ok()?;
        if !self
            .shared
            .walking
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(tenant)
        {
            return None;
        }
        self.shared.all.up();
        if full {
            self.shared.full.up();
        }
        Some(Turn {
            tenant,
            full,
            shared: self.shared.clone(),
            _any: any,
            _full: full_permit,
        })
    }

    /// Walks the chain `turn` is for, from its verified position unless the turn is for a
    /// full walk, and moves that position.
    pub async fn walk(
        &self,
        turn: &Turn,
        keys: &KeySet,
        issuer: &str,
    ) -> Result<Walked, WalkError> {
        let mut c = self.db.get().await?;
        let tx = c
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        if !locks::try_lock_xact(&tx, tenant_lock(turn.tenant)).await? {
            // Another instance walks this tenant's chain.
            self.shared.busy.increment(1);
            return Err(WalkError::Busy);
        }
        let anchor = if turn.full {
            None
        } else {
            checkpoints::verified_position(&tx, turn.tenant)
                .await?
                .map(|(chain_seq, hash)| Anchor { chain_seq, hash })
        };
        let walked = verify::walk_from(&tx, turn.tenant, keys, issuer, anchor).await?;
        tx.commit().await?;
        verify::record_position(&c, &walked.report, turn.full).await?;
        Ok(walked)
    }
}
