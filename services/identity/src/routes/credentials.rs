//! `/api/v1/agents/{id}/credentials`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use platform::ApiResult;
use platform::auth::scopes::{AgentsRead, AgentsWrite};
use platform::auth::{RequireScope, TenantId};
use platform::extract::OptionalJson;

use super::support::{actor, grantor, no_store, path_id};
use crate::credentials::{self, CredentialPatch, Credentials, NewCredentialInput, RotateInput};

/// `POST /api/v1/agents/{id}/credentials`: the secret is in this response only.
pub async fn create(
    credentials: web::Data<Credentials>,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
    OptionalJson(input): OptionalJson<NewCredentialInput>,
) -> ApiResult<HttpResponse> {
    let agent = path_id(&path, "agent")?;
    let (row, secret) = credentials
        .create(tenant, &grantor(auth.claims()), agent, input)
        .await?;
    Ok(no_store(
        HttpResponse::Created()
            .insert_header((
                header::LOCATION,
                format!("/api/v1/agents/{agent}/credentials/{}", row.id),
            ))
            .json(credentials::with_secret(&row, secret.as_deref())),
    ))
}

/// `GET /api/v1/agents/{id}/credentials`.
pub async fn list(
    credentials: web::Data<Credentials>,
    _auth: RequireScope<AgentsRead>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let agent = path_id(&path, "agent")?;
    let rows = credentials.list(tenant, agent).await?;
    let data: Vec<serde_json::Value> = rows.iter().map(credentials::to_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data })))
}

/// `POST /api/v1/agents/{id}/credentials/{cid}/rotate`.
pub async fn rotate(
    credentials: web::Data<Credentials>,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<(String, String)>,
    OptionalJson(input): OptionalJson<RotateInput>,
) -> ApiResult<HttpResponse> {
    let agent = path_id(&path.0, "agent")?;
    let id = path_id(&path.1, "credential")?;
    let (row, secret) = credentials
        .rotate(tenant, &grantor(auth.claims()), agent, id, input)
        .await?;
    Ok(no_store(
        HttpResponse::Ok().json(credentials::with_secret(&row, Some(&secret))),
    ))
}

/// `DELETE /api/v1/agents/{id}/credentials/{cid}`: revoke.
pub async fn revoke(
    credentials: web::Data<Credentials>,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let agent = path_id(&path.0, "agent")?;
    let id = path_id(&path.1, "credential")?;
    let row = credentials
        .revoke(tenant, &actor(auth.claims()), agent, id)
        .await?;
    Ok(HttpResponse::Ok().json(credentials::to_json(&row)))
}

/// `PATCH /api/v1/agents/{id}/credentials/{cid}`: new public keys of a private_key_jwt
/// credential, or whether its tokens must be DPoP-bound.
pub async fn update(
    credentials: web::Data<Credentials>,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<(String, String)>,
    platform::extract::Json(patch): platform::extract::Json<CredentialPatch>,
) -> ApiResult<HttpResponse> {
    let agent = path_id(&path.0, "agent")?;
    let id = path_id(&path.1, "credential")?;
    let row = credentials
        .update(tenant, &actor(auth.claims()), agent, id, patch)
        .await?;
    Ok(HttpResponse::Ok().json(credentials::to_json(&row)))
}
