//! SQL of webhook deliveries and their attempts.

use std::time::Duration;

use platform::db::GenericClient;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::stored;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Attempts continue.
    Pending,
    /// The receiver accepted it.
    Delivered,
    /// Every attempt failed (dead letter).
    Dead,
}

impl DeliveryStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "dead" => Ok(Self::Dead),
            _ => Err("must be pending, delivered or dead".to_owned()),
        }
    }
}

/// A delivery to make.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Id.
    pub id: Uuid,
    /// Subscription.
    pub webhook_id: Uuid,
    /// Its tenant.
    pub tenant_id: Uuid,
    /// The audit event.
    pub event_id: Uuid,
    /// Its action.
    pub event_type: String,
    /// The exact body to send.
    pub body: String,
}

/// Stores deliveries (one per subscription and event; repeats are ignored).
pub async fn insert_many(
    c: &impl GenericClient,
    ds: &[NewDelivery],
) -> Result<u64, tokio_postgres::Error> {
    if ds.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = ds.iter().map(|d| d.id).collect();
    let hooks: Vec<Uuid> = ds.iter().map(|d| d.webhook_id).collect();
    let tenants: Vec<Uuid> = ds.iter().map(|d| d.tenant_id).collect();
    let events: Vec<Uuid> = ds.iter().map(|d| d.event_id).collect();
    let types: Vec<&str> = ds.iter().map(|d| d.event_type.as_str()).collect();
    let bodies: Vec<&str> = ds.iter().map(|d| d.body.as_str()).collect();
    c.execute(
        "INSERT INTO webhook_deliveries
                (id, webhook_id, tenant_id, event_id, event_type, body, next_attempt_at)
         SELECT *, now() FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[],
                                     $5::text[], $6::text[])
         ON CONFLICT (webhook_id, event_id) DO NOTHING",
        &[&ids, &hooks, &tenants, &events, &types, &bodies],
    )
    .await
}

/// A claimed delivery with what sending it needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Delivery id.
    pub id: Uuid,
    /// Subscription.
    pub webhook_id: Uuid,
    /// Its tenant.
    pub tenant_id: Uuid,
    /// The audit event.
    pub event_id: Uuid,
    /// Its action.
    pub event_type: String,
    /// The body.
    pub body: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// Target.
    pub url: String,
    /// Sealed secret.
    pub secret_enc: Vec<u8>,
}

/// How many deliveries a claim may take, overall and per tenant.
#[derive(Debug, Clone, Copy)]
pub struct ClaimLimits<'a> {
    /// Most deliveries to claim.
    pub n: i64,
    /// Most deliveries of one tenant in flight on this instance.
    pub per_tenant: i64,
    /// Deliveries in flight on this instance, per tenant.
    pub in_flight: &'a [(Uuid, i64)],
}

/// Claims up to `limits.n` due deliveries of active subscriptions for `lease`, oldest first,
/// leaving out whatever would put a tenant over `limits.per_tenant` in flight: no other
/// instance takes them before the lease ends (if this one dies, they come due again).
pub async fn claim(
    c: &impl GenericClient,
    limits: ClaimLimits<'_>,
    lease: Duration,
) -> Result<Vec<Claimed>, tokio_postgres::Error> {
    let (busy_tenants, busy): (Vec<Uuid>, Vec<i64>) = limits.in_flight.iter().copied().unzip();
    let full: Vec<Uuid> = limits
        .in_flight
        .iter()
        .filter(|(_, n)| *n >= limits.per_tenant)
        .map(|(t, _)| *t)
        .collect();
    // Candidates are read from a window of the oldest due deliveries of tenants below their
    // cap; a tenant with a long backlog fills at most its share of the claim.
    let window = (limits.n * 8).max(64);
    let rows = c
        .query(
            "WITH candidates AS (
                 SELECT d.id, d.tenant_id, d.next_attempt_at FROM webhook_deliveries d
                   JOIN webhooks w ON w.id = d.webhook_id AND w.active
                  WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                    AND d.tenant_id <> ALL($3::uuid[])
                  ORDER BY d.next_attempt_at
                  LIMIT $4),
             ranked AS (
                 SELECT c.id, c.next_attempt_at,
                        row_number() OVER (PARTITION BY c.tenant_id ORDER BY c.next_attempt_at)
                            + COALESCE(f.busy, 0) AS nth
                   FROM candidates c
                   LEFT JOIN unnest($5::uuid[], $6::bigint[]) AS f(tenant_id, busy)
                          ON f.tenant_id = c.tenant_id),
             picked AS (
                 SELECT id FROM ranked WHERE nth <= $7 ORDER BY next_attempt_at LIMIT $1),
             due AS (
                 SELECT d.id FROM webhook_deliveries d JOIN picked p ON p.id = d.id
                  WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                  FOR UPDATE OF d SKIP LOCKED)
             UPDATE webhook_deliveries d
                SET next_attempt_at = now() + make_interval(secs => $2)
               FROM due, webhooks w
              WHERE d.id = due.id AND w.id = d.webhook_id
             RETURNING d.id, d.webhook_id, d.tenant_id, d.event_id, d.event_type, d.body,
                       d.attempts, w.url, w.secret_enc",
            &[
                &limits.n,
                &lease.as_secs_f64(),
                &full,
                &window,
                &busy_tenants,
                &busy,
                &limits.per_tenant,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Claimed {
            id: r.get(0),
            webhook_id: r.get(1),
            tenant_id: r.get(2),
            event_id: r.get(3),
            event_type: r.get(4),
            body: r.get(5),
            attempts: r.get(6),
            url: r.get(7),
            secret_enc: r.get(8),
        })
        .collect())
}

