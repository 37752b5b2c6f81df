//! Identity service: tenants, agents, credentials, OAuth 2.0 tokens, signing keys, audit, change feed, webhooks and DIDs.
//!
//! A library with a thin `main.rs`, so tests run the real server on port 0.

pub mod config;
pub mod startup;

pub use config::Config;
pub use startup::{State, build};

mod embedded {
    refinery::embed_migrations!("../../migrations/identity");
}

/// This service's migrations, applied by `identity migrate` to the `identity` schema.
pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}

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
