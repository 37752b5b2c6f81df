//! SQL of `agents` and `agent_keys`.
//!
//! The writable columns are the fields of [`AgentFields`], named by
//! [`AgentFields::NAMES`]: the statements are built from that list, and a row's fields are
//! read in its order.

use std::sync::LazyLock;

use domain::{AgentFields, AgentStatus, AgentType, DeploymentEnv};
use platform::db::GenericClient;
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::stored;

/// An agent row.
#[derive(Debug, Clone)]
pub struct AgentRow {
    /// Id.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The writable fields.
    pub fields: AgentFields,
    /// Lifecycle status.
    pub status: AgentStatus,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

/// Every column, in the order [`row`] reads them.
static COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "id, tenant_id, {}, status, created_at, updated_at",
        AgentFields::NAMES.join(", ")
    )
});

/// `INSERT ... (id, tenant_id, <fields>) VALUES ($1, $2, <$3...>) RETURNING <columns>`.
static INSERT: LazyLock<String> = LazyLock::new(|| {
    let values: Vec<String> = (0..AgentFields::NAMES.len())
        .map(|i| format!("${}", i + 3))
        .collect();
    format!(
        "INSERT INTO agents (id, tenant_id, {}) VALUES ($1, $2, {}) RETURNING {}",
        AgentFields::NAMES.join(", "),
        values.join(", "),
        *COLUMNS
    )
});

/// `UPDATE ... SET <field> = $3, ... WHERE tenant_id = $1 AND id = $2 RETURNING <columns>`.
static UPDATE: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = AgentFields::NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{name} = ${}", i + 3))
        .collect();
    format!(
        "UPDATE agents SET {}, updated_at = now() WHERE tenant_id = $1 AND id = $2 RETURNING {}",
        sets.join(", "),
        *COLUMNS
    )
});

/// The fields as statement parameters, in [`AgentFields::NAMES`] order.
struct FieldParams<'a> {
    f: &'a AgentFields,
    agent_type: &'static str,
    version: &'a str,
    capabilities: Vec<&'a str>,
    deployment_env: &'static str,
    tags: Vec<&'a str>,
}

impl<'a> FieldParams<'a> {
    fn new(f: &'a AgentFields) -> Self {
        Self {
            f,
            agent_type: f.agent_type.as_str(),
            version: f.version.as_str(),
            capabilities: f.capability_strs(),
            deployment_env: f.deployment_env.as_str(),
            tags: f.tag_strs(),
        }
    }

    /// `$1` and `$2`, then the fields.
    fn after<'p>(&'p self, p1: &'p Uuid, p2: &'p Uuid) -> [&'p (dyn ToSql + Sync); 11] {
        [
            p1,
            p2,
            &self.f.name,
            &self.f.description,
            &self.agent_type,
            &self.version,
            &self.capabilities,
            &self.f.owner,
            &self.deployment_env,
            &self.tags,
            &self.f.listed,
        ]
    }
}

/// Reads a row of [`COLUMNS`] starting at column `at`.
fn row_at(r: &tokio_postgres::Row, at: usize) -> Result<AgentRow, tokio_postgres::Error> {
    Ok(AgentRow {
        id: r.try_get(at)?,
        tenant_id: r.try_get(at + 1)?,
        fields: AgentFields {
            name: r.try_get(at + 2)?,
            description: r.try_get(at + 3)?,
            agent_type: stored::get(r, at + 4)?,
            version: stored::get(r, at + 5)?,
            capabilities: stored::get_vec(r, at + 6)?,
            owner: r.try_get(at + 7)?,
            deployment_env: stored::get(r, at + 8)?,
            tags: stored::get_vec(r, at + 9)?,
            listed: r.try_get(at + 10)?,
        },
        status: stored::get(r, at + 11)?,
        created_at: r.try_get(at + 12)?,
        updated_at: r.try_get(at + 13)?,
    })
}

fn row(r: &tokio_postgres::Row) -> Result<AgentRow, tokio_postgres::Error> {
    row_at(r, 0)
}

