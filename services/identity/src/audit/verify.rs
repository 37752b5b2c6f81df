//! Walking a tenant's chain: every event's hash is recomputed from its content and linked to
//! the previous one, from genesis or from the retention checkpoint, up to the recorded head.
//! A walk may instead go on from an [`Anchor`], the position where the chain was last verified
//! intact (`audit_verified_positions`), when that lies beyond the checkpoint: only the events
//! appended since are walked, and the anchor's own event must still carry its hash.
//!
//! The first link that fails is reported: `hash_mismatch` when an event's content (or its
//! stored hash) was changed, `prev_hash_mismatch` when an event no longer follows the one
//! before it, `missing_event` for a gap, `head_mismatch` when events at the end are gone,
//! `checkpoint_invalid` when the retention checkpoint's signature does not verify.

use domain::audit::{BrokenLink, ChainLink, ChainReport};
use platform::ApiError;
use platform::db::{Db, GenericClient};
use time::OffsetDateTime;
use uuid::Uuid;

use super::checkpoint;
use super::event::{ChainedEvent, chain_hash};
use crate::keys::ring::KeySet;
use crate::repo::audit as repo;
use crate::repo::checkpoints;

/// Events read per round trip.
const BATCH: i64 = 2000;

const GENESIS: [u8; 32] = [0; 32];

fn broken(chain_seq: i64, event_id: Option<Uuid>, reason: &str) -> Option<BrokenLink> {
    Some(BrokenLink {
        chain_seq,
        event_id,
        reason: reason.to_owned(),
    })
}

/// A position verified before, from which a walk may go on instead of starting over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Its chain position.
    pub chain_seq: i64,
    /// The hash the event there had when it was verified.
    pub hash: Vec<u8>,
}

/// What a walk found, and the verified position it went on from (none: it started at
/// genesis or at the retention checkpoint).
#[derive(Debug, Clone)]
pub struct Walked {
    /// The report.
    pub report: ChainReport,
    /// Where it started, when it went on from an anchor.
    pub from: Option<ChainLink>,
}

fn link(e: &ChainedEvent) -> ChainLink {
    ChainLink {
        chain_seq: e.chain_seq,
        event_id: e.id,
        hash: hex::encode(&e.hash),
    }
}

/// Walks `tenant`'s whole chain. Checkpoint signatures are checked against the keys `keys`
/// publishes now.
pub async fn walk(
    c: &impl GenericClient,
    tenant: Uuid,
    keys: &KeySet,
    issuer: &str,
) -> Result<ChainReport, ApiError> {
    Ok(walk_from(c, tenant, keys, issuer, None).await?.report)
}

/// Walks `tenant`'s chain from `anchor` when it lies beyond the retention checkpoint (the
/// event there must still hold the anchor's hash), else from the checkpoint or genesis.
pub async fn walk_from(
    c: &impl GenericClient,
    tenant: Uuid,
    keys: &KeySet,
    issuer: &str,
    anchor: Option<Anchor>,
) -> Result<Walked, ApiError> {
    let verified_at = OffsetDateTime::now_utc();
    let mut report = ChainReport {
        tenant_id: tenant,
        valid: true,
        checked: 0,
        head: None,
        first_broken: None,
        checkpoint: None,
        verified_at,
    };
    let mut from = None;
    // The head is read first: events appended while the walk runs lie beyond it.
    let (head_seq, head_hash) = repo::head(c, tenant)
        .await?
        .unwrap_or((0, GENESIS.to_vec()));
    let mut expected_prev = GENESIS.to_vec();
    let mut next_seq = 1_i64;
    if let Some(cp) = checkpoints::checkpoints(c, tenant, 1)
        .await?
        .into_iter()
        .next()
    {
        let link = ChainLink {
            chain_seq: cp.chain_seq,
            event_id: cp.event_id,
            hash: hex::encode(&cp.hash),
        };
        if !checkpoint::signature_holds(&cp, keys, issuer, verified_at) {
            report.first_broken = broken(cp.chain_seq, Some(cp.event_id), "checkpoint_invalid");
        }
        expected_prev.clone_from(&cp.hash);
        next_seq = cp.chain_seq + 1;
        report.head = Some(link.clone());
        report.checkpoint = Some(link);
    }
    if let Some(a) = anchor
        && report.first_broken.is_none()
        && a.chain_seq >= next_seq
    {
        let at = repo::chain_from(c, tenant, a.chain_seq, a.chain_seq, 1).await?;
        match at.first() {
            None => report.first_broken = broken(a.chain_seq, None, "missing_event"),
            Some(e) if e.hash != a.hash || chain_hash(&e.prev_hash, e) != e.hash => {
                report.first_broken = broken(e.chain_seq, Some(e.id), "hash_mismatch");
            }
            Some(e) => {
                expected_prev.clone_from(&e.hash);
                next_seq = e.chain_seq + 1;
                report.head = Some(link(e));
                from = Some(link(e));
            }
        }
    }
    while report.first_broken.is_none() {
        let batch = repo::chain_from(c, tenant, next_seq, head_seq, BATCH).await?;
        let done = (batch.len() as i64) < BATCH;
        for e in &batch {
            if e.chain_seq != next_seq {
                report.first_broken = broken(next_seq, None, "missing_event");
                break;
            }
            if e.prev_hash != expected_prev {
                report.first_broken = broken(e.chain_seq, Some(e.id), "prev_hash_mismatch");
                break;
            }
            if chain_hash(&e.prev_hash, e) != e.hash {
                report.first_broken = broken(e.chain_seq, Some(e.id), "hash_mismatch");
                break;
            }
            report.checked += 1;
            expected_prev.clone_from(&e.hash);
            next_seq += 1;
            report.head = Some(link(e));
        }
        if done {
            break;
        }
    }
    let last_seq = next_seq - 1;
    if report.first_broken.is_none() && (last_seq != head_seq || expected_prev != head_hash) {
        // Events at the end are gone, or the recorded head is not the chain's end.
        report.first_broken = broken(last_seq.min(head_seq) + 1, None, "head_mismatch");
    }
    report.valid = report.first_broken.is_none();
    Ok(Walked { report, from })
}

/// Keeps `tenant`'s verified position in step with a walk's result: a valid walk moves it
/// to the head; a full walk that found a break removes it, so later walks start over and
/// report the break again.
pub async fn record_position(
    c: &impl GenericClient,
    report: &ChainReport,
    full: bool,
) -> Result<(), ApiError> {
    match &report.head {
        Some(head) if report.valid => {
            let hash = hex::decode(&head.hash).map_err(ApiError::internal)?;
            checkpoints::store_verified_position(
                c,
                report.tenant_id,
                head.chain_seq,
                &hash,
                report.verified_at,
            )
            .await?;
        }
        _ if !report.valid && full => {
            checkpoints::forget_verified_position(c, report.tenant_id).await?;
        }
        _ => {}
    }
    Ok(())
}

/// Walks every chain and stores each result; returns whether all hold.
pub async fn verify_all(db: &Db, keys: &KeySet, issuer: &str) -> Result<bool, ApiError> {
    let c = db.get().await?;
    let mut all = true;
    for tenant in repo::chains(&c).await? {
        let report = walk(&c, tenant, keys, issuer).await?;
        if !report.valid {
            all = false;
            tracing::error!(
                tenant.id = %tenant,
                broken = ?report.first_broken,
                "audit chain verification failed"
            );
        }
        record_position(&c, &report, true).await?;
        let json = serde_json::to_value(&report).unwrap_or_default();
        checkpoints::store_verification(&c, tenant, report.valid, &json, report.verified_at)
            .await?;
    }
    Ok(all)
}
