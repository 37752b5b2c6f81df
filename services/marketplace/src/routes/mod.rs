//! The marketplace route table: public, unauthenticated, read-only. Handlers parse, call the
//! repository (through the response cache for searches) and answer with `ETag` and
//! `Cache-Control`. With `MARKETPLACE_ENABLED=false` every marketplace path answers 404.

mod get;
mod search;

use actix_web::{HttpResponse, web};
use platform::ApiError;

use crate::startup::State;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    let enabled = state.config.enabled;
    cfg.app_data(state);
    if enabled {
        cfg.route("/api/v1/marketplace/agents", web::get().to(search::search))
            .route("/api/v1/marketplace/agents/{id}", web::get().to(get::get));
    } else {
        cfg.service(web::scope("/api/v1/marketplace").default_service(web::to(disabled)));
    }
}

async fn disabled() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        "the marketplace is not enabled on this deployment",
    ))
}
