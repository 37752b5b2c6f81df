//! A tenant's billing: checkout, upgrade, subscription, usage.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use platform::ApiResult;
use platform::auth::scopes::{BillingRead, BillingWrite};
use platform::auth::{RequireScope, TenantId};
use platform::extract::Json;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::checkout::{Checkout, TierInput, Upgrade};
use crate::repo::{subscriptions as subs, usage as repo};
use crate::routes::state::State;
use crate::usage::format_day;

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// `POST /api/v1/billing/checkout`: a Checkout Session URL for an upgrade.
pub async fn checkout(
    checkout: web::Data<Checkout>,
    _auth: RequireScope<BillingWrite>,
    TenantId(tenant): TenantId,
    Json(input): Json<TierInput>,
) -> ApiResult<HttpResponse> {
    let tier = input.parse()?;
    let s = checkout.checkout(tenant, tier).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"id": s.id, "url": s.url, "tier": tier})))
}

/// `POST /api/v1/billing/upgrade`: upgrade only; a downgrade or the same tier is 409.
pub async fn upgrade(
    checkout: web::Data<Checkout>,
    _auth: RequireScope<BillingWrite>,
    TenantId(tenant): TenantId,
    Json(input): Json<TierInput>,
) -> ApiResult<HttpResponse> {
    let tier = input.parse()?;
    Ok(match checkout.upgrade(tenant, tier).await? {
        Upgrade::Checkout(s) => HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({"status": "checkout_required", "tier": tier,
                         "checkout": {"id": s.id, "url": s.url}})),
        Upgrade::Changed { subscription_id } => HttpResponse::Accepted().json(json!({
            "status": "pending",
            "tier": tier,
            "subscription_id": subscription_id,
            "detail": "the new tier applies when the payment provider confirms the change",
        })),
    })
}

/// `GET /api/v1/billing/subscription`.
pub async fn subscription(
    state: State,
    _auth: RequireScope<BillingRead>,
    TenantId(tenant): TenantId,
) -> ApiResult<HttpResponse> {
    let c = state.core.db.get().await?;
    let row = subs::current(&c, tenant).await?;
    let tier = row.as_ref().map_or(domain::Tier::Free, subs::entitled_tier);
    let sub = row.map(|r| {
        json!({
            "id": r.subscription_id,
            "status": r.status,
            "tier": r.tier,
            "price_id": r.price_id,
            "current_period_end": r.current_period_end.map(rfc3339),
            "cancel_at_period_end": r.cancel_at_period_end,
            "updated_at": rfc3339(r.updated_at),
        })
    });
    Ok(HttpResponse::Ok().json(json!({
        "tenant_id": tenant,
        "tier": tier,
        "limits": tier.limits(),
        "subscription": sub,
    })))
}

fn by_metric(rows: &[(String, i64)]) -> serde_json::Value {
    let get = |m: &str| rows.iter().find(|(k, _)| k == m).map_or(0, |(_, v)| *v);
    json!({"api_calls": get("api_calls"), "token_issuances": get("token_issuances")})
}

/// `GET /api/v1/billing/usage`: today's and this month's counts per metric (UTC), as
/// recorded from the services' batches (which arrive at most a flush interval late).
pub async fn usage(
    state: State,
    _auth: RequireScope<BillingRead>,
    TenantId(tenant): TenantId,
) -> ApiResult<HttpResponse> {
    let today = OffsetDateTime::now_utc().date();
    let month_start = today.replace_day(1).unwrap_or(today);
    let c = state.core.db.get().await?;
    let day = repo::totals(&c, tenant, today, today).await?;
    let month = repo::totals(&c, tenant, month_start, today).await?;
    let tier = subs::tier_of(&c, tenant).await?;
    let mut today_json = by_metric(&day);
    today_json["date"] = format_day(today).into();
    let mut month_json = by_metric(&month);
    month_json["from"] = format_day(month_start).into();
    month_json["to"] = format_day(today).into();
    Ok(HttpResponse::Ok().json(json!({
        "tenant_id": tenant,
        "tier": tier,
        "today": today_json,
        "month": month_json,
        "limits": tier.limits(),
    })))
}
