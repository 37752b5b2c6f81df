//! Checkouts and upgrades: the rules between a tenant's request and Stripe.
//!
//! Only upgrades are sold: asking for the current tier or a cheaper one is a 409, and so is
//! any upgrade while the subscription in force is past due (its last payment failed: the
//! invoice is settled first, not grown). A tenant without a paid subscription gets a Checkout Session; one with a subscription in force has
//! its subscription moved to the new price (prorated). In both cases the local state changes
//! only when Stripe's webhook arrives: Stripe stays the source of truth.

use domain::Tier;
use platform::db::Db;
use serde::Deserialize;
use uuid::Uuid;

use crate::config::StripeConfig;
use crate::repo::subscriptions::{self as subs, SubscriptionRow};
use crate::stripe::{CheckoutRequest, CheckoutSession, ProviderError, StripeClient};
use platform::Failure;

/// Why a checkout or an upgrade was refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// `tier` names no tier (422 naming `tier`).
    #[error("{0}")]
    UnknownTier(String),
    /// `tier` is the free tier (422 naming `tier`).
    #[error("must be a paid tier (pro or enterprise)")]
    FreeTier,
    /// The tenant is on the tier asked for (409 `already_on_tier`).
    #[error("the tenant is already on the {0} tier")]
    AlreadyOnTier(Tier),
    /// The tier asked for is below the tenant's (409 `downgrade_not_allowed`).
    #[error(
        "only upgrades are possible here: {wanted} is below the current {current} tier; cancel or change plans through support"
    )]
    Downgrade {
        /// The tenant's tier.
        current: Tier,
        /// The tier asked for.
        wanted: Tier,
    },
    /// The subscription in force is past due (409 `subscription_past_due`).
    #[error(
        "the subscription {0} is past due: pay its open invoice (Stripe retries the payment) before changing tiers"
    )]
    PastDue(String),
    /// The tier has no price on this deployment (503 `stripe_not_configured`).
    #[error("the {0} tier has no price on this deployment")]
    NoPrice(Tier),
    /// Stripe failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] Failure),
}

/// Body of `POST /api/v1/billing/checkout` and `/upgrade`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierInput {
    tier: String,
}

impl TierInput {
    /// The requested tier; refused when unknown or free.
    pub fn parse(&self) -> Result<Tier, CheckoutError> {
        let t: Tier = self.tier.parse().map_err(CheckoutError::UnknownTier)?;
        if t == Tier::Free {
            return Err(CheckoutError::FreeTier);
        }
        Ok(t)
    }
}

/// What an upgrade did.
#[derive(Debug)]
pub enum Upgrade {
    /// The tenant must pay first: send it to this Checkout Session.
    Checkout(CheckoutSession),
    /// The subscription was moved to the new price; the webhook will follow.
    Changed {
        /// `sub_...`.
        subscription_id: String,
    },
}

/// Refuses anything but an upgrade from `current` to `wanted`.
pub fn ensure_upgrade(current: Tier, wanted: Tier) -> Result<(), CheckoutError> {
    if wanted == current {
        return Err(CheckoutError::AlreadyOnTier(current));
    }
    if wanted < current {
        return Err(CheckoutError::Downgrade { current, wanted });
    }
    Ok(())
}

/// Refuses any change while `row`, the subscription in force, is past due.
pub fn ensure_paid(row: Option<&SubscriptionRow>) -> Result<(), CheckoutError> {
    match row {
        Some(r) if subs::past_due(r) => Err(CheckoutError::PastDue(r.subscription_id.clone())),
        _ => Ok(()),
    }
}

/// Sells upgrades: what it needs of the database, Stripe and the price list.
#[derive(Debug)]
pub struct Checkout {
    db: Db,
    stripe: StripeClient,
    prices: StripeConfig,
}

impl Checkout {
    /// Checkouts over `db`, calling `stripe`, at the prices of `prices`.
    pub fn new(db: Db, stripe: StripeClient, prices: StripeConfig) -> Self {
        Self { db, stripe, prices }
    }

    fn price(&self, tier: Tier) -> Result<String, CheckoutError> {
        self.prices
            .price_of(tier)
            .map(str::to_owned)
            .ok_or(CheckoutError::NoPrice(tier))
    }

    /// The tenant's subscription in force and its Stripe customer.
    async fn account(
        &self,
        tenant: Uuid,
    ) -> Result<(Option<SubscriptionRow>, Option<String>), Failure> {
        let c = self.db.get().await?;
        Ok((
            subs::current(&c, tenant).await?,
            subs::customer_of(&c, tenant).await?,
        ))
    }

    /// The tenant's subscription in force.
    async fn current(&self, tenant: Uuid) -> Result<Option<SubscriptionRow>, Failure> {
        let c = self.db.get().await?;
        Ok(subs::current(&c, tenant).await?)
    }

    /// A Checkout Session for `tier`, refusing anything but an upgrade.
    pub async fn checkout(
        &self,
        tenant: Uuid,
        tier: Tier,
    ) -> Result<CheckoutSession, CheckoutError> {
        let (row, customer) = self.account(tenant).await?;
        ensure_upgrade(row.as_ref().map_or(Tier::Free, subs::entitled_tier), tier)?;
        ensure_paid(row.as_ref())?;
        let price = self.price(tier)?;
        let session = self
            .stripe
            .create_checkout_session(&CheckoutRequest {
                tenant,
                tier: tier.as_str(),
                price: &price,
                customer: customer.as_deref(),
            })
            .await?;
        tracing::info!(tenant.id = %tenant, tier = %tier, session.id = %session.id, "checkout started");
        Ok(session)
    }

    /// Upgrades the tenant to `tier`: changes the price of its subscription in force, or
    /// starts a checkout when it has none.
    pub async fn upgrade(&self, tenant: Uuid, tier: Tier) -> Result<Upgrade, CheckoutError> {
        let row = self.current(tenant).await?;
        let current = row.as_ref().map_or(Tier::Free, subs::entitled_tier);
        ensure_upgrade(current, tier)?;
        ensure_paid(row.as_ref())?;
        match row {
            Some(r) if current > Tier::Free && r.item_id.is_some() => {
                let price = self.price(tier)?;
                let item = r.item_id.as_deref().unwrap_or_default();
                self.stripe
                    .change_price(&r.subscription_id, item, &price)
                    .await?;
                tracing::info!(tenant.id = %tenant, tier = %tier, subscription.id = %r.subscription_id, "subscription upgraded");
                Ok(Upgrade::Changed {
                    subscription_id: r.subscription_id,
                })
            }
            _ => self.checkout(tenant, tier).await.map(Upgrade::Checkout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_upgrades_pass() {
        assert!(ensure_upgrade(Tier::Free, Tier::Pro).is_ok());
        assert!(ensure_upgrade(Tier::Pro, Tier::Enterprise).is_ok());
        assert!(matches!(
            ensure_upgrade(Tier::Pro, Tier::Pro),
            Err(CheckoutError::AlreadyOnTier(Tier::Pro))
        ));
        assert!(matches!(
            ensure_upgrade(Tier::Enterprise, Tier::Pro),
            Err(CheckoutError::Downgrade {
                current: Tier::Enterprise,
                wanted: Tier::Pro
            })
        ));
    }
}
