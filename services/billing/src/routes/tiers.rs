//! `GET /api/v1/billing/tiers`: the tier table, public (the portal's pricing page).

use actix_web::HttpResponse;
use actix_web::http::header;
use domain::TIERS;
use serde_json::json;

use crate::routes::state::State;

/// `GET /api/v1/billing/tiers`.
pub async fn list(state: State) -> HttpResponse {
    let tiers: Vec<serde_json::Value> = TIERS
        .iter()
        .map(|t| {
            json!({
                "tier": t.tier,
                "display_name": t.display_name,
                "limits": t.limits,
                "purchasable": state.config.stripe.price_of(t.tier).is_some(),
            })
        })
        .collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(json!({
            "tiers": tiers,
            "daily_limits_reset": "00:00 UTC",
            "note": "a null limit is unlimited",
        }))
}
