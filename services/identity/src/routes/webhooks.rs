//! `/api/v1/webhooks`: subscriptions. The signing secret is shown when a subscription is
//! created or its secret rotated, never again.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use platform::ApiResult;
use platform::auth::scopes::{WebhooksRead, WebhooksWrite};
use platform::auth::{RequireScope, TenantId};
use platform::extract::Json;
use serde_json::{Value, json};

use super::support::{actor, path_id};
use crate::audit::event::format_time;
use crate::repo::webhooks::WebhookRow;
use crate::webhooks::subscriptions::{NewWebhook, Subscriptions, WebhookPatch, WithSecret};

/// The API representation of a subscription.
fn to_json(w: &WebhookRow) -> Value {
    json!({
        "id": w.id,
        "url": w.url,
        "description": w.description,
        "event_types": w.event_types,
        "active": w.active,
        "created_at": format_time(w.created_at),
        "updated_at": format_time(w.updated_at),
    })
}

/// A subscription with its new secret.
fn with_secret(s: &WithSecret) -> Value {
    let mut body = to_json(&s.webhook);
    body["secret"] = json!(s.secret);
    body
}

/// `POST /api/v1/webhooks`.
pub async fn create(
    subscriptions: web::Data<Subscriptions>,
    auth: RequireScope<WebhooksWrite>,
    TenantId(tenant): TenantId,
    Json(input): Json<NewWebhook>,
) -> ApiResult<HttpResponse> {
    let created = subscriptions
        .create(tenant, &actor(auth.claims()), input)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/webhooks/{}", created.webhook.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(with_secret(&created)))
}

/// `GET /api/v1/webhooks`.
pub async fn list(
    subscriptions: web::Data<Subscriptions>,
    _auth: RequireScope<WebhooksRead>,
    TenantId(tenant): TenantId,
) -> ApiResult<HttpResponse> {
    let data: Vec<Value> = subscriptions
        .list(tenant)
        .await?
        .iter()
        .map(to_json)
        .collect();
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}

/// `GET /api/v1/webhooks/{id}`.
pub async fn get(
    subscriptions: web::Data<Subscriptions>,
    _auth: RequireScope<WebhooksRead>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "webhook")?;
    Ok(HttpResponse::Ok().json(to_json(&subscriptions.get(tenant, id).await?)))
}

/// `PATCH /api/v1/webhooks/{id}`.
pub async fn update(
    subscriptions: web::Data<Subscriptions>,
    auth: RequireScope<WebhooksWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
    Json(patch): Json<WebhookPatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "webhook")?;
    let w = subscriptions
        .update(tenant, &actor(auth.claims()), id, patch)
        .await?;
    Ok(HttpResponse::Ok().json(to_json(&w)))
}

/// `POST /api/v1/webhooks/{id}/rotate-secret`: a new secret, shown once; the old one stops
/// signing at once.
pub async fn rotate_secret(
    subscriptions: web::Data<Subscriptions>,
    auth: RequireScope<WebhooksWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "webhook")?;
    let rotated = subscriptions
        .rotate_secret(tenant, &actor(auth.claims()), id)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(with_secret(&rotated)))
}

/// `DELETE /api/v1/webhooks/{id}`: removes the subscription and its delivery history.
pub async fn delete(
    subscriptions: web::Data<Subscriptions>,
    auth: RequireScope<WebhooksWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "webhook")?;
    subscriptions
        .delete(tenant, &actor(auth.claims()), id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
