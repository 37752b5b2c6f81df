//! Turning change-feed events into counter increments.
//!
//! A page of events becomes one map of (tenant, granularity, bucket, metric, agent) → count,
//! written with one upsert per page: token events arrive by the thousand per second, and a
//! statement per event would not keep up. Buckets are UTC hours and UTC days; an event at
//! 23:59:59.999 belongs to its day, one at 00:00:00 to the next.

use std::collections::BTreeMap;

use domain::FeedEvent;
use domain::feed::actions;
use time::{OffsetDateTime, Time, UtcOffset};
use uuid::Uuid;

/// The actions counted, each under its own name as the metric.
pub const METRICS: [&str; 11] = [
    actions::TOKEN_ISSUED,
    actions::TOKEN_REFUSED,
    actions::TOKEN_REVOKED,
    actions::AGENT_CREATED,
    actions::AGENT_UPDATED,
    actions::AGENT_SUSPENDED,
    actions::AGENT_REACTIVATED,
    actions::AGENT_DECOMMISSIONED,
    actions::CREDENTIAL_GENERATED,
    actions::CREDENTIAL_ROTATED,
    actions::CREDENTIAL_REVOKED,
];

/// Tokens issued by a federated token exchange (`token.exchanged` of kind `federated`).
pub const TOKENS_EXCHANGED_FEDERATED: &str = "token.exchanged.federated";
/// Tokens issued by a delegated token exchange (`token.exchanged` of kind `delegated`).
pub const TOKENS_EXCHANGED_DELEGATED: &str = "token.exchanged.delegated";

/// How wide a bucket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Granularity {
    /// A UTC hour.
    Hour,
    /// A UTC day.
    Day,
}

impl Granularity {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    /// The start of the bucket holding `t`, in UTC.
    pub fn bucket(self, t: OffsetDateTime) -> OffsetDateTime {
        let t = t.to_offset(UtcOffset::UTC);
        let time = match self {
            Self::Hour => Time::from_hms(t.hour(), 0, 0).unwrap_or(Time::MIDNIGHT),
            Self::Day => Time::MIDNIGHT,
        };
        t.replace_time(time)
    }
}

/// One counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    /// The tenant.
    pub tenant_id: Uuid,
    /// Hour or day.
    pub granularity: Granularity,
    /// Start of the bucket (UTC).
    pub bucket: OffsetDateTime,
    /// The action counted.
    pub metric: &'static str,
    /// The agent, or the nil UUID when the event has none.
    pub agent_id: Uuid,
}

/// The metric an event counts towards, if any. Refusals are failures by nature; everything
/// else counts only when it succeeded. An exchanged token counts by its kind.
pub fn metric_of(e: &FeedEvent) -> Option<&'static str> {
    if e.action == actions::TOKEN_EXCHANGED {
        let kind = e.details.get("kind").and_then(serde_json::Value::as_str);
        return match kind {
            Some("federated") => Some(TOKENS_EXCHANGED_FEDERATED),
            Some("delegated") => Some(TOKENS_EXCHANGED_DELEGATED),
            _ => None,
        }
        .filter(|_| e.succeeded());
    }
    let m = METRICS.iter().copied().find(|m| *m == e.action)?;
    (m == actions::TOKEN_REFUSED || e.succeeded()).then_some(m)
}

/// Largest count one event may stand for (a bound against a corrupt `count`).
const MAX_WEIGHT: i64 = 1_000_000_000;

/// How many actions an event stands for: identity audits refused token requests in bounded
/// numbers, one event per client, reason and minute carrying the `count` of refusals it
/// stands for; every other event is one action.
pub fn weight_of(e: &FeedEvent) -> i64 {
    if e.action != actions::TOKEN_REFUSED {
        return 1;
    }
    e.details
        .get("count")
        .and_then(serde_json::Value::as_i64)
        .filter(|n| (1..=MAX_WEIGHT).contains(n))
        .unwrap_or(1)
}

