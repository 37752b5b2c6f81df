//! SQL of `agents`.

use platform::db::GenericClient;
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// An agent row.
#[derive(Debug, Clone)]
pub struct AgentRow {
    /// Id.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// `AgentType` wire form.
    pub agent_type: String,
    /// Semantic version.
    pub version: String,
    /// `resource:action` strings.
    pub capabilities: Vec<String>,
    /// Responsible person or team.
    pub owner: String,
    /// `DeploymentEnv` wire form.
    pub deployment_env: String,
    /// Labels.
    pub tags: Vec<String>,
    /// Shown in the marketplace.
    pub listed: bool,
    /// `AgentStatus` wire form.
    pub status: String,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

/// The writable fields of an agent, validated.
#[derive(Debug, Clone)]
pub struct AgentFields {
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// `AgentType` wire form.
    pub agent_type: String,
    /// Semantic version.
    pub version: String,
    /// `resource:action` strings.
    pub capabilities: Vec<String>,
    /// Responsible person or team.
    pub owner: String,
    /// `DeploymentEnv` wire form.
    pub deployment_env: String,
    /// Labels.
    pub tags: Vec<String>,
    /// Shown in the marketplace.
    pub listed: bool,
}

const COLUMNS: &str = "id, tenant_id, name, description, agent_type, version, capabilities, owner, \
                       deployment_env, tags, listed, status, created_at, updated_at";

fn row(r: &tokio_postgres::Row) -> AgentRow {
    AgentRow {
        id: r.get(0),
        tenant_id: r.get(1),
        name: r.get(2),
        description: r.get(3),
        agent_type: r.get(4),
        version: r.get(5),
        capabilities: r.get(6),
        owner: r.get(7),
        deployment_env: r.get(8),
        tags: r.get(9),
        listed: r.get(10),
        status: r.get(11),
        created_at: r.get(12),
        updated_at: r.get(13),
    }
}

/// Creates an agent.
pub async fn insert(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
    f: &AgentFields,
) -> Result<AgentRow, tokio_postgres::Error> {
    let r = c
        .query_one(
            &format!(
                "INSERT INTO agents (id, tenant_id, name, description, agent_type, version,
                        capabilities, owner, deployment_env, tags, listed)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &tenant,
                &f.name,
                &f.description,
                &f.agent_type,
                &f.version,
                &f.capabilities,
                &f.owner,
                &f.deployment_env,
                &f.tags,
                &f.listed,
            ],
        )
        .await?;
    Ok(row(&r))
}

