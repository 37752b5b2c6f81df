//! `marketplace seed`: synthetic listings for benchmarks, and their removal.
//!
//! Listings are inserted with binary COPY in batches, each its own short transaction: a long
//! write transaction in the database identity uses would hold back identity's change feed,
//! which only hands out events of transactions older than the oldest one still running.
//! Synthetic listings have feed position `(0, n)`, which no feed event has, so
//! `marketplace seed --purge` can find them, and a rebuild drops them. Never in production.

mod generator;
mod words;

use std::time::Instant;

use platform::db::Db;
use time::OffsetDateTime;

use crate::repo::{seed as repo, versions};

pub use crate::repo::seed::SyntheticListing;
pub use generator::Generator;

/// What a seeding run did.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// Listings inserted or deleted.
    pub listings: u64,
    /// Wall time.
    pub seconds: f64,
}

/// `did:web` host part of `PUBLIC_URL` (`host%3Aport` when a port is given).
pub fn did_host(common: &platform::config::CommonConfig) -> String {
    let host = common.public_url.host_str().unwrap_or("localhost");
    match common.public_url.port() {
        Some(p) => format!("{host}%3A{p}"),
        None => host.to_owned(),
    }
}

/// Inserts `count` synthetic listings made from `seed`, `batch` per transaction, then
/// refreshes statistics.
pub async fn seed(
    db: &Db,
    did_host: &str,
    count: u64,
    batch: usize,
    seed: u64,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut generator = Generator::new(seed, count, did_host, OffsetDateTime::now_utc());
    let mut done = 0_u64;
    let mut next_log = 100_000;
    while done < count {
        let n = (count - done).min(batch.max(1) as u64);
        let rows: Vec<SyntheticListing> = (0..n).map(|_| generator.next_listing()).collect();
        let mut client = db.pool().get().await?;
        let tx = client.transaction().await?;
        let version = versions::bump(&tx).await?;
        repo::copy(&tx, &rows, done as i64, version).await?;
        tx.commit().await?;
        done += n;
        if done >= next_log {
            next_log += 100_000;
            tracing::info!(
                done,
                count,
                seconds = started.elapsed().as_secs_f64(),
                "seeding"
            );
        }
    }
    let c = db.pool().get().await?;
    repo::vacuum_analyze(&c).await?;
    Ok(Report {
        listings: done,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Deletes every synthetic listing, `batch` per transaction.
pub async fn purge(db: &Db, batch: usize) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut deleted = 0;
    loop {
        let mut client = db.pool().get().await?;
        let tx = client.transaction().await?;
        versions::bump_reset(&tx).await?;
        let n = repo::purge_some(&tx, batch.max(1) as i64).await?;
        tx.commit().await?;
        deleted += n;
        if n == 0 {
            break;
        }
    }
    Ok(Report {
        listings: deleted,
        seconds: started.elapsed().as_secs_f64(),
    })
}
