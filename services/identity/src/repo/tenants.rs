//! SQL of `tenants`.

use domain::TenantStatus;
use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

use super::stored;

/// A tenant row.
#[derive(Debug, Clone)]
pub struct TenantRow {
    /// Id.
    pub id: Uuid,
    /// Organisation name.
    pub name: String,
    /// Contact email.
    pub email: String,
    /// Whether its clients may get tokens.
    pub status: TenantStatus,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "id, name, email, status, created_at, updated_at";

fn row(r: &tokio_postgres::Row) -> Result<TenantRow, tokio_postgres::Error> {
    Ok(TenantRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        email: r.try_get(2)?,
        status: stored::get(r, 3)?,
        created_at: r.try_get(4)?,
        updated_at: r.try_get(5)?,
    })
}

/// Creates a tenant and the head of its audit chain.
pub async fn insert(
    c: &impl GenericClient,
    id: Uuid,
    name: &str,
    email: &str,
) -> Result<TenantRow, tokio_postgres::Error> {
    let r = c
        .query_one(
            &format!(
                "INSERT INTO tenants (id, name, email) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
            ),
            &[&id, &name, &email],
        )
        .await?;
    c.execute(
        "INSERT INTO audit_chain_heads (tenant_id, chain_seq, hash) VALUES ($1, 0, $2)",
        &[&id, &vec![0u8; 32]],
    )
    .await?;
    row(&r)
}

/// A tenant by id.
pub async fn get(
    c: &impl GenericClient,
    id: Uuid,
) -> Result<Option<TenantRow>, tokio_postgres::Error> {
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM tenants WHERE id = $1"),
        &[&id],
    )
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// Changes name and/or email.
pub async fn update(
    c: &impl GenericClient,
    id: Uuid,
    name: Option<&str>,
    email: Option<&str>,
) -> Result<Option<TenantRow>, tokio_postgres::Error> {
    c.query_opt(
        &format!(
            "UPDATE tenants SET name = COALESCE($2, name), email = COALESCE($3, email),
                        updated_at = now()
                  WHERE id = $1 RETURNING {COLUMNS}"
        ),
        &[&id, &name, &email],
    )
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// Locks a tenant's row for the rest of the transaction, so changes to its set of admin
/// clients happen one at a time (`FOR NO KEY UPDATE`: rows that reference the tenant may
/// still be added meanwhile); whether the tenant exists.
pub async fn lock(c: &impl GenericClient, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    Ok(c.query_opt(
        "SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
        &[&id],
    )
    .await?
    .is_some())
}
