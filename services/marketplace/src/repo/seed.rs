//! Synthetic benchmark listings: bulk insert and purge.

use std::pin::pin;

use platform::db::{GenericClient, Transaction};
use time::OffsetDateTime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

/// One synthetic listing.
#[derive(Debug, Clone)]
pub struct SyntheticListing {
    /// UUIDv7 of its registration time.
    pub id: Uuid,
    /// Its publisher's id.
    pub tenant_id: Uuid,
    /// Its publisher's name.
    pub publisher: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Agent type.
    pub agent_type: &'static str,
    /// Version.
    pub version: String,
    /// Capabilities.
    pub capabilities: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Deployment environment.
    pub deployment_env: &'static str,
    /// Status (a few are suspended or decommissioned, hence hidden).
    pub status: &'static str,
    /// Listed (a few are not, hence hidden).
    pub listed: bool,
    /// `did:web:...`.
    pub did: String,
    /// Registration time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

const COPY: &str = "COPY listings (id, tenant_id, publisher, name, description, agent_type, \
    version, capabilities, tags, deployment_env, status, listed, did, public_jwk, created_at, \
    updated_at, feed_tx, feed_seq, revision, changed_version) FROM STDIN (FORMAT binary)";

const TYPES: [Type; 20] = [
    Type::UUID,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT,
    Type::TEXT,
    Type::BOOL,
    Type::TEXT,
    Type::JSONB,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::INT8,
    Type::INT4,
    Type::INT8,
];

/// Inserts `rows` with binary COPY (in the caller's transaction), stamped with `version`;
/// `first_seq` numbers them (their feed position is `(0, seq)`: not from the feed).
pub async fn copy(
    tx: &Transaction<'_>,
    rows: &[SyntheticListing],
    first_seq: i64,
    version: i64,
) -> anyhow::Result<u64> {
    let sink = tx.copy_in(COPY).await?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &TYPES));
    let no_key: Option<serde_json::Value> = None;
    let (zero, one) = (0_i64, 1_i32);
    for (i, l) in rows.iter().enumerate() {
        let seq = first_seq + i as i64;
        let values: [&(dyn ToSql + Sync); 20] = [
            &l.id,
            &l.tenant_id,
            &l.publisher,
            &l.name,
            &l.description,
            &l.agent_type,
            &l.version,
            &l.capabilities,
            &l.tags,
            &l.deployment_env,
            &l.status,
            &l.listed,
            &l.did,
            &no_key,
            &l.created_at,
            &l.updated_at,
            &zero,
            &seq,
            &one,
            &version,
        ];
        writer.as_mut().write(&values).await?;
    }
    Ok(writer.finish().await?)
}

/// Deletes up to `limit` synthetic listings; returns how many.
pub async fn purge_some(c: &impl GenericClient, limit: i64) -> Result<u64, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(
            "DELETE FROM listings WHERE id IN (
                 SELECT id FROM listings WHERE feed_tx = 0 LIMIT $1)",
        )
        .await?;
    c.execute(&stmt, &[&limit]).await
}

/// Refreshes the planner's statistics and the visibility map after a bulk load.
pub async fn vacuum_analyze(c: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    // One statement per call: VACUUM refuses to run in the implicit transaction of a batch.
    c.batch_execute("SET statement_timeout = 0").await?;
    c.batch_execute("VACUUM (ANALYZE) listings").await?;
    c.batch_execute("RESET statement_timeout").await
}
