//! `/api/v1/federation/trust-policies` (which external OIDC tokens the tenant exchanges for
//! agent tokens; writes need `agents:write`, platform scopes `admin:tenant` too; reads
//! `agents:read`) and `/api/v1/agents/{id}/delegations` (standing delegations; managed by
//! the agent itself or a caller holding `agents:write`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use domain::Scope;
use platform::ApiResult;
use platform::auth::scopes::{AgentsRead, AgentsWrite};
use platform::auth::{Authenticated, RequireScope, TenantId};
use platform::extract::{Json, Query};
use platform::pagination::{Limit, Page, cursor_param};
use serde::Deserialize;

use super::support::{actor, grantor, path_id};
use crate::delegations::{self, Delegations, NewDelegation};
use crate::federation::TrustPolicies;
use crate::federation::policies::{NewTrustPolicy, TrustPolicyPatch, to_json};

/// What a missing policy is called in a 404.
const WHAT: &str = "trust policy";

/// Query of the list routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    cursor: Option<String>,
    limit: Option<u32>,
}

/// `POST /api/v1/federation/trust-policies`.
pub async fn create(
    policies: web::Data<TrustPolicies>,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    Json(input): Json<NewTrustPolicy>,
) -> ApiResult<HttpResponse> {
    let row = policies
        .create(tenant, &grantor(auth.claims()), input)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/federation/trust-policies/{}", row.id),
        ))
        .json(to_json(&row)))
}

/// `GET /api/v1/federation/trust-policies`: keyset pages in creation order.
pub async fn list(
    policies: web::Data<TrustPolicies>,
    _auth: RequireScope<AgentsRead>,
    TenantId(tenant): TenantId,
    Query(q): Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let limit = Limit::parse(q.limit)?;
    let after = cursor_param(q.cursor.as_deref())?;
    let rows = policies.list(tenant, after, limit.fetch()).await?;
    let page = Page::from_rows(rows, limit, |r| (r.created_at, r.id)).map(|r| to_json(&r));
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /api/v1/federation/trust-policies/{id}`.
pub async fn get(
    policies: web::Data<TrustPolicies>,
    _auth: RequireScope<AgentsRead>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, WHAT)?;
    Ok(HttpResponse::Ok().json(to_json(&policies.get(tenant, id).await?)))
}

/// `PATCH /api/v1/federation/trust-policies/{id}`.
pub async fn update(
    policies: web::Data<TrustPolicies>,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
    Json(patch): Json<TrustPolicyPatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, WHAT)?;
    let row = policies
        .update(tenant, &grantor(auth.claims()), id, patch)
        .await?;
    Ok(HttpResponse::Ok().json(to_json(&row)))
}

/// `DELETE /api/v1/federation/trust-policies/{id}`.
pub async fn delete(
    policies: web::Data<TrustPolicies>,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, WHAT)?;
    policies.delete(tenant, &actor(auth.claims()), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/agents/{id}/delegations`.
pub async fn create_delegation(
    delegations: web::Data<Delegations>,
    Authenticated(claims): Authenticated,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
    Json(input): Json<NewDelegation>,
) -> ApiResult<HttpResponse> {
    let agent = path_id(&path, "agent")?;
    let may_write = claims.has_scope(Scope::AgentsWrite);
    let row = delegations
        .create(tenant, &grantor(&claims), may_write, agent, input)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/agents/{agent}/delegations/{}", row.id),
        ))
        .json(delegations::to_json(&row)))
}

/// `GET /api/v1/agents/{id}/delegations`.
pub async fn list_delegations(
    delegations: web::Data<Delegations>,
    _auth: RequireScope<AgentsRead>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
    Query(q): Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let agent = path_id(&path, "agent")?;
    let limit = Limit::parse(q.limit)?;
    let after = cursor_param(q.cursor.as_deref())?;
    let rows = delegations
        .list(tenant, agent, after, limit.fetch())
        .await?;
    let page =
        Page::from_rows(rows, limit, |r| (r.created_at, r.id)).map(|r| delegations::to_json(&r));
    Ok(HttpResponse::Ok().json(page))
}

/// `DELETE /api/v1/agents/{id}/delegations/{delegation_id}`.
pub async fn delete_delegation(
    delegations: web::Data<Delegations>,
    Authenticated(claims): Authenticated,
    TenantId(tenant): TenantId,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let agent = path_id(&path.0, "agent")?;
    let id = path_id(&path.1, "delegation")?;
    let may_write = claims.has_scope(Scope::AgentsWrite);
    delegations
        .delete(tenant, &grantor(&claims), may_write, agent, id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
