//! Builds the marketplace application: pools, state, routes.

use platform::app::{Application, Core};

use crate::config::Config;

/// State shared by the marketplace handlers.
#[derive(Debug, Clone)]
pub struct State {
    /// The service's configuration.
    pub config: std::sync::Arc<Config>,
}

/// Builds the application and binds its listener; refuses an unmigrated database.
pub async fn build(config: Config) -> anyhow::Result<Application<State>> {
    let core = Core::new(config.common.clone())?;
    core.ensure_migrated(&crate::migrations()).await?;
    let health = core.health();
    let state = State {
        config: std::sync::Arc::new(config),
    };
    Application::start(core, state, health, |_cfg| {})
}
