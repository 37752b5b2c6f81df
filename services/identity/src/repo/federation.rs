//! SQL of `trust_policies`: which external OIDC tokens a tenant exchanges for agent tokens.

use domain::{AgentStatus, FederationProvider, TenantStatus};
use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

use super::stored;

/// A trust policy.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustPolicyRow {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub tenant_id: Uuid,
    /// Display name.
    pub name: String,
    /// Who issues the external tokens.
    pub provider: FederationProvider,
    /// The external tokens' `iss`.
    pub issuer: String,
    /// The `aud` the external tokens must carry.
    pub audience: String,
    /// The agent whose tokens are issued.
    pub agent_id: Uuid,
    /// The scopes issued tokens carry (at most).
    pub scopes: Vec<String>,
    /// Claim → value, every one of which the external token must carry.
    pub conditions: serde_json::Map<String, serde_json::Value>,
    /// Lifetime of issued tokens.
    pub token_ttl_seconds: i32,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

/// A policy as the exchange needs it: with its agent's and tenant's state.
#[derive(Debug, Clone)]
pub struct MatchRow {
    /// The policy.
    pub policy: TrustPolicyRow,
    /// Its agent's status.
    pub agent_status: AgentStatus,
    /// Its agent's capabilities.
    pub agent_capabilities: Vec<String>,
    /// Its tenant's status.
    pub tenant_status: TenantStatus,
}

const COLUMNS: &str = "id, tenant_id, name, provider, issuer, audience, agent_id, scopes, \
                       conditions, token_ttl_seconds, created_at, updated_at";

fn row(r: &tokio_postgres::Row) -> Result<TrustPolicyRow, tokio_postgres::Error> {
    let conditions: serde_json::Value = r.try_get(8)?;
    Ok(TrustPolicyRow {
        id: r.try_get(0)?,
        tenant_id: r.try_get(1)?,
        name: r.try_get(2)?,
        provider: stored::get(r, 3)?,
        issuer: r.try_get(4)?,
        audience: r.try_get(5)?,
        agent_id: r.try_get(6)?,
        scopes: r.try_get(7)?,
        conditions: match conditions {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        },
        token_ttl_seconds: r.try_get(9)?,
        created_at: r.try_get(10)?,
        updated_at: r.try_get(11)?,
    })
}

fn values(p: &TrustPolicyRow) -> serde_json::Value {
    serde_json::Value::Object(p.conditions.clone())
}

/// Locks the (issuer, audience) pair for the transaction and the tenant's policies; returns
/// whether another tenant holds the pair, and how many policies the tenant has.
pub async fn lock_pair(
    c: &impl GenericClient,
    tenant: Uuid,
    issuer: &str,
    audience: &str,
) -> Result<(bool, i64), tokio_postgres::Error> {
    c.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('trust_policies:' || $1 || ' ' || $2, 0))",
        &[&issuer, &audience],
    )
    .await?;
    c.execute("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", &[&tenant])
        .await?;
    let r = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM trust_policies
                             WHERE issuer = $2 AND audience = $3 AND tenant_id <> $1),
                    (SELECT count(*) FROM trust_policies WHERE tenant_id = $1)",
            &[&tenant, &issuer, &audience],
        )
        .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

/// Stores a new policy.
pub async fn insert(
    c: &impl GenericClient,
    p: &TrustPolicyRow,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        &format!(
            "INSERT INTO trust_policies ({COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ),
        &[
            &p.id,
            &p.tenant_id,
            &p.name,
            &p.provider.as_str(),
            &p.issuer,
            &p.audience,
            &p.agent_id,
            &p.scopes,
            &values(p),
            &p.token_ttl_seconds,
            &p.created_at,
            &p.updated_at,
        ],
    )
    .await?;
    Ok(())
}

/// Saves a changed policy.
pub async fn update(
    c: &impl GenericClient,
    p: &TrustPolicyRow,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "UPDATE trust_policies
            SET name = $3, issuer = $4, audience = $5, agent_id = $6, scopes = $7,
                conditions = $8, token_ttl_seconds = $9, updated_at = $10
          WHERE tenant_id = $1 AND id = $2",
        &[
            &p.tenant_id,
            &p.id,
            &p.name,
            &p.issuer,
            &p.audience,
            &p.agent_id,
            &p.scopes,
            &values(p),
            &p.token_ttl_seconds,
            &p.updated_at,
        ],
    )
    .await?;
    Ok(())
}

/// One policy of a tenant (`lock`: `FOR UPDATE`).
pub async fn get(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<TrustPolicyRow>, tokio_postgres::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM trust_policies WHERE tenant_id = $1 AND id = $2{lock}"),
        &[&tenant, &id],
    )
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// Up to `limit` policies of a tenant after `after`, in creation order.
pub async fn list(
    c: &impl GenericClient,
    tenant: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<TrustPolicyRow>, tokio_postgres::Error> {
    let (t, id) = after.unzip();
    c.query(
        &format!(
            "SELECT {COLUMNS} FROM trust_policies
              WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
              ORDER BY created_at, id LIMIT $4"
        ),
        &[&tenant, &t, &id, &limit],
    )
    .await?
    .iter()
    .map(row)
    .collect()
}

/// Removes a policy.
pub async fn delete(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "DELETE FROM trust_policies WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &id],
    )
    .await?;
    Ok(())
}

/// Every policy accepting tokens of `issuer`, with its agent's and tenant's state.
pub async fn for_issuer(
    c: &impl GenericClient,
    issuer: &str,
) -> Result<Vec<MatchRow>, tokio_postgres::Error> {
    let cols = COLUMNS
        .split(", ")
        .map(|col| format!("p.{}", col.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    c.query(
        &format!(
            "SELECT {cols}, a.status, a.capabilities, t.status
               FROM trust_policies p
               JOIN agents a ON a.id = p.agent_id
               JOIN tenants t ON t.id = p.tenant_id
              WHERE p.issuer = $1
              ORDER BY p.created_at, p.id"
        ),
        &[&issuer],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(MatchRow {
            policy: row(r)?,
            agent_status: stored::get(r, 12)?,
            agent_capabilities: r.try_get(13)?,
            tenant_status: stored::get(r, 14)?,
        })
    })
    .collect()
}
