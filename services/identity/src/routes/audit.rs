//! `/api/v1/audit`: the tenant's audit log, its verification and its retention checkpoints.

use actix_web::{HttpResponse, web};
use platform::auth::scopes::AuditRead;
use platform::auth::{RequireScope, TenantId};
use platform::extract::Query;
use platform::{ApiError, ApiResult};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::support::path_id;
use crate::audit::checkpoint;
use crate::audit::event::{ChainedEvent, format_time};
use crate::audit::log::AuditLog;
use crate::repo::audit::EventFilter;

/// An event as the API shows it.
pub fn event_json(e: &ChainedEvent) -> Value {
    json!({
        "id": e.id,
        "chain_seq": e.chain_seq,
        "actor": e.actor,
        "action": e.action,
        "outcome": e.outcome,
        "target": e.target,
        "details": e.details,
        "occurred_at": format_time(e.occurred_at),
        "prev_hash": hex::encode(&e.prev_hash),
        "hash": hex::encode(&e.hash),
    })
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    action: Option<String>,
    agent_id: Option<String>,
    outcome: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

fn time_param(field: &str, v: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    v.map(|s| {
        OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| ApiError::invalid_query(field, "must be an RFC 3339 timestamp"))
    })
    .transpose()
}

impl ListParams {
    fn filter(&self) -> Result<(EventFilter, i64), ApiError> {
        let limit = i64::from(self.limit.unwrap_or(50));
        if !(1..=200).contains(&limit) {
            return Err(ApiError::invalid_query("limit", "must be from 1 to 200"));
        }
        let action = match self.action.as_deref() {
            Some(a) if a.is_empty() || a.len() > 64 => {
                return Err(ApiError::invalid_query(
                    "action",
                    "must be 1 to 64 characters",
                ));
            }
            other => other.map(str::to_owned),
        };
        let outcome = self
            .outcome
            .as_deref()
            .map(|o| {
                o.parse()
                    .map_err(|e: String| ApiError::invalid_query("outcome", e))
            })
            .transpose()?;
        let agent_id = self
            .agent_id
            .as_deref()
            .map(|a| {
                Uuid::parse_str(a)
                    .map_err(|_| ApiError::invalid_query("agent_id", "must be a UUID"))
            })
            .transpose()?;
        let from = time_param("from", self.from.as_deref())?;
        let to = time_param("to", self.to.as_deref())?;
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(ApiError::invalid_query("to", "must be later than from"));
        }
        let before_seq = self
            .cursor
            .as_deref()
            .map(|c| {
                c.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ApiError::invalid_query("cursor", "is not a cursor this API returned")
                })
            })
            .transpose()?;
        Ok((
            EventFilter {
                action,
                agent_id,
                outcome,
                from,
                to,
                before_seq,
            },
            limit,
        ))
    }
}

/// `GET /api/v1/audit`: newest first, keyset pagination.
pub async fn list(
    log: web::Data<AuditLog>,
    _auth: RequireScope<AuditRead>,
    TenantId(tenant): TenantId,
    Query(q): Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let (filter, limit) = q.filter()?;
    let mut rows = log.list(tenant, &filter, limit + 1).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|e| e.chain_seq.to_string())
    } else {
        None
    };
    let data: Vec<Value> = rows.iter().map(event_json).collect();
    Ok(HttpResponse::Ok().json(json!({"data": data, "next_cursor": next})))
}

/// `GET /api/v1/audit/{id}`.
pub async fn get(
    log: web::Data<AuditLog>,
    _auth: RequireScope<AuditRead>,
    TenantId(tenant): TenantId,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "audit event")?;
    Ok(HttpResponse::Ok().json(event_json(&log.get(tenant, id).await?)))
}

/// `GET /api/v1/audit/verify`: walks the tenant's whole chain; limited per tenant.
pub async fn verify(
    log: web::Data<AuditLog>,
    _auth: RequireScope<AuditRead>,
    TenantId(tenant): TenantId,
) -> ApiResult<HttpResponse> {
    let (report, decision) = log.verify(tenant).await?;
    let mut res = HttpResponse::Ok().json(&report);
    decision.apply(res.headers_mut());
    Ok(res)
}

/// Query of `GET /api/v1/audit/checkpoints`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointParams {
    limit: Option<u32>,
}

/// `GET /api/v1/audit/checkpoints`: retention checkpoints, newest first; each `jwt` verifies
/// with the JWKS alone.
pub async fn checkpoints(
    log: web::Data<AuditLog>,
    _auth: RequireScope<AuditRead>,
    TenantId(tenant): TenantId,
    Query(q): Query<CheckpointParams>,
) -> ApiResult<HttpResponse> {
    let limit = i64::from(q.limit.unwrap_or(20));
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_query("limit", "must be from 1 to 100"));
    }
    let rows = log.checkpoints(tenant, limit).await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|cp| {
            json!({
                "chain_seq": cp.chain_seq,
                "event_id": cp.event_id,
                "hash": hex::encode(&cp.hash),
                "occurred_at": format_time(cp.occurred_at),
                "created_at": format_time(cp.created_at),
                "kid": cp.kid,
                "signed_at": format_time(cp.signed_at),
                "typ": checkpoint::TYP,
                "jwt": cp.jwt,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}
