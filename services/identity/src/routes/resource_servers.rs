//! `/api/v1/resource-servers`: the tenant's APIs that tokens may name as their audience.
//! Writes need `admin:tenant` (they decide what tokens third parties receive); reads
//! `agents:read`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use platform::ApiResult;
use platform::auth::scopes::{AdminTenant, AgentsRead};
use platform::auth::{RequireScope, TenantId};
use platform::extract::{Json, Query};
use platform::pagination::{Limit, Page, cursor_param};
use serde::Deserialize;

use super::support::{actor, path_id};
use crate::resource_servers::ResourceServers;
use crate::resource_servers::service::{NewResourceServer, ResourceServerPatch, to_json};

/// What a missing resource server is called in a 404.
const WHAT: &str = "resource server";

/// `POST /api/v1/resource-servers`.
pub async fn create(
    servers: web::Data<ResourceServers>,
    auth: RequireScope<AdminTenant>,
    TenantId(tenant): TenantId,
    Json(input): Json<NewResourceServer>,
) -> ApiResult<HttpResponse> {
    let row = servers.create(tenant, &actor(auth.claims()), input).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/resource-servers/{}", row.id),
        ))
        .json(to_json(&row)))
}

/// Query of `GET /api/v1/resource-servers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    cursor: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/resource-servers`: keyset pages in creation order.
pub async fn list(
    servers: web::Data<ResourceServers>,
    _auth: RequireScope<AgentsRead>,
    TenantId(tenant): TenantId,
    Query(q): Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let limit = Limit::parse(q.limit)?;
    let after = cursor_param(q.cursor.as_deref())?;
    let rows = servers.list(tenant, after, limit.fetch()).await?;
    let page = Page::from_rows(rows, limit, |r| (r.created_at, r.id)).map(|r| to_json(&r));
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /api/v1/resource-servers/{id}`.
pub async fn get(
    servers: web::Data<ResourceServers>,
    _auth: RequireScope<AgentsRead>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, WHAT)?;
    Ok(HttpResponse::Ok().json(to_json(&servers.get(tenant, id).await?)))
}

/// `PATCH /api/v1/resource-servers/{id}`.
pub async fn update(
    servers: web::Data<ResourceServers>,
    auth: RequireScope<AdminTenant>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
    Json(patch): Json<ResourceServerPatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, WHAT)?;
    let row = servers
        .update(tenant, &actor(auth.claims()), id, patch)
        .await?;
    Ok(HttpResponse::Ok().json(to_json(&row)))
}

/// `DELETE /api/v1/resource-servers/{id}`.
pub async fn delete(
    servers: web::Data<ResourceServers>,
    auth: RequireScope<AdminTenant>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, WHAT)?;
    servers.delete(tenant, &actor(auth.claims()), id).await?;
    Ok(HttpResponse::NoContent().finish())
}
