//! `GET /api/v1/compliance/report`: the tenant's compliance report, from Redis when a
//! report younger than `COMPLIANCE_CACHE_TTL_SECS` is there (`X-Cache: hit`), else computed
//! and cached (`X-Cache: miss`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use platform::ApiResult;
use platform::auth::{RequireScope, TenantId, scopes};

use crate::compliance::{Compliance, Source};

/// The handler.
pub async fn get(
    compliance: web::Data<Compliance>,
    _: RequireScope<scopes::ComplianceRead>,
    TenantId(tenant): TenantId,
) -> ApiResult<HttpResponse> {
    let (report, source) = compliance.report(tenant).await?;
    let hit = match source {
        Source::Cache => "hit",
        Source::Computed => "miss",
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(("x-cache", hit))
        .json(report))
}
