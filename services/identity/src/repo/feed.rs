//! SQL of the change feed: the horizon, a page of events, and the events webhook
//! subscriptions wait for.

use domain::{FeedCursor, FeedEvent};
use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

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
pub async fn horizon(c: &impl GenericClient) -> Result<i64, tokio_postgres::Error> {
    let stmt = c.prepare_cached("SELECT feed_horizon()").await?;
    Ok(c.query_one(&stmt, &[]).await?.get(0))
}

/// Up to `limit` events after `after` and below `horizon`, of `actions` only when given.
pub async fn page(
    c: &impl GenericClient,
    after: FeedCursor,
    actions: Option<&[String]>,
    limit: i64,
    horizon: i64,
) -> Result<Vec<FeedEvent>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(PAGE).await?;
    let rows = c
        .query(&stmt, &[&after.tx, &after.seq, &limit, &horizon, &actions])
        .await?;
    Ok(rows
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
        .collect())
}

/// Successful events after `($1, $2)`, below the horizon `$4`, of the types `$5`, for
/// which some active subscription of their tenant exists that is older than the event
/// (a subscription receives what happens after it was made).
const MATCHING: &str = "
    SELECT a.tx, a.feed_seq, a.id, a.tenant_id, a.action, a.details, a.occurred_at
      FROM audit_events a
     WHERE (a.tx, a.feed_seq) > ($1, $2) AND a.tx < $4
       AND a.outcome = 'success' AND a.action = ANY($5)
       AND EXISTS (SELECT 1 FROM webhooks w
                    WHERE w.tenant_id = a.tenant_id AND w.active
                      AND a.action = ANY (w.event_types)
                      AND w.created_at <= a.occurred_at)
     ORDER BY a.tx, a.feed_seq
     LIMIT $3";

/// An event some webhook subscription waits for.
#[derive(Debug, Clone)]
pub struct MatchedEvent {
    /// Its feed position.
    pub cursor: FeedCursor,
    /// Id.
    pub id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// Action (the webhook event type).
    pub action: String,
    /// Details.
    pub details: serde_json::Value,
    /// When.
    pub occurred_at: OffsetDateTime,
}

/// Up to `limit` events after `after` and below `horizon`, of `types`, that an active
/// subscription waits for.
pub async fn matching_subscriptions(
    c: &impl GenericClient,
    after: FeedCursor,
    limit: i64,
    horizon: i64,
    types: &[&str],
) -> Result<Vec<MatchedEvent>, tokio_postgres::Error> {
    let rows = c
        .query(MATCHING, &[&after.tx, &after.seq, &limit, &horizon, &types])
        .await?;
    Ok(rows
        .iter()
        .map(|r| MatchedEvent {
            cursor: FeedCursor {
                tx: r.get(0),
                seq: r.get(1),
            },
            id: r.get(2),
            tenant_id: r.get(3),
            action: r.get(4),
            details: r.get(5),
            occurred_at: r.get(6),
        })
        .collect())
}