/// The result of one attempt.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    /// Which attempt (1-based).
    pub attempt: i32,
    /// When it started.
    pub at: OffsetDateTime,
    /// The receiver's status, if it answered.
    pub status_code: Option<i32>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i32,
    /// Where the delivery stands now (pending: retry at `retry_at`).
    pub status: DeliveryStatus,
    /// When to retry.
    pub retry_at: Option<OffsetDateTime>,
}

/// Records an attempt and moves the delivery on.
pub async fn record(
    c: &impl GenericClient,
    delivery: Uuid,
    r: &AttemptResult,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "WITH attempt AS (
             INSERT INTO webhook_attempts
                    (delivery_id, attempt, attempted_at, status_code, error, duration_ms)
             VALUES ($1, $2, $3, $4, $5, $6))
         UPDATE webhook_deliveries
            SET attempts = $2, last_attempt_at = $3, last_status_code = $4, last_error = $5,
                status = $7, next_attempt_at = $8,
                delivered_at = CASE WHEN $7 = 'delivered' THEN $3 ELSE delivered_at END
          WHERE id = $1",
        &[
            &delivery,
            &r.attempt,
            &r.at,
            &r.status_code,
            &r.error,
            &r.duration_ms,
            &r.status.as_str(),
            &r.retry_at,
        ],
    )
    .await?;
    Ok(())
}

/// A delivery as the API shows it.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    /// Id.
    pub id: Uuid,
    /// The audit event.
    pub event_id: Uuid,
    /// Its action.
    pub event_type: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: i32,
    /// Next attempt.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Last attempt.
    pub last_attempt_at: Option<OffsetDateTime>,
    /// Last answer.
    pub last_status_code: Option<i32>,
    /// Last error.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Delivered.
    pub delivered_at: Option<OffsetDateTime>,
}

const COLUMNS: &str = "id, event_id, event_type, status, attempts, next_attempt_at, \
                       last_attempt_at, last_status_code, last_error, created_at, delivered_at";

fn row(r: &tokio_postgres::Row) -> Result<DeliveryRow, tokio_postgres::Error> {
    Ok(DeliveryRow {
        id: r.try_get(0)?,
        event_id: r.try_get(1)?,
        event_type: r.try_get(2)?,
        status: stored::get(r, 3)?,
        attempts: r.try_get(4)?,
        next_attempt_at: r.try_get(5)?,
        last_attempt_at: r.try_get(6)?,
        last_status_code: r.try_get(7)?,
        last_error: r.try_get(8)?,
        created_at: r.try_get(9)?,
        delivered_at: r.try_get(10)?,
    })
}

/// A subscription's deliveries, newest first, optionally of one status, before a cursor.
pub async fn list(
    c: &impl GenericClient,
    tenant: Uuid,
    webhook: Uuid,
    status: Option<DeliveryStatus>,
    before: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, tokio_postgres::Error> {
    let (at, id) = before.unzip();
    let status = status.map(DeliveryStatus::as_str);
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM webhook_deliveries
                  WHERE tenant_id = $1 AND webhook_id = $2
                    AND ($3::text IS NULL OR status = $3)
                    AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
                  ORDER BY created_at DESC, id DESC LIMIT $6"
            ),
            &[&tenant, &webhook, &status, &at, &id, &limit],
        )
        .await?;
    rows.iter().map(row).collect()
}

/// One delivery of a subscription.
pub async fn get(
    c: &impl GenericClient,
    tenant: Uuid,
    webhook: Uuid,
    id: Uuid,
) -> Result<Option<DeliveryRow>, tokio_postgres::Error> {
    c.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM webhook_deliveries
              WHERE tenant_id = $1 AND webhook_id = $2 AND id = $3"
        ),
        &[&tenant, &webhook, &id],
    )
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// One attempt of a delivery: `(attempt, at, status_code, error, duration_ms)`.
pub type Attempt = (i32, OffsetDateTime, Option<i32>, Option<String>, i32);

/// A delivery's attempts, in order.
pub async fn attempts(
    c: &impl GenericClient,
    id: Uuid,
) -> Result<Vec<Attempt>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT attempt, attempted_at, status_code, error, duration_ms
               FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id",
            &[&id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect())
}

/// Puts a delivered or dead delivery back in the queue for a fresh round of attempts.
pub async fn redeliver(
    c: &impl GenericClient,
    tenant: Uuid,
    webhook: Uuid,
    id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    Ok(c.execute(
        "UPDATE webhook_deliveries
            SET status = 'pending', next_attempt_at = now(), attempts = 0
          WHERE tenant_id = $1 AND webhook_id = $2 AND id = $3 AND status <> 'pending'",
        &[&tenant, &webhook, &id],
    )
    .await?
        > 0)
}
