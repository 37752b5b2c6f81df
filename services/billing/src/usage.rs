//! Usage batches and entitlements: what the other services send and ask for, and the same
//! for billing's own counters and quota (which use the tables directly, without HTTP).

use domain::Tier;
use domain::usage::{UsageBatch, UsageReceipt};
use platform::auth::BoxFuture;
use platform::db::Db;
use platform::errors::FieldError;
use platform::metering::UsageSink;
use platform::quota::TierSource;
use time::Date;
use uuid::Uuid;

use crate::repo::{subscriptions, usage};
use platform::Failure;

/// Why a usage batch was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// Entries or fields that are out of range (422 naming each).
    #[error("the usage batch is invalid ({} problems)", .0.len())]
    Invalid(Vec<FieldError>),
    /// The database failed: nothing was recorded.
    #[error(transparent)]
    Store(#[from] Failure),
}

/// Most entries in one batch.
pub const MAX_ENTRIES: usize = 10_000;
/// Most of one count (far above any real minute of traffic; guards against garbage).
pub const MAX_COUNT: u64 = 1 << 40;

const DAY: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Parses `YYYY-MM-DD`.
pub fn parse_day(s: &str) -> Option<Date> {
    Date::parse(s, DAY).ok()
}

/// Formats a day as `YYYY-MM-DD`.
pub fn format_day(d: Date) -> String {
    d.format(DAY).unwrap_or_default()
}

/// Checks a batch, naming every bad entry.
fn validate(batch: &UsageBatch) -> Result<Vec<(Uuid, Date, &'static str, i64)>, UsageError> {
    let mut errors = Vec::new();
    if batch.entries.len() > MAX_ENTRIES {
        errors.push(FieldError::new(
            "entries",
            format!("at most {MAX_ENTRIES} entries"),
        ));
    }
    if batch.service.is_empty() || batch.service.len() > 64 {
        errors.push(FieldError::new("service", "must be 1 to 64 characters"));
    }
    let mut rows = Vec::with_capacity(batch.entries.len());
    for (i, e) in batch.entries.iter().enumerate() {
        let day = parse_day(&e.day);
        if day.is_none() {
            errors.push(FieldError::new(
                format!("entries[{i}].day"),
                "must be a date YYYY-MM-DD",
            ));
        }
        if e.count == 0 || e.count > MAX_COUNT {
            errors.push(FieldError::new(
                format!("entries[{i}].count"),
                format!("must be from 1 to {MAX_COUNT}"),
            ));
        }
        if let Some(d) = day {
            rows.push((e.tenant_id, d, e.metric.as_str(), e.count as i64));
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(UsageError::Invalid(errors))
    }
}

/// Records a batch once: the batch id and the counts commit together, so a retried batch
/// (same id) adds nothing.
pub async fn record(db: &Db, batch: &UsageBatch) -> Result<UsageReceipt, UsageError> {
    let rows = validate(batch)?;
    let fresh = add(db, batch, &rows).await?;
    if !fresh {
        tracing::info!(batch.id = %batch.batch_id, service = %batch.service, "usage batch seen before; not counted again");
    }
    Ok(UsageReceipt {
        batch_id: batch.batch_id,
        duplicate: !fresh,
    })
}

/// Claims the batch and adds its rows in one transaction; false when it was seen before.
async fn add(
    db: &Db,
    batch: &UsageBatch,
    rows: &[(Uuid, Date, &str, i64)],
) -> Result<bool, Failure> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let fresh = usage::claim_batch(&tx, batch.batch_id, &batch.service, rows.len() as i32).await?;
    if fresh && !rows.is_empty() {
        let tenants: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
        let days: Vec<Date> = rows.iter().map(|r| r.1).collect();
        let metrics: Vec<&str> = rows.iter().map(|r| r.2).collect();
        let counts: Vec<i64> = rows.iter().map(|r| r.3).collect();
        usage::add(&tx, &tenants, &days, &metrics, &counts).await?;
    }
    tx.commit().await?;
    Ok(fresh)
}

/// Billing's own usage goes straight to its tables.
#[derive(Debug, Clone)]
pub struct LocalSink(pub Db);

impl UsageSink for LocalSink {
    fn record<'a>(&'a self, batch: &'a UsageBatch) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            record(&self.0, batch)
                .await
                .map(drop)
                .map_err(|e| anyhow::anyhow!("{e}"))
        })
    }
}

/// Billing's own quota reads tiers from its tables.
#[derive(Debug, Clone)]
pub struct LocalTiers(pub Db);

impl TierSource for LocalTiers {
    fn tier(&self, tenant: Uuid) -> BoxFuture<'_, anyhow::Result<Tier>> {
        Box::pin(async move {
            let c = self.0.get().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(subscriptions::tier_of(&c, tenant).await?)
        })
    }
}
