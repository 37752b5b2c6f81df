//! Turning feed events into deliveries.

use std::collections::HashMap;

use domain::FeedCursor;
use domain::feed::actions::WEBHOOK_EVENT_TYPES;
use platform::ApiError;
use platform::db::{Db, GenericClient};
use platform::feed::{load_cursor, store_cursor};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::feed::{horizon, next_cursor};
use crate::audit::format_time;
use crate::repo::deliveries::{self, NewDelivery};
use crate::repo::webhooks;

/// The dispatcher's row in `feed_cursors`.
pub const CONSUMER: &str = "webhooks";

/// The advisory lock that elects the instance fanning out.
const FANOUT_LOCK: i64 = 0x4147_4944_0003;

/// Events per fan-out transaction.
const PAGE: i64 = 500;

/// Successful events after `($1, $2)`, below the horizon `$4`, of a webhook type, for
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

/// The body of a delivery: the event, as receivers see it.
pub fn body(
    id: Uuid,
    tenant: Uuid,
    action: &str,
    at: OffsetDateTime,
    details: &serde_json::Value,
) -> String {
    json!({
        "id": id,
        "type": action,
        "tenant_id": tenant,
        "occurred_at": format_time(at),
        "data": details,
    })
    .to_string()
}

/// What one fan-out pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOut {
    /// Matching events it turned into deliveries (0: drained up to the horizon).
    pub events: usize,
    /// Whether any subscription is active.
    pub active: bool,
}

/// Fans one page of the feed out into deliveries.
pub async fn fan_out_once(db: &Db) -> Result<FanOut, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    // One instance at a time fans out. An advisory lock rather than a row lock: the
    // transaction gets an id (and holds the feed horizon of every reader back) only when it
    // writes, at its very end.
    let mine: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&FANOUT_LOCK])
        .await?
        .get(0);
    if !mine {
        return Ok(FanOut {
            events: 0,
            active: true,
        });
    }
    let after = load_cursor(&tx, CONSUMER)
        .await
        .map_err(ApiError::internal)?;
    let horizon = horizon(&tx).await?;
    let active = webhooks::any_active(&tx).await?;
    let (rows, next) = if active {
        let types: Vec<&str> = WEBHOOK_EVENT_TYPES.to_vec();
        let rows = tx
            .query(MATCHING, &[&after.tx, &after.seq, &PAGE, &horizon, &types])
            .await?;
        let last = rows.last().map(|r| FeedCursor {
            tx: r.get(0),
            seq: r.get(1),
        });
        let next = next_cursor(after, last, rows.len() as i64 >= PAGE, horizon);
        (rows, next)
    } else {
        (Vec::new(), next_cursor(after, None, false, horizon))
    };
    if !rows.is_empty() {
        let mut tenants: Vec<Uuid> = rows.iter().map(|r| r.get(3)).collect();
        tenants.sort();
        tenants.dedup();
        let mut subs: HashMap<Uuid, Vec<(Uuid, Vec<String>, OffsetDateTime)>> = HashMap::new();
        for (id, tenant, types, created) in webhooks::active_for(&tx, &tenants).await? {
            subs.entry(tenant).or_default().push((id, types, created));
        }
        let mut out = Vec::new();
        for r in &rows {
            let (event_id, tenant, action): (Uuid, Uuid, String) = (r.get(2), r.get(3), r.get(4));
            let Some(hooks) = subs.get(&tenant) else {
                continue;
            };
            let at: OffsetDateTime = r.get(6);
            let body = body(event_id, tenant, &action, at, &r.get(5));
            for (hook, types, created) in hooks {
                if *created <= at && types.contains(&action) {
                    out.push(NewDelivery {
                        id: Uuid::now_v7(),
                        webhook_id: *hook,
                        tenant_id: tenant,
                        event_id,
                        event_type: action.clone(),
                        body: body.clone(),
                    });
                }
            }
        }
        deliveries::insert_many(&tx, &out).await?;
    }
    if next != after {
        store_cursor(&tx, CONSUMER, next)
            .await
            .map_err(ApiError::internal)?;
    }
    tx.commit().await?;
    Ok(FanOut {
        events: rows.len(),
        active,
    })
}
