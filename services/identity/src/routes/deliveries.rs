//! `/api/v1/webhooks/{id}/deliveries`: the delivery history of a subscription, and manual
//! redelivery (of dead letters, typically).

use actix_web::{HttpResponse, web};
use platform::auth::scopes::{WebhooksRead, WebhooksWrite};
use platform::auth::{RequireScope, TenantId};
use platform::extract::Query;
use platform::{ApiError, ApiResult};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::path_id;
use crate::audit::format_time;
use crate::crypto::{b64url, b64url_decode};
use crate::repo::deliveries::{self as repo, DeliveryRow};
use crate::repo::webhooks;
use crate::startup::State;

fn to_json(d: &DeliveryRow) -> Value {
    json!({
        "id": d.id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at.map(format_time),
        "last_attempt_at": d.last_attempt_at.map(format_time),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": format_time(d.created_at),
        "delivered_at": d.delivered_at.map(format_time),
    })
}

fn encode_cursor(at: OffsetDateTime, id: Uuid) -> String {
    b64url(format!("{}.{id}", at.unix_timestamp_nanos() / 1000))
}

fn decode_cursor(s: &str) -> Option<(OffsetDateTime, Uuid)> {
    let raw = String::from_utf8(b64url_decode(s)?).ok()?;
    let (micros, id) = raw.split_once('.')?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(micros.parse::<i128>().ok()? * 1000).ok()?;
    Some((at, Uuid::parse_str(id).ok()?))
}

async fn subscription(state: &State, tenant: Uuid, raw: &str) -> Result<Uuid, ApiError> {
    let id = path_id(raw, "webhook")?;
    let c = state.core.db.get().await?;
    webhooks::get(&c, tenant, id, false)
        .await?
        .map(|w| w.id)
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// Query of the delivery list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/webhooks/{id}/deliveries?status=&cursor=&limit=`: newest first.
pub async fn list(
    state: State,
    _auth: RequireScope<WebhooksRead>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
    Query(q): Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let limit = i64::from(q.limit.unwrap_or(50));
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid_query("limit", "must be from 1 to 200"));
    }
    let status = match q.status.as_deref() {
        None => None,
        Some(s @ ("pending" | "delivered" | "dead")) => Some(s),
        Some(_) => {
            return Err(ApiError::invalid_query(
                "status",
                "must be pending, delivered or dead",
            ));
        }
    };
    let before = q
        .cursor
        .as_deref()
        .map(|c| {
            decode_cursor(c).ok_or_else(|| {
                ApiError::invalid_query("cursor", "is not a cursor this API returned")
            })
        })
        .transpose()?;
    let webhook = subscription(&state, tenant, &path).await?;
    let c = state.core.db.get().await?;
    let mut rows = repo::list(&c, tenant, webhook, status, before, limit + 1).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|d| encode_cursor(d.created_at, d.id))
    } else {
        None
    };
    let data: Vec<Value> = rows.iter().map(to_json).collect();
    Ok(HttpResponse::Ok().json(json!({"data": data, "next_cursor": next})))
}

/// `GET /api/v1/webhooks/{id}/deliveries/{delivery}`: with every attempt.
pub async fn get(
    state: State,
    _auth: RequireScope<WebhooksRead>,
    TenantId(tenant): TenantId,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (hook, delivery) = path.into_inner();
    let webhook = subscription(&state, tenant, &hook).await?;
    let id = path_id(&delivery, "delivery")?;
    let c = state.core.db.get().await?;
    let d = repo::get(&c, tenant, webhook, id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    let attempts: Vec<Value> = repo::attempts(&c, id)
        .await?
        .into_iter()
        .map(|(attempt, at, status_code, error, duration_ms)| {
            json!({
                "attempt": attempt,
                "attempted_at": format_time(at),
                "status_code": status_code,
                "error": error,
                "duration_ms": duration_ms,
            })
        })
        .collect();
    let mut body = to_json(&d);
    body["attempt_history"] = json!(attempts);
    Ok(HttpResponse::Ok().json(body))
}

/// `POST /api/v1/webhooks/{id}/deliveries/{delivery}/redeliver`: a fresh round of attempts
/// for a delivered or dead delivery; 409 while it is still pending.
pub async fn redeliver(
    state: State,
    _auth: RequireScope<WebhooksWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (hook, delivery) = path.into_inner();
    let webhook = subscription(&state, tenant, &hook).await?;
    let id = path_id(&delivery, "delivery")?;
    let c = state.core.db.get().await?;
    if repo::get(&c, tenant, webhook, id).await?.is_none() {
        return Err(ApiError::not_found("delivery"));
    }
    if !repo::redeliver(&c, tenant, webhook, id).await? {
        return Err(ApiError::conflict(
            "delivery_pending",
            "this delivery is still being attempted",
        ));
    }
    state.webhooks.wake();
    let d = repo::get(&c, tenant, webhook, id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    Ok(HttpResponse::Accepted().json(to_json(&d)))
}
