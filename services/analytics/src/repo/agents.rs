//! SQL of `agents`: the latest snapshot of each agent from its events.

use domain::AgentSnapshot;
use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

/// An agent as the projection holds it.
#[derive(Debug, Clone)]
pub struct AgentRow {
    /// The snapshot of its latest event.
    pub snapshot: AgentSnapshot,
    /// The tenant's name at that event.
    pub publisher: Option<String>,
    /// Whether its event carried the DID key's public JWK.
    pub has_did_key: bool,
}

/// The state an agent event leaves an agent in.
#[derive(Debug)]
pub struct AgentUpsert<'a> {
    /// The tenant.
    pub tenant_id: Uuid,
    /// The snapshot.
    pub snapshot: &'a AgentSnapshot,
    /// The tenant's name.
    pub publisher: Option<&'a str>,
    /// Whether a DID key came with it.
    pub has_did_key: bool,
    /// Registration time.
    pub created_at: OffsetDateTime,
    /// Time of this change.
    pub updated_at: OffsetDateTime,
}

/// Stores an agent's latest state.
pub async fn upsert(c: &impl GenericClient, a: &AgentUpsert<'_>) -> anyhow::Result<()> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO agents (id, tenant_id, status, snapshot, publisher, has_did_key,
                                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id) DO UPDATE SET
                status = excluded.status, snapshot = excluded.snapshot,
                publisher = excluded.publisher, has_did_key = excluded.has_did_key,
                updated_at = excluded.updated_at",
        )
        .await?;
    let snapshot = serde_json::to_value(a.snapshot)?;
    c.execute(
        &stmt,
        &[
            &a.snapshot.id,
            &a.tenant_id,
            &a.snapshot.status,
            &snapshot,
            &a.publisher,
            &a.has_did_key,
            &a.created_at,
            &a.updated_at,
        ],
    )
    .await?;
    Ok(())
}

fn row(r: &tokio_postgres::Row) -> anyhow::Result<AgentRow> {
    Ok(AgentRow {
        snapshot: serde_json::from_value(r.get(0))?,
        publisher: r.get(1),
        has_did_key: r.get(2),
    })
}

/// A tenant's agents with `status` (all statuses when `None`), oldest first.
pub async fn list(
    c: &impl GenericClient,
    tenant: Uuid,
    status: Option<&str>,
) -> anyhow::Result<Vec<AgentRow>> {
    let stmt = c
        .prepare_cached(
            "SELECT snapshot, publisher, has_did_key FROM agents
              WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2)
              ORDER BY created_at, id",
        )
        .await?;
    c.query(&stmt, &[&tenant, &status])
        .await?
        .iter()
        .map(row)
        .collect()
}