/// Creates an agent.
pub async fn insert(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
    f: &AgentFields,
) -> Result<AgentRow, tokio_postgres::Error> {
    let p = FieldParams::new(f);
    row(&c.query_one(INSERT.as_str(), &p.after(&id, &tenant)).await?)
}

/// Stores the agent's DID key (public JWK, sealed private key).
pub async fn insert_key(
    c: &impl GenericClient,
    tenant: Uuid,
    agent: Uuid,
    public_jwk: &serde_json::Value,
    private_key_enc: &[u8],
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "INSERT INTO agent_keys (agent_id, tenant_id, public_jwk, private_key_enc) VALUES ($1, $2, $3, $4)",
        &[&agent, &tenant, public_jwk, &private_key_enc],
    )
    .await?;
    Ok(())
}

/// An agent of `tenant`, locked for the rest of the transaction when `for_update`.
pub async fn get(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
    for_update: bool,
) -> Result<Option<AgentRow>, tokio_postgres::Error> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    c.query_opt(
        &format!(
            "SELECT {} FROM agents WHERE tenant_id = $1 AND id = $2{lock}",
            *COLUMNS
        ),
        &[&tenant, &id],
    )
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// Replaces the writable fields.
pub async fn update(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
    f: &AgentFields,
) -> Result<AgentRow, tokio_postgres::Error> {
    let p = FieldParams::new(f);
    row(&c.query_one(UPDATE.as_str(), &p.after(&tenant, &id)).await?)
}

/// Sets the lifecycle status.
pub async fn set_status(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
    status: AgentStatus,
) -> Result<AgentRow, tokio_postgres::Error> {
    row(&c
        .query_one(
            &format!(
                "UPDATE agents SET status = $3, updated_at = now()
                  WHERE tenant_id = $1 AND id = $2 RETURNING {}",
                *COLUMNS
            ),
            &[&tenant, &id, &status.as_str()],
        )
        .await?)
}

/// List filters; `None` means any.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Status.
    pub status: Option<AgentStatus>,
    /// Type.
    pub agent_type: Option<AgentType>,
    /// Environment.
    pub deployment_env: Option<DeploymentEnv>,
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
    let mut sql = format!("SELECT {} FROM agents WHERE tenant_id = $1", *COLUMNS);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant];
    let tag_array = f.tag.as_ref().map(|t| vec![t.clone()]);
    let [status, agent_type, deployment_env] = [
        f.status.map(AgentStatus::as_str),
        f.agent_type.map(AgentType::as_str),
        f.deployment_env.map(DeploymentEnv::as_str),
    ];
    for (column, value) in [
        ("status", &status),
        ("agent_type", &agent_type),
        ("deployment_env", &deployment_env),
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
    c.query(&sql, &params).await?.iter().map(row).collect()
}

/// An agent with its DID key, by id alone: DID documents and agent cards are public by
/// design.
pub async fn get_public_with_key(
    c: &impl GenericClient,
    id: Uuid,
) -> Result<Option<(AgentRow, serde_json::Value)>, tokio_postgres::Error> {
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("a.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(r) = c
        .query_opt(
            &format!(
                "SELECT k.public_jwk, {cols} FROM agents a
                   JOIN agent_keys k ON k.agent_id = a.id
                  WHERE a.id = $1"
            ),
            &[&id],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((row_at(&r, 1)?, r.try_get(0)?)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_the_fields_in_declaration_order() {
        let fields = AgentFields::NAMES.join(", ");
        assert_eq!(
            *COLUMNS,
            format!("id, tenant_id, {fields}, status, created_at, updated_at")
        );
        assert!(INSERT.contains(&format!("(id, tenant_id, {fields}) VALUES ($1, $2, $3,")));
        assert!(INSERT.ends_with(&format!("$11) RETURNING {}", *COLUMNS)));
        assert!(UPDATE.starts_with("UPDATE agents SET name = $3, description = $4,"));
        assert!(UPDATE.contains("listed = $11, updated_at = now()"));
    }
}
