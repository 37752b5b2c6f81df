//! `/api/v1/webhooks/{id}/deliveries`: the delivery history of a subscription, and manual
//! redelivery (of dead letters, typically).

use actix_web::{HttpResponse, web};
use platform::auth::scopes::{WebhooksRead, WebhooksWrite};
use platform::auth::{RequireScope, TenantId};
use platform::extract::Query;
use platform::pagination::{Limit, Page, cursor_param};
use platform::{ApiError, ApiResult};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{path_id, query_value};
use crate::audit::event::format_time;
use crate::repo::deliveries::DeliveryRow;
use crate::webhooks::subscriptions::Subscriptions;

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

/// The subscription named by the path, which must exist in the tenant.
async fn subscription(subs: &Subscriptions, tenant: Uuid, raw: &str) -> Result<Uuid, ApiError> {
    let id = path_id(raw, "webhook")?;
    subs.require(tenant, id).await?;
    Ok(id)
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
    subs: web::Data<Subscriptions>,
    _auth: RequireScope<WebhooksRead>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
    Query(q): Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let limit = Limit::within(q.limit, 50, 200)?;
    let status = query_value("status", q.status.as_deref())?;
    let before = cursor_param(q.cursor.as_deref())?;
    let webhook = path_id(&path, "webhook")?;
    let rows = subs
        .deliveries(tenant, webhook, status, before, limit.fetch())
        .await?;
    let page = Page::from_rows(rows, limit, |d| (d.created_at, d.id)).map(|d| to_json(&d));
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /api/v1/webhooks/{id}/deliveries/{delivery}`: with every attempt.
pub async fn get(
    subs: web::Data<Subscriptions>,
    _auth: RequireScope<WebhooksRead>,
    TenantId(tenant): TenantId,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (hook, delivery) = path.into_inner();
    let webhook = subscription(&subs, tenant, &hook).await?;
    let id = path_id(&delivery, "delivery")?;
    let (d, attempts) = subs.delivery(tenant, webhook, id).await?;
    let attempts: Vec<Value> = attempts
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
    subs: web::Data<Subscriptions>,
    _auth: RequireScope<WebhooksWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (hook, delivery) = path.into_inner();
    let webhook = subscription(&subs, tenant, &hook).await?;
    let id = path_id(&delivery, "delivery")?;
    let d = subs.redeliver(tenant, webhook, id).await?;
    Ok(HttpResponse::Accepted().json(to_json(&d)))
}
