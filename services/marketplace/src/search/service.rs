//! Running a search: validate the parameters, answer from the response cache, or be admitted
//! for the client's address and take a turn ([`super::turns`]), query the database, cut the
//! page and its cursor, and cache the response.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics::Counter;
use platform::db::Db;
use platform::telemetry::Metrics;
use serde::Serialize;
use tokio_postgres::error::SqlState;

use super::cursor::encode_cursor;
use super::request::{InvalidQuery, SearchParams, SearchRequest};
use super::turns::Turns;
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
    /// The client's address has as many uncached searches in flight as it may
    /// (`MARKETPLACE_SEARCH_IP_CONCURRENCY`; 429 `rate_limited`).
    #[error("at most {0} uncached searches from one address run at once")]
    ClientBusy(usize),
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
    /// Turns of searches in the database (`MARKETPLACE_SEARCH_CONCURRENCY`), at most
    /// `MARKETPLACE_SEARCH_IP_CONCURRENCY` admitted per client address.
    turns: Arc<Turns>,
    /// Searches refused for their address's bound.
    refused: Counter,
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
    pub fn new(db: Db, cache: Arc<ResponseCache<B>>, config: &Config, metrics: &Metrics) -> Self {
        let in_flight = metrics.gauge("agentidp_marketplace_searches_in_flight", &[]);
        Self {
            db,
            cache,
            turns: Turns::new(
                config.search_concurrency,
                config.search_ip_concurrency,
                in_flight,
            ),
            refused: metrics.counter(
                "agentidp_marketplace_searches_refused_total",
                &[("reason", "address_busy")],
            ),
            stats: StatsCache::default(),
            timeout: config.search_timeout,
            pair_matches_min: config.pair_matches_min,
            public_base: config.common.public_base(),
        }
    }

    /// The response to `params` for the client at `client`, `{"data": [...],
    /// "next_cursor"}`: cached, or computed (and cached when the cache is usable).
    pub async fn page(
        &self,
        params: SearchParams,
        client: Option<IpAddr>,
    ) -> Result<Arc<Cached<B>>, SearchError> {
        let search = params.parse()?;
        self.cache
            .get_or_fill(search.cache_key(), &search.filter, |started| {
                self.run(&search, client, started)
            })
            .await
    }

    async fn run(
        &self,
        search: &SearchRequest,
        client: Option<IpAddr>,
        started: Started,
    ) -> Result<Cached<B>, SearchError> {
        let mut ticket = self.turns.admit(client).map_err(|e| {
            self.refused.increment(1);
            SearchError::ClientBusy(e.limit)
        })?;
        // Many concurrent searches only make each slower (they contend for the same buffers).
        ticket
            .turn(self.timeout)
            .await
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
