//! Checkouts and upgrades: the rules between a tenant's request and Stripe.
//!
//! Only upgrades are sold: asking for the current tier or a cheaper one is a 409. A tenant
//! without a paid subscription gets a Checkout Session; one with a subscription in force has
//! its subscription moved to the new price (prorated). In both cases the local state changes
//! only when Stripe's webhook arrives: Stripe stays the source of truth.

use domain::Tier;
use platform::ApiError;
use platform::errors::FieldError;
use serde::Deserialize;
use uuid::Uuid;

use crate::repo::subscriptions as subs;
use crate::startup::AppState;
use crate::stripe::CheckoutRequest;
use crate::stripe::client::CheckoutSession;

/// Body of `POST /api/v1/billing/checkout` and `/upgrade`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierInput {
    tier: String,
}

impl TierInput {
    /// The requested tier; 422 naming `tier` when unknown or free.
    pub fn parse(&self) -> Result<Tier, ApiError> {
        let t: Tier = self
            .tier
            .parse()
            .map_err(|e: String| ApiError::validation(vec![FieldError::new("tier", e)]))?;
        if t == Tier::Free {
            return Err(ApiError::validation(vec![FieldError::new(
                "tier",
                "must be a paid tier (pro or enterprise)",
            )]));
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
pub fn ensure_upgrade(current: Tier, wanted: Tier) -> Result<(), ApiError> {
    if wanted == current {
        return Err(ApiError::conflict(
            "already_on_tier",
            format!("the tenant is already on the {current} tier"),
        )
        .with_extra("tier", current.as_str().into()));
    }
    if wanted < current {
        return Err(ApiError::conflict(
            "downgrade_not_allowed",
            format!(
                "only upgrades are possible here: {wanted} is below the current {current} tier; cancel or change plans through support"
            ),
        )
        .with_extra("tier", current.as_str().into()));
    }
    Ok(())
}

fn price(state: &AppState, tier: Tier) -> Result<String, ApiError> {
    state
        .config
        .stripe
        .price_of(tier)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::unavailable(
                "stripe_not_configured",
                format!("the {tier} tier has no price on this deployment"),
                60,
            )
        })
}

/// A Checkout Session for `tier`, refusing anything but an upgrade.
pub async fn checkout(
    state: &AppState,
    tenant: Uuid,
    tier: Tier,
) -> Result<CheckoutSession, ApiError> {
    let (current, customer) = {
        let c = state.core.db.get().await?;
        (
            subs::tier_of(&c, tenant).await?,
            subs::customer_of(&c, tenant).await?,
        )
    };
    ensure_upgrade(current, tier)?;
    let price = price(state, tier)?;
    let session = state
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

/// Upgrades the tenant to `tier`: changes the price of its subscription in force, or starts
/// a checkout when it has none.
pub async fn upgrade(state: &AppState, tenant: Uuid, tier: Tier) -> Result<Upgrade, ApiError> {
    let row = {
        let c = state.core.db.get().await?;
        subs::current(&c, tenant).await?
    };
    let current = row.as_ref().map_or(Tier::Free, subs::entitled_tier);
    ensure_upgrade(current, tier)?;
    match row {
        Some(r) if current > Tier::Free && r.item_id.is_some() => {
            let price = price(state, tier)?;
            let item = r.item_id.as_deref().unwrap_or_default();
            state
                .stripe
                .change_price(&r.subscription_id, item, &price)
                .await?;
            tracing::info!(tenant.id = %tenant, tier = %tier, subscription.id = %r.subscription_id, "subscription upgraded");
            Ok(Upgrade::Changed {
                subscription_id: r.subscription_id,
            })
        }
        _ => checkout(state, tenant, tier).await.map(Upgrade::Checkout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_upgrades_pass() {
        assert!(ensure_upgrade(Tier::Free, Tier::Pro).is_ok());
        assert!(ensure_upgrade(Tier::Pro, Tier::Enterprise).is_ok());
        assert_eq!(
            ensure_upgrade(Tier::Pro, Tier::Pro).unwrap_err().code(),
            "already_on_tier"
        );
        let e = ensure_upgrade(Tier::Enterprise, Tier::Pro).unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.code()),
            (409, "downgrade_not_allowed")
        );
    }
}
