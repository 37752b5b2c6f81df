//! The analytics service's settings: the common ones plus its own.

use std::time::Duration;

use platform::config::{CommonConfig, ConfigErrors, Env, Reader, ServiceKind};

/// Everything the analytics service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Settings shared by every service.
    pub common: CommonConfig,
    /// `ANALYTICS_ENABLED` (true): when false, the `/api/v1/analytics/...` routes answer 404.
    pub enabled: bool,
    /// `COMPLIANCE_ENABLED` (true): when false, the `/api/v1/compliance/...` routes answer 404.
    pub compliance_enabled: bool,
    /// `COMPLIANCE_CACHE_TTL_SECS` (300): how long a tenant's compliance report is served from
    /// Redis before it is computed again.
    pub compliance_cache_ttl: Duration,
    /// `ANALYTICS_RETENTION_DAYS` (90): rollups older than this are deleted.
    pub retention_days: u32,
    /// `ANALYTICS_RETENTION_INTERVAL_SECS` (3600): how often the retention job runs.
    pub retention_interval: Duration,
}

impl Config {
    /// Reads and validates every variable, reporting all problems at once.
    pub fn from_env(env: &Env) -> Result<Self, ConfigErrors> {
        let mut r = Reader::new(env);
        let common = CommonConfig::read(&mut r, ServiceKind::Analytics);
        let enabled = r.bool("ANALYTICS_ENABLED", true);
        let compliance_enabled = r.bool("COMPLIANCE_ENABLED", true);
        let ttl = r.u64_in("COMPLIANCE_CACHE_TTL_SECS", 300, 1, 86_400);
        let retention_days = r.u64_in("ANALYTICS_RETENTION_DAYS", 90, 1, 3_650) as u32;
        let interval = r.u64_in("ANALYTICS_RETENTION_INTERVAL_SECS", 3_600, 1, 86_400);
        r.finish()?;
        Ok(Self {
            common,
            enabled,
            compliance_enabled,
            compliance_cache_ttl: Duration::from_secs(ttl),
            retention_days,
            retention_interval: Duration::from_secs(interval),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_every_bad_variable() {
        let c = Config::from_env(&Env::default()).unwrap();
        assert!(c.enabled && c.compliance_enabled);
        assert_eq!(c.compliance_cache_ttl, Duration::from_secs(300));
        assert_eq!(c.retention_days, 90);
        assert_eq!(c.retention_interval, Duration::from_secs(3600));
        let env = Env::from_pairs([
            ("COMPLIANCE_ENABLED", "perhaps"),
            ("COMPLIANCE_CACHE_TTL_SECS", "0"),
            ("ANALYTICS_RETENTION_DAYS", "x"),
        ]);
        let errs = Config::from_env(&env).unwrap_err();
        let vars: Vec<&str> = errs.0.iter().map(|e| e.var.as_str()).collect();
        assert_eq!(
            vars,
            [
                "COMPLIANCE_ENABLED",
                "COMPLIANCE_CACHE_TTL_SECS",
                "ANALYTICS_RETENTION_DAYS"
            ]
        );
    }
}
