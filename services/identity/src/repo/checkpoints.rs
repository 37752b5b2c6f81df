//! SQL of audit retention and verification: checkpoints, the retention cut and removal, and
//! the stored results of chain verification.

use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{EVENT_COLUMNS, event};
use crate::audit::event::{ChainedEvent, format_time};

/// A stored checkpoint.
#[derive(Debug, Clone)]
pub struct CheckpointRow {
    /// Whose chain.
    pub tenant_id: Uuid,
    /// Last removed position.
    pub chain_seq: i64,
    /// Last removed event.
    pub event_id: Uuid,
    /// Its hash.
    pub hash: Vec<u8>,
    /// When that event happened.
    pub occurred_at: OffsetDateTime,
    /// When the checkpoint was made.
    pub created_at: OffsetDateTime,
    /// Key of the current signature.
    pub kid: String,
    /// The signed statement.
    pub jwt: String,
    /// When it was (re)signed.
    pub signed_at: OffsetDateTime,
}

const CHECKPOINT_COLUMNS: &str =
    "tenant_id, chain_seq, event_id, hash, occurred_at, created_at, kid, jwt, signed_at";

fn checkpoint(r: &tokio_postgres::Row) -> CheckpointRow {
    CheckpointRow {
        tenant_id: r.get(0),
        chain_seq: r.get(1),
        event_id: r.get(2),
        hash: r.get(3),
        occurred_at: r.get(4),
        created_at: r.get(5),
        kid: r.get(6),
        jwt: r.get(7),
        signed_at: r.get(8),
    }
}

/// A tenant's checkpoints, newest first.
pub async fn checkpoints(
    c: &impl GenericClient,
    tenant: Uuid,
    limit: i64,
) -> Result<Vec<CheckpointRow>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints
              WHERE tenant_id = $1 ORDER BY chain_seq DESC LIMIT $2"
        ))
        .await?;
    let rows = c.query(&stmt, &[&tenant, &limit]).await?;
    Ok(rows.iter().map(checkpoint).collect())
}

/// The newest checkpoint of every tenant whose signature is not by `kid`.
pub async fn latest_checkpoints_not_signed_by(
    c: &impl GenericClient,
    kid: &str,
) -> Result<Vec<CheckpointRow>, tokio_postgres::Error> {
    let rows = c
        .query(
            &format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM (
                    SELECT DISTINCT ON (tenant_id) {CHECKPOINT_COLUMNS}
                      FROM audit_checkpoints ORDER BY tenant_id, chain_seq DESC) latest
                  WHERE kid <> $1"
            ),
            &[&kid],
        )
        .await?;
    Ok(rows.iter().map(checkpoint).collect())
}

/// Stores a new checkpoint.
pub async fn insert_checkpoint(
    c: &impl GenericClient,
    cp: &CheckpointRow,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        &format!(
            "INSERT INTO audit_checkpoints ({CHECKPOINT_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ),
        &[
            &cp.tenant_id,
            &cp.chain_seq,
            &cp.event_id,
            &cp.hash,
            &cp.occurred_at,
            &cp.created_at,
            &cp.kid,
            &cp.jwt,
            &cp.signed_at,
        ],
    )
    .await?;
    Ok(())
}

/// Replaces a checkpoint's signature.
pub async fn resign_checkpoint(
    c: &impl GenericClient,
    tenant: Uuid,
    chain_seq: i64,
    kid: &str,
    jwt: &str,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "UPDATE audit_checkpoints SET kid = $3, jwt = $4, signed_at = now()
          WHERE tenant_id = $1 AND chain_seq = $2",
        &[&tenant, &chain_seq, &kid, &jwt],
    )
    .await?;
    Ok(())
}

/// Whether `tenant`'s oldest remaining event happened before `before`.
pub async fn oldest_is_before(
    c: &impl GenericClient,
    tenant: Uuid,
    before: OffsetDateTime,
) -> Result<bool, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(
            "SELECT occurred_at < $2 FROM audit_events WHERE tenant_id = $1
              ORDER BY chain_seq LIMIT 1",
        )
        .await?;
    Ok(c.query_opt(&stmt, &[&tenant, &before])
        .await?
        .is_some_and(|r| r.get(0)))
}

