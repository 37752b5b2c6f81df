//! Internal endpoints for the other services (service tokens only, never routed by the
//! ingress): a tenant's audit chain status, the signing-key inventory, and revocation
//! checks.

use actix_web::{HttpResponse, web};
use domain::revocation::{RevocationAnswer, RevocationQuery};
use platform::ApiResult;
use platform::auth::RequireScope;
use platform::auth::scopes::Internal;
use platform::extract::Json;

use super::support::path_id;
use crate::audit::log::AuditLog;
use crate::keys::directory::KeyDirectory;
use crate::tokens::introspection::Introspection;

/// `GET /internal/v1/audit/integrity/{tenant}`: the latest background verification of the
/// tenant's chain when it is recent (within two verification intervals), else a fresh walk.
pub async fn integrity(
    log: web::Data<AuditLog>,
    _auth: RequireScope<Internal>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = path_id(&path, "tenant")?;
    Ok(HttpResponse::Ok().json(log.integrity(tenant).await?))
}

/// `GET /internal/v1/signing-keys`: the published signing keys (no private parts) and the
/// rotation interval.
pub async fn signing_keys(
    keys: web::Data<KeyDirectory>,
    _auth: RequireScope<Internal>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(keys.inventory().await?))
}

/// `POST /internal/v1/revocations/check`: whether a token is revoked, from PostgreSQL (the
/// other services ask when Redis cannot answer).
pub async fn revocation_check(
    introspection: web::Data<Introspection>,
    _auth: RequireScope<Internal>,
    Json(q): Json<RevocationQuery>,
) -> ApiResult<HttpResponse> {
    let revoked = introspection.is_revoked(&q).await?;
    Ok(HttpResponse::Ok().json(RevocationAnswer { revoked }))
}
