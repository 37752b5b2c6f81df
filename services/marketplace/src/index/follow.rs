//! Keeping the index in step with the projection.
//!
//! Every `MARKETPLACE_CACHE_POLL_MS` the instance reads `listing_version`; when it moved, it
//! reads the listings written since the version its index reflects (in `(changed_version,
//! id)` order, a page at a time), replaces their documents (a hidden listing's goes), commits
//! with the new version as payload, searches the new commit, and checks its response cache
//! against the same listings. Versions commit in order (`repo::versions::bump`), so nothing
//! written up to the version read can still be missing; a listing written again meanwhile
//! comes with the next poll. A reset (`marketplace rebuild`, a purge of synthetic listings)
//! or a database behind the index builds the index again from the visible listings. A long
//! catch-up commits about every half second, so what it has indexed is searchable while
//! it goes on. The instance is ready ([`Readiness`]) once its index has caught up with the
//! version it read at a poll.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use metrics::{Gauge, Histogram};
use platform::db::Db;
use platform::telemetry::Metrics;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::SearchIndex;
use super::fields::{Source, document};
use crate::cache::ResponseCache;
use crate::cache::check::{Applied, Changed};
use crate::repo::index::{Written, written};
use crate::repo::versions;
use crate::search::filter::After;

/// Listings read per page.
const PAGE: i64 = 5_000;
/// A catch-up commits at least this often.
const COMMIT_EVERY: Duration = Duration::from_millis(500);

/// Whether the instance's index has caught up with the projection once.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Caught up.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Applies the projection's changes to the index and the response cache.
#[derive(Debug)]
pub struct Follower<B> {
    index: Arc<SearchIndex>,
    cache: Arc<ResponseCache<B>>,
    db: Db,
    readiness: Readiness,
    /// `agentidp_marketplace_index_documents`.
    documents: Gauge,
    /// `agentidp_marketplace_index_version`.
    version: Gauge,
    /// `agentidp_marketplace_index_apply_seconds`.
    apply_time: Histogram,
}

/// One commit's worth of listings.
struct Chunk {
    /// The version the index reflects after it.
    to: i64,
    rows: Vec<Written>,
}

impl<B: Send + Sync + 'static> Follower<B> {
    /// A follower of `db` into `index` and `cache`.
    pub fn new(
        index: Arc<SearchIndex>,
        cache: Arc<ResponseCache<B>>,
        db: Db,
        metrics: &Metrics,
    ) -> Self {
        Self {
            index,
            cache,
            db,
            readiness: Readiness::default(),
            documents: metrics.gauge("agentidp_marketplace_index_documents", &[]),
            version: metrics.gauge("agentidp_marketplace_index_version", &[]),
            apply_time: metrics.histogram("agentidp_marketplace_index_apply_seconds", &[]),
        }
    }

    /// Whether the index has caught up.
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Brings the index up to the projection's current version.
    pub async fn poll(&self) -> anyhow::Result<()> {
        let c = self.db.pool().get().await?;
        let (version, reset) = versions::current(&c).await?;
        let meta = self.index.snapshot().meta.clone();
        let rebuild = reset > meta.reset || version < meta.version;
        if !rebuild && version == meta.version {
            self.cache.checked();
            self.readiness.set();
            return Ok(());
        }
        let started = Instant::now();
        if rebuild {
            tracing::info!(version, "search index: building from the listings");
            self.index.stage_clear()?;
        }
        let mut from = if rebuild { 0 } else { meta.version };
        let mut position = (from, Uuid::nil());
        let mut first = rebuild;
        loop {
            let chunk_started = Instant::now();
            let mut chunk = Chunk {
                to: from,
                rows: Vec::new(),
            };
            let mut done = false;
            while !done && chunk_started.elapsed() < COMMIT_EVERY {
                let page = written(&c, position, version, PAGE, rebuild).await?;
                done = (page.len() as i64) < PAGE;
                if let Some(last) = page.last() {
                    position = (last.version, last.listing.id);
                    // Rows of the last version read may go on in the next page.
                    chunk.to = chunk.to.max(last.version - 1);
                }
                self.stage(&page).await?;
                chunk.rows.extend(page);
            }
            if done {
                chunk.to = version;
            }
            self.commit(&chunk, from, first, reset).await?;
            first = false;
            from = chunk.to;
            if done {
                break;
            }
        }
        self.apply_time.record(started.elapsed().as_secs_f64());
        self.readiness.set();
        Ok(())
    }

    async fn stage(&self, rows: &[Written]) -> anyhow::Result<()> {
        let base = self.index.public_base();
        let mut docs = Vec::with_capacity(rows.len());
        for w in rows {
            let doc = if w.visible {
                let l = &w.listing;
                let body = serde_json::to_vec(&l.summary(base))?;
                Some(document(
                    self.index.fields(),
                    &Source {
                        id: l.id,
                        name: &l.name,
                        description: &l.description,
                        agent_type: &l.agent_type,
                        capabilities: &l.capabilities,
                        tags: &l.tags,
                        publisher: &l.publisher,
                        body: &body,
                    },
                ))
            } else {
                None
            };
            docs.push((w.listing.id, doc));
        }
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.stage(docs)).await?
    }

    async fn commit(
        &self,
        chunk: &Chunk,
        from: i64,
        reset: bool,
        reset_version: i64,
    ) -> anyhow::Result<()> {
        let index = self.index.clone();
        let to = chunk.to;
        tokio::task::spawn_blocking(move || index.commit(to, reset_version)).await??;
        let snapshot = self.index.snapshot();
        self.documents.set(snapshot.searcher.num_docs() as f64);
        self.version.set(to as f64);
        let changed: Vec<Changed<'_>> = chunk
            .rows
            .iter()
            .map(|w| Changed {
                listing: &w.listing,
                visible: w.visible,
                version: w.version,
            })
            .collect();
        let rank = |filter: &crate::search::filter::SearchFilter, ids: &[Uuid]| {
            let keys = self.index.keys_among(&snapshot, filter, ids)?;
            Ok(keys
                .into_iter()
                .map(|k| After::Ranked {
                    score: k.score,
                    id: Uuid::from_u128(k.id),
                })
                .collect())
        };
        let applied = Applied {
            from,
            to,
            reset,
            changed: Some(&changed),
        };
        self.cache.apply(&applied, &rank)
    }

    /// Polls every `every` until `stop` is cancelled.
    pub fn spawn(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                match self.poll().await {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("search index: following the listings again");
                    }
                    Ok(()) => {}
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %format!("{e:#}"), "search index: cannot apply changed listings; searches show the last applied version");
                    }
                    Err(_) => {}
                }
            }
        });
    }
}
