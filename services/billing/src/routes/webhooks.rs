//! `POST /api/v1/billing/webhooks/stripe`.
//!
//! The raw body is read (up to 1 MiB) and its `Stripe-Signature` verified before anything
//! is parsed or stored: a bad, stale or missing signature is 400 and nothing is written.
//! 200 only after the event's transaction committed; any failure is a 5xx so Stripe retries.

use actix_web::{HttpRequest, HttpResponse, web};
use platform::ApiResult;
use platform::errors::ApiError;
use serde_json::json;

use crate::startup::State;
use crate::stripe::{event, signature};
use crate::webhooks::{self, Outcome};

/// Largest accepted event (Stripe's events are far smaller).
const MAX_EVENT_BYTES: usize = 1 << 20;

/// `POST /api/v1/billing/webhooks/stripe`.
pub async fn stripe(
    state: State,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let secret = state.config.stripe.webhook_secret.as_ref().ok_or_else(|| {
        ApiError::unavailable(
            "stripe_not_configured",
            "webhooks are not configured on this deployment (STRIPE_WEBHOOK_SECRET)",
            60,
        )
    })?;
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body = read(&mut payload).await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Err(e) = signature::verify(&body, header, secret.expose(), now) {
        tracing::warn!(reason = %e, "stripe webhook refused");
        return Err(ApiError::bad_request("invalid_signature", e.to_string()));
    }
    let event = event::parse(&body).map_err(|e| ApiError::bad_request("malformed_event", e))?;
    let (outcome, tenant) = webhooks::apply(&state, &event).await?;
    tracing::info!(
        event.id = %event.id,
        event.kind = %event.kind,
        tenant.id = tenant.map(|t| t.to_string()).unwrap_or_default(),
        duplicate = outcome == Outcome::Duplicate,
        "stripe event"
    );
    Ok(HttpResponse::Ok().json(json!({
        "received": true,
        "duplicate": outcome == Outcome::Duplicate,
    })))
}

async fn read(payload: &mut web::Payload) -> Result<web::Bytes, ApiError> {
    use futures_util::StreamExt as _;
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("malformed_body", format!("could not read the body: {e}"))
        })?;
        if buf.len() + chunk.len() > MAX_EVENT_BYTES {
            return Err(ApiError::new(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request body exceeds {MAX_EVENT_BYTES} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
