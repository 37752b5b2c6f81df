//! Analytics service: rollups from identity's change feed, analytics, compliance reports and agent cards.
//!
//! A library with a thin `main.rs`, so tests run the real server on port 0.

pub mod cards_check;
pub mod compliance;
pub mod config;
pub mod heatmap;
mod migrations;
pub mod projection;
pub mod repo;
pub mod reports;
pub mod retention;
pub mod rollup;
mod routes;
pub mod startup;

pub use config::Config;
pub use migrations::migrations;
pub use startup::{AppState, State, build};

platform::service_main! {
    /// Hooks this service into the shared binary entry point.
    pub struct Service(kind: Analytics, config: Config, state: State, migrations: migrations, build: build);
}
