//! Writes of the projection, and reading one listing.

use domain::{AgentSnapshot, FeedCursor};
use platform::db::GenericClient;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::listing::Listing;

/// Columns of [`Listing`], in [`row`]'s order.
pub const COLUMNS: &str = "l.id, l.publisher, l.name, l.description, l.agent_type, l.version, \
    l.capabilities, l.tags, l.deployment_env, l.did, l.public_jwk, l.created_at, l.updated_at";

/// A [`Listing`] from a row selected with [`COLUMNS`] first.
pub fn row(r: &tokio_postgres::Row) -> Listing {
    Listing {
        id: r.get(0),
        publisher: r.get(1),
        name: r.get(2),
        description: r.get(3),
        agent_type: r.get(4),
        version: r.get(5),
        capabilities: r.get(6),
        tags: r.get(7),
        deployment_env: r.get(8),
        did: r.get(9),
        public_jwk: r.get(10),
        created_at: r.get(11),
        updated_at: r.get(12),
    }
}

/// The state of an agent carried by one feed event.
#[derive(Debug)]
pub struct AgentState<'a> {
    /// The agent, as identity shows it.
    pub agent: &'a AgentSnapshot,
    /// Its tenant.
    pub tenant_id: Uuid,
    /// Its tenant's name.
    pub publisher: &'a str,
    /// Its DID key.
    pub public_jwk: Option<&'a Value>,
    /// `agent.created_at`, parsed.
    pub created_at: OffsetDateTime,
    /// `agent.updated_at`, parsed.
    pub updated_at: OffsetDateTime,
    /// The event's position.
    pub position: FeedCursor,
}

const UPSERT: &str = "
    INSERT INTO listings (id, tenant_id, publisher, name, description, agent_type, version,
                          capabilities, tags, deployment_env, status, listed, did, public_jwk,
                          created_at, updated_at, feed_tx, feed_seq, revision, changed_version)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 1, $19)
    ON CONFLICT (id) DO UPDATE SET
        tenant_id = excluded.tenant_id, publisher = excluded.publisher, name = excluded.name,
        description = excluded.description, agent_type = excluded.agent_type,
        version = excluded.version, capabilities = excluded.capabilities, tags = excluded.tags,
        deployment_env = excluded.deployment_env, status = excluded.status,
        listed = excluded.listed, did = excluded.did, public_jwk = excluded.public_jwk,
        created_at = excluded.created_at, updated_at = excluded.updated_at,
        feed_tx = excluded.feed_tx, feed_seq = excluded.feed_seq,
        revision = listings.revision + 1, changed_version = excluded.changed_version
    WHERE (listings.feed_tx, listings.feed_seq) < (excluded.feed_tx, excluded.feed_seq)";

/// Writes the agent's state unless the row already reflects this event or a later one.
/// Returns whether it was written.
pub async fn upsert(
    c: &impl GenericClient,
    s: &AgentState<'_>,
    version: i64,
) -> Result<bool, tokio_postgres::Error> {
    let a = s.agent;
    let stmt = c.prepare_cached(UPSERT).await?;
    let n = c
        .execute(
            &stmt,
            &[
                &a.id,
                &s.tenant_id,
                &s.publisher,
                &a.name,
                &a.description,
                &a.agent_type,
                &a.version,
                &a.capabilities,
                &a.tags,
                &a.deployment_env,
                &a.status,
                &a.listed,
                &a.did,
                &s.public_jwk,
                &s.created_at,
                &s.updated_at,
                &s.position.tx,
                &s.position.seq,
                &version,
            ],
        )
        .await?;
    Ok(n == 1)
}

/// Renames a tenant's listings (a `tenant.updated` event at `position`). Returns how many
/// listings changed.
pub async fn rename_publisher(
    c: &impl GenericClient,
    tenant_id: Uuid,
    name: &str,
    position: FeedCursor,
    version: i64,
) -> Result<u64, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(
            "UPDATE listings
                SET publisher = $2, feed_tx = $3, feed_seq = $4, revision = revision + 1,
                    changed_version = $5
              WHERE tenant_id = $1 AND publisher <> $2 AND (feed_tx, feed_seq) < ($3, $4)",
        )
        .await?;
    c.execute(
        &stmt,
        &[&tenant_id, &name, &position.tx, &position.seq, &version],
    )
    .await
}

/// Removes every listing (before a rebuild from the start of the feed).
pub async fn delete_all(c: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    c.batch_execute("TRUNCATE listings").await
}

/// A visible listing.
pub async fn get_visible(
    c: &impl GenericClient,
    id: Uuid,
) -> Result<Option<Listing>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM listings l WHERE l.id = $1 AND l.visible"
        ))
        .await?;
    Ok(c.query_opt(&stmt, &[&id]).await?.as_ref().map(row))
}