fn uuid_at(e: &FeedEvent, key: &str) -> Option<Uuid> {
    e.details
        .get(key)
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// The agent an event is about: `agent_id` of token and credential events, the subject of a
/// revoked token, the agent of agent events; nil when there is none.
pub fn agent_of(e: &FeedEvent) -> Uuid {
    let found = if e.action.starts_with("agent.") {
        e.details
            .get("agent")
            .and_then(|a| a.get("id"))
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
            .or_else(|| {
                e.target
                    .as_deref()
                    .and_then(|t| t.strip_prefix("agent:"))
                    .and_then(|s| Uuid::parse_str(s).ok())
            })
    } else if e.action == actions::TOKEN_REVOKED {
        uuid_at(e, "sub")
    } else {
        uuid_at(e, "agent_id")
    };
    found.unwrap_or(Uuid::nil())
}

/// The counter increments of `events`: an hour and a day bucket for every counted event of
/// a tenant, by the number of actions it stands for ([`weight_of`]); the system's own
/// events (tenant nil) are not counted.
pub fn aggregate<'a>(events: impl IntoIterator<Item = &'a FeedEvent>) -> BTreeMap<RollupKey, i64> {
    let mut out = BTreeMap::new();
    for e in events {
        let Some(metric) = metric_of(e) else { continue };
        if e.tenant_id.is_nil() {
            continue;
        }
        let agent_id = agent_of(e);
        let weight = weight_of(e);
        for granularity in [Granularity::Hour, Granularity::Day] {
            let key = RollupKey {
                tenant_id: e.tenant_id,
                granularity,
                bucket: granularity.bucket(e.occurred_at),
                metric,
                agent_id,
            };
            *out.entry(key).or_insert(0) += weight;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::FeedCursor;
    use serde_json::json;
    use time::macros::datetime;

    fn event(
        action: &str,
        outcome: &str,
        at: OffsetDateTime,
        details: serde_json::Value,
    ) -> FeedEvent {
        FeedEvent {
            cursor: FeedCursor { tx: 1, seq: 1 },
            id: Uuid::new_v4(),
            tenant_id: Uuid::from_u128(7),
            actor: "client:x".into(),
            action: action.into(),
            outcome: outcome.into(),
            target: None,
            details,
            occurred_at: at,
        }
    }

    #[test]
    fn buckets_are_utc_hours_and_days() {
        let t = datetime!(2026-03-01 23:59:59.999 +02:00);
        assert_eq!(Granularity::Hour.bucket(t), datetime!(2026-03-01 21:00 UTC));
        assert_eq!(Granularity::Day.bucket(t), datetime!(2026-03-01 00:00 UTC));
        let t = datetime!(2026-03-01 23:59:59.999 UTC);
        assert_eq!(Granularity::Day.bucket(t), datetime!(2026-03-01 00:00 UTC));
        let t = datetime!(2026-03-02 00:00:00 UTC);
        assert_eq!(Granularity::Day.bucket(t), datetime!(2026-03-02 00:00 UTC));
    }

    #[test]
    fn counts_per_agent_and_skips_what_is_not_counted() {
        let agent = Uuid::from_u128(9);
        let at = datetime!(2026-03-01 10:15 UTC);
        let events = [
            event("token.issued", "success", at, json!({"agent_id": agent})),
            event("token.issued", "success", at, json!({"agent_id": agent})),
            event("token.refused", "failure", at, json!({"agent_id": null})),
            event("token.revoked", "success", at, json!({"sub": agent})),
            event("agent.created", "failure", at, json!({})),
            event("tenant.created", "success", at, json!({})),
        ];
        let m = aggregate(&events);
        let get = |g, metric, agent_id| {
            m.get(&RollupKey {
                tenant_id: Uuid::from_u128(7),
                granularity: g,
                bucket: Granularity::bucket(g, at),
                metric,
                agent_id,
            })
            .copied()
        };
        assert_eq!(get(Granularity::Hour, "token.issued", agent), Some(2));
        assert_eq!(get(Granularity::Day, "token.issued", agent), Some(2));
        assert_eq!(get(Granularity::Day, "token.refused", Uuid::nil()), Some(1));
        assert_eq!(get(Granularity::Day, "token.revoked", agent), Some(1));
        assert_eq!(m.len(), 6, "{m:?}");
    }

    #[test]
    fn exchanged_tokens_count_by_kind() {
        let agent = Uuid::from_u128(9);
        let at = datetime!(2026-03-03 08:00 UTC);
        let events = [
            event(
                "token.exchanged",
                "success",
                at,
                json!({"kind": "federated", "agent_id": agent}),
            ),
            event(
                "token.exchanged",
                "success",
                at,
                json!({"kind": "delegated", "agent_id": agent}),
            ),
            event(
                "token.exchanged",
                "success",
                at,
                json!({"kind": "delegated", "agent_id": agent}),
            ),
            event("token.exchanged", "success", at, json!({"kind": "other"})),
            event(
                "token.exchanged",
                "failure",
                at,
                json!({"kind": "federated"}),
            ),
        ];
        let m = aggregate(&events);
        let day = |metric| {
            m.get(&RollupKey {
                tenant_id: Uuid::from_u128(7),
                granularity: Granularity::Day,
                bucket: Granularity::Day.bucket(at),
                metric,
                agent_id: agent,
            })
            .copied()
        };
        assert_eq!(day(TOKENS_EXCHANGED_FEDERATED), Some(1));
        assert_eq!(day(TOKENS_EXCHANGED_DELEGATED), Some(2));
        assert_eq!(m.len(), 4, "{m:?}");
    }

    #[test]
    fn a_refusal_summary_counts_every_refusal_it_stands_for() {
        let at = datetime!(2026-03-02 10:15 UTC);
        let summary = event("token.refused", "failure", at, json!({"count": 7}));
        let corrupt = event("token.refused", "failure", at, json!({"count": -3}));
        let issued = event("token.issued", "success", at, json!({"count": 5}));
        assert_eq!(weight_of(&summary), 7);
        assert_eq!(weight_of(&corrupt), 1);
        assert_eq!(weight_of(&issued), 1);
        let counts = aggregate([&summary, &corrupt, &issued]);
        let day = |metric| {
            counts
                .iter()
                .find(|(k, _)| k.granularity == Granularity::Day && k.metric == metric)
                .map(|(_, n)| *n)
        };
        assert_eq!(day("token.refused"), Some(8));
        assert_eq!(day("token.issued"), Some(1));
    }
}