/// Where retention may cut `tenant`'s chain: the last of its oldest `max` events such that
/// it and every event before it happened before `before`.
pub async fn retention_cut(
    c: &impl GenericClient,
    tenant: Uuid,
    before: OffsetDateTime,
    max: i64,
) -> Result<Option<ChainedEvent>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(&format!(
            "WITH oldest AS (
                 SELECT chain_seq, occurred_at FROM audit_events
                  WHERE tenant_id = $1 ORDER BY chain_seq LIMIT $3),
             first_young AS (
                 SELECT min(chain_seq) AS seq FROM oldest WHERE occurred_at >= $2)
             SELECT {EVENT_COLUMNS} FROM audit_events
              WHERE tenant_id = $1
                AND chain_seq = (SELECT max(o.chain_seq) FROM oldest o, first_young y
                                  WHERE y.seq IS NULL OR o.chain_seq < y.seq)"
        ))
        .await?;
    c.query_opt(&stmt, &[&tenant, &before, &max])
        .await?
        .as_ref()
        .map(event)
        .transpose()
}

/// Removes a tenant's events up to `chain_seq` that happened before `before`, in the
/// caller's transaction: the append-only trigger lets retention delete only behind the
/// horizon the transaction declares.
pub async fn delete_through(
    c: &impl GenericClient,
    tenant: Uuid,
    chain_seq: i64,
    before: OffsetDateTime,
) -> Result<u64, tokio_postgres::Error> {
    c.execute(
        "SELECT set_config('agentidp.audit_retention_before', $1, true)",
        &[&format_time(before)],
    )
    .await?;
    c.execute(
        "DELETE FROM audit_events WHERE tenant_id = $1 AND chain_seq <= $2",
        &[&tenant, &chain_seq],
    )
    .await
}

/// Stores the latest background verification of a chain.
pub async fn store_verification(
    c: &impl GenericClient,
    tenant: Uuid,
    valid: bool,
    report: &serde_json::Value,
    at: OffsetDateTime,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "INSERT INTO audit_verifications (tenant_id, valid, report, verified_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE
            SET valid = excluded.valid, report = excluded.report,
                verified_at = excluded.verified_at",
        &[&tenant, &valid, report, &at],
    )
    .await?;
    Ok(())
}

/// Whether every chain passed its latest background verification (`None`: none ran yet).
pub async fn all_verified(c: &impl GenericClient) -> Result<Option<bool>, tokio_postgres::Error> {
    let row = c
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE NOT valid) FROM audit_verifications",
            &[],
        )
        .await?;
    let (total, broken): (i64, i64) = (row.get(0), row.get(1));
    Ok((total > 0).then_some(broken == 0))
}

/// The latest stored verification of a tenant's chain.
pub async fn verification(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<Option<(serde_json::Value, OffsetDateTime)>, tokio_postgres::Error> {
    Ok(c.query_opt(
        "SELECT report, verified_at FROM audit_verifications WHERE tenant_id = $1",
        &[&tenant],
    )
    .await?
    .map(|r| (r.get(0), r.get(1))))
}

/// Where a tenant's chain was last verified intact: `(chain_seq, hash)`.
pub async fn verified_position(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<Option<(i64, Vec<u8>)>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached("SELECT chain_seq, hash FROM audit_verified_positions WHERE tenant_id = $1")
        .await?;
    Ok(c.query_opt(&stmt, &[&tenant])
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

/// Records that `tenant`'s chain holds up to `chain_seq` (never moves back).
pub async fn store_verified_position(
    c: &impl GenericClient,
    tenant: Uuid,
    chain_seq: i64,
    hash: &[u8],
    at: OffsetDateTime,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "INSERT INTO audit_verified_positions (tenant_id, chain_seq, hash, verified_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE
            SET chain_seq = excluded.chain_seq, hash = excluded.hash,
                verified_at = excluded.verified_at
          WHERE audit_verified_positions.chain_seq <= excluded.chain_seq",
        &[&tenant, &chain_seq, &hash, &at],
    )
    .await?;
    Ok(())
}

/// Forgets where `tenant`'s chain was verified (a full walk found it broken).
pub async fn forget_verified_position(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "DELETE FROM audit_verified_positions WHERE tenant_id = $1",
        &[&tenant],
    )
    .await?;
    Ok(())
}
