//! The marketplace route table: public, unauthenticated, read-only. Each handler extracts the
//! one service it uses, calls it once, and answers with `ETag` and `Cache-Control`
//! ([`http_cache`]); service errors become problem bodies in [`errors`]. With
//! `MARKETPLACE_ENABLED=false` every marketplace path answers 404.

mod errors;
mod get;
mod http_cache;
mod search;

use actix_web::{HttpResponse, web};
use platform::ApiError;

use crate::detail::Details;
pub use http_cache::CachePolicy;
pub use search::Searches;

/// What the handlers use, built by `startup`.
#[derive(Debug, Clone)]
pub struct Services {
    /// `MARKETPLACE_ENABLED`.
    pub enabled: bool,
    /// `GET /api/v1/marketplace/agents`.
    pub search: web::Data<Searches>,
    /// `GET /api/v1/marketplace/agents/{id}`.
    pub details: web::Data<Details>,
    /// `Cache-Control` of both.
    pub caching: CachePolicy,
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig, services: &Services) {
    if services.enabled {
        cfg.app_data(services.search.clone())
            .app_data(services.details.clone())
            .app_data(web::ThinData(services.caching))
            .route("/api/v1/marketplace/agents", web::get().to(search::search))
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
