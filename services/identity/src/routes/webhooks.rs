//! `/api/v1/webhooks`: subscriptions. The signing secret is shown when a subscription is
//! created or its secret rotated, never again.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use domain::feed::actions::WEBHOOK_EVENT_TYPES;
use platform::auth::scopes::{WebhooksRead, WebhooksWrite};
use platform::auth::{RequireScope, TenantId};
use platform::errors::FieldError;
use platform::extract::Json;
use platform::{ApiError, ApiResult};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{actor, path_id};
use crate::audit::{self, NewEvent, format_time};
use crate::repo::webhooks::{self as repo, WebhookRow};
use crate::startup::{AppState, State};
use crate::webhooks::{new_secret, seal_secret};

/// Most subscriptions per tenant.
pub const MAX_PER_TENANT: i64 = 20;

/// The API representation of a subscription.
pub fn to_json(w: &WebhookRow) -> Value {
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

/// Body of `POST /api/v1/webhooks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    url: String,
    event_types: Vec<String>,
    #[serde(default)]
    description: String,
}

/// Body of `PATCH /api/v1/webhooks/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    url: Option<String>,
    event_types: Option<Vec<String>>,
    description: Option<String>,
    active: Option<bool>,
}

fn event_types(types: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    if types.is_empty() {
        errors.push(FieldError::new(
            "event_types",
            "must name at least one event type",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for t in types {
        if !WEBHOOK_EVENT_TYPES.contains(&t.as_str()) {
            errors.push(FieldError::new(
                "event_types",
                format!("{t:?} is not one of: {}", WEBHOOK_EVENT_TYPES.join(", ")),
            ));
        } else if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

fn description(d: &str, errors: &mut Vec<FieldError>) {
    if d.chars().count() > 500 || d.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "description",
            "must be at most 500 characters without control characters",
        ));
    }
}

async fn checked_url(state: &AppState, url: &str, errors: &mut Vec<FieldError>) -> String {
    match state.webhooks.policy().check_url(url).await {
        Ok(u) => u.to_string(),
        Err(msg) => {
            errors.push(FieldError::new("url", msg));
            String::new()
        }
    }
}

async fn record(
    tx: &impl platform::db::GenericClient,
    claims_actor: String,
    action: &'static str,
    w: &WebhookRow,
) -> Result<(), ApiError> {
    audit::append(
        tx,
        vec![
            NewEvent::new(w.tenant_id, claims_actor, action, Some(format!("webhook:{}", w.id)))
                .details(json!({"webhook_id": w.id, "url": w.url, "event_types": w.event_types, "active": w.active})),
        ],
    )
    .await?;
    Ok(())
}

/// `POST /api/v1/webhooks`.
pub async fn create(
    state: State,
    auth: RequireScope<WebhooksWrite>,
    TenantId(tenant): TenantId,
    Json(input): Json<NewWebhook>,
) -> ApiResult<HttpResponse> {
    let mut errors = Vec::new();
    let types = event_types(&input.event_types, &mut errors);
    description(&input.description, &mut errors);
    let url = checked_url(&state, &input.url, &mut errors).await;
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let id = Uuid::now_v7();
    let secret = new_secret().map_err(ApiError::internal)?;
    let now = audit::micros(OffsetDateTime::now_utc());
    let row = WebhookRow {
        id,
        tenant_id: tenant,
        url,
        description: input.description,
        event_types: types,
        secret_enc: seal_secret(&state.kek, id, &secret).map_err(ApiError::internal)?,
        active: true,
        created_at: now,
        updated_at: now,
    };
    let mut client = state.core.db.get().await?;
    let tx = client.transaction().await?;
    // Serialise a tenant's subscription changes so the limit holds under concurrency.
    tx.execute(
        "SELECT id FROM tenants WHERE id = $1 FOR UPDATE",
        &[&tenant],
    )
    .await?;
    if repo::count(&tx, tenant).await? >= MAX_PER_TENANT {
        return Err(ApiError::conflict(
            "webhook_limit",
            format!("a tenant may have at most {MAX_PER_TENANT} webhooks"),
        ));
    }
    repo::insert(&tx, &row).await?;
    record(&tx, actor(auth.claims()), "webhook.created", &row).await?;
    tx.commit().await?;
    let mut body = to_json(&row);
    body["secret"] = json!(secret);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/webhooks/{id}")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

/// `GET /api/v1/webhooks`.
pub async fn list(
    state: State,
    _auth: RequireScope<WebhooksRead>,
    TenantId(tenant): TenantId,
) -> ApiResult<HttpResponse> {
    let c = state.core.db.get().await?;
    let data: Vec<Value> = repo::list(&c, tenant).await?.iter().map(to_json).collect();
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}

/// `GET /api/v1/webhooks/{id}`.
pub async fn get(
    state: State,
    _auth: RequireScope<WebhooksRead>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "webhook")?;
    let c = state.core.db.get().await?;
    let w = repo::get(&c, tenant, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(HttpResponse::Ok().json(to_json(&w)))
}

/// `PATCH /api/v1/webhooks/{id}`.
pub async fn update(
    state: State,
    auth: RequireScope<WebhooksWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
    Json(patch): Json<WebhookPatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "webhook")?;
    let mut errors = Vec::new();
    let types = patch
        .event_types
        .as_ref()
        .map(|t| event_types(t, &mut errors));
    if let Some(d) = &patch.description {
        description(d, &mut errors);
    }
    let url = match &patch.url {
        Some(u) => Some(checked_url(&state, u, &mut errors).await),
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut client = state.core.db.get().await?;
    let tx = client.transaction().await?;
    let mut w = repo::get(&tx, tenant, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    if let Some(u) = url {
        w.url = u;
    }
    if let Some(t) = types {
        w.event_types = t;
    }
    if let Some(d) = patch.description {
        w.description = d;
    }
    if let Some(a) = patch.active {
        w.active = a;
    }
    w.updated_at = audit::micros(OffsetDateTime::now_utc());
    repo::update(&tx, &w).await?;
    record(&tx, actor(auth.claims()), "webhook.updated", &w).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(to_json(&w)))
}

/// `POST /api/v1/webhooks/{id}/rotate-secret`: a new secret, shown once; the old one stops
/// signing at once.
pub async fn rotate_secret(
    state: State,
    auth: RequireScope<WebhooksWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "webhook")?;
    let secret = new_secret().map_err(ApiError::internal)?;
    let mut client = state.core.db.get().await?;
    let tx = client.transaction().await?;
    let mut w = repo::get(&tx, tenant, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    w.secret_enc = seal_secret(&state.kek, id, &secret).map_err(ApiError::internal)?;
    w.updated_at = audit::micros(OffsetDateTime::now_utc());
    repo::update(&tx, &w).await?;
    record(&tx, actor(auth.claims()), "webhook.secret_rotated", &w).await?;
    tx.commit().await?;
    let mut body = to_json(&w);
    body["secret"] = json!(secret);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

/// `DELETE /api/v1/webhooks/{id}`: removes the subscription and its delivery history.
pub async fn delete(
    state: State,
    auth: RequireScope<WebhooksWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "webhook")?;
    let mut client = state.core.db.get().await?;
    let tx = client.transaction().await?;
    let w = repo::get(&tx, tenant, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    repo::delete(&tx, tenant, id).await?;
    record(&tx, actor(auth.claims()), "webhook.deleted", &w).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
