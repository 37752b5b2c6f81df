//! The analytics route table. Handlers extract, parse, call, and map the result;
//! authorization is in their signatures (`RequireScope<...>`, `TenantId`). Routes of a
//! disabled feature are not registered, so they answer 404 like any unknown path.

mod activity;
mod agent_cards;
mod agents;
mod controls;
mod params;
mod report;
pub mod state;
mod tokens;

use actix_web::web;
use platform::auth::AuthContext;

use self::state::State;

/// Registers every enabled route.
pub fn configure(cfg: &mut web::ServiceConfig, state: State, auth: web::Data<AuthContext>) {
    let (analytics, compliance) = (state.config.enabled, state.config.compliance_enabled);
    cfg.app_data(state.compliance.clone())
        .app_data(state)
        .app_data(auth);
    if analytics {
        cfg.route("/api/v1/analytics/tokens", web::get().to(tokens::get))
            .route(
                "/api/v1/analytics/agents/activity",
                web::get().to(activity::get),
            )
            .route("/api/v1/analytics/agents", web::get().to(agents::get));
    }
    if compliance {
        cfg.route("/api/v1/compliance/report", web::get().to(report::get))
            .route("/api/v1/compliance/controls", web::get().to(controls::get))
            .route(
                "/api/v1/compliance/agent-cards",
                web::get().to(agent_cards::get),
            );
    }
}
