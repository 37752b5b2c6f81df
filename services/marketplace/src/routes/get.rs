//! `GET /api/v1/marketplace/agents/{id}`: one listing with the agent's DID document.

use actix_web::{HttpRequest, HttpResponse, web};
use platform::ApiResult;

use super::errors::listing_not_found;
use super::http_cache::{self, CachePolicy};
use crate::detail::Details;
use crate::etag::etag_of;

/// A visible listing; anything else (unknown, hidden, malformed id) is 404.
pub async fn get(
    details: web::Data<Details>,
    policy: web::ThinData<CachePolicy>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let body = details.body(&path).await?.ok_or_else(listing_not_found)?;
    let etag = etag_of(&body);
    Ok(http_cache::respond(&req, body.into(), &etag, policy.0))
}
