//! Applying verified Stripe events to `tenant_subscriptions`.
//!
//! One transaction per event: the event id is claimed first (a redelivery finds it and
//! changes nothing), then the state is applied under the ordering rule of
//! `repo::subscriptions` (the newest state by the event's `created` wins; a deletion is
//! final). The caller answers 2xx only after the commit, so Stripe retries anything that did
//! not commit. Afterwards the tenant's cached tier is dropped, so every service sees the
//! change at once.

use domain::Tier;
use platform::ApiError;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::repo::events;
use crate::repo::subscriptions::{self as subs, NewState};
use crate::startup::AppState;
use crate::stripe::event::{Change, Event, SubscriptionState};

/// What happened to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (or acknowledged, for types we ignore).
    Applied,
    /// Seen before: nothing changed.
    Duplicate,
}

fn tier_of_price(state: &AppState, price: Option<&str>) -> Tier {
    match price {
        Some(p) => state.config.stripe.tier_of(p).unwrap_or_else(|| {
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
    tx: &impl platform::db::GenericClient,
    s: &SubscriptionState,
) -> Result<Option<Uuid>, ApiError> {
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
pub async fn apply(state: &AppState, event: &Event) -> Result<(Outcome, Option<Uuid>), ApiError> {
    let mut client = state.core.db.get().await?;
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
                            tier: tier_of_price(state, price.as_deref()),
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
                        tier: tier_of_price(state, s.price.as_deref()),
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
    if let Some(t) = tenant {
        state.core.quota.invalidate(t).await;
    }
    Ok((Outcome::Applied, tenant))
}
