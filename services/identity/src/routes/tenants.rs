//! `/api/v1/tenants`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use platform::auth::{RequireScope, TenantId, scopes::AdminTenant};
use platform::extract::Json;
use platform::server::request_ip;
use platform::{ApiError, ApiResult};

use super::support::{actor, path_id};
use crate::tenants::signup::{SignupInput, Signups};
use crate::tenants::{self, TenantPatch, Tenants};

/// Resolves `me` or the caller's own id; another tenant's id is 404.
fn own(raw: &str, tenant: TenantId) -> Result<uuid::Uuid, ApiError> {
    if raw == "me" {
        return Ok(tenant.0);
    }
    let id = path_id(raw, "tenant")?;
    if id == tenant.0 {
        Ok(id)
    } else {
        Err(ApiError::not_found("tenant"))
    }
}

/// `POST /api/v1/tenants`: signup (limited per address, optionally by invitation); returns
/// the tenant-admin client once.
pub async fn create(
    signups: web::Data<Signups>,
    req: HttpRequest,
    Json(input): Json<SignupInput>,
) -> ApiResult<HttpResponse> {
    let s = signups.signup(input, request_ip(&req)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "tenant": tenants::to_json(&s.tenant),
            "client_id": s.client_id,
            "client_secret": s.client_secret,
            "scopes": s.scopes,
        })))
}

/// `GET /api/v1/tenants/{id|me}`.
pub async fn get(
    tenants: web::Data<Tenants>,
    _scope: RequireScope<AdminTenant>,
    tenant: TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = own(&path, tenant)?;
    Ok(HttpResponse::Ok().json(tenants::to_json(&tenants.get(id).await?)))
}

/// `PATCH /api/v1/tenants/{id|me}`.
pub async fn update(
    tenants: web::Data<Tenants>,
    auth: RequireScope<AdminTenant>,
    tenant: TenantId,
    path: web::Path<String>,
    Json(patch): Json<TenantPatch>,
) -> ApiResult<HttpResponse> {
    let id = own(&path, tenant)?;
    let row = tenants.update(id, &actor(auth.claims()), patch).await?;
    Ok(HttpResponse::Ok().json(tenants::to_json(&row)))
}
