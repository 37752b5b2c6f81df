//! A per-instance cache of search responses, invalidated by what actually changed.
//!
//! Entries are keyed by the normal form of the request ([`crate::search::SearchRequest::cache_key`])
//! and hold the body, its ETag, the ids of every row the query fetched, and the listing
//! version the response is exact for (the index's, or for browsing without a text, the one
//! read in the query's own snapshot). Concurrent misses of one key share one query, unless it
//! started more than [`JOIN_WITHIN`] ago (a query still waiting for its turn is always
//! joined). Each time the instance applies changed listings to its index (every
//! `MARKETPLACE_CACHE_POLL_MS`, `crate::index::follow`), it checks each entry against the
//! listings changed since its version ([`ResponseCache::apply`]) and drops
//! - the entries that fetched a changed listing (removed, hidden or edited),
//! - the entries whose filters select a changed listing that is now visible and whose sort key
//!   falls within the page (after the request's cursor, before the last row the query
//!   fetched): placed by the index with the search's own query and scores, or for browsing by
//!   `(created_at, id)`,
//!
//! and everything after a rebuild or a purge, or when there are more changes than it can
//! match cheaply ([`MAX_CHANGES`], [`MAX_MATCHES`]). The others are exact for the new
//! version. So a popular broad query is recomputed only when a listing it shows or could show
//! changes, not every second. Entries are served only while the last look for changes
//! succeeded within [`STALE_AFTER`]; a change leaves cached responses when the index applies
//! it.
//!
//! The body's type `B` is the web layer's (`Bytes`, shared rather than copied by each hit):
//! the cache holds it without knowing it.

pub mod check;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge};
use platform::telemetry::Metrics;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::repo::versions;
use crate::search::filter::SearchFilter;

/// Longest time entries are served after the last successful check for changes.
pub const STALE_AFTER: Duration = Duration::from_secs(1);
/// A request waits for a running query of its key only if that query took its snapshot this
/// recently.
pub const JOIN_WITHIN: Duration = Duration::from_secs(1);
/// More changes than this to check at once clear the cache instead.
pub const MAX_CHANGES: i64 = 256;
/// Entries × visible changed listings above this clear the cache instead (placing a changed
/// listing in a text search's order runs that search over the changed listings).
pub const MAX_MATCHES: usize = 65_536;

/// A cached response.
#[derive(Debug)]
pub struct Cached<B> {
    /// The JSON body.
    pub body: B,
    /// Its ETag.
    pub etag: String,
    /// Every listing the query fetched (the page and its look-ahead row).
    pub ids: Vec<Uuid>,
    /// The range of the result order the page covers: after the request's cursor, down to
    /// the last row fetched when the query filled its limit (else to the end).
    pub range: versions::PageRange,
    /// The listing version the response is exact for.
    as_of: AtomicI64,
}

impl<B> Cached<B> {
    /// A response computed in the snapshot of listing version `version`.
    pub fn new(
        body: B,
        etag: String,
        ids: Vec<Uuid>,
        range: versions::PageRange,
        version: i64,
    ) -> Self {
        Self {
            body,
            etag,
            ids,
            range,
            as_of: AtomicI64::new(version),
        }
    }

    fn as_of(&self) -> i64 {
        self.as_of.load(Ordering::Relaxed)
    }
}

type Cell<B> = Arc<OnceCell<Arc<Cached<B>>>>;

/// Handed to a fill, which marks when its query takes its snapshot.
#[derive(Debug, Clone, Default)]
pub struct Started(Arc<OnceLock<Instant>>);

impl Started {
    /// The query is about to run.
    pub fn now(&self) {
        let _ = self.0.set(Instant::now());
    }

    fn too_old(&self) -> bool {
        self.0.get().is_some_and(|t| t.elapsed() >= JOIN_WITHIN)
    }
}

#[derive(Debug)]
struct Slot<B> {
    filter: SearchFilter,
    cell: Cell<B>,
    used: u64,
    started: Started,
}

#[derive(Debug)]
struct State<B> {
    slots: HashMap<String, Slot<B>>,
    clock: u64,
    checked: Option<Instant>,
}

/// A ready entry taken for checking.
type Entry<B> = (String, SearchFilter, Cell<B>, Arc<Cached<B>>);

/// The cache of one instance.
#[derive(Debug)]
pub struct ResponseCache<B> {
    capacity: usize,
    state: Mutex<State<B>>,
    hits: Counter,
    misses: Counter,
    dropped: Counter,
    entries: Gauge,
}

impl<B> ResponseCache<B> {
    /// A cache of at most `capacity` responses (0: off).
    pub fn new(capacity: usize, metrics: &Metrics) -> Self {
        let name = "agentidp_marketplace_cache_requests_total";
        let state = State {
            slots: HashMap::new(),
            clock: 0,
            checked: None,
        };
        Self {
            capacity,
            state: Mutex::new(state),
            hits: metrics.counter(name, &[("result", "hit")]),
            misses: metrics.counter(name, &[("result", "miss")]),
            dropped: metrics.counter("agentidp_marketplace_cache_invalidations_total", &[]),
            entries: metrics.gauge("agentidp_marketplace_cache_entries", &[]),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<B>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The slot's cell for `key`, a new one when there is none or its query is too old to
    /// join; `None` when the cache is off or its last check is too old.
    fn cell(&self, key: String, filter: &SearchFilter) -> Option<(Cell<B>, Started)> {
        let mut s = self.lock();
        let fresh = s.checked.is_some_and(|t| t.elapsed() < STALE_AFTER);
        if self.capacity == 0 || !fresh {
            return None;
        }
        s.clock += 1;
        let now = s.clock;
        if let Some(slot) = s.slots.get_mut(&key)
            && (slot.cell.initialized() || !slot.started.too_old())
        {
            slot.used = now;
            return Some((slot.cell.clone(), slot.started.clone()));
        }
        if !s.slots.contains_key(&key) && s.slots.len() >= self.capacity {
            evict_least_recent(&mut s.slots);
        }
        let (cell, started) = (Cell::default(), Started::default());
        let slot = Slot {
            filter: filter.clone(),
            cell: cell.clone(),
            used: now,
            started: started.clone(),
        };
        s.slots.insert(key, slot);
        self.entries.set(s.slots.len() as f64);
        Some((cell, started))
    }

    /// The cached response of `key`, or `fill`'s, cached when the cache is usable.
    pub async fn get_or_fill<F, Fut, E>(
        &self,
        key: String,
        filter: &SearchFilter,
        fill: F,
    ) -> Result<Arc<Cached<B>>, E>
    where
        F: FnOnce(Started) -> Fut,
        Fut: Future<Output = Result<Cached<B>, E>>,
    {
        let Some((cell, started)) = self.cell(key, filter) else {
            self.misses.increment(1);
            return fill(Started::default()).await.map(Arc::new);
        };
        if let Some(hit) = cell.get() {
            self.hits.increment(1);
            return Ok(hit.clone());
        }
        self.misses.increment(1);
        cell.get_or_try_init(|| async { fill(started).await.map(Arc::new) })
            .await
            .cloned()
    }

    fn clear(&self, s: &mut State<B>) {
        self.dropped.increment(s.slots.len() as u64);
        s.slots.clear();
    }
}

fn evict_least_recent<B>(slots: &mut HashMap<String, Slot<B>>) {
    if let Some(key) = slots
        .iter()
        .min_by_key(|(_, s)| s.used)
        .map(|(k, _)| k.clone())
    {
        slots.remove(&key);
    }
}
