//! `/api/v1/audit`: the tenant's audit log, its verification and its retention checkpoints.

use actix_web::{HttpResponse, web};
use platform::auth::scopes::AuditRead;
use platform::auth::{RequireScope, TenantId};
use platform::extract::Query;
use platform::pagination::{self, Limit, Page};
use platform::{ApiError, ApiResult};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::support::{path_id, query_value};
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
    fn filter(&self) -> Result<(EventFilter, Limit), ApiError> {
        let limit = Limit::within(self.limit, 50, 200)?;
        let action = match self.action.as_deref() {
            Some(a) if a.is_empty() || a.len() > 64 => {
                return Err(ApiError::invalid_query(
                    "action",
                    "must be 1 to 64 characters",
                ));
            }
            other => other.map(str::to_owned),
        };
        let outcome = query_value("outcome", self.outcome.as_deref())?;
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
        // A chain position; the plain numbers issued as cursors before are still read.
        let before_seq = self
            .cursor
            .as_deref()
            .map(|c| {
                pagination::decode::<i64>(c)
                    .or_else(|| c.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
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
    let rows = log.list(tenant, &filter, limit.fetch()).await?;
    let page = Page::from_rows(rows, limit, |e| e.chain_seq).map(|e| event_json(&e));
    Ok(HttpResponse::Ok().json(page))
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

/// Query of `GET /api/v1/audit/verify`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyParams {
    full: Option<String>,
}

/// `GET /api/v1/audit/verify`: walks the tenant's chain from where it was last verified
/// intact (`?full=true`: from the start); bounded and limited per tenant. The report, plus
/// `walk` (`incremental` or `full`) and `from` (the verified position it went on from).
pub async fn verify(
    log: web::Data<AuditLog>,
    _auth: RequireScope<AuditRead>,
    TenantId(tenant): TenantId,
    Query(q): Query<VerifyParams>,
) -> ApiResult<HttpResponse> {
    let full = match q.full.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid_query("full", "must be true or false")),
    };
    let (walked, decision) = log.verify(tenant, full).await?;
    let mut body = serde_json::to_value(&walked.report).map_err(ApiError::internal)?;
    body["walk"] = json!(if full { "full" } else { "incremental" });
    body["from"] = json!(walked.from);
    let mut res = HttpResponse::Ok().json(body);
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
    let limit = Limit::parse(q.limit)?;
    let rows = log.checkpoints(tenant, i64::from(limit.get())).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(c: &str) -> Result<Option<i64>, ApiError> {
        let q = ListParams {
            action: None,
            agent_id: None,
            outcome: None,
            from: None,
            to: None,
            cursor: Some(c.to_owned()),
            limit: None,
        };
        q.filter().map(|(f, _)| f.before_seq)
    }

    #[test]
    fn cursors_are_platform_cursors_or_the_plain_positions_issued_before() {
        assert_eq!(cursor(&pagination::encode(&42_i64)).unwrap(), Some(42));
        assert_eq!(cursor("42").unwrap(), Some(42));
        for bad in ["-4", "0", &pagination::encode(&0_i64), "nonsense"] {
            assert_eq!(cursor(bad).unwrap_err().code(), "invalid_query", "{bad}");
        }
    }
}
