//! SQL of `agent_delegations`: standing grants letting one agent act for another.

use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

/// A standing delegation: `actor_agent_id` may act for `agent_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationRow {
    /// Id.
    pub id: Uuid,
    /// Tenant of both agents.
    pub tenant_id: Uuid,
    /// The delegator.
    pub agent_id: Uuid,
    /// Who may act for it.
    pub actor_agent_id: Uuid,
    /// The scopes the actor may use (at most).
    pub scopes: Vec<String>,
    /// How many actors a chain starting with this grant may hold.
    pub max_depth: i32,
    /// When the grant ends, if it does.
    pub expires_at: Option<OffsetDateTime>,
    /// Created.
    pub created_at: OffsetDateTime,
}

const COLUMNS: &str =
    "id, tenant_id, agent_id, actor_agent_id, scopes, max_depth, expires_at, created_at";

fn row(r: &tokio_postgres::Row) -> Result<DelegationRow, tokio_postgres::Error> {
    Ok(DelegationRow {
        id: r.try_get(0)?,
        tenant_id: r.try_get(1)?,
        agent_id: r.try_get(2)?,
        actor_agent_id: r.try_get(3)?,
        scopes: r.try_get(4)?,
        max_depth: r.try_get(5)?,
        expires_at: r.try_get(6)?,
        created_at: r.try_get(7)?,
    })
}

/// Locks the delegator and counts its grants.
pub async fn lock_agent_and_count(
    c: &impl GenericClient,
    agent: Uuid,
) -> Result<i64, tokio_postgres::Error> {
    c.execute("SELECT 1 FROM agents WHERE id = $1 FOR UPDATE", &[&agent])
        .await?;
    c.query_one(
        "SELECT count(*) FROM agent_delegations WHERE agent_id = $1",
        &[&agent],
    )
    .await?
    .try_get(0)
}

/// Stores a grant.
pub async fn insert(
    c: &impl GenericClient,
    d: &DelegationRow,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        &format!(
            "INSERT INTO agent_delegations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ),
        &[
            &d.id,
            &d.tenant_id,
            &d.agent_id,
            &d.actor_agent_id,
            &d.scopes,
            &d.max_depth,
            &d.expires_at,
            &d.created_at,
        ],
    )
    .await?;
    Ok(())
}

/// One grant of an agent of a tenant (`lock`: `FOR UPDATE`).
pub async fn get(
    c: &impl GenericClient,
    tenant: Uuid,
    agent: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<DelegationRow>, tokio_postgres::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    c.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM agent_delegations
              WHERE tenant_id = $1 AND agent_id = $2 AND id = $3{lock}"
        ),
        &[&tenant, &agent, &id],
    )
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// Up to `limit` grants of an agent after `after`, in creation order.
pub async fn list(
    c: &impl GenericClient,
    tenant: Uuid,
    agent: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<DelegationRow>, tokio_postgres::Error> {
    let (t, id) = after.unzip();
    c.query(
        &format!(
            "SELECT {COLUMNS} FROM agent_delegations
              WHERE tenant_id = $1 AND agent_id = $2
                AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4))
              ORDER BY created_at, id LIMIT $5"
        ),
        &[&tenant, &agent, &t, &id, &limit],
    )
    .await?
    .iter()
    .map(row)
    .collect()
}

/// Removes a grant.
pub async fn delete(c: &impl GenericClient, id: Uuid) -> Result<(), tokio_postgres::Error> {
    c.execute("DELETE FROM agent_delegations WHERE id = $1", &[&id])
        .await?;
    Ok(())
}

/// The grants in force from `agent` to `actor`, oldest first.
pub async fn between(
    c: &impl GenericClient,
    agent: Uuid,
    actor: Uuid,
) -> Result<Vec<DelegationRow>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM agent_delegations
              WHERE agent_id = $1 AND actor_agent_id = $2
                AND (expires_at IS NULL OR expires_at > now())
              ORDER BY created_at, id"
        ))
        .await?;
    c.query(&stmt, &[&agent, &actor])
        .await?
        .iter()
        .map(row)
        .collect()
}
