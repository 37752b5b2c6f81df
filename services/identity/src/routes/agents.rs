//! `/api/v1/agents`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use domain::{AgentPatch, AgentStatus, AgentType, DeploymentEnv, NewAgent};
use platform::ApiResult;
use platform::auth::scopes::{AgentsRead, AgentsWrite};
use platform::auth::{RequireScope, TenantId};
use platform::errors::ApiError;
use platform::extract::{Json, Query};
use platform::pagination::{Limit, Page, cursor_param};
use serde::Deserialize;
use uuid::Uuid;

use super::support::{actor, grantor, path_id, query_value};
use crate::agents::view::to_json;
use crate::agents::{Agents, Transition};
use crate::repo::agents::ListFilter;

/// `POST /api/v1/agents`.
pub async fn create(
    agents: web::Data<Agents>,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    Json(input): Json<NewAgent>,
) -> ApiResult<HttpResponse> {
    let row = agents
        .create(tenant, &grantor(auth.claims()), input)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/agents/{}", row.id)))
        .json(to_json(agents.public_url(), &row)))
}

/// Query of `GET /api/v1/agents`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    status: Option<String>,
    agent_type: Option<String>,
    deployment_env: Option<String>,
    tag: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/agents`: filters and keyset pagination in creation order.
pub async fn list(
    agents: web::Data<Agents>,
    _auth: RequireScope<AgentsRead>,
    TenantId(tenant): TenantId,
    Query(q): Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let limit = Limit::parse(q.limit)?;
    // One rule for tags: what registration accepts is what the filter accepts.
    let tag = match q.tag.as_deref() {
        Some(t) => Some(
            domain::Tag::parse(t)
                .map_err(|e| ApiError::invalid_query("tag", e.to_string()))?
                .into_string(),
        ),
        None => None,
    };
    let filter = ListFilter {
        status: query_value::<AgentStatus>("status", q.status.as_deref())?,
        agent_type: query_value::<AgentType>("agent_type", q.agent_type.as_deref())?,
        deployment_env: query_value::<DeploymentEnv>(
            "deployment_env",
            q.deployment_env.as_deref(),
        )?,
        tag,
        after: cursor_param(q.cursor.as_deref())?,
    };
    let rows = agents.list(tenant, &filter, limit.fetch()).await?;
    let page = Page::from_rows(rows, limit, |r| (r.created_at, r.id))
        .map(|r| to_json(agents.public_url(), &r));
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /api/v1/agents/{id}`.
pub async fn get(
    agents: web::Data<Agents>,
    _auth: RequireScope<AgentsRead>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "agent")?;
    let row = agents.get(tenant, id).await?;
    Ok(HttpResponse::Ok().json(to_json(agents.public_url(), &row)))
}

/// `PATCH /api/v1/agents/{id}`.
pub async fn update(
    agents: web::Data<Agents>,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
    Json(patch): Json<AgentPatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "agent")?;
    let row = agents
        .update(tenant, &grantor(auth.claims()), id, patch)
        .await?;
    Ok(HttpResponse::Ok().json(to_json(agents.public_url(), &row)))
}

async fn transition(
    agents: web::Data<Agents>,
    auth: RequireScope<AgentsWrite>,
    tenant: Uuid,
    path: web::Path<String>,
    t: Transition,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "agent")?;
    let row = agents
        .transition(tenant, &actor(auth.claims()), id, t)
        .await?;
    Ok(HttpResponse::Ok().json(to_json(agents.public_url(), &row)))
}

/// `DELETE /api/v1/agents/{id}`: decommission (history is kept).
pub async fn decommission(
    agents: web::Data<Agents>,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    transition(agents, auth, tenant, path, Transition::Decommission).await
}

/// `POST /api/v1/agents/{id}/suspend`.
pub async fn suspend(
    agents: web::Data<Agents>,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    transition(agents, auth, tenant, path, Transition::Suspend).await
}

/// `POST /api/v1/agents/{id}/reactivate`.
pub async fn reactivate(
    agents: web::Data<Agents>,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    transition(agents, auth, tenant, path, Transition::Reactivate).await
}
