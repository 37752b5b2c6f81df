//! Applying verified Stripe events to `tenant_subscriptions`.
//!
//! One transaction per event: the event id is claimed first (a redelivery finds it and
//! changes nothing), then the state is applied under the ordering rule of
//! `repo::subscriptions` (the newest state by the event's `created` wins; a deletion is
//! final). The caller answers 2xx only after the commit, so Stripe retries anything that did
//! not commit. Afterwards the tenant's cached tier is dropped, so every service sees the
//! change at once.
//!
//! Nothing is parsed or stored before the raw body's `Stripe-Signature` is verified: a bad,
//! stale or missing signature changes nothing.

use domain::Tier;
use platform::Secret;
use platform::db::{Db, GenericClient};
use platform::quota::Quota;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::StripeConfig;
use crate::repo::events;
use crate::repo::subscriptions::{self as subs, NewState};
use crate::stripe::event::{self, Change, Event, SubscriptionState};
use crate::stripe::signature::{self, SignatureError};
use platform::Failure;

/// Why a delivery was refused or not applied.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// No `STRIPE_WEBHOOK_SECRET`: nothing can be verified (503 `stripe_not_configured`).
    #[error("webhooks are not configured on this deployment (STRIPE_WEBHOOK_SECRET)")]
    NotConfigured,
    /// The signature does not verify (400 `invalid_signature`).
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// A verified body that is no event we can read (400 `malformed_event`).
    #[error("{0}")]
    Malformed(String),
    /// The database failed: nothing was applied.
    #[error(transparent)]
    Store(#[from] Failure),
}

/// What happened to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (or acknowledged, for types we ignore).
    Applied,
    /// Seen before: nothing changed.
    Duplicate,
}

/// A delivery that was applied, or acknowledged as seen before.
#[derive(Debug)]
pub struct Received {
    /// The event.
    pub event: Event,
    /// What happened to it.
    pub outcome: Outcome,
    /// The tenant it changed.
    pub tenant: Option<Uuid>,
}

fn tier_of_price(prices: &StripeConfig, price: Option<&str>) -> Tier {
    match price {
        Some(p) => prices.tier_of(p).unwrap_or_else(|| {
            tracing::warn!(
                price = p,
                "a subscription has a price of no tier; treated as free"
            );
            Tier::Free
        }),
        None => Tier::Free,
    }
}

fn time_of(unix: Option<i64>) -> Option<OffsetDateTime> {
    unix.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
}

/// The owner of a subscription: the row's (never changes), else the metadata's, else the
/// customer's.
async fn owner(
    tx: &impl GenericClient,
    s: &SubscriptionState,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    if let Some(row) = subs::get(tx, &s.id).await? {
        return Ok(Some(row.tenant_id));
    }
    if let Some(t) = s.tenant {
        return Ok(Some(t));
    }
    match &s.customer {
        Some(c) => Ok(subs::tenant_of_customer(tx, c).await?),
        None => Ok(None),
    }
}

/// Applies `event` in one transaction; returns the outcome and the tenant it changed.
async fn apply(
    db: &Db,
    prices: &StripeConfig,
    event: &Event,
) -> Result<(Outcome, Option<Uuid>), Failure> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    if !events::claim(&tx, &event.id, &event.kind, event.created).await? {
        return Ok((Outcome::Duplicate, None));
    }
    let tenant = match &event.change {
        Change::Ignored => None,
        Change::CheckoutCompleted {
            tenant,
            customer,
            subscription,
            price,
            paid,
        } => match tenant {
            None => {
                tracing::warn!(event.id = %event.id, "a completed checkout names no tenant; ignored");
                None
            }
            Some(t) => {
                if let Some(c) = customer {
                    subs::set_customer(&tx, *t, c).await?;
                }
                if let (Some(sub), true) = (subscription, *paid) {
                    subs::upsert(
                        &tx,
                        &NewState {
                            subscription_id: sub,
                            tenant_id: *t,
                            customer_id: customer.as_deref(),
                            price_id: price.as_deref(),
                            item_id: None,
                            tier: tier_of_price(prices, price.as_deref()),
                            status: "active",
                            current_period_end: None,
                            cancel_at_period_end: false,
                            state_at: event.created,
                        },
                    )
                    .await?;
                }
                Some(*t)
            }
        },
        Change::SubscriptionUpserted(s) | Change::SubscriptionDeleted(s) => {
            match owner(&tx, s).await? {
                None => {
                    tracing::warn!(
                        event.id = %event.id,
                        subscription.id = %s.id,
                        "a subscription of no known tenant; ignored"
                    );
                    None
                }
                Some(t) => {
                    let new = NewState {
                        subscription_id: &s.id,
                        tenant_id: t,
                        customer_id: s.customer.as_deref(),
                        price_id: s.price.as_deref(),
                        item_id: s.item.as_deref(),
                        tier: tier_of_price(prices, s.price.as_deref()),
                        status: &s.status,
                        current_period_end: time_of(s.current_period_end),
                        cancel_at_period_end: s.cancel_at_period_end,
                        state_at: event.created,
                    };
                    let changed = if matches!(event.change, Change::SubscriptionDeleted(_)) {
                        subs::mark_deleted(&tx, &new).await?
                    } else {
                        subs::upsert(&tx, &new).await?
                    };
                    if !changed {
                        tracing::info!(
                            event.id = %event.id,
                            subscription.id = %s.id,
                            "an older or post-deletion state; kept the newer one"
                        );
                    }
                    if let Some(c) = &s.customer {
                        subs::set_customer(&tx, t, c).await?;
                    }
                    Some(t)
                }
            }
        }
        Change::InvoicePayment {
            subscription,
            succeeded,
        } => match subscription {
            Some(sub) => {
                let status = if *succeeded { "active" } else { "past_due" };
                subs::set_status(&tx, sub, status, event.created).await?
            }
            None => None,
        },
    };
    if let Some(t) = tenant {
        events::set_tenant(&tx, &event.id, t).await?;
    }
    tx.commit().await?;
    Ok((Outcome::Applied, tenant))
}

/// Receives Stripe's events: what it needs of the database, the quota's tier cache and the
/// Stripe settings (the webhook secret, the price list).
#[derive(Debug)]
pub struct StripeEvents {
    db: Db,
    quota: Quota,
    stripe: StripeConfig,
}

impl StripeEvents {
    /// Events applied to `db`, dropping tiers cached by `quota`, under `stripe`'s settings.
    pub fn new(db: Db, quota: Quota, stripe: StripeConfig) -> Self {
        Self { db, quota, stripe }
    }

    /// The webhook secret; refused when none is configured (checked before the body is read).
    pub fn secret(&self) -> Result<&Secret<String>, EventError> {
        self.stripe
            .webhook_secret
            .as_ref()
            .ok_or(EventError::NotConfigured)
    }

    /// Verifies `body` against its `Stripe-Signature` header at `now` (unix seconds), reads
    /// the event and applies it; then drops the changed tenant's cached tier.
    pub async fn receive(
        &self,
        body: &[u8],
        signature_header: &str,
        now: i64,
    ) -> Result<Received, EventError> {
        let secret = self.secret()?;
        if let Err(e) = signature::verify(body, signature_header, secret.expose(), now) {
            tracing::warn!(reason = %e, "stripe webhook refused");
            return Err(e.into());
        }
        let event = event::parse(body).map_err(EventError::Malformed)?;
        let (outcome, tenant) = apply(&self.db, &self.stripe, &event).await?;
        if let Some(t) = tenant {
            self.quota.invalidate(t).await;
        }
        Ok(Received {
            event,
            outcome,
            tenant,
        })
    }
}
