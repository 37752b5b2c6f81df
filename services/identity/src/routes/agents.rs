//! `/api/v1/agents`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use domain::{AgentStatus, AgentType, DeploymentEnv};
use platform::ApiResult;
use platform::auth::scopes::{AgentsRead, AgentsWrite};
use platform::auth::{RequireScope, TenantId};
use platform::errors::ApiError;
use platform::extract::{Json, Query};
use serde::Deserialize;
use uuid::Uuid;

use super::{actor, decode_cursor, encode_cursor, path_id};
use crate::agents::{self, AgentPatch, NewAgentInput, Transition};
use crate::repo::agents::{self as repo, ListFilter};
use crate::startup::State;

/// `POST /api/v1/agents`.
pub async fn create(
    state: State,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    Json(input): Json<NewAgentInput>,
) -> ApiResult<HttpResponse> {
    let fields = input.validate()?;
    let row = agents::create(&state, tenant, &actor(auth.claims()), fields).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/agents/{}", row.id)))
        .json(agents::to_json(&state, &row)))
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

fn bad_query(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_query(field, message)
}

fn check<T: std::str::FromStr<Err = String>>(
    field: &str,
    v: &Option<String>,
) -> Result<Option<String>, ApiError> {
    match v {
        Some(s) => s
            .parse::<T>()
            .map(|_| Some(s.clone()))
            .map_err(|e| bad_query(field, e)),
        None => Ok(None),
    }
}

/// `GET /api/v1/agents`: filters and keyset pagination in creation order.
pub async fn list(
    state: State,
    _auth: RequireScope<AgentsRead>,
    TenantId(tenant): TenantId,
    Query(q): Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let limit = i64::from(q.limit.unwrap_or(20));
    if !(1..=100).contains(&limit) {
        return Err(bad_query("limit", "must be from 1 to 100"));
    }
    let tag = match &q.tag {
        Some(t) if t.is_empty() || t.len() > 64 => {
            return Err(bad_query("tag", "must be 1 to 64 characters"));
        }
        other => other.as_ref().map(|t| t.to_ascii_lowercase()),
    };
    let filter = ListFilter {
        status: check::<AgentStatus>("status", &q.status)?,
        agent_type: check::<AgentType>("agent_type", &q.agent_type)?,
        deployment_env: check::<DeploymentEnv>("deployment_env", &q.deployment_env)?,
        tag,
        after: match &q.cursor {
            Some(c) => Some(
                decode_cursor(c)
                    .ok_or_else(|| bad_query("cursor", "is not a cursor this API returned"))?,
            ),
            None => None,
        },
    };
    let c = state.core.db.get().await?;
    let mut rows = repo::list(&c, tenant, &filter, limit + 1).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_cursor(r.created_at, r.id))
    } else {
        None
    };
    let data: Vec<serde_json::Value> = rows.iter().map(|r| agents::to_json(&state, r)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"data": data, "next_cursor": next})))
}

/// `GET /api/v1/agents/{id}`.
pub async fn get(
    state: State,
    _auth: RequireScope<AgentsRead>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "agent")?;
    let c = state.core.db.get().await?;
    let row = repo::get(&c, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    Ok(HttpResponse::Ok().json(agents::to_json(&state, &row)))
}

/// `PATCH /api/v1/agents/{id}`.
pub async fn update(
    state: State,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
    Json(patch): Json<AgentPatch>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "agent")?;
    let row = agents::update(&state, tenant, &actor(auth.claims()), id, patch).await?;
    Ok(HttpResponse::Ok().json(agents::to_json(&state, &row)))
}

async fn transition(
    state: State,
    auth: RequireScope<AgentsWrite>,
    tenant: Uuid,
    path: web::Path<String>,
    t: Transition,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "agent")?;
    let row = agents::transition(&state, tenant, &actor(auth.claims()), id, t).await?;
    Ok(HttpResponse::Ok().json(agents::to_json(&state, &row)))
}

/// `DELETE /api/v1/agents/{id}`: decommission (history is kept).
pub async fn decommission(
    state: State,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    transition(state, auth, tenant, path, Transition::Decommission).await
}

/// `POST /api/v1/agents/{id}/suspend`.
pub async fn suspend(
    state: State,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    transition(state, auth, tenant, path, Transition::Suspend).await
}

/// `POST /api/v1/agents/{id}/reactivate`.
pub async fn reactivate(
    state: State,
    auth: RequireScope<AgentsWrite>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    transition(state, auth, tenant, path, Transition::Reactivate).await
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    #[test]
    fn cursors_round_trip() {
        let at = crate::audit::micros(OffsetDateTime::now_utc());
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(at, id)), Some((at, id)));
        assert_eq!(decode_cursor("nonsense"), None);
    }
}
