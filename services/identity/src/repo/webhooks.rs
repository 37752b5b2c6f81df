//! SQL of `webhooks`, `webhook_deliveries` and `webhook_attempts`.

use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

/// A subscription.
#[derive(Debug, Clone)]
pub struct WebhookRow {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub tenant_id: Uuid,
    /// Target.
    pub url: String,
    /// Free text.
    pub description: String,
    /// Subscribed event types.
    pub event_types: Vec<String>,
    /// Sealed signing secret.
    pub secret_enc: Vec<u8>,
    /// Deliveries are made only while active.
    pub active: bool,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str =
    "id, tenant_id, url, description, event_types, secret_enc, active, created_at, updated_at";

fn row(r: &tokio_postgres::Row) -> WebhookRow {
    WebhookRow {
        id: r.get(0),
        tenant_id: r.get(1),
        url: r.get(2),
        description: r.get(3),
        event_types: r.get(4),
        secret_enc: r.get(5),
        active: r.get(6),
        created_at: r.get(7),
        updated_at: r.get(8),
    }
}

/// Stores a new subscription.
pub async fn insert(c: &impl GenericClient, w: &WebhookRow) -> Result<(), tokio_postgres::Error> {
    c.execute(
        &format!("INSERT INTO webhooks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
        &[
            &w.id,
            &w.tenant_id,
            &w.url,
            &w.description,
            &w.event_types,
            &w.secret_enc,
            &w.active,
            &w.created_at,
            &w.updated_at,
        ],
    )
    .await?;
    Ok(())
}

/// Replaces a subscription's mutable fields.
pub async fn update(c: &impl GenericClient, w: &WebhookRow) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "UPDATE webhooks SET url = $3, description = $4, event_types = $5, secret_enc = $6,
                active = $7, updated_at = $8
          WHERE tenant_id = $1 AND id = $2",
        &[
            &w.tenant_id,
            &w.id,
            &w.url,
            &w.description,
            &w.event_types,
            &w.secret_enc,
            &w.active,
            &w.updated_at,
        ],
    )
    .await?;
    Ok(())
}

/// One subscription of a tenant, locked when `for_update`.
pub async fn get(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
    for_update: bool,
) -> Result<Option<WebhookRow>, tokio_postgres::Error> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    Ok(c.query_opt(
        &format!("SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2{lock}"),
        &[&tenant, &id],
    )
    .await?
    .map(|r| row(&r)))
}

/// A tenant's subscriptions, oldest first.
pub async fn list(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<Vec<WebhookRow>, tokio_postgres::Error> {
    let rows = c
        .query(
            &format!("SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id"),
            &[&tenant],
        )
        .await?;
    Ok(rows.iter().map(row).collect())
}

/// How many subscriptions a tenant has.
pub async fn count(c: &impl GenericClient, tenant: Uuid) -> Result<i64, tokio_postgres::Error> {
    Ok(c.query_one(
        "SELECT count(*) FROM webhooks WHERE tenant_id = $1",
        &[&tenant],
    )
    .await?
    .get(0))
}

/// Removes a subscription and its deliveries.
pub async fn delete(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    Ok(c.execute(
        "DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &id],
    )
    .await?
        > 0)
}

/// Whether any subscription is active (the fan-out skips the feed cheaply when none is).
pub async fn any_active(c: &impl GenericClient) -> Result<bool, tokio_postgres::Error> {
    Ok(
        c.query_one("SELECT EXISTS (SELECT 1 FROM webhooks WHERE active)", &[])
            .await?
            .get(0),
    )
}

/// An active subscription as the fan-out matches it: `(id, tenant_id, event_types,
/// created_at)`.
pub type ActiveSubscription = (Uuid, Uuid, Vec<String>, OffsetDateTime);

/// Active subscriptions of `tenants`.
pub async fn active_for(
    c: &impl GenericClient,
    tenants: &[Uuid],
) -> Result<Vec<ActiveSubscription>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT id, tenant_id, event_types, created_at FROM webhooks
              WHERE active AND tenant_id = ANY($1)",
            &[&tenants],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
}

/// Locks the tenant's row for the rest of the transaction: a tenant's subscription changes
/// run one after another, so the per-tenant limit holds under concurrency.
pub async fn lock_tenant(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "SELECT id FROM tenants WHERE id = $1 FOR UPDATE",
        &[&tenant],
    )
    .await?;
    Ok(())
}
