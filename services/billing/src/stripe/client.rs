//! The Stripe API calls billing makes: create a Checkout Session, change a subscription's
//! price. Form-encoded requests with the secret key as bearer, an idempotency key per call,
//! JSON answers; `STRIPE_API_BASE` points it at a local fake in tests.

use std::time::Duration;

use platform::ApiError;
use serde::Deserialize;
use uuid::Uuid;

use crate::config::StripeConfig;

/// A created Checkout Session.
#[derive(Debug, Clone, Deserialize)]
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

/// Stripe's error envelope.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default, rename = "type")]
    kind: String,
}

/// The Stripe API client.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    config: StripeConfig,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("api_base", &self.config.api_base.as_str())
            .finish()
    }
}

fn not_configured() -> ApiError {
    ApiError::unavailable(
        "stripe_not_configured",
        "payments are not configured on this deployment (STRIPE_SECRET_KEY)",
        60,
    )
}

impl StripeClient {
    /// A client for `config`.
    pub fn new(config: &StripeConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5).min(config.timeout))
            .timeout(config.timeout)
            .user_agent(concat!("agentidp-billing/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            config: config.clone(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.config.api_base.as_str().trim_end_matches('/')
        )
    }

    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        form: &[(String, String)],
    ) -> Result<T, ApiError> {
        let key = self.config.secret_key.as_ref().ok_or_else(not_configured)?;
        let res = self
            .http
            .post(self.url(path))
            .bearer_auth(key.expose())
            .header("Idempotency-Key", Uuid::new_v4().to_string())
            .form(form)
            .send()
            .await
            .map_err(|e| {
                ApiError::new(
                    actix_web::http::StatusCode::BAD_GATEWAY,
                    "payment_provider_unavailable",
                    "the payment provider could not be reached; try again",
                )
                .with_source(e)
            })?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| {
            ApiError::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "payment_provider_unavailable",
                "the payment provider's answer could not be read",
            )
            .with_source(e)
        })?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| format!("{} ({})", b.error.message, b.error.kind))
                .unwrap_or_else(|_| format!("HTTP {status}"));
            return Err(ApiError::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "payment_provider_error",
                "the payment provider refused the request",
            )
            .with_source(anyhow::anyhow!("Stripe {path} answered {status}: {detail}")));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::internal(anyhow::anyhow!("decoding Stripe's answer to {path}: {e}"))
        })
    }

    /// `POST /v1/checkout/sessions` for a subscription to `req.price`. The tenant travels in
    /// `client_reference_id` and in the metadata of the session and of the subscription.
    pub async fn create_checkout_session(
        &self,
        req: &CheckoutRequest<'_>,
    ) -> Result<CheckoutSession, ApiError> {
        let tenant = req.tenant.to_string();
        let mut form: Vec<(String, String)> = [
            ("mode", "subscription"),
            ("line_items[0][price]", req.price),
            ("line_items[0][quantity]", "1"),
            ("client_reference_id", &tenant),
            ("success_url", &self.config.success_url),
            ("cancel_url", &self.config.cancel_url),
            ("metadata[tenant_id]", &tenant),
            ("metadata[tier]", req.tier),
            ("metadata[price_id]", req.price),
            ("subscription_data[metadata][tenant_id]", &tenant),
            ("subscription_data[metadata][tier]", req.tier),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if let Some(c) = req.customer {
            form.push(("customer".into(), c.to_owned()));
        }
        self.post("/v1/checkout/sessions", &form).await
    }

    /// `POST /v1/subscriptions/{id}`: moves the subscription's item to `price`, prorated.
    pub async fn change_price(
        &self,
        subscription: &str,
        item: &str,
        price: &str,
    ) -> Result<(), ApiError> {
        let form: Vec<(String, String)> = [
            ("items[0][id]", item),
            ("items[0][price]", price),
            ("proration_behavior", "create_prorations"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let _: serde_json::Value = self
            .post(&format!("/v1/subscriptions/{subscription}"), &form)
            .await?;
        Ok(())
    }
}
