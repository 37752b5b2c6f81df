//! The change feed over the audit log.
//!
//! Positions are `(tx, feed_seq)`: the writing transaction's id, then a sequence number
//! taken at insert. Transactions commit in any order, so a reader only reads events of
//! transactions older than the oldest one still running in this database (`feed_horizon()`,
//! read in a statement before the events): every such transaction has finished, so no event
//! can ever appear behind a position already handed out. The cost is latency, never a
//! skipped event: while a write transaction runs in identity's database, events of younger
//! transactions wait for it, so long write transactions do not belong in that database.

use std::sync::Arc;
use std::time::Duration;

use domain::{FeedCursor, FeedEvent, FeedPage};
use platform::ApiError;
use platform::db::{Db, GenericClient};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Wakes long-polling readers when this instance commits events.
#[derive(Debug, Clone, Default)]
pub struct FeedSignal(Arc<Notify>);

impl FeedSignal {
    /// Wakes every waiting reader.
    pub fn notify(&self) {
        self.0.notify_waiters();
    }

    /// Completes at the next [`FeedSignal::notify`] after this call.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.0.notified()
    }
}

/// One page after `($1, $2)` below the horizon `$4`, of the actions `$5` (all when NULL).
const PAGE: &str = "
    SELECT tx, feed_seq, id, tenant_id, actor, action, outcome, target, details, occurred_at
      FROM audit_events
     WHERE (tx, feed_seq) > ($1, $2) AND tx < $4
       AND ($5::text[] IS NULL OR action = ANY($5))
     ORDER BY tx, feed_seq
     LIMIT $3";

/// The horizon: transactions with smaller ids have all finished. Must run in an earlier
/// statement than the read it bounds.
pub async fn horizon(c: &impl GenericClient) -> Result<i64, ApiError> {
    let stmt = c.prepare_cached("SELECT feed_horizon()").await?;
    Ok(c.query_one(&stmt, &[]).await?.get(0))
}

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
    let horizon = horizon(c).await?;
    let stmt = c.prepare_cached(PAGE).await?;
    let rows = c
        .query(&stmt, &[&after.tx, &after.seq, &limit, &horizon, &actions])
        .await?;
    let events: Vec<FeedEvent> = rows
        .iter()
        .map(|r| FeedEvent {
            cursor: FeedCursor {
                tx: r.get(0),
                seq: r.get(1),
            },
            id: r.get(2),
            tenant_id: r.get(3),
            actor: r.get(4),
            action: r.get(5),
            outcome: r.get(6),
            target: r.get(7),
            details: r.get(8),
            occurred_at: r.get(9),
        })
        .collect();
    let full = events.len() as i64 >= limit;
    let next = next_cursor(after, events.last().map(|e| e.cursor), full, horizon);
    Ok(FeedPage { events, next })
}

/// Reads up to `limit` events after `after`; when there are none, waits up to `wait` for
/// some, checking every `poll` and whenever this instance commits events.
pub async fn long_poll(
    db: &Db,
    signal: &FeedSignal,
    after: FeedCursor,
    actions: Option<&[String]>,
    limit: i64,
    wait: Duration,
    poll: Duration,
) -> Result<FeedPage, ApiError> {
    let deadline = Instant::now() + wait;
    // After a wake-up, events just committed may still sit above the horizon behind another
    // short transaction: look again soon rather than after a whole poll interval.
    let mut settle_until = Instant::now();
    // Without matching events the page still moves the cursor past what it scanned (other
    // actions, or nothing): later looks start there instead of scanning it again.
    let mut after = after;
    loop {
        let notified = signal.0.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let page = {
            let c = db.get().await?;
            read(&c, after, actions, limit).await?
        };
        after = page.next;
        let now = Instant::now();
        if !page.events.is_empty() || now >= deadline {
            return Ok(page);
        }
        let step = if now < settle_until {
            poll.min(Duration::from_millis(10))
        } else {
            poll
        };
        tokio::select! {
            () = &mut notified => settle_until = Instant::now() + Duration::from_millis(500),
            () = tokio::time::sleep(step.min(deadline - now)) => {}
        }
    }
}
