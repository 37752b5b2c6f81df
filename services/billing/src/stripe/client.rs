//! The Stripe API calls billing makes, through async-stripe: create a Checkout Session
//! (`stripe_checkout`), change a subscription's price (`stripe_billing`). Each call carries a
//! fresh idempotency key and the `STRIPE_TIMEOUT_MS` budget; `STRIPE_API_BASE` points the
//! client at a local fake in tests. Webhooks do not come through here: their signatures and
//! payloads are read by [`super::signature`] and [`super::event`].

use std::collections::HashMap;

use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_billing::subscription::{
    UpdateSubscription, UpdateSubscriptionItems, UpdateSubscriptionProrationBehavior,
};
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use uuid::Uuid;

use crate::config::StripeConfig;

/// A created Checkout Session.
#[derive(Debug, Clone)]
pub struct CheckoutSession {
    /// `cs_...`.
    pub id: String,
    /// Where to send the customer.
    pub url: String,
}

/// What a checkout is for.
#[derive(Debug, Clone)]
pub struct CheckoutRequest<'a> {
    /// The paying tenant.
    pub tenant: Uuid,
    /// The tier bought (`pro`, `enterprise`).
    pub tier: &'a str,
    /// Its price.
    pub price: &'a str,
    /// The tenant's Stripe customer, when it has paid before.
    pub customer: Option<&'a str>,
}

/// The Stripe API client; without `STRIPE_SECRET_KEY` every call answers 503.
#[derive(Clone)]
pub struct StripeClient {
    /// `None` when no secret key is configured.
    api: Option<stripe::Client>,
    config: StripeConfig,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("api_base", &self.config.api_base.as_str())
            .field("configured", &self.api.is_some())
            .finish()
    }
}

/// Why a call to Stripe failed. Nothing of the request (and so never the secret key) is in
/// what a client is told; the details are in the source, for the log.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No `STRIPE_SECRET_KEY`: payments are off on this deployment.
    #[error("payments are not configured on this deployment (STRIPE_SECRET_KEY)")]
    NotConfigured,
    /// Stripe answered with an error.
    #[error("the payment provider refused the request")]
    Refused(#[source] anyhow::Error),
    /// Stripe could not be reached, or did not answer in time.
    #[error("the payment provider could not be reached; try again")]
    Unreachable(#[source] anyhow::Error),
    /// An answer that is not Stripe's shape: an error body that is no Stripe error, a
    /// success body that does not decode, or one without what we need.
    #[error("the payment provider's answer could not be read")]
    Unreadable(#[source] anyhow::Error),
    /// The call could not be made (a bad idempotency key, the client's configuration).
    #[error("the payment provider could not be called")]
    Internal(#[source] anyhow::Error),
}

/// The base URL as async-stripe wants it: it appends `v1/...` to it, so it must end in `/`.
fn api_base(config: &StripeConfig) -> String {
    let base = config.api_base.as_str();
    if base.ends_with('/') {
        base.to_owned()
    } else {
        format!("{base}/")
    }
}

/// Sends the call once with a fresh idempotency key, so that a retry by Stripe's side of the
/// network never doubles it and nothing here retries behind the caller's back.
fn once() -> Result<RequestStrategy, ProviderError> {
    IdempotencyKey::new(Uuid::new_v4().to_string())
        .map(RequestStrategy::Idempotent)
        .map_err(|e| ProviderError::Internal(e.into()))
}

/// Sorts async-stripe's errors; what went wrong goes into the source.
fn provider_error(what: &str, e: StripeError) -> ProviderError {
    match e {
        StripeError::Stripe(err, status) => ProviderError::Refused(anyhow::anyhow!(
            "Stripe {what} answered {status}: {} ({})",
            err.message.as_deref().unwrap_or_default(),
            err.type_.as_str()
        )),
        StripeError::ClientError(_) | StripeError::Timeout => {
            ProviderError::Unreachable(anyhow::anyhow!("Stripe {what}: {e}"))
        }
        StripeError::JSONDeserialize(_) => {
            ProviderError::Unreadable(anyhow::anyhow!("Stripe {what}: {e}"))
        }
        StripeError::ConfigError(_) => {
            ProviderError::Internal(anyhow::anyhow!("Stripe {what}: {e}"))
        }
    }
}

impl StripeClient {
    /// A client for `config`; no client (and 503s) without a secret key.
    pub fn new(config: &StripeConfig) -> anyhow::Result<Self> {
        let api = config
            .secret_key
            .as_ref()
            .map(|key| {
                stripe::ClientBuilder::new(key.expose().as_str())
                    .url(api_base(config))
                    .timeout(config.timeout)
                    .request_strategy(RequestStrategy::Once)
                    .app_info(
                        "agentidp-billing",
                        Some(env!("CARGO_PKG_VERSION").to_owned()),
                        None,
                    )
                    .build()
            })
            .transpose()
            .map_err(|e| anyhow::anyhow!("building the Stripe client: {e}"))?;
        Ok(Self {
            api,
            config: config.clone(),
        })
    }

    fn api(&self) -> Result<&stripe::Client, ProviderError> {
        self.api.as_ref().ok_or(ProviderError::NotConfigured)
    }

    /// `POST /v1/checkout/sessions` for a subscription to `req.price`. The tenant travels in
    /// `client_reference_id` and in the metadata of the session and of the subscription.
    pub async fn create_checkout_session(
        &self,
        req: &CheckoutRequest<'_>,
    ) -> Result<CheckoutSession, ProviderError> {
        let api = self.api()?;
        let tenant = req.tenant.to_string();
        let metadata = |with_price: bool| {
            let mut m = HashMap::from([
                ("tenant_id".to_owned(), tenant.clone()),
                ("tier".to_owned(), req.tier.to_owned()),
            ]);
            if with_price {
                m.insert("price_id".to_owned(), req.price.to_owned());
            }
            m
        };
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(req.price.to_owned());
        item.quantity = Some(1);
        let mut subscription = CreateCheckoutSessionSubscriptionData::new();
        subscription.metadata = Some(metadata(false));
        let mut create = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .line_items(vec![item])
            .client_reference_id(tenant.as_str())
            .success_url(self.config.success_url.as_str())
            .cancel_url(self.config.cancel_url.as_str())
            .metadata(metadata(true))
            .subscription_data(subscription);
        if let Some(c) = req.customer {
            create = create.customer(c);
        }
        let session = create
            .customize()
            .request_strategy(once()?)
            .send(api)
            .await
            .map_err(|e| provider_error("POST /v1/checkout/sessions", e))?;
        let id = session.id.as_str().to_owned();
        let url = session.url.ok_or_else(|| {
            ProviderError::Unreadable(anyhow::anyhow!("Checkout Session {id} came without a url"))
        })?;
        Ok(CheckoutSession { id, url })
    }

    /// `POST /v1/subscriptions/{id}`: moves the subscription's item to `price`, prorated.
    pub async fn change_price(
        &self,
        subscription: &str,
        item: &str,
        price: &str,
    ) -> Result<(), ProviderError> {
        let api = self.api()?;
        let mut change = UpdateSubscriptionItems::new();
        change.id = Some(item.to_owned());
        change.price = Some(price.to_owned());
        UpdateSubscription::new(subscription)
            .items(vec![change])
            .proration_behavior(UpdateSubscriptionProrationBehavior::CreateProrations)
            .customize()
            .request_strategy(once()?)
            .send(api)
            .await
            .map_err(|e| provider_error("POST /v1/subscriptions/{id}", e))?;
        Ok(())
    }
}
