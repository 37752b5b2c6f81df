//! `GET /api/v1/marketplace/agents?q=&agent_type=&capability=&tag=&publisher=&cursor=&limit=`.

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use platform::ApiResult;
use platform::extract::Query;

use super::http_cache::{self, CachePolicy};
use crate::search::request::SearchParams;
use crate::search::service::Search;

/// The search service as the handlers hold it: cached bodies are shared `Bytes`.
pub type Searches = Search<Bytes>;

/// Full-text search and filters, one keyset page at a time: `{"data": [...], "next_cursor"}`.
pub async fn search(
    searches: web::Data<Searches>,
    policy: web::ThinData<CachePolicy>,
    req: HttpRequest,
    Query(params): Query<SearchParams>,
) -> ApiResult<HttpResponse> {
    let page = searches
        .page(params, platform::server::request_ip(&req))
        .await?;
    Ok(http_cache::respond(
        &req,
        page.body.clone(),
        &page.etag,
        policy.0,
    ))
}