/// An agent of `tenant`.
pub async fn get(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<AgentRow>, tokio_postgres::Error> {
    Ok(c.query_opt(
        &format!("SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 AND id = $2"),
        &[&tenant, &id],
    )
    .await?
    .map(|r| row(&r)))
}

/// An agent of `tenant`, locked for the rest of the transaction.
pub async fn get_for_update(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<AgentRow>, tokio_postgres::Error> {
    Ok(c.query_opt(
        &format!("SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 AND id = $2 FOR UPDATE"),
        &[&tenant, &id],
    )
    .await?
    .map(|r| row(&r)))
}

/// Replaces the writable fields.
pub async fn update(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
    f: &AgentFields,
) -> Result<AgentRow, tokio_postgres::Error> {
    let r = c
        .query_one(
            &format!(
                "UPDATE agents SET name = $3, description = $4, agent_type = $5, version = $6,
                        capabilities = $7, owner = $8, deployment_env = $9, tags = $10,
                        listed = $11, updated_at = now()
                  WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
            ),
            &[
                &tenant,
                &id,
                &f.name,
                &f.description,
                &f.agent_type,
                &f.version,
                &f.capabilities,
                &f.owner,
                &f.deployment_env,
                &f.tags,
                &f.listed,
            ],
        )
        .await?;
    Ok(row(&r))
}

/// Sets the lifecycle status.
pub async fn set_status(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
    status: &str,
) -> Result<AgentRow, tokio_postgres::Error> {
    let r = c
        .query_one(
            &format!(
                "UPDATE agents SET status = $3, updated_at = now()
                  WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
            ),
            &[&tenant, &id, &status],
        )
        .await?;
    Ok(row(&r))
}

/// How many agents of `tenant` are not decommissioned.
pub async fn count_live(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<i64, tokio_postgres::Error> {
    Ok(c.query_one(
        "SELECT count(*) FROM agents WHERE tenant_id = $1 AND status <> 'decommissioned'",
        &[&tenant],
    )
    .await?
    .get(0))
}

/// List filters; `None` means any.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Status.
    pub status: Option<String>,
    /// Type.
    pub agent_type: Option<String>,
    /// Environment.
    pub deployment_env: Option<String>,
    /// Carries this tag.
    pub tag: Option<String>,
    /// Strictly after this `(created_at, id)`.
    pub after: Option<(OffsetDateTime, Uuid)>,
}

/// One page in `(created_at, id)` order. Only the conditions in use appear in the SQL, so the
/// `(tenant_id, created_at, id)` index serves every page.
pub async fn list(
    c: &impl GenericClient,
    tenant: Uuid,
    f: &ListFilter,
    limit: i64,
) -> Result<Vec<AgentRow>, tokio_postgres::Error> {
    let mut sql = format!("SELECT {COLUMNS} FROM agents WHERE tenant_id = $1");
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant];
    let tag_array = f.tag.as_ref().map(|t| vec![t.clone()]);
    for (column, value) in [
        ("status", &f.status),
        ("agent_type", &f.agent_type),
        ("deployment_env", &f.deployment_env),
    ] {
        if let Some(v) = value {
            params.push(v);
            sql.push_str(&format!(" AND {column} = ${}", params.len()));
        }
    }
    if let Some(t) = &tag_array {
        params.push(t);
        sql.push_str(&format!(" AND tags @> ${}", params.len()));
    }
    if let Some((at, id)) = &f.after {
        params.push(at);
        params.push(id);
        sql.push_str(&format!(
            " AND (created_at, id) > (${}, ${})",
            params.len() - 1,
            params.len()
        ));
    }
    params.push(&limit);
    sql.push_str(&format!(" ORDER BY created_at, id LIMIT ${}", params.len()));
    Ok(c.query(&sql, &params).await?.iter().map(row).collect())
}

/// An agent with its DID key, by id alone: DID documents are public by design.
pub async fn get_public_with_key(
    c: &impl GenericClient,
    id: Uuid,
) -> Result<Option<(AgentRow, serde_json::Value)>, tokio_postgres::Error> {
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("a.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(c.query_opt(
        &format!(
            "SELECT {cols}, k.public_jwk FROM agents a
                   JOIN agent_keys k ON k.agent_id = a.id
                  WHERE a.id = $1"
        ),
        &[&id],
    )
    .await?
    .map(|r| (row(&r), r.get(14))))
}

/// The public JWK of an agent's DID key.
pub async fn public_key(
    c: &impl GenericClient,
    id: Uuid,
) -> Result<Option<serde_json::Value>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached("SELECT public_jwk FROM agent_keys WHERE agent_id = $1")
        .await?;
    Ok(c.query_opt(&stmt, &[&id]).await?.map(|r| r.get(0)))
}

/// Locks the tenant's row (serializing agent creation per tenant) and counts its agents that
/// are not decommissioned (what a tier's `max_agents` limits).
pub async fn lock_tenant_and_count_live(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<i64, tokio_postgres::Error> {
    c.execute("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", &[&tenant])
        .await?;
    let r = c
        .query_one(
            "SELECT count(*) FROM agents WHERE tenant_id = $1 AND status <> 'decommissioned'",
            &[&tenant],
        )
        .await?;
    Ok(r.get(0))
}
