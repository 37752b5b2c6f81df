//! The change feed over the audit log.
//!
//! Positions are `(tx, feed_seq)`: the writing transaction's id, then a sequence number
//! taken at insert. Transactions commit in any order, so a reader only reads events of
//! transactions older than the oldest one still running (`pg_snapshot_xmin` of the current
//! snapshot): every such transaction has finished, so no event can ever appear behind a
//! position already handed out. The cost is latency, never a skipped event: while a
//! transaction runs, events of younger transactions wait for it.

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
}

/// One page after `after`, and the horizon below which every transaction has finished.
const PAGE: &str = "
    WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin)
    SELECT h.xmin, e.tx, e.feed_seq, e.id, e.tenant_id, e.actor, e.action, e.outcome,
           e.target, e.details, e.occurred_at
      FROM h
      LEFT JOIN LATERAL (
            SELECT tx, feed_seq, id, tenant_id, actor, action, outcome, target, details,
                   occurred_at
              FROM audit_events
             WHERE (tx, feed_seq) > ($1, $2) AND tx < h.xmin
             ORDER BY tx, feed_seq
             LIMIT $3) e ON true
     ORDER BY e.tx, e.feed_seq";

/// Reads up to `limit` events after `after`, without waiting.
pub async fn read(
    c: &impl GenericClient,
    after: FeedCursor,
    limit: i64,
) -> Result<FeedPage, ApiError> {
    let stmt = c.prepare_cached(PAGE).await?;
    let rows = c.query(&stmt, &[&after.tx, &after.seq, &limit]).await?;
    let mut xmin = 0_i64;
    let mut events = Vec::with_capacity(rows.len());
    for r in &rows {
        xmin = r.get(0);
        let Some(tx) = r.get::<_, Option<i64>>(1) else {
            continue;
        };
        events.push(FeedEvent {
            cursor: FeedCursor { tx, seq: r.get(2) },
            id: r.get(3),
            tenant_id: r.get(4),
            actor: r.get(5),
            action: r.get(6),
            outcome: r.get(7),
            target: r.get(8),
            details: r.get(9),
            occurred_at: r.get(10),
        });
    }
    let next = match events.last() {
        Some(last) if events.len() as i64 >= limit => last.cursor,
        // Everything below the horizon has been read: continue from there.
        last => {
            let horizon = FeedCursor {
                tx: xmin - 1,
                seq: i64::MAX,
            };
            last.map_or(after, |l| l.cursor).max(horizon).max(after)
        }
    };
    Ok(FeedPage { events, next })
}

/// Reads up to `limit` events after `after`; when there are none, waits up to `wait` for
/// some, checking every `poll` and whenever this instance commits events.
pub async fn long_poll(
    db: &Db,
    signal: &FeedSignal,
    after: FeedCursor,
    limit: i64,
    wait: Duration,
    poll: Duration,
) -> Result<FeedPage, ApiError> {
    let deadline = Instant::now() + wait;
    loop {
        let notified = signal.0.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let page = {
            let c = db.get().await?;
            read(&c, after, limit).await?
        };
        let now = Instant::now();
        if !page.events.is_empty() || now >= deadline {
            return Ok(page);
        }
        let nap = poll.min(deadline - now);
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep(nap) => {}
        }
    }
}
