//! `POST /api/v1/billing/webhooks/stripe`.
//!
//! The raw body is read (up to 1 MiB) and its `Stripe-Signature` verified before anything
//! is parsed or stored: a bad, stale or missing signature is 400 and nothing is written.
//! 200 only after the event's transaction committed; any failure is a 5xx so Stripe retries.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform::ApiResult;
use platform::errors::ApiError;
use serde_json::json;

use crate::webhooks::{Outcome, StripeEvents};

/// Largest accepted event (Stripe's events are far smaller).
const MAX_EVENT_BYTES: usize = 1 << 20;

/// `POST /api/v1/billing/webhooks/stripe`.
pub async fn stripe(
    events: web::Data<StripeEvents>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    events.secret()?;
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body = read(&mut payload).await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let received = events.receive(&body, header, now).await?;
    let duplicate = received.outcome == Outcome::Duplicate;
    tracing::info!(
        event.id = %received.event.id,
        event.kind = %received.event.kind,
        tenant.id = received.tenant.map(|t| t.to_string()).unwrap_or_default(),
        duplicate,
        "stripe event"
    );
    Ok(HttpResponse::Ok().json(json!({
        "received": true,
        "duplicate": duplicate,
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
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request body exceeds {MAX_EVENT_BYTES} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
