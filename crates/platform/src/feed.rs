//! Consuming identity's change feed into a projection.
//!
//! A [`FeedConsumer`] long-polls `GET /internal/v1/events` with the service token, hands
//! each page to a [`Projection`] inside a database transaction, and stores the page's
//! `next` cursor in the same transaction (`feed_cursors` in the consumer's own schema), so
//! a crash or restart repeats at most the page in flight and its effect happens once.
//! Errors back off exponentially (100 ms to 30 s) and never stop the consumer.
//!
//! [`rebuild`] starts a projection over from the beginning of the feed: it empties the
//! projection ([`Projection::reset`]) and moves the cursor back to the start in one
//! transaction; running consumers notice the moved cursor and read the feed again.
//!
//! The consumer's schema must have:
//! ```sql
//! CREATE TABLE feed_cursors (
//!     consumer    text PRIMARY KEY,
//!     cursor      text NOT NULL,
//!     updated_at  timestamptz NOT NULL DEFAULT now()
//! );
//! ```

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Transaction;
use domain::{FeedCursor, FeedEvent, FeedPage};
use metrics::{Counter, Gauge};
use tokio_util::sync::CancellationToken;

use crate::db::{Db, GenericClient};
use crate::future::BoxFuture;
use crate::internal_http::InternalHttp;
use crate::telemetry::Metrics;

/// What a consumer applies events to.
pub trait Projection: Send + Sync + 'static {
    /// Applies `events` (in feed order) within `tx`; the consumer stores the cursor in the
    /// same transaction and commits. An error rolls the page back; it is retried.
    fn apply<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        events: &'a [FeedEvent],
    ) -> BoxFuture<'a, anyhow::Result<()>>;

    /// Empties the projection within `tx`, so that it can be built again from the start of
    /// the feed ([`rebuild`]). The default refuses: a projection must opt in.
    fn reset<'a>(&'a self, tx: &'a Transaction<'a>) -> BoxFuture<'a, anyhow::Result<()>> {
        let _ = tx;
        Box::pin(async { anyhow::bail!("this projection cannot be rebuilt") })
    }
}

/// Tuning of a consumer.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// Events per page (at most 1000).
    pub limit: u32,
    /// How long one long poll waits for events (at most 30 s).
    pub wait: Duration,
    /// Only events of these actions (empty: every event). Identity filters, so a consumer
    /// that needs agent events does not receive the token events in between.
    pub actions: &'static [&'static str],
}

impl Default for FeedOptions {
    fn default() -> Self {
        Self {
            limit: 500,
            wait: Duration::from_secs(20),
            actions: &[],
        }
    }
}

/// A running consumer's instruments.
#[derive(Clone)]
struct Instruments {
    applied: Counter,
    errors: Counter,
    caught_up: Gauge,
}

/// Reads the feed into a projection.
#[derive(Clone)]
pub struct FeedConsumer {
    name: &'static str,
    db: Db,
    http: InternalHttp,
    options: FeedOptions,
    instruments: Instruments,
}

impl std::fmt::Debug for FeedConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedConsumer")
            .field("name", &self.name)
            .field("options", &self.options)
            .finish()
    }
}

/// The stored cursor of `consumer`, or the start.
pub async fn load_cursor(c: &impl GenericClient, consumer: &str) -> anyhow::Result<FeedCursor> {
    let stmt = c
        .prepare_cached("SELECT cursor FROM feed_cursors WHERE consumer = $1")
        .await?;
    match c.query_opt(&stmt, &[&consumer]).await? {
        Some(row) => row
            .get::<_, String>(0)
            .parse()
            .map_err(|e: String| anyhow::anyhow!("stored feed cursor of {consumer}: {e}")),
        None => Ok(FeedCursor::START),
    }
}

/// Stores `cursor` for `consumer` (in the caller's transaction).
pub async fn store_cursor(
    c: &impl GenericClient,
    consumer: &str,
    cursor: FeedCursor,
) -> anyhow::Result<()> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO feed_cursors (consumer, cursor, updated_at) VALUES ($1, $2, now())
             ON CONFLICT (consumer) DO UPDATE SET cursor = excluded.cursor, updated_at = now()",
        )
        .await?;
    c.execute(&stmt, &[&consumer, &cursor.to_string()]).await?;
    Ok(())
}

