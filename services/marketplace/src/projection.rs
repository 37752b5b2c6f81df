//! The listings projection: identity's change feed applied to `listings`.
//!
//! Every agent event carries the agent's whole current state (`details.agent`), its
//! tenant's name (`details.publisher`) and its DID key (`details.public_jwk`), so applying
//! one is an upsert keyed by agent id. An event is applied only when it is newer than the
//! last one applied to the row (feed positions increase), so a redelivered page changes
//! nothing. `tenant.updated` renames the tenant's listings. Whether a listing is shown
//! (`visible`: active and listed) follows from the stored state; hidden agents keep their
//! row. Every page that writes listings stamps them with a new `listing_version`, which the
//! response caches of all instances watch.

use domain::feed::actions;
use domain::{FeedCursor, FeedEvent};
use platform::auth::BoxFuture;
use platform::db::Transaction;
use platform::feed::Projection;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::repo::listings::{self, AgentState};
use crate::repo::versions;

/// The consumer's name (its `feed_cursors` row and metrics label).
pub const CONSUMER: &str = "marketplace";

/// The actions that carry an agent's state.
const AGENT_ACTIONS: [&str; 5] = [
    actions::AGENT_CREATED,
    actions::AGENT_UPDATED,
    actions::AGENT_SUSPENDED,
    actions::AGENT_REACTIVATED,
    actions::AGENT_DECOMMISSIONED,
];

/// What the marketplace reads from the feed: agent events and tenant renames.
pub const FEED_ACTIONS: [&str; 6] = [
    actions::AGENT_CREATED,
    actions::AGENT_UPDATED,
    actions::AGENT_SUSPENDED,
    actions::AGENT_REACTIVATED,
    actions::AGENT_DECOMMISSIONED,
    actions::TENANT_UPDATED,
];

/// Applies agent and tenant events to `listings`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ListingProjection;

impl Projection for ListingProjection {
    fn apply<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        events: &'a [FeedEvent],
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(apply(tx, events))
    }

    fn reset<'a>(&'a self, tx: &'a Transaction<'a>) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            listings::delete_all(tx).await?;
            versions::bump_reset(tx).await?;
            Ok(())
        })
    }
}

fn relevant(e: &FeedEvent) -> bool {
    e.succeeded()
        && (AGENT_ACTIONS.contains(&e.action.as_str()) || e.action == actions::TENANT_UPDATED)
}

async fn apply(tx: &Transaction<'_>, events: &[FeedEvent]) -> anyhow::Result<()> {
    let mut version = None;
    for e in events.iter().filter(|e| relevant(e)) {
        let v = match version {
            Some(v) => v,
            None => *version.insert(versions::bump(tx).await?),
        };
        if e.action == actions::TENANT_UPDATED {
            if let Some(name) = e.details["tenant"]["name"].as_str() {
                listings::rename_publisher(tx, e.tenant_id, name, e.cursor, v).await?;
            }
        } else {
            apply_agent(tx, e, v).await?;
        }
    }
    Ok(())
}

async fn apply_agent(tx: &Transaction<'_>, e: &FeedEvent, version: i64) -> anyhow::Result<()> {
    let Some(agent) = e.agent() else {
        return skip(e, "no agent snapshot");
    };
    let parse = |s: &str| OffsetDateTime::parse(s, &Rfc3339);
    let (Ok(created_at), Ok(updated_at)) = (parse(&agent.created_at), parse(&agent.updated_at))
    else {
        return skip(e, "timestamps are not RFC 3339");
    };
    let state = AgentState {
        agent: &agent,
        tenant_id: e.tenant_id,
        publisher: e.details["publisher"].as_str().unwrap_or_default(),
        public_jwk: e.details.get("public_jwk").filter(|v| v.is_object()),
        created_at,
        updated_at,
        position: e.cursor,
    };
    listings::upsert(tx, &state, version).await?;
    Ok(())
}

/// An event identity should never send: logged and passed over, so that one malformed
/// event cannot stop the projection.
fn skip(e: &FeedEvent, why: &str) -> anyhow::Result<()> {
    tracing::error!(
        event.id = %e.id,
        event.action = %e.action,
        feed.cursor = %e.cursor,
        why,
        "change feed: skipping a malformed agent event"
    );
    Ok(())
}

/// Where the projection stands (tests, operations).
pub async fn cursor(c: &impl platform::db::GenericClient) -> anyhow::Result<FeedCursor> {
    platform::feed::load_cursor(c, CONSUMER).await
}
