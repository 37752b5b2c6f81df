//! `GET /api/v1/compliance/report`: the tenant's compliance report, from Redis when a
//! report younger than `COMPLIANCE_CACHE_TTL_SECS` is there (`X-Cache: hit`), else computed
//! and cached (`X-Cache: miss`).

use actix_web::HttpResponse;
use actix_web::http::header;
use platform::ApiResult;
use platform::auth::{RequireScope, TenantId, scopes};

use crate::compliance;
use crate::startup::State;

/// The handler.
pub async fn get(
    state: State,
    _: RequireScope<scopes::ComplianceRead>,
    TenantId(tenant): TenantId,
) -> ApiResult<HttpResponse> {
    let redis = &state.core.redis;
    let (report, hit) = match compliance::cached(redis, tenant).await {
        Some(r) => (r, "hit"),
        None => {
            let r = compliance::compute(&state, tenant).await?;
            let ttl = state.config.compliance_cache_ttl.as_secs();
            compliance::store(redis, tenant, &r, ttl).await;
            (r, "miss")
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(("x-cache", hit))
        .json(report))
}
