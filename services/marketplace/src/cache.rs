//! A per-instance cache of search responses, invalidated by what actually changed.
//!
//! Entries are keyed by the normal form of the request ([`crate::search::SearchRequest::cache_key`])
//! and hold the body, its ETag and the ids of every row the query fetched. Concurrent misses
//! of one key run one query. Every `MARKETPLACE_CACHE_POLL_MS` the instance reads
//! `listing_version`; when it moved, it drops
//! - every entry still being filled (its query may predate the change),
//! - every entry that fetched a changed listing (removed, hidden or edited),
//! - every entry whose filters select a changed listing that is now visible (it may belong
//!   in the page), asked of PostgreSQL with the search's own predicate,
//!
//! and everything after a rebuild, a purge, or more changes than it can match cheaply
//! ([`MAX_CHANGES`], [`MAX_MATCHES`]).
//! Whatever else it holds is still exact, so a popular broad query is recomputed only when a
//! listing it shows or could show changes, not every second. Entries are served only while
//! the last check succeeded within [`STALE_AFTER`]; a listing therefore leaves cached
//! responses at most the feed's delay plus one poll after its change (about 0.3 s), and never
//! more than 1 s late even when the checks fail.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use metrics::{Counter, Gauge};
use platform::ApiError;
use platform::db::Db;
use platform::telemetry::Metrics;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::repo::versions;
use crate::search::SearchFilter;

/// Longest time entries are served after the last successful check for changes.
pub const STALE_AFTER: Duration = Duration::from_secs(1);
/// More changes than this between two checks clear the cache instead of being matched.
pub const MAX_CHANGES: i64 = 256;
/// Cached entries × visible changed listings above this clear the cache instead: matching
/// costs about a microsecond per pair in PostgreSQL (4096 entries × 5 changes: 20 ms).
pub const MAX_MATCHES: usize = 65_536;

/// A cached response.
#[derive(Debug)]
pub struct Cached {
    /// The JSON body.
    pub body: Bytes,
    /// Its ETag.
    pub etag: String,
    /// Every listing the query fetched (the page and its look-ahead row).
    pub ids: Vec<Uuid>,
}

type Cell = Arc<OnceCell<Arc<Cached>>>;

#[derive(Debug)]
struct Slot {
    filter: SearchFilter,
    cell: Cell,
    used: u64,
}

#[derive(Debug, Default)]
struct State {
    slots: HashMap<String, Slot>,
    clock: u64,
    /// The listing version every entry reflects.
    known: i64,
    checked: Option<Instant>,
}

/// The cache of one instance.
#[derive(Debug)]
pub struct ResponseCache {
    capacity: usize,
    state: Mutex<State>,
    hits: Counter,
    misses: Counter,
    dropped: Counter,
    entries: Gauge,
}

