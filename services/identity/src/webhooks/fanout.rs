//! Turning feed events into deliveries.

use std::collections::HashMap;

use domain::feed::actions::WEBHOOK_EVENT_TYPES;
use platform::ApiError;
use platform::db::Db;
use platform::feed::{load_cursor, store_cursor};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::event::format_time;
use crate::audit::feed::next_cursor;
use crate::repo::deliveries::{self, NewDelivery};
use crate::repo::feed::{horizon, matching_subscriptions};
use crate::repo::{locks, webhooks};

/// The dispatcher's row in `feed_cursors`.
pub const CONSUMER: &str = "webhooks";

/// The advisory lock that elects the instance fanning out.
const FANOUT_LOCK: i64 = 0x4147_4944_0003;

/// Events per fan-out transaction.
const PAGE: i64 = 500;

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
    if !locks::try_lock_xact(&tx, FANOUT_LOCK).await? {
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
        let rows = matching_subscriptions(&tx, after, PAGE, horizon, &WEBHOOK_EVENT_TYPES).await?;
        let last = rows.last().map(|r| r.cursor);
        let next = next_cursor(after, last, rows.len() as i64 >= PAGE, horizon);
        (rows, next)
    } else {
        (Vec::new(), next_cursor(after, None, false, horizon))
    };
    if !rows.is_empty() {
        let mut tenants: Vec<Uuid> = rows.iter().map(|r| r.tenant_id).collect();
        tenants.sort();
        tenants.dedup();
        let mut subs: HashMap<Uuid, Vec<(Uuid, Vec<String>, OffsetDateTime)>> = HashMap::new();
        for (id, tenant, types, created) in webhooks::active_for(&tx, &tenants).await? {
            subs.entry(tenant).or_default().push((id, types, created));
        }
        let mut out = Vec::new();
        for r in &rows {
            let (event_id, tenant, action, at) = (r.id, r.tenant_id, &r.action, r.occurred_at);
            let Some(hooks) = subs.get(&tenant) else {
                continue;
            };
            let body = body(event_id, tenant, action, at, &r.details);
            for (hook, types, created) in hooks {
                if *created <= at && types.contains(action) {
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
