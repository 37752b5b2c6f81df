//! The analytics a tenant reads: daily token counts, the activity heatmap and the per-agent
//! summary of a month, all from the rollups.

use std::collections::HashMap;

use domain::feed::actions;
use platform::db::GenericClient;
use serde::Serialize;
use time::{Date, Month, OffsetDateTime, Time};
use uuid::Uuid;

use crate::heatmap::{self, Grid};
use crate::repo::{agents, rollups};
use crate::rollup::{Granularity, TOKENS_EXCHANGED_DELEGATED, TOKENS_EXCHANGED_FEDERATED};

const TOKEN_METRICS: [&str; 5] = [
    actions::TOKEN_ISSUED,
    actions::TOKEN_REFUSED,
    actions::TOKEN_REVOKED,
    TOKENS_EXCHANGED_FEDERATED,
    TOKENS_EXCHANGED_DELEGATED,
];

/// Token counts of one UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TokenDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Tokens issued.
    pub issued: i64,
    /// Token requests refused.
    pub refused: i64,
    /// Tokens revoked.
    pub revoked: i64,
    /// Tokens issued by token exchange, by kind (not counted in `issued`).
    pub exchanged: Exchanged,
}

/// Tokens issued by token exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Exchanged {
    /// For an external OIDC token (federation).
    pub federated: i64,
    /// For another agent's token (delegation).
    pub delegated: i64,
}

fn add(day: &mut TokenDay, metric: &str, n: i64) {
    match metric {
        actions::TOKEN_ISSUED => day.issued += n,
        actions::TOKEN_REFUSED => day.refused += n,
        actions::TOKEN_REVOKED => day.revoked += n,
        TOKENS_EXCHANGED_FEDERATED => day.exchanged.federated += n,
        TOKENS_EXCHANGED_DELEGATED => day.exchanged.delegated += n,
        _ => {}
    }
}

/// The `days` UTC days ending with today, oldest first, with zeros where nothing happened.
pub async fn token_days(
    c: &impl GenericClient,
    tenant: Uuid,
    days: u32,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<TokenDay>> {
    let today = Granularity::Day.bucket(now);
    let from = today - time::Duration::days(i64::from(days) - 1);
    let to = today + time::Duration::days(1);
    let counts = rollups::series(c, tenant, Granularity::Day, &TOKEN_METRICS, from, to).await?;
    let mut out: Vec<TokenDay> = (0..i64::from(days))
        .map(|i| TokenDay {
            date: (from + time::Duration::days(i)).date().to_string(),
            ..TokenDay::default()
        })
        .collect();
    for c in counts {
        let i = (c.bucket - from).whole_days();
        if let Some(day) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
            add(day, &c.metric, c.count);
        }
    }
    Ok(out)
}

/// Tokens issued per (day of week, UTC hour) over the `days` days ending now.
pub async fn activity(
    c: &impl GenericClient,
    tenant: Uuid,
    days: u32,
    now: OffsetDateTime,
) -> anyhow::Result<Grid> {
    let to = Granularity::Hour.bucket(now) + time::Duration::hours(1);
    let from = to - time::Duration::days(i64::from(days));
    let counts = rollups::series(
        c,
        tenant,
        Granularity::Hour,
        &[actions::TOKEN_ISSUED],
        from,
        to,
    )
    .await?;
    Ok(heatmap::grid(
        counts.into_iter().map(|c| (c.bucket, c.count)),
    ))
}

/// One agent's month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentMonth {
    /// The agent.
    pub agent_id: Uuid,
    /// Its name (empty when the projection has not seen the agent).
    pub name: String,
    /// Its status (`unknown` when the projection has not seen the agent).
    pub status: String,
    /// Tokens issued.
    pub tokens_issued: i64,
    /// Token requests refused.
    pub tokens_refused: i64,
    /// Tokens revoked.
    pub tokens_revoked: i64,
}

/// The UTC month `[start, end)` of `month` (`YYYY-MM`).
pub fn month_range(year: i32, month: Month) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let start = Date::from_calendar_date(year, month, 1).ok()?;
    let (ny, nm) = if month == Month::December {
        (year + 1, Month::January)
    } else {
        (year, month.next())
    };
    let end = Date::from_calendar_date(ny, nm, 1).ok()?;
    Some((
        start.with_time(Time::MIDNIGHT).assume_utc(),
        end.with_time(Time::MIDNIGHT).assume_utc(),
    ))
}

/// Every agent of the tenant that is active or had activity in `[from, to)`, busiest first.
pub async fn agent_months(
    c: &impl GenericClient,
    tenant: Uuid,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> anyhow::Result<Vec<AgentMonth>> {
    let known = agents::list(c, tenant, None).await?;
    let mut by_id: HashMap<Uuid, AgentMonth> = HashMap::new();
    let blank = |id: Uuid, name: String, status: String| AgentMonth {
        agent_id: id,
        name,
        status,
        tokens_issued: 0,
        tokens_refused: 0,
        tokens_revoked: 0,
    };
    for a in &known {
        if a.snapshot.status == "active" {
            let s = &a.snapshot;
            by_id.insert(s.id, blank(s.id, s.name.clone(), s.status.clone()));
        }
    }
    for (agent, metric, n) in rollups::per_agent(c, tenant, from, to).await? {
        let entry = by_id.entry(agent).or_insert_with(|| {
            match known.iter().find(|a| a.snapshot.id == agent) {
                Some(a) => blank(agent, a.snapshot.name.clone(), a.snapshot.status.clone()),
                None => blank(agent, String::new(), "unknown".into()),
            }
        });
        match metric.as_str() {
            actions::TOKEN_ISSUED => entry.tokens_issued += n,
            actions::TOKEN_REFUSED => entry.tokens_refused += n,
            actions::TOKEN_REVOKED => entry.tokens_revoked += n,
            _ => {}
        }
    }
    let mut out: Vec<AgentMonth> = by_id.into_values().collect();
    out.sort_by(|a, b| {
        b.tokens_issued
            .cmp(&a.tokens_issued)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.agent_id.cmp(&b.agent_id))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn months_wrap_at_december() {
        assert_eq!(
            month_range(2026, Month::December),
            Some((
                datetime!(2026-12-01 0:00 UTC),
                datetime!(2027-01-01 0:00 UTC)
            ))
        );
        assert_eq!(
            month_range(2026, Month::February),
            Some((
                datetime!(2026-02-01 0:00 UTC),
                datetime!(2026-03-01 0:00 UTC)
            ))
        );
    }
}
