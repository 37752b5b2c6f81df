//! The analytics projection of identity's change feed.
//!
//! Each page is applied in the feed consumer's transaction: the counters of the whole page
//! in one upsert ([`crate::rollup::aggregate`]), then agent and credential events one by
//! one (they are rare), then the position of the page's last event. Events at or before
//! that stored position are skipped, so a page delivered again (a rewound cursor, a retried
//! page, two consumers racing) changes nothing. Both positions live in `feed_cursors`: the
//! consumer's (where it reads next) under [`CONSUMER`], the last applied event under
//! [`APPLIED`]. [`platform::feed::rebuild`] empties the projection ([`Projection::reset`]
//! also forgets the applied position) and rewinds the consumer to the start of the feed.

use deadpool_postgres::Transaction;
use domain::feed::actions;
use domain::{FeedCursor, FeedEvent};
use platform::auth::BoxFuture;
use platform::db::GenericClient;
use platform::feed::{self, Projection};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::repo::agents::{self, AgentUpsert};
use crate::repo::credentials::{self, NewCredential};
use crate::repo::{projection, rollups};
use crate::rollup;

/// The consumer's name (its row in `feed_cursors` and its metrics label).
pub const CONSUMER: &str = "analytics";
/// The row in `feed_cursors` of the last event the projection applied. It used to be the
/// row `analytics` of `projection_state`; migration V3 copied it here.
pub const APPLIED: &str = "analytics:applied";

/// Rollups, agents and credentials from the feed.
#[derive(Debug, Default, Clone, Copy)]
pub struct AnalyticsProjection;

impl Projection for AnalyticsProjection {
    fn apply<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        events: &'a [FeedEvent],
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(apply(tx, events))
    }

    fn reset<'a>(&'a self, tx: &'a Transaction<'a>) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            projection::clear(tx).await?;
            feed::store_cursor(tx, APPLIED, FeedCursor::START).await
        })
    }
}

/// Applies `events` (in feed order) within the caller's transaction.
pub async fn apply(c: &impl GenericClient, events: &[FeedEvent]) -> anyhow::Result<()> {
    let through = feed::load_cursor(c, APPLIED).await?;
    let fresh: Vec<&FeedEvent> = events.iter().filter(|e| e.cursor > through).collect();
    let Some(last) = fresh.last().map(|e| e.cursor) else {
        return Ok(());
    };
    rollups::add(c, &rollup::aggregate(fresh.iter().copied())).await?;
    for e in fresh {
        if !e.tenant_id.is_nil() && e.succeeded() {
            apply_registry(c, e).await?;
        }
    }
    feed::store_cursor(c, APPLIED, last).await
}

fn time_at(e: &FeedEvent, key: &str) -> Option<OffsetDateTime> {
    e.details
        .get(key)
        .and_then(|v| v.as_str())
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

fn uuid_at(e: &FeedEvent, key: &str) -> Option<Uuid> {
    e.details
        .get(key)
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
}

async fn apply_registry(c: &impl GenericClient, e: &FeedEvent) -> anyhow::Result<()> {
    match e.action.as_str() {
        a if a.starts_with("agent.") => {
            let Some(snapshot) = e.agent() else {
                tracing::warn!(event.id = %e.id, action = a, "agent event without an agent");
                return Ok(());
            };
            let created_at =
                OffsetDateTime::parse(&snapshot.created_at, &Rfc3339).unwrap_or(e.occurred_at);
            let has_did_key = !snapshot.did.is_empty()
                && e.details.get("public_jwk").is_some_and(|k| k.is_object());
            agents::upsert(
                c,
                &AgentUpsert {
                    tenant_id: e.tenant_id,
                    snapshot: &snapshot,
                    publisher: e.details.get("publisher").and_then(|p| p.as_str()),
                    has_did_key,
                    created_at,
                    updated_at: e.occurred_at,
                },
            )
            .await
        }
        actions::CREDENTIAL_GENERATED => {
            let (Some(id), Some(agent_id), Some(client_id)) = (
                uuid_at(e, "credential_id"),
                uuid_at(e, "agent_id"),
                e.details.get("client_id").and_then(|v| v.as_str()),
            ) else {
                // A tenant-admin client's credential: not an agent's.
                return Ok(());
            };
            let new = NewCredential {
                id,
                tenant_id: e.tenant_id,
                agent_id,
                client_id,
                created_at: e.occurred_at,
                expires_at: time_at(e, "expires_at"),
            };
            credentials::insert(c, &new).await
        }
        actions::CREDENTIAL_ROTATED => match uuid_at(e, "credential_id") {
            Some(id) => credentials::rotated(c, e.tenant_id, id, e.occurred_at).await,
            None => Ok(()),
        },
        actions::CREDENTIAL_REVOKED => match e.details.get("client_id").and_then(|v| v.as_str()) {
            Some(client_id) => credentials::revoked(c, e.tenant_id, client_id, e.occurred_at).await,
            None => Ok(()),
        },
        _ => Ok(()),
    }
}
