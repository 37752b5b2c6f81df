//! SQL of `tenant_subscriptions` and `tenant_customers`.
//!
//! Ordering rule, enforced in SQL: a state is written only when the row is not deleted and
//! the event is not older than the state it replaces (`state_at <= created`); a deletion
//! always wins and is final for the subscription id.

use domain::Tier;
use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

/// Statuses that keep a subscription's tier in force (`past_due`: Stripe is still retrying
/// the payment).
pub const ENTITLED_STATUSES: [&str; 3] = ["active", "trialing", "past_due"];

/// A subscription row.
#[derive(Debug, Clone)]
pub struct SubscriptionRow {
    /// `sub_...`.
    pub subscription_id: String,
    /// Owner.
    pub tenant_id: Uuid,
    /// `cus_...`.
    pub customer_id: Option<String>,
    /// Its price.
    pub price_id: Option<String>,
    /// Its item (`si_...`).
    pub item_id: Option<String>,
    /// The tier its price buys.
    pub tier: String,
    /// Stripe's status.
    pub status: String,
    /// End of the paid period.
    pub current_period_end: Option<OffsetDateTime>,
    /// Ends at the period's end.
    pub cancel_at_period_end: bool,
    /// Deleted in Stripe (terminal).
    pub deleted: bool,
    /// `created` of the event that set this state.
    pub state_at: i64,
    /// Last change here.
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "subscription_id, tenant_id, customer_id, price_id, item_id, tier, status, \
                       current_period_end, cancel_at_period_end, deleted, state_at, updated_at";

fn row(r: &tokio_postgres::Row) -> SubscriptionRow {
    SubscriptionRow {
        subscription_id: r.get(0),
        tenant_id: r.get(1),
        customer_id: r.get(2),
        price_id: r.get(3),
        item_id: r.get(4),
        tier: r.get(5),
        status: r.get(6),
        current_period_end: r.get(7),
        cancel_at_period_end: r.get(8),
        deleted: r.get(9),
        state_at: r.get(10),
        updated_at: r.get(11),
    }
}

/// A state to apply; `None` fields keep what the row has.
#[derive(Debug, Clone)]
pub struct NewState<'a> {
    /// `sub_...`.
    pub subscription_id: &'a str,
    /// Owner (a row never changes owner).
    pub tenant_id: Uuid,
    /// `cus_...`.
    pub customer_id: Option<&'a str>,
    /// Price.
    pub price_id: Option<&'a str>,
    /// Item.
    pub item_id: Option<&'a str>,
    /// Tier bought by the price.
    pub tier: Tier,
    /// Stripe's status.
    pub status: &'a str,
    /// Period end.
    pub current_period_end: Option<OffsetDateTime>,
    /// Ends at period end.
    pub cancel_at_period_end: bool,
    /// `created` of the event.
    pub state_at: i64,
}

/// Applies `s` if it is not older than the row's state and the row is not deleted. Returns
/// whether anything changed.
pub async fn upsert(
    c: &impl GenericClient,
    s: &NewState<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let n = c
        .execute(
            "INSERT INTO tenant_subscriptions (subscription_id, tenant_id, customer_id, price_id,
                    item_id, tier, status, current_period_end, cancel_at_period_end, state_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (subscription_id) DO UPDATE SET
                 customer_id = COALESCE(EXCLUDED.customer_id, tenant_subscriptions.customer_id),
                 price_id = COALESCE(EXCLUDED.price_id, tenant_subscriptions.price_id),
                 item_id = COALESCE(EXCLUDED.item_id, tenant_subscriptions.item_id),
                 tier = CASE WHEN EXCLUDED.price_id IS NULL AND tenant_subscriptions.price_id IS NOT NULL
                             THEN tenant_subscriptions.tier ELSE EXCLUDED.tier END,
                 status = EXCLUDED.status,
                 current_period_end = COALESCE(EXCLUDED.current_period_end,
                                               tenant_subscriptions.current_period_end),
                 cancel_at_period_end = EXCLUDED.cancel_at_period_end,
                 state_at = EXCLUDED.state_at,
                 updated_at = now()
             WHERE NOT tenant_subscriptions.deleted
               AND tenant_subscriptions.tenant_id = EXCLUDED.tenant_id
               AND tenant_subscriptions.state_at <= EXCLUDED.state_at",
            &[
                &s.subscription_id,
                &s.tenant_id,
                &s.customer_id,
                &s.price_id,
                &s.item_id,
                &s.tier.as_str(),
                &s.status,
                &s.current_period_end,
                &s.cancel_at_period_end,
                &s.state_at,
            ],
        )
        .await?;
    Ok(n > 0)
}

