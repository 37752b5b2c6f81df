//! Marketplace service: a public, searchable read projection of agents built from identity's change feed.
//!
//! A library with a thin `main.rs`, so tests run the real server on port 0.

pub mod cache;
pub mod config;
pub mod detail;
pub mod etag;
pub mod failure;
pub mod index;
pub mod listing;
mod migrations;
pub mod projection;
pub mod repo;
mod routes;
pub mod search;
pub mod seed;
pub mod startup;

pub use config::Config;
pub use migrations::migrations;
pub use startup::{AppState, State, build};

platform::service_main! {
    /// Hooks this service into the shared binary entry point.
    pub struct Service(kind: Marketplace, config: Config, state: State, migrations: migrations, build: build);
}

/// A pool for a command-line tool, on a migrated database.
async fn tool_db(config: &Config, name: &str) -> anyhow::Result<platform::db::Db> {
    let db = platform::db::Db::new(&config.common.database, "marketplace", name)?;
    platform::db::ensure_migrated(&db, "marketplace", &migrations()).await?;
    Ok(db)
}

/// `marketplace seed`: inserts `count` synthetic listings (see [`seed`]).
pub async fn seed_listings(
    config: &Config,
    count: u64,
    batch: usize,
    seed: u64,
) -> anyhow::Result<seed::Report> {
    let db = tool_db(config, "marketplace-seed").await?;
    seed::seed(&db, &seed::did_host(&config.common), count, batch, seed).await
}

/// `marketplace seed --purge`: deletes every synthetic listing.
pub async fn purge_listings(config: &Config, batch: usize) -> anyhow::Result<seed::Report> {
    let db = tool_db(config, "marketplace-seed").await?;
    seed::purge(&db, batch).await
}

/// `marketplace rebuild`: empties the projection and makes every running instance read the
/// change feed again from the start.
pub async fn rebuild(config: &Config) -> anyhow::Result<()> {
    let db = tool_db(config, "marketplace-rebuild").await?;
    platform::feed::rebuild(&db, projection::CONSUMER, &projection::ListingProjection).await
}
