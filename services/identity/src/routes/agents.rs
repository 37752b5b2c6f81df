//! `/api/v1/agents`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use domain::{AgentPatch, AgentStatus, AgentType, DeploymentEnv, NewAgent};
use platform::ApiResult;
use platform::auth::scopes::{AgentsRead, AgentsWrite};
use platform::auth::{RequireScope, TenantId};
use platform::errors::ApiError;
use platform::extract::{Json, Query};
use serde::Deserialize;
use uuid::Uuid;

use super::support::{actor, decode_cursor, encode_cursor, path_id};
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
    let row = agents.create(tenant, &actor(auth.claims()), input).await?;
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

fn check<T: std::str::FromStr<Err = String>>(
    field: &str,
    v: &Option<String>,
) -> Result<Option<T>, ApiError> {
    v.as_deref()
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| ApiError::invalid_query(field, e))
        })
        .transpose()
}

/// `GET /api/v1/agents`: filters and keyset pagination in creation order.
pub async fn list(
    agents: web::Data<Agents>,
    _auth: RequireScope<AgentsRead>,
    TenantId(tenant): TenantId,
    Query(q): Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let limit = i64::from(q.limit.unwrap_or(20));
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_query("limit", "must be from 1 to 100"));
    }
    let tag = match &q.tag {
        Some(t) if t.is_empty() || t.len() > 64 => {
            return Err(ApiError::invalid_query("tag", "must be 1 to 64 characters"));
        }
        other => other.as_ref().map(|t| t.to_ascii_lowercase()),
    };
    let filter = ListFilter {
        status: check::<AgentStatus>("status", &q.status)?,
        agent_type: check::<AgentType>("agent_type", &q.agent_type)?,
        deployment_env: check::<DeploymentEnv>("deployment_env", &q.deployment_env)?,
        tag,
        after: match &q.cursor {
            Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                ApiError::invalid_query("cursor", "is not a cursor this API returned")
            })?),
            None => None,
        },
    };
    let mut rows = agents.list(tenant, &filter, limit + 1).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_cursor(r.created_at, r.id))
    } else {
        None
    };
    let data: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| to_json(agents.public_url(), r))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"data": data, "next_cursor": next})))
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
        .update(tenant, &actor(auth.claims()), id, patch)
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
