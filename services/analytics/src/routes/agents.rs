//! `GET /api/v1/analytics/agents?month=YYYY-MM`: each agent's tokens in a UTC month (the
//! current one by default).

use actix_web::HttpResponse;
use platform::auth::{RequireScope, TenantId, scopes};
use platform::extract::Query;
use platform::{ApiError, ApiResult};
use serde::Deserialize;
use serde_json::json;
use time::{Month, OffsetDateTime};

use crate::reports;
use crate::routes::state::State;

/// Query of the operation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// `YYYY-MM` (default: this month in UTC).
    month: Option<String>,
}

fn parse_month(raw: &str) -> Option<(i32, Month)> {
    let (y, m) = raw.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Some((y.parse().ok()?, month))
}

/// The handler.
pub async fn get(
    state: State,
    _: RequireScope<scopes::AnalyticsRead>,
    TenantId(tenant): TenantId,
    Query(q): Query<Params>,
) -> ApiResult<HttpResponse> {
    let now = OffsetDateTime::now_utc();
    let (year, month) = match q.month.as_deref() {
        None => (now.year(), now.month()),
        Some(raw) => parse_month(raw)
            .ok_or_else(|| ApiError::invalid_query("month", "must be a month as YYYY-MM"))?,
    };
    let (from, to) = reports::month_range(year, month)
        .ok_or_else(|| ApiError::invalid_query("month", "must be a month as YYYY-MM"))?;
    let c = state.core.db.get().await?;
    let agents = reports::agent_months(&c, tenant, from, to).await?;
    Ok(HttpResponse::Ok().json(json!({
        "month": format!("{year:04}-{:02}", u8::from(month)),
        "timezone": "UTC",
        "agents": agents,
    })))
}
