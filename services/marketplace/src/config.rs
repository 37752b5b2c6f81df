//! The marketplace service's settings: the common ones plus its own.

use platform::config::{CommonConfig, ConfigErrors, Env, Reader, ServiceKind};

/// Everything the marketplace service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Settings shared by every service.
    pub common: CommonConfig,
    /// `MARKETPLACE_ENABLED` (true): when false, every route of this service answers 404.
    pub enabled: bool,
}

impl Config {
    /// Reads and validates every variable, reporting all problems at once.
    pub fn from_env(env: &Env) -> Result<Self, ConfigErrors> {
        let mut r = Reader::new(env);
        let common = CommonConfig::read(&mut r, ServiceKind::Marketplace);
        let enabled = r.bool("MARKETPLACE_ENABLED", true);
        r.finish()?;
        Ok(Self { common, enabled })
    }
}
