//! Billing service: Stripe Checkout and webhooks, subscriptions, usage metering and
//! entitlements.
//!
//! A library with a thin `main.rs`, so tests run the real server on port 0.

pub mod checkout;
pub mod config;
mod migrations;
pub mod repo;
mod routes;
pub mod startup;
pub mod stripe;
pub mod usage;
pub mod webhooks;

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
