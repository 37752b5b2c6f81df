//! `GET /api/v1/analytics/tokens?days=`: tokens issued, refused and revoked per UTC day.

use actix_web::HttpResponse;
use platform::ApiResult;
use platform::auth::{RequireScope, TenantId, scopes};
use platform::extract::Query;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::reports;
use crate::routes::params;
use crate::routes::state::State;

/// Query of the operation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// How many days ending today (1–90, default 30).
    days: Option<u32>,
}

/// The handler.
pub async fn get(
    state: State,
    _: RequireScope<scopes::AnalyticsRead>,
    TenantId(tenant): TenantId,
    Query(q): Query<Params>,
) -> ApiResult<HttpResponse> {
    let days = params::days(q.days, 30)?;
    let c = state.core.db.get().await?;
    let series = reports::token_days(&c, tenant, days, OffsetDateTime::now_utc()).await?;
    let total = |f: fn(&reports::TokenDay) -> i64| series.iter().map(f).sum::<i64>();
    let totals = json!({
        "issued": total(|d| d.issued),
        "refused": total(|d| d.refused),
        "revoked": total(|d| d.revoked),
    });
    Ok(HttpResponse::Ok().json(json!({
        "days": days,
        "timezone": "UTC",
        "from": series.first().map(|d| d.date.clone()),
        "to": series.last().map(|d| d.date.clone()),
        "series": series,
        "totals": totals,
    })))
}