impl ResponseCache {
    /// A cache of at most `capacity` responses (0: off).
    pub fn new(capacity: usize, metrics: &Metrics) -> Self {
        let name = "agentidp_marketplace_cache_requests_total";
        Self {
            capacity,
            state: Mutex::default(),
            hits: metrics.counter(name, &[("result", "hit")]),
            misses: metrics.counter(name, &[("result", "miss")]),
            dropped: metrics.counter("agentidp_marketplace_cache_invalidations_total", &[]),
            entries: metrics.gauge("agentidp_marketplace_cache_entries", &[]),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached response of `key`, or `fill`'s, cached when the cache is usable.
    pub async fn get_or_fill<F, Fut>(
        &self,
        key: String,
        filter: &SearchFilter,
        fill: F,
    ) -> Result<Arc<Cached>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Cached, ApiError>>,
    {
        let cell = {
            let mut s = self.lock();
            let fresh = s.checked.is_some_and(|t| t.elapsed() < STALE_AFTER);
            if self.capacity > 0 && fresh {
                s.clock += 1;
                let now = s.clock;
                Some(match s.slots.get_mut(&key) {
                    Some(slot) => {
                        slot.used = now;
                        slot.cell.clone()
                    }
                    None => {
                        if s.slots.len() >= self.capacity {
                            evict_least_recent(&mut s.slots);
                        }
                        let cell = Cell::default();
                        let slot = Slot {
                            filter: filter.clone(),
                            cell: cell.clone(),
                            used: now,
                        };
                        s.slots.insert(key, slot);
                        self.entries.set(s.slots.len() as f64);
                        cell
                    }
                })
            } else {
                None
            }
        };
        let Some(cell) = cell else {
            self.misses.increment(1);
            return fill().await.map(Arc::new);
        };
        if let Some(hit) = cell.get() {
            self.hits.increment(1);
            return Ok(hit.clone());
        }
        self.misses.increment(1);
        cell.get_or_try_init(|| async { fill().await.map(Arc::new) })
            .await
            .cloned()
    }

    fn clear(&self, s: &mut State) {
        self.dropped.increment(s.slots.len() as u64);
        s.slots.clear();
    }

    /// Drops the entries that changes since the last check may affect.
    pub async fn check(&self, db: &Db) -> anyhow::Result<()> {
        let c = db.pool().get().await?;
        let (version, reset) = versions::current(&c).await?;
        let known = {
            let mut s = self.lock();
            let start_over = reset > s.known || version < s.known || s.slots.is_empty();
            if version != s.known && start_over {
                self.clear(&mut s);
                s.known = version;
            }
            if version == s.known {
                s.checked = Some(Instant::now());
                self.entries.set(s.slots.len() as f64);
                return Ok(());
            }
            s.known
        };
        let changed = versions::changed(&c, known, version, MAX_CHANGES + 1).await?;
        let visible = changed.iter().filter(|(_, v)| *v).count();
        let candidates: Vec<(String, SearchFilter, Cell)> = {
            let mut s = self.lock();
            if changed.len() as i64 > MAX_CHANGES || s.slots.len() * visible > MAX_MATCHES {
                self.clear(&mut s);
                Vec::new()
            } else {
                let changed: HashSet<&Uuid> = changed.iter().map(|(id, _)| id).collect();
                let before = s.slots.len();
                s.slots.retain(|_, slot| {
                    slot.cell
                        .get()
                        .is_some_and(|c| !c.ids.iter().any(|id| changed.contains(id)))
                });
                self.dropped.increment((before - s.slots.len()) as u64);
                s.slots
                    .iter()
                    .map(|(k, slot)| (k.clone(), slot.filter.clone(), slot.cell.clone()))
                    .collect()
            }
        };
        if visible > 0 && !candidates.is_empty() {
            let filters: Vec<&SearchFilter> = candidates.iter().map(|(_, f, _)| f).collect();
            let affected = versions::matching(&c, known, version, &filters).await?;
            let mut s = self.lock();
            for i in affected {
                let Some((key, _, cell)) = candidates.get(i) else {
                    continue;
                };
                // A slot made since the candidates were taken already reflects the change.
                if s.slots
                    .get(key)
                    .is_some_and(|slot| Arc::ptr_eq(&slot.cell, cell))
                {
                    s.slots.remove(key);
                    self.dropped.increment(1);
                }
            }
        }
        let mut s = self.lock();
        s.known = version;
        s.checked = Some(Instant::now());
        self.entries.set(s.slots.len() as f64);
        Ok(())
    }

    /// Runs [`ResponseCache::check`] every `every` until `stop` is cancelled.
    pub fn spawn_checks(self: Arc<Self>, db: Db, every: Duration, stop: CancellationToken) {
        if self.capacity == 0 {
            return;
        }
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                match self.check(&db).await {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("response cache: checking for changed listings again");
                    }
                    Ok(()) => {}
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %format!("{e:#}"), "response cache: cannot check for changed listings; serving from the database");
                    }
                    Err(_) => {}
                }
            }
        });
    }
}

fn evict_least_recent(slots: &mut HashMap<String, Slot>) {
    if let Some(key) = slots
        .iter()
        .min_by_key(|(_, s)| s.used)
        .map(|(k, _)| k.clone())
    {
        slots.remove(&key);
    }
}
