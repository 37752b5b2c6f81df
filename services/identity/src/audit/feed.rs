//! The change feed over the audit log.
//!
//! Positions are `(tx, feed_seq)`: the writing transaction's id, then a sequence number
//! taken at insert. Transactions commit in any order, so a reader only reads events of
//! transactions older than the oldest one still running in this database (`feed_horizon()`,
//! read in a statement before the events): every such transaction has finished, so no event
//! can ever appear behind a position already handed out. The cost is latency, never a
//! skipped event: while a write transaction runs in identity's database, events of younger
//! transactions wait for it, so long write transactions do not belong in that database.

use std::time::Duration;

use domain::{FeedCursor, FeedPage};
use platform::ApiError;
use platform::db::{Db, GenericClient};
use tokio::time::Instant;

use super::signal::FeedSignal;
use crate::repo::feed as repo;

/// Where a reader continues after a page: its last event when the page is full, else the
/// horizon (everything below it has been read), never before `after`.
pub fn next_cursor(
    after: FeedCursor,
    last: Option<FeedCursor>,
    full: bool,
    horizon: i64,
) -> FeedCursor {
    match last {
        Some(l) if full => l,
        _ => {
            let below = FeedCursor {
                tx: horizon - 1,
                seq: i64::MAX,
            };
            last.unwrap_or(after).max(below).max(after)
        }
    }
}

/// Reads up to `limit` events after `after` (of `actions` only, when given), without
/// waiting.
pub async fn read(
    c: &impl GenericClient,
    after: FeedCursor,
    actions: Option<&[String]>,
    limit: i64,
) -> Result<FeedPage, ApiError> {
    let horizon = repo::horizon(c).await?;
    let events = repo::page(c, after, actions, limit, horizon).await?;
    let full = events.len() as i64 >= limit;
    let next = next_cursor(after, events.last().map(|e| e.cursor), full, horizon);
    Ok(FeedPage { events, next })
}

/// What a feed request asks for.
#[derive(Debug, Clone)]
pub struct FeedQuery {
    /// Events after this position.
    pub after: FeedCursor,
    /// Only these actions (all when `None`).
    pub actions: Option<Vec<String>>,
    /// Most events.
    pub limit: i64,
    /// How long to wait for events when there are none.
    pub wait: Duration,
}

/// Serves the feed: reads, and long polls.
#[derive(Debug, Clone)]
pub struct Feed {
    db: Db,
    signal: FeedSignal,
    poll: Duration,
}

impl Feed {
    /// A feed over `db`, woken by `signal` and looking every `poll` for other instances'
    /// events.
    pub fn new(db: Db, signal: FeedSignal, poll: Duration) -> Self {
        Self { db, signal, poll }
    }

    /// Reads up to `q.limit` events after `q.after`; when there are none, waits up to
    /// `q.wait` for some, checking every poll interval and whenever this instance commits
    /// events.
    pub async fn long_poll(&self, q: &FeedQuery) -> Result<FeedPage, ApiError> {
        let deadline = Instant::now() + q.wait;
        // After a wake-up, events just committed may still sit above the horizon behind
        // another short transaction: look again soon rather than after a whole interval.
        let mut settle_until = Instant::now();
        // Without matching events the page still moves the cursor past what it scanned
        // (other actions, or nothing): later looks start there instead of scanning it again.
        let mut after = q.after;
        loop {
            let notified = self.signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let page = {
                let c = self.db.get().await?;
                read(&c, after, q.actions.as_deref(), q.limit).await?
            };
            after = page.next;
            let now = Instant::now();
            if !page.events.is_empty() || now >= deadline {
                return Ok(page);
            }
            let step = if now < settle_until {
                self.poll.min(Duration::from_millis(10))
            } else {
                self.poll
            };
            tokio::select! {
                () = &mut notified => settle_until = Instant::now() + Duration::from_millis(500),
                () = tokio::time::sleep(step.min(deadline - now)) => {}
            }
        }
    }
}
