//! `/api/v1/tenants/me/clients`: the caller's tenant-admin clients (scope `admin:tenant`).

use actix_web::{HttpResponse, web};
use platform::ApiResult;
use platform::auth::{RequireScope, TenantId, scopes::AdminTenant};
use platform::extract::{Json, OptionalJson};

use super::support::{actor, no_store};
use crate::credentials::RotateInput;
use crate::tenants::clients::{self, AdminClients, NewAdminClientInput};

/// `GET /api/v1/tenants/me/clients`.
pub async fn list(
    admin_clients: web::Data<AdminClients>,
    _auth: RequireScope<AdminTenant>,
    TenantId(tenant): TenantId,
) -> ApiResult<HttpResponse> {
    let rows = admin_clients.list(tenant).await?;
    let data: Vec<serde_json::Value> = rows.iter().map(clients::to_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data })))
}

/// `POST /api/v1/tenants/me/clients`: the secret is in this response only.
pub async fn create(
    admin_clients: web::Data<AdminClients>,
    auth: RequireScope<AdminTenant>,
    TenantId(tenant): TenantId,
    Json(input): Json<NewAdminClientInput>,
) -> ApiResult<HttpResponse> {
    let claims = auth.claims();
    let (row, secret) = admin_clients
        .create(tenant, &actor(claims), &claims.scope, input)
        .await?;
    Ok(no_store(
        HttpResponse::Created().json(clients::with_secret(&row, secret.as_deref())),
    ))
}

/// `POST /api/v1/tenants/me/clients/{client_id}/rotate`.
pub async fn rotate(
    admin_clients: web::Data<AdminClients>,
    auth: RequireScope<AdminTenant>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
    OptionalJson(input): OptionalJson<RotateInput>,
) -> ApiResult<HttpResponse> {
    let claims = auth.claims();
    let (row, secret) = admin_clients
        .rotate(tenant, &actor(claims), &claims.scope, &path, input)
        .await?;
    Ok(no_store(
        HttpResponse::Ok().json(clients::with_secret(&row, Some(&secret))),
    ))
}

/// `DELETE /api/v1/tenants/me/clients/{client_id}`: deletes the client and revokes its
/// tokens.
pub async fn delete(
    admin_clients: web::Data<AdminClients>,
    auth: RequireScope<AdminTenant>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let claims = auth.claims();
    admin_clients
        .delete(tenant, &actor(claims), &claims.scope, &path)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
