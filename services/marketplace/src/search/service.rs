//! Running a search: validate the parameters, answer from the response cache, or be admitted
//! for the client's address and take a turn ([`super::turns`]), search the index (with a
//! text) or browse the database (without), cut the page and its cursor, and cache the
//! response.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics::Counter;
use platform::db::Db;
use platform::telemetry::Metrics;
use tokio_postgres::error::SqlState;

use super::cursor::encode_cursor;
use super::request::{InvalidQuery, SearchParams, SearchRequest};
use super::turns::Turns;
use crate::cache::{Cached, ResponseCache, Started};
use crate::config::Config;
use crate::etag::etag_of;
use crate::failure::Failure;
use crate::index::SearchIndex;
use crate::index::collect::Key;
use crate::repo::search as repo;
use crate::repo::versions::PageRange;
use crate::search::filter::After;

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

/// A result: its id, its place in the order and its JSON.
type Row = (uuid::Uuid, After, Vec<u8>);

/// Full-text search (the instance's index) and filters (the database), one keyset page at a
/// time, with the instance's response cache in front. `B` is the type of cached bodies.
#[derive(Debug)]
pub struct Search<B> {
    db: Db,
    index: Arc<SearchIndex>,
    cache: Arc<ResponseCache<B>>,
    /// Turns of uncached searches (`MARKETPLACE_SEARCH_CONCURRENCY`), at most
    /// `MARKETPLACE_SEARCH_IP_CONCURRENCY` admitted per client address.
    turns: Arc<Turns>,
    /// Searches refused for their address's bound.
    refused: Counter,
    /// `MARKETPLACE_SEARCH_TIMEOUT_MS`: for a turn, and for a query in the database.
    timeout: Duration,
    /// `PUBLIC_URL` without a trailing slash (links).
    public_base: String,
}

impl<B: From<Vec<u8>>> Search<B> {
    /// Searches of `index` and `db` through `cache`, as `config` says.
    pub fn new(
        db: Db,
        index: Arc<SearchIndex>,
        cache: Arc<ResponseCache<B>>,
        config: &Config,
        metrics: &Metrics,
    ) -> Self {
        let in_flight = metrics.gauge("agentidp_marketplace_searches_in_flight", &[]);
        Self {
            db,
            index,
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
            timeout: config.search_timeout,
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

    /// Up to `fetch` rows of `search` and the listing version they reflect.
    async fn rows(
        &self,
        search: &SearchRequest,
        fetch: i64,
        started: Started,
    ) -> Result<(i64, Vec<Row>), SearchError> {
        if search.filter.text.is_some() {
            let after = match search.after {
                Some(After::Ranked { score, id }) => Some(Key {
                    score,
                    id: id.as_u128(),
                }),
                _ => None,
            };
            let (index, filter) = (self.index.clone(), search.filter.clone());
            started.now();
            let (version, hits) =
                tokio::task::spawn_blocking(move || index.search(&filter, after, fetch as usize))
                    .await
                    .map_err(|e| Failure::Index(e.into()))?
                    .map_err(Failure::Index)?;
            let rows = hits
                .into_iter()
                .map(|h| {
                    let key = After::Ranked {
                        score: h.key.score,
                        id: h.id,
                    };
                    (h.id, key, h.body)
                })
                .collect();
            return Ok((version, rows));
        }
        let (version, listings) = {
            let mut c = self.db.get().await.map_err(Failure::Connection)?;
            started.now();
            repo::recent(&mut c, &search.filter, search.after, fetch, self.timeout).await?
        };
        let mut rows = Vec::with_capacity(listings.len());
        for l in listings {
            let key = After::Recent {
                created_at: l.created_at,
                id: l.id,
            };
            let body = serde_json::to_vec(&l.summary(&self.public_base)).map_err(Failure::from)?;
            rows.push((l.id, key, body));
        }
        Ok((version, rows))
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
        // Many concurrent searches only make each slower (they contend for the same cores).
        ticket
            .turn(self.timeout)
            .await
            .map_err(|_| SearchError::Busy)?;
        let (version, mut rows) = self.rows(search, search.limit + 1, started).await?;
        drop(ticket);
        let ids = rows.iter().map(|r| r.0).collect();
        let more = rows.len() as i64 > search.limit;
        let range = PageRange {
            after: search.after,
            last: rows.last().filter(|_| more).map(|r| r.1),
        };
        rows.truncate(search.limit as usize);
        let next_cursor = rows
            .last()
            .filter(|_| more)
            .map(|r| encode_cursor(&search.filter, r.1));
        let mut body = Vec::with_capacity(rows.iter().map(|r| r.2.len() + 1).sum::<usize>() + 64);
        body.extend_from_slice(b"{\"data\":[");
        for (i, r) in rows.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&r.2);
        }
        body.extend_from_slice(b"],\"next_cursor\":");
        serde_json::to_writer(&mut body, &next_cursor).map_err(Failure::from)?;
        body.push(b'}');
        let etag = etag_of(&body);
        Ok(Cached::new(body.into(), etag, ids, range, version))
    }
}
