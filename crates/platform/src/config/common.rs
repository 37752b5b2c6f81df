//! [`CommonConfig`]: the settings every service shares.

use reqwest::Url;

use super::billing::BillingSettings;
use super::env::Env;
use super::http::{HttpConfig, InternalConfig};
use super::limits::LimitTable;
use super::observability::{HealthConfig, TelemetryConfig};
use super::reader::{ConfigErrors, Reader};
use super::service::ServiceKind;
use super::stores::{DatabaseConfig, RedisConfig};

/// Settings every service shares.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// Which service this process is.
    pub service: ServiceKind,
    /// `PUBLIC_URL` (`http://localhost:8080`): the external base URL (issuer, DID host).
    pub public_url: Url,
    /// HTTP server.
    pub http: HttpConfig,
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// Redis.
    pub redis: RedisConfig,
    /// Rate limits (see `rate_limit::ACTIONS`).
    pub rate_limits: LimitTable,
    /// Logs, traces, metrics.
    pub telemetry: TelemetryConfig,
    /// Calls to other services.
    pub internal: InternalConfig,
    /// Optional dependencies shown in `/health/detailed`.
    pub health: HealthConfig,
    /// Metering and tier enforcement.
    pub billing: BillingSettings,
    /// `DPOP_NONCE_SECRET` (unset): when set, DPoP proofs must carry a server nonce
    /// (RFC 9449 §8, §9) derived from it; the same value on every instance of every service.
    pub dpop_nonce_secret: Option<crate::Secret<String>>,
}

impl CommonConfig {
    /// Reads the shared settings, recording problems in `r`.
    pub fn read(r: &mut Reader<'_>, service: ServiceKind) -> Self {
        let public_url = r.url("PUBLIC_URL", "http://localhost:8080");
        Self {
            service,
            public_url,
            http: HttpConfig::read(r, service),
            database: DatabaseConfig::read(r),
            redis: RedisConfig::read(r),
            rate_limits: LimitTable::read(r),
            telemetry: TelemetryConfig::read(r),
            internal: InternalConfig::read(r),
            health: HealthConfig {
                vault_addr: r.opt_url("VAULT_ADDR"),
                opa_url: r.opt_url("OPA_URL"),
            },
            billing: BillingSettings::read(r),
            dpop_nonce_secret: r.opt_secret("DPOP_NONCE_SECRET"),
        }
    }

    /// `PUBLIC_URL` without a trailing slash, as used in issuer and links.
    pub fn public_base(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }
}

/// Reads only the common settings; services with no settings of their own use this.
pub fn read_common(env: &Env, service: ServiceKind) -> Result<CommonConfig, ConfigErrors> {
    let mut r = Reader::new(env);
    let c = CommonConfig::read(&mut r, service);
    r.finish()?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn defaults_apply_when_unset() {
        let env = Env::default();
        let c = read_common(&env, ServiceKind::Identity).unwrap();
        assert_eq!(c.http.port, 8081);
        assert_eq!(c.database.pool_max, 20);
        assert_eq!(c.database.pool_min, 2);
        assert_eq!(c.database.idle_timeout, Duration::from_millis(30_000));
        assert_eq!(c.database.connection_timeout, Duration::from_millis(5_000));
        assert!(c.health.vault_addr.is_none());
        assert_eq!(c.http.cors_origins, vec!["*".to_owned()]);
    }

    #[test]
    fn every_bad_variable_is_reported_at_once() {
        let env = Env::from_pairs([
            ("DB_POOL_MAX", "lots"),
            ("PORT", "70000"),
            ("REDIS_URL", "http://nope"),
            ("VAULT_ADDR", "not a url"),
            ("LOG_FORMAT", "xml"),
            ("REDIS_RATE_LIMIT_ENABLED", "maybe"),
        ]);
        let errs = read_common(&env, ServiceKind::Billing).unwrap_err();
        let vars: Vec<&str> = errs.0.iter().map(|e| e.var.as_str()).collect();
        for v in [
            "DB_POOL_MAX",
            "PORT",
            "REDIS_URL",
            "VAULT_ADDR",
            "LOG_FORMAT",
            "REDIS_RATE_LIMIT_ENABLED",
        ] {
            assert!(vars.contains(&v), "{v} missing from {vars:?}");
        }
    }

    #[test]
    fn min_above_max_is_refused() {
        let env = Env::from_pairs([("DB_POOL_MAX", "3"), ("DB_POOL_MIN", "5")]);
        let errs = read_common(&env, ServiceKind::Analytics).unwrap_err();
        assert_eq!(errs.0.len(), 1);
        assert_eq!(errs.0[0].var, "DB_POOL_MIN");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let env = Env::from_pairs([("DATABASE_URL", "postgres://u:pa55word@db/x")]);
        let c = read_common(&env, ServiceKind::Identity).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("pa55word"));
        assert!(!format!("{env:?}").contains("pa55word"));
    }
}
