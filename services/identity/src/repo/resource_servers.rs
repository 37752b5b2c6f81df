//! SQL of `resource_servers`: the APIs of a tenant that access tokens may name.

use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

/// A resource server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServerRow {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub tenant_id: Uuid,
    /// The audience its tokens carry (an absolute URI, unique across tenants).
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// The scopes it defines.
    pub scopes: Vec<String>,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "id, tenant_id, identifier, name, scopes, created_at, updated_at";

fn row(r: &tokio_postgres::Row) -> Result<ResourceServerRow, tokio_postgres::Error> {
    Ok(ResourceServerRow {
        id: r.try_get(0)?,
        tenant_id: r.try_get(1)?,
        identifier: r.try_get(2)?,
        name: r.try_get(3)?,
        scopes: r.try_get(4)?,
        created_at: r.try_get(5)?,
        updated_at: r.try_get(6)?,
    })
}

/// Stores a new resource server; `false` when any tenant has one with its identifier.
pub async fn insert(
    c: &impl GenericClient,
    rs: &ResourceServerRow,
) -> Result<bool, tokio_postgres::Error> {
    let n = c
        .execute(
            &format!(
                "INSERT INTO resource_servers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (identifier) DO NOTHING"
            ),
            &[
                &rs.id,
                &rs.tenant_id,
                &rs.identifier,
                &rs.name,
                &rs.scopes,
                &rs.created_at,
                &rs.updated_at,
            ],
        )
        .await?;
    Ok(n == 1)
}

/// Replaces a resource server's fields; `false` when another server (of any tenant) has
/// the new identifier (the transaction is then aborted).
pub async fn update(
    c: &impl GenericClient,
    rs: &ResourceServerRow,
) -> Result<bool, tokio_postgres::Error> {
    let updated = c
        .execute(
            "UPDATE resource_servers SET identifier = $3, name = $4, scopes = $5, updated_at = $6
              WHERE tenant_id = $1 AND id = $2",
            &[
                &rs.tenant_id,
                &rs.id,
                &rs.identifier,
                &rs.name,
                &rs.scopes,
                &rs.updated_at,
            ],
        )
        .await;
    match updated {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => Ok(false),
        Err(e) => Err(e),
    }
}

/// One resource server of a tenant, locked when `for_update`.
pub async fn get(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
    for_update: bool,
) -> Result<Option<ResourceServerRow>, tokio_postgres::Error> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM resource_servers WHERE tenant_id = $1 AND id = $2{lock}"),
        &[&tenant, &id],
    )
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// Up to `limit` of a tenant's resource servers after `after`, in creation order.
pub async fn list(
    c: &impl GenericClient,
    tenant: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<ResourceServerRow>, tokio_postgres::Error> {
    let (at, id) = after.unzip();
    c.query(
        &format!(
            "SELECT {COLUMNS} FROM resource_servers
              WHERE tenant_id = $1
                AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
              ORDER BY created_at, id LIMIT $4"
        ),
        &[&tenant, &at, &id, &limit],
    )
    .await?
    .iter()
    .map(row)
    .collect()
}

/// How many resource servers a tenant has, counted under a lock on the tenant row (so
/// concurrent registrations cannot overshoot a limit).
pub async fn lock_tenant_and_count(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<i64, tokio_postgres::Error> {
    c.execute("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", &[&tenant])
        .await?;
    Ok(c.query_one(
        "SELECT count(*) FROM resource_servers WHERE tenant_id = $1",
        &[&tenant],
    )
    .await?
    .get(0))
}

/// Removes a resource server.
pub async fn delete(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "DELETE FROM resource_servers WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &id],
    )
    .await?;
    Ok(())
}

/// Every resource server of a tenant as the token endpoint needs it: `(identifier, scopes)`.
pub async fn audiences(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<Vec<(String, Vec<String>)>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached("SELECT identifier, scopes FROM resource_servers WHERE tenant_id = $1")
        .await?;
    c.query(&stmt, &[&tenant])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}
