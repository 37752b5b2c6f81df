//! `/internal/v1/*`: called by the other services with a service token (scope `internal`).

use actix_web::{HttpResponse, web};
use domain::usage::{Entitlements, UsageBatch};
use platform::ApiResult;
use platform::auth::RequireScope;
use platform::auth::scopes::Internal;
use platform::errors::ApiError;
use platform::extract::Json;
use uuid::Uuid;

use crate::repo::subscriptions;
use crate::routes::state::State;
use crate::usage;

/// `POST /internal/v1/usage`: records a batch once (the batch id makes retries harmless).
pub async fn usage(
    state: State,
    _auth: RequireScope<Internal>,
    Json(batch): Json<UsageBatch>,
) -> ApiResult<HttpResponse> {
    let receipt = usage::record(&state.core.db, &batch).await?;
    Ok(HttpResponse::Ok().json(receipt))
}

/// `GET /internal/v1/entitlements/{tenant}`: the tenant's tier and limits.
pub async fn entitlements(
    state: State,
    _auth: RequireScope<Internal>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = Uuid::parse_str(&path).map_err(|_| ApiError::not_found("tenant"))?;
    let c = state.core.db.get().await?;
    let tier = subscriptions::tier_of(&c, tenant).await?;
    Ok(HttpResponse::Ok().json(Entitlements {
        tenant_id: tenant,
        tier,
        limits: tier.limits(),
    }))
}
