//! `GET /api/v1/marketplace/agents/{id}`: one listing with the agent's DID document.

use actix_web::{HttpRequest, HttpResponse, web};
use platform::{ApiError, ApiResult};
use uuid::Uuid;

use crate::http_cache;
use crate::repo::listings;
use crate::startup::State;

/// A visible listing; anything else (unknown, hidden, malformed id) is 404.
pub async fn get(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::not_found("listing"))?;
    let listing = {
        let c = state.core.db.get().await?;
        listings::get_visible(&c, id)
            .await?
            .ok_or_else(|| ApiError::not_found("listing"))?
    };
    let body =
        serde_json::to_vec(&listing.detail(&state.public_base)).map_err(ApiError::internal)?;
    let etag = http_cache::etag_of(&body);
    Ok(http_cache::respond(
        &req,
        body.into(),
        &etag,
        state.config.max_age_secs,
    ))
}