/// Locks `consumer`'s cursor row for the rest of `tx` (creating it at the start if missing)
/// and returns the cursor: whoever holds the lock is the only writer of the projection.
async fn lock_cursor(tx: &Transaction<'_>, consumer: &str) -> anyhow::Result<FeedCursor> {
    let init = tx
        .prepare_cached(
            "INSERT INTO feed_cursors (consumer, cursor) VALUES ($1, '0')
             ON CONFLICT (consumer) DO NOTHING",
        )
        .await?;
    tx.execute(&init, &[&consumer]).await?;
    let stmt = tx
        .prepare_cached("SELECT cursor FROM feed_cursors WHERE consumer = $1 FOR UPDATE")
        .await?;
    let row = tx.query_one(&stmt, &[&consumer]).await?;
    row.get::<_, String>(0)
        .parse()
        .map_err(|e: String| anyhow::anyhow!("stored feed cursor of {consumer}: {e}"))
}

/// Empties `projection` and moves `consumer`'s cursor back to the start, in one
/// transaction that waits for any page being applied. Consumers that are running read the
/// whole feed again; until they catch up the projection shows only what they re-applied.
pub async fn rebuild<P: Projection + ?Sized>(
    db: &Db,
    consumer: &str,
    projection: &P,
) -> anyhow::Result<()> {
    let mut client = db.pool().get().await?;
    let tx = client.transaction().await?;
    lock_cursor(&tx, consumer).await?;
    projection.reset(&tx).await?;
    store_cursor(&tx, consumer, FeedCursor::START).await?;
    tx.commit().await?;
    tracing::info!(
        consumer,
        "projection reset: rebuilding from the start of the feed"
    );
    Ok(())
}

impl FeedConsumer {
    /// A consumer named `name` (its row in `feed_cursors` and its metrics label).
    pub fn new(
        name: &'static str,
        db: Db,
        http: InternalHttp,
        metrics: &Metrics,
        options: FeedOptions,
    ) -> Self {
        let labels = [("consumer", name)];
        Self {
            name,
            db,
            http,
            options,
            instruments: Instruments {
                applied: metrics.counter("agentidp_feed_events_applied_total", &labels),
                errors: metrics.counter("agentidp_feed_errors_total", &labels),
                caught_up: metrics.gauge("agentidp_feed_caught_up", &labels),
            },
        }
    }

    /// Runs until `stop` is cancelled.
    pub fn spawn<P: Projection>(
        self,
        projection: Arc<P>,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let step = tokio::select! {
                    () = stop.cancelled() => return,
                    r = self.step(projection.as_ref()) => r,
                };
                match step {
                    Ok(_) => backoff = Duration::from_millis(100),
                    Err(e) => {
                        self.instruments.errors.increment(1);
                        tracing::warn!(consumer = self.name, error = %format!("{e:#}"), "change feed: retrying");
                        tokio::select! {
                            () = stop.cancelled() => return,
                            () = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                }
            }
        })
    }

    /// One long poll and, if it brought events, one applied page. Returns how many events
    /// were applied.
    pub async fn step<P: Projection + ?Sized>(&self, projection: &P) -> anyhow::Result<usize> {
        let after = {
            let c = self.db.pool().get().await?;
            load_cursor(&c, self.name).await?
        };
        let mut url = self.http.identity("/internal/v1/events");
        url.query_pairs_mut()
            .append_pair("after", &after.to_string())
            .append_pair("limit", &self.options.limit.to_string())
            .append_pair("wait", &self.options.wait.as_secs().to_string());
        if !self.options.actions.is_empty() {
            url.query_pairs_mut()
                .append_pair("actions", &self.options.actions.join(","));
        }
        let page: FeedPage = self
            .http
            .get_json_waiting(url, self.options.wait + Duration::from_secs(10))
            .await?;
        let n = page.events.len();
        if n == 0 && page.next == after {
            self.instruments.caught_up.set(1.0);
            return Ok(0);
        }
        let mut client = self.db.pool().get().await?;
        let tx = client.transaction().await?;
        // Lock the cursor row so that two instances of a consumer never apply one page twice.
        let current = lock_cursor(&tx, self.name).await?;
        if current != after {
            // Another instance moved on meanwhile; start again from its cursor.
            return Ok(0);
        }
        if n > 0 {
            projection.apply(&tx, &page.events).await?;
        }
        store_cursor(&tx, self.name, page.next).await?;
        tx.commit().await?;
        self.instruments.applied.increment(n as u64);
        self.instruments
            .caught_up
            .set(if n < self.options.limit as usize {
                1.0
            } else {
                0.0
            });
        Ok(n)
    }
}
