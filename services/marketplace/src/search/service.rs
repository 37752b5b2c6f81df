//! Running a search: validate the parameters, answer from the response cache, or take a turn,
//! query the database, cut the page and its cursor, and cache the response.

use std::sync::Arc;
use std::time::Duration;

use platform::db::Db;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_postgres::error::SqlState;

use super::cursor::encode_cursor;
use super::request::{InvalidQuery, SearchParams, SearchRequest};
use crate::cache::{Cached, ResponseCache, Started};
use crate::config::Config;
use crate::etag::etag_of;
use crate::failure::Failure;
use crate::listing::ListingDto;
use crate::repo::search::{self as repo, LexemeStats, SearchSettings, StatsCache};
use crate::repo::versions::PageRange;

/// Why a search has no page.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A parameter it cannot take (400 `invalid_query`).
    #[error(transparent)]
    Invalid(#[from] InvalidQuery),
    /// No turn came free within the search timeout (503 `search_busy`).
    #[error("too many searches are running")]
    Busy,
    /// The database cancelled the query at the search timeout (503 `search_timeout`).
    #[error("the search took too long")]
    Timeout,
    /// Anything else.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl From<tokio_postgres::Error> for SearchError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.code() == Some(&SqlState::QUERY_CANCELED) {
            Self::Timeout
        } else {
            Self::Failed(e.into())
        }
    }
}

/// A page of results.
#[derive(Debug, Serialize)]
struct Page<'a> {
    data: Vec<ListingDto<'a>>,
    next_cursor: Option<String>,
}

/// Full-text search and filters over the visible listings, one keyset page at a time, with
/// the instance's response cache in front of the database. `B` is the type of cached bodies.
#[derive(Debug)]
pub struct Search<B> {
    db: Db,
    cache: Arc<ResponseCache<B>>,
    /// Turns of searches in the database (`MARKETPLACE_SEARCH_CONCURRENCY`).
    turns: Semaphore,
    /// The postings' statistics two-word searches estimate from.
    stats: StatsCache,
    /// `MARKETPLACE_SEARCH_TIMEOUT_MS`: for a turn, and for the query.
    timeout: Duration,
    /// `MARKETPLACE_PAIR_MATCHES_MIN`.
    pair_matches_min: f64,
    /// `PUBLIC_URL` without a trailing slash (links).
    public_base: String,
}

impl<B: From<Vec<u8>>> Search<B> {
    /// Searches of `db` through `cache`, as `config` says.
    pub fn new(db: Db, cache: Arc<ResponseCache<B>>, config: &Config) -> Self {
        Self {
            db,
            cache,
            turns: Semaphore::new(config.search_concurrency),
            stats: StatsCache::default(),
            timeout: config.search_timeout,
            pair_matches_min: config.pair_matches_min,
            public_base: config.common.public_base(),
        }
    }

    /// The response to `params`, `{"data": [...], "next_cursor"}`: cached, or computed (and
    /// cached when the cache is usable).
    pub async fn page(&self, params: SearchParams) -> Result<Arc<Cached<B>>, SearchError> {
        let search = params.parse()?;
        self.cache
            .get_or_fill(search.cache_key(), &search.filter, |started| {
                self.run(&search, started)
            })
            .await
    }

    async fn run(
        &self,
        search: &SearchRequest,
        started: Started,
    ) -> Result<Cached<B>, SearchError> {
        // Many concurrent searches only make each slower (they contend for the same buffers).
        let _turn = tokio::time::timeout(self.timeout, self.turns.acquire())
            .await
            .map_err(|_| SearchError::Busy)?
            .map_err(|_| SearchError::Busy)?;
        let (version, mut hits) = {
            let mut c = self.db.get().await.map_err(Failure::Connection)?;
            started.now();
            let stats = if self.pair_matches_min > 0.0 {
                LexemeStats::cached(&self.stats, &c).await
            } else {
                None
            };
            let settings = SearchSettings {
                timeout: self.timeout,
                pair_matches_min: self.pair_matches_min,
                stats: stats.as_deref(),
            };
            repo::search(&mut c, search, search.limit + 1, &settings).await?
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
                .map(|h| h.listing.summary(&self.public_base))
                .collect(),
            next_cursor,
        };
        let body = serde_json::to_vec(&page).map_err(Failure::from)?;
        let etag = etag_of(&body);
        Ok(Cached::new(body.into(), etag, ids, range, version))
    }
}
