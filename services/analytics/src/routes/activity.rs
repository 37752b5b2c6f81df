//! `GET /api/v1/analytics/agents/activity?days=`: tokens issued per day of week and UTC hour.

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
    /// How many days ending now (1–90, default 28: four of each weekday).
    days: Option<u32>,
}

/// The handler.
pub async fn get(
    state: State,
    _: RequireScope<scopes::AnalyticsRead>,
    TenantId(tenant): TenantId,
    Query(q): Query<Params>,
) -> ApiResult<HttpResponse> {
    let days = params::days(q.days, 28)?;
    let c = state.core.db.get().await?;
    let grid = reports::activity(&c, tenant, days, OffsetDateTime::now_utc()).await?;
    let max = grid.iter().flatten().copied().max().unwrap_or(0);
    let total: i64 = grid.iter().flatten().sum();
    Ok(HttpResponse::Ok().json(json!({
        "days": days,
        "timezone": "UTC",
        "metric": "token.issued",
        "rows": "day of week, ISO order: 0 = Monday … 6 = Sunday",
        "columns": "hour of day 0–23, UTC",
        "heatmap": grid,
        "max": max,
        "total": total,
    })))
}
