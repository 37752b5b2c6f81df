//! SQL of tenant-admin clients: the `clients` rows of kind `tenant_admin`. Every function
//! takes the tenant and filters on it; a deleted (revoked) client is no longer found.

use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

/// A tenant-admin client as the management API shows it (no secret material).
#[derive(Debug, Clone)]
pub struct AdminClientRow {
    /// Row id.
    pub id: Uuid,
    /// Public client id.
    pub client_id: String,
    /// Its name ("signup" for the client made at signup).
    pub name: String,
    /// Its platform scopes.
    pub scopes: Vec<String>,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last rotated.
    pub rotated_at: Option<OffsetDateTime>,
    /// Until when the previous secret still works after a rotation.
    pub previous_secret_expires_at: Option<OffsetDateTime>,
}

/// A row written by a release without names (a signup during a rolling upgrade) is the
/// signup client.
const COLUMNS: &str = "id, client_id, COALESCE(name, 'signup'), COALESCE(scopes, '{}'), \
     created_at, rotated_at, previous_secret_expires_at";

/// The tenant's active admin clients.
const ACTIVE: &str = "tenant_id = $1 AND kind = 'tenant_admin' AND status = 'active'";

fn row(r: &tokio_postgres::Row) -> Result<AdminClientRow, tokio_postgres::Error> {
    Ok(AdminClientRow {
        id: r.try_get(0)?,
        client_id: r.try_get(1)?,
        name: r.try_get(2)?,
        scopes: r.try_get(3)?,
        created_at: r.try_get(4)?,
        rotated_at: r.try_get(5)?,
        previous_secret_expires_at: r.try_get(6)?,
    })
}

/// A new admin client of a tenant.
#[derive(Debug, Clone, Copy)]
pub struct NewAdminClient<'a> {
    /// Row id.
    pub id: Uuid,
    /// Public client id.
    pub client_id: &'a str,
    /// HMAC of its secret.
    pub secret_hash: &'a [u8],
    /// The tenant.
    pub tenant: Uuid,
    /// Its name.
    pub name: &'a str,
    /// Its scopes.
    pub scopes: &'a [String],
}

/// Stores a new admin client.
pub async fn insert(
    c: &impl GenericClient,
    new: NewAdminClient<'_>,
) -> Result<AdminClientRow, tokio_postgres::Error> {
    let r = c
        .query_one(
            &format!(
                "INSERT INTO clients (id, client_id, kind, tenant_id, name, secret_hash, scopes)
                 VALUES ($1, $2, 'tenant_admin', $3, $4, $5, $6) RETURNING {COLUMNS}"
            ),
            &[
                &new.id,
                &new.client_id,
                &new.tenant,
                &new.name,
                &new.secret_hash,
                &new.scopes,
            ],
        )
        .await?;
    row(&r)
}

/// The tenant's active admin clients, oldest first.
pub async fn list(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<Vec<AdminClientRow>, tokio_postgres::Error> {
    c.query(
        &format!("SELECT {COLUMNS} FROM clients WHERE {ACTIVE} ORDER BY created_at, id"),
        &[&tenant],
    )
    .await?
    .iter()
    .map(row)
    .collect()
}

/// How many active admin clients the tenant has.
pub async fn count(c: &impl GenericClient, tenant: Uuid) -> Result<i64, tokio_postgres::Error> {
    Ok(c.query_one(
        &format!("SELECT count(*) FROM clients WHERE {ACTIVE}"),
        &[&tenant],
    )
    .await?
    .get(0))
}

/// How many active admin clients of the tenant other than `client_id` hold `scope`.
pub async fn others_holding(
    c: &impl GenericClient,
    tenant: Uuid,
    client_id: &str,
    scope: &str,
) -> Result<i64, tokio_postgres::Error> {
    Ok(c.query_one(
        &format!(
            "SELECT count(*) FROM clients
              WHERE {ACTIVE} AND client_id <> $2 AND $3 = ANY(scopes)"
        ),
        &[&tenant, &client_id, &scope],
    )
    .await?
    .get(0))
}

/// One active admin client, locked for the rest of the transaction.
pub async fn get_for_update(
    c: &impl GenericClient,
    tenant: Uuid,
    client_id: &str,
) -> Result<Option<AdminClientRow>, tokio_postgres::Error> {
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM clients WHERE {ACTIVE} AND client_id = $2 FOR UPDATE"),
        &[&tenant, &client_id],
    )
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// Replaces the secret; the old one keeps working until `previous_until` (or stops at once).
pub async fn rotate(
    c: &impl GenericClient,
    tenant: Uuid,
    client_id: &str,
    new_hash: &[u8],
    previous_until: Option<OffsetDateTime>,
) -> Result<AdminClientRow, tokio_postgres::Error> {
    let r = c
        .query_one(
            &format!(
                "UPDATE clients
                    SET previous_secret_hash =
                            CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE secret_hash END,
                        previous_secret_expires_at = $4, secret_hash = $3, rotated_at = now()
                  WHERE {ACTIVE} AND client_id = $2 RETURNING {COLUMNS}"
            ),
            &[&tenant, &client_id, &new_hash, &previous_until],
        )
        .await?;
    row(&r)
}

/// Revokes an admin client: its secrets stop working (its tokens are revoked by the caller).
pub async fn revoke(
    c: &impl GenericClient,
    tenant: Uuid,
    client_id: &str,
) -> Result<u64, tokio_postgres::Error> {
    c.execute(
        &format!(
            "UPDATE clients SET status = 'revoked', revoked_at = now(),
                    previous_secret_hash = NULL, previous_secret_expires_at = NULL
              WHERE {ACTIVE} AND client_id = $2"
        ),
        &[&tenant, &client_id],
    )
    .await
}