/// Marks a subscription deleted (inserting the row if it was never seen, so older events
/// delivered later cannot create it).
pub async fn mark_deleted(
    c: &impl GenericClient,
    s: &NewState<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let n = c
        .execute(
            "INSERT INTO tenant_subscriptions (subscription_id, tenant_id, customer_id, price_id,
                    item_id, tier, status, current_period_end, cancel_at_period_end, deleted, state_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'canceled', $7, false, true, $8)
             ON CONFLICT (subscription_id) DO UPDATE SET
                 status = 'canceled',
                 deleted = true,
                 cancel_at_period_end = false,
                 state_at = GREATEST(tenant_subscriptions.state_at, EXCLUDED.state_at),
                 updated_at = now()
             WHERE NOT tenant_subscriptions.deleted",
            &[
                &s.subscription_id,
                &s.tenant_id,
                &s.customer_id,
                &s.price_id,
                &s.item_id,
                &s.tier.as_str(),
                &s.current_period_end,
                &s.state_at,
            ],
        )
        .await?;
    Ok(n > 0)
}

/// Sets only the status (invoice events), under the same ordering rule.
pub async fn set_status(
    c: &impl GenericClient,
    subscription_id: &str,
    status: &str,
    state_at: i64,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let r = c
        .query_opt(
            "UPDATE tenant_subscriptions SET status = $2, state_at = $3, updated_at = now()
             WHERE subscription_id = $1 AND NOT deleted AND state_at <= $3
             RETURNING tenant_id",
            &[&subscription_id, &status, &state_at],
        )
        .await?;
    Ok(r.map(|r| r.get(0)))
}

/// A subscription by id, whoever owns it (webhooks learn the owner from it).
pub async fn get(
    c: &impl GenericClient,
    subscription_id: &str,
) -> Result<Option<SubscriptionRow>, tokio_postgres::Error> {
    let r = c
        .query_opt(
            &format!("SELECT {COLUMNS} FROM tenant_subscriptions WHERE subscription_id = $1"),
            &[&subscription_id],
        )
        .await?;
    Ok(r.as_ref().map(row))
}

/// The subscription that gives `tenant` its tier: the richest entitled one, else the most
/// recently changed one (for display), else none.
pub async fn current(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<Option<SubscriptionRow>, tokio_postgres::Error> {
    let statuses: Vec<&str> = ENTITLED_STATUSES.to_vec();
    let r = c
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM tenant_subscriptions WHERE tenant_id = $1
                 ORDER BY (NOT deleted AND status = ANY($2)) DESC,
                          CASE tier WHEN 'enterprise' THEN 2 WHEN 'pro' THEN 1 ELSE 0 END DESC,
                          updated_at DESC
                 LIMIT 1"
            ),
            &[&tenant, &statuses],
        )
        .await?;
    Ok(r.as_ref().map(row))
}

/// Whether `row` is in force but its last payment failed (Stripe is retrying it).
pub fn past_due(row: &SubscriptionRow) -> bool {
    !row.deleted && row.status == "past_due"
}

/// The tier `row` grants, if any.
pub fn entitled_tier(row: &SubscriptionRow) -> Tier {
    if row.deleted || !ENTITLED_STATUSES.contains(&row.status.as_str()) {
        return Tier::Free;
    }
    row.tier.parse().unwrap_or(Tier::Free)
}

/// The tenant's tier: the richest entitled subscription's, else free.
pub async fn tier_of(c: &impl GenericClient, tenant: Uuid) -> Result<Tier, tokio_postgres::Error> {
    Ok(current(c, tenant)
        .await?
        .as_ref()
        .map_or(Tier::Free, entitled_tier))
}

/// Remembers the tenant's Stripe customer (first one wins).
pub async fn set_customer(
    c: &impl GenericClient,
    tenant: Uuid,
    customer: &str,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "INSERT INTO tenant_customers (tenant_id, customer_id) VALUES ($1, $2)
         ON CONFLICT DO NOTHING",
        &[&tenant, &customer],
    )
    .await?;
    Ok(())
}

/// The tenant's Stripe customer.
pub async fn customer_of(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    let r = c
        .query_opt(
            "SELECT customer_id FROM tenant_customers WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?;
    Ok(r.map(|r| r.get(0)))
}

/// The tenant of a Stripe customer.
pub async fn tenant_of_customer(
    c: &impl GenericClient,
    customer: &str,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let r = c
        .query_opt(
            "SELECT tenant_id FROM tenant_customers WHERE customer_id = $1",
            &[&customer],
        )
        .await?;
    Ok(r.map(|r| r.get(0)))
}
