//! Rollup retention: buckets older than `ANALYTICS_RETENTION_DAYS` are deleted, every
//! `ANALYTICS_RETENTION_INTERVAL_SECS` (hourly by default) and once at start-up.

use std::time::Duration;

use platform::db::Db;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::repo::rollups;
use crate::rollup::Granularity;

/// The oldest bucket kept at `now`: the start of the UTC day `days` days ago, so that a
/// `days`-day report always finds every day it shows.
pub fn cutoff(now: OffsetDateTime, days: u32) -> OffsetDateTime {
    Granularity::Day.bucket(now) - time::Duration::days(i64::from(days))
}

/// Deletes the rollups older than `days`; returns how many rows went.
pub async fn run_once(db: &Db, days: u32, now: OffsetDateTime) -> anyhow::Result<u64> {
    let c = db.pool().get().await?;
    rollups::delete_before(&c, cutoff(now, days)).await
}

/// Runs [`run_once`] every `every` until `stop` is cancelled.
pub fn spawn(db: Db, days: u32, every: Duration, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            match run_once(&db, days, OffsetDateTime::now_utc()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, days, "rollup retention"),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "rollup retention failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn cutoff_is_a_day_boundary() {
        assert_eq!(
            cutoff(datetime!(2026-06-01 13:45 UTC), 90),
            datetime!(2026-03-03 00:00 UTC)
        );
    }
}
