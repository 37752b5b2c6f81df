//! Internal endpoints for the other services (service tokens only, never routed by the
//! ingress): a tenant's audit chain status and the signing-key inventory.

use actix_web::{HttpResponse, web};
use domain::audit::{ChainReport, SigningKeyInfo, SigningKeys};
use domain::revocation::{RevocationAnswer, RevocationQuery};
use platform::auth::RequireScope;
use platform::auth::scopes::Internal;
use platform::extract::Json;
use platform::{ApiError, ApiResult};
use time::OffsetDateTime;

use super::path_id;
use crate::audit::verify;
use crate::repo::{audit as audit_repo, keys as keys_repo, revocations};
use crate::startup::State;

/// `GET /internal/v1/audit/integrity/{tenant}`: the latest background verification of the
/// tenant's chain when it is recent (within two verification intervals), else a fresh walk.
pub async fn integrity(
    state: State,
    _auth: RequireScope<Internal>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = path_id(&path, "tenant")?;
    let c = state.core.db.get().await?;
    let fresh_after = OffsetDateTime::now_utc() - state.config.audit.verify_interval * 2;
    if let Some((report, at)) = audit_repo::verification(&c, tenant).await?
        && at > fresh_after
        && let Ok(report) = serde_json::from_value::<ChainReport>(report)
    {
        return Ok(HttpResponse::Ok().json(report));
    }
    let report = verify::walk(&c, tenant, &state.keys.current(), &state.config.issuer()).await?;
    let json = serde_json::to_value(&report).map_err(ApiError::internal)?;
    audit_repo::store_verification(&c, tenant, report.valid, &json, report.verified_at).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// `GET /internal/v1/signing-keys`: the published signing keys (no private parts) and the
/// rotation interval.
pub async fn signing_keys(state: State, _auth: RequireScope<Internal>) -> ApiResult<HttpResponse> {
    let now = OffsetDateTime::now_utc();
    let set = state.keys.current();
    let published: Vec<&str> = set.published(now).map(|k| k.kid.as_str()).collect();
    let active = set.active(now).map(|k| k.kid.clone());
    let c = state.core.db.get().await?;
    let keys = keys_repo::inventory(&c)
        .await?
        .into_iter()
        .filter(|(kid, ..)| published.contains(&kid.as_str()))
        .map(|(kid, alg, source, created_at, activates_at)| {
            let status = if Some(&kid) == active.as_ref() {
                "active"
            } else if activates_at > now {
                "next"
            } else {
                "retired"
            };
            SigningKeyInfo {
                kid,
                alg,
                source,
                created_at,
                activates_at,
                status: status.to_owned(),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(SigningKeys {
        keys,
        rotation_interval_secs: state.config.keys.rotation_interval.as_secs(),
    }))
}

/// `POST /internal/v1/revocations/check`: whether a token is revoked, from PostgreSQL (the
/// other services ask when Redis cannot answer).
pub async fn revocation_check(
    state: State,
    _auth: RequireScope<Internal>,
    Json(q): Json<RevocationQuery>,
) -> ApiResult<HttpResponse> {
    let c = state.core.db.get().await?;
    let issued = OffsetDateTime::from_unix_timestamp_nanos(i128::from(q.issued_at_ms) * 1_000_000)
        .map_err(|_| ApiError::invalid_field("issued_at_ms", "is out of range"))?;
    let revoked = revocations::covers(&c, &q.jti, &q.sub, &q.client_id, issued).await?;
    Ok(HttpResponse::Ok().json(RevocationAnswer { revoked }))
}
