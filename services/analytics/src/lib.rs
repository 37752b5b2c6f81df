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

/// Hooks this service into the shared binary entry point.
#[derive(Debug)]
pub struct Service;

impl platform::cli::ServiceMain for Service {
    type Config = Config;
    type State = State;

    fn read_config(env: &platform::config::Env) -> Result<Config, platform::config::ConfigErrors> {
        Config::from_env(env)
    }

    fn common(cfg: &Config) -> &platform::config::CommonConfig {
        &cfg.common
    }

    fn migrations() -> refinery::Runner {
        migrations()
    }

    async fn build(cfg: Config) -> anyhow::Result<platform::app::Application<State>> {
        build(cfg).await
    }
}
