//! The billing route table. Handlers extract, parse, call the domain module and map the
//! result; authorization is in their signatures (`RequireScope<...>`, `TenantId`).

mod account;
mod internal;
mod problems;
pub mod state;
mod tiers;
mod webhooks;

use actix_web::web;
use platform::auth::AuthContext;

use self::state::State;

/// Registers every route (none when `BILLING_ENABLED=false`: everything answers 404).
pub fn configure(cfg: &mut web::ServiceConfig, state: State, auth: web::Data<AuthContext>) {
    if !state.config.enabled() {
        return;
    }
    cfg.app_data(state.checkout.clone())
        .app_data(state.events.clone())
        .app_data(state)
        .app_data(auth)
        .route("/api/v1/billing/tiers", web::get().to(tiers::list))
        .route(
            "/api/v1/billing/checkout",
            web::post().to(account::checkout),
        )
        .route("/api/v1/billing/upgrade", web::post().to(account::upgrade))
        .route(
            "/api/v1/billing/subscription",
            web::get().to(account::subscription),
        )
        .route("/api/v1/billing/usage", web::get().to(account::usage))
        .route(
            "/api/v1/billing/webhooks/stripe",
            web::post().to(webhooks::stripe),
        )
        .route("/internal/v1/usage", web::post().to(internal::usage))
        .route(
            "/internal/v1/entitlements/{tenant}",
            web::get().to(internal::entitlements),
        );
}
