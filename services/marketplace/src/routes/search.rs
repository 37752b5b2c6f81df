//! `GET /api/v1/marketplace/agents?q=&agent_type=&capability=&tag=&publisher=&cursor=&limit=`.

use actix_web::{HttpRequest, HttpResponse};
use platform::extract::Query;
use platform::{ApiError, ApiResult};
use serde::Serialize;
use tokio_postgres::error::SqlState;

use crate::cache::{Cached, Started};
use crate::http_cache;
use crate::listing::ListingDto;
use crate::repo::search as repo;
use crate::repo::versions::PageRange;
use crate::search::{SearchParams, SearchRequest, encode_cursor};
use crate::startup::{AppState, State};

/// A page of results.
#[derive(Debug, Serialize)]
struct Page<'a> {
    data: Vec<ListingDto<'a>>,
    next_cursor: Option<String>,
}

/// Full-text search and filters, one keyset page at a time: `{"data": [...], "next_cursor"}`.
pub async fn search(
    state: State,
    req: HttpRequest,
    Query(params): Query<SearchParams>,
) -> ApiResult<HttpResponse> {
    let search = params.parse()?;
    let page = state
        .cache
        .get_or_fill(search.cache_key(), &search.filter, |started| {
            run(&state, &search, started)
        })
        .await?;
    Ok(http_cache::respond(
        &req,
        page.body.clone(),
        &page.etag,
        state.config.max_age_secs,
    ))
}

async fn run(
    state: &AppState,
    search: &SearchRequest,
    started: Started,
) -> Result<Cached, ApiError> {
    let timeout = state.config.search_timeout;
    let busy = || {
        ApiError::unavailable(
            "search_busy",
            "too many searches are running; try again shortly",
            1,
        )
    };
    // Many concurrent searches only make each slower (they contend for the same buffers).
    let _turn = tokio::time::timeout(timeout, state.search_turns.acquire())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    let (version, mut hits) = {
        let mut c = state.core.db.get().await?;
        started.now();
        let pair_matches_min = state.config.pair_matches_min;
        let stats = if pair_matches_min > 0.0 {
            repo::LexemeStats::cached(&state.lexeme_stats, &c).await
        } else {
            None
        };
        let settings = repo::SearchSettings {
            timeout,
            pair_matches_min,
            stats: stats.as_deref(),
        };
        repo::search(&mut c, search, search.limit + 1, &settings)
            .await
            .map_err(|e| {
                if e.code() == Some(&SqlState::QUERY_CANCELED) {
                    ApiError::unavailable(
                        "search_timeout",
                        "the search took too long; add words or filters to narrow it",
                        1,
                    )
                } else {
                    ApiError::from(e)
                }
            })?
    };
    let ids = hits.iter().map(|h| h.listing.id).collect();
    let more = hits.len() as i64 > search.limit;
    let range = PageRange {
        after: search.after,
        last: hits.last().filter(|_| more).map(|h| h.key),
    };
    hits.truncate(search.limit as usize);
    let next_cursor = hits
        .last()
        .filter(|_| more)
        .map(|h| encode_cursor(&search.filter, h.key));
    let page = Page {
        data: hits
            .iter()
            .map(|h| h.listing.summary(&state.public_base))
            .collect(),
        next_cursor,
    };
    let body = serde_json::to_vec(&page).map_err(ApiError::internal)?;
    let etag = http_cache::etag_of(&body);
    Ok(Cached::new(body.into(), etag, ids, range, version))
}
