//! Typed settings from the environment.
//!
//! Every service reads its configuration through a [`Reader`], which records every invalid
//! variable instead of stopping at the first, so an operator sees all mistakes at once.
//! Parsing works on an [`Env`] map, never on the process environment directly, so tests
//! exercise it without `set_var`. Each variable, its default and meaning are listed in
//! `docs/ENVIRONMENT.md`; keep that table and this module in step.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;

use crate::net::Cidr;
use crate::rate_limit::LimitTable;
use crate::secret::Secret;

/// A snapshot of environment variables.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets: print names only.
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Env {
    /// Reads the process environment (variables that are not valid UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// Builds an environment from pairs (tests, tools).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Sets one variable, replacing any earlier value.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// Returns a variable's value; an empty value counts as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

/// One invalid variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable's name.
    pub var: String,
    /// What is wrong with it (never its value when the variable is a secret).
    pub message: String,
}

/// Every invalid variable found while reading a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  {}: {}", e.var, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads typed values from an [`Env`], collecting every error.
#[derive(Debug)]
pub struct Reader<'a> {
    env: &'a Env,
    errors: Vec<ConfigError>,
}

impl<'a> Reader<'a> {
    /// Starts reading `env`.
    pub fn new(env: &'a Env) -> Self {
        Self {
            env,
            errors: Vec::new(),
        }
    }

    /// The raw value of a variable, if set and not empty.
    pub fn raw(&self, var: &str) -> Option<&'a str> {
        self.env.get(var)
    }

    /// Records an error against `var`.
    pub fn error(&mut self, var: &str, message: impl Into<String>) {
        self.errors.push(ConfigError {
            var: var.to_owned(),
            message: message.into(),
        });
    }

    /// A string with a default.
    pub fn string(&mut self, var: &str, default: &str) -> String {
        self.raw(var).unwrap_or(default).trim().to_owned()
    }

    /// An optional string.
    pub fn opt_string(&mut self, var: &str) -> Option<String> {
        self.raw(var).map(|v| v.trim().to_owned())
    }

    /// An optional secret.
    pub fn opt_secret(&mut self, var: &str) -> Option<Secret<String>> {
        self.raw(var).map(|v| Secret::new(v.trim().to_owned()))
    }

    /// A secret that must be set.
    pub fn required_secret(&mut self, var: &str) -> Secret<String> {
        match self.raw(var) {
            Some(v) => Secret::new(v.trim().to_owned()),
            None => {
                self.error(var, "is required");
                Secret::new(String::new())
            }
        }
    }

    /// A value parsed with `FromStr`; `what` describes the expected form in errors.
    pub fn parse<T: FromStr>(&mut self, var: &str, default: T, what: &str) -> T {
        match self.raw(var) {
            None => default,
            Some(v) => match v.trim().parse() {
                Ok(x) => x,
                Err(_) => {
                    self.error(var, format!("expected {what}, got {v:?}"));
                    default
                }
            },
        }
    }

    /// An unsigned integer within `min..=max`.
    pub fn u64_in(&mut self, var: &str, default: u64, min: u64, max: u64) -> u64 {
        let what = format!("an integer from {min} to {max}");
        let v = self.parse(var, default, &what);
        if (min..=max).contains(&v) {
            v
        } else {
            self.error(var, format!("expected {what}, got {v}"));
            default
        }
    }

    /// A duration in milliseconds within `min..=max` ms.
    pub fn millis(&mut self, var: &str, default: u64, min: u64, max: u64) -> Duration {
        Duration::from_millis(self.u64_in(var, default, min, max))
    }

    /// A comma-separated list of CIDRs (`10.0.0.0/8,::1/128`; a bare address is a /32 or /128).
    pub fn cidrs(&mut self, var: &str, default: &str) -> Vec<Cidr> {
        let raw = self.string(var, default);
        let mut out = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match part.parse::<Cidr>() {
                Ok(c) => out.push(c),
                Err(e) => self.error(var, format!("{part:?}: {e}")),
            }
        }
        out
    }

    /// A boolean: `true/false`, `1/0`, `yes/no`, `on/off` (any case).
    pub fn bool(&mut self, var: &str, default: bool) -> bool {
        match self.raw(var).map(|v| v.trim().to_ascii_lowercase()) {
            None => default,
            Some(v) => match v.as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => {
                    self.error(var, format!("expected true or false, got {v:?}"));
                    default
                }
            },
        }
    }

    /// An http(s) URL, optional.
    pub fn opt_url(&mut self, var: &str) -> Option<Url> {
        let raw = self.raw(var)?;
        match Url::parse(raw.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(_) => {
                self.error(var, format!("expected an http(s) URL, got {raw:?}"));
                None
            }
            Err(e) => {
                self.error(var, format!("expected an http(s) URL ({e}), got {raw:?}"));
                None
            }
        }
    }

    /// An http(s) URL with a default; `default` must be a valid constant URL.
    #[expect(clippy::expect_used, reason = "defaults are constant, valid URLs")]
    pub fn url(&mut self, var: &str, default: &'static str) -> Url {
        self.opt_url(var)
            .unwrap_or_else(|| Url::parse(default).expect("default URL is valid"))
    }

    /// Ends reading: `Err` lists every problem found.
    pub fn finish(self) -> Result<(), ConfigErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(self.errors))
        }
    }
}

/// The four services, with their names and default ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// Agents, credentials, tokens, keys, audit, events, webhooks, DIDs.
    Identity,
    /// The public marketplace projection.
    Marketplace,
    /// Stripe, subscriptions, usage, entitlements.
    Billing,
    /// Rollups, analytics, compliance.
    Analytics,
}

impl ServiceKind {
    /// The binary and schema name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Marketplace => "marketplace",
            Self::Billing => "billing",
            Self::Analytics => "analytics",
        }
    }

    /// `PORT` default.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Identity => 8081,
            Self::Marketplace => 8082,
            Self::Billing => 8083,
            Self::Analytics => 8084,
        }
    }
}

/// PostgreSQL settings (`DATABASE_URL`, `DB_POOL_*`, `DB_STATEMENT_TIMEOUT_MS`).
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `DATABASE_URL`: libpq-style URL; default `postgres://postgres@127.0.0.1:5432/agentidp`.
    pub url: Secret<String>,
    /// `DB_POOL_MAX` (20): most connections per process.
    pub pool_max: usize,
    /// `DB_POOL_MIN` (2): connections kept open even when idle.
    pub pool_min: usize,
    /// `DB_POOL_IDLE_TIMEOUT_MS` (30000): idle connections beyond the minimum close after this.
    pub idle_timeout: Duration,
    /// `DB_POOL_CONNECTION_TIMEOUT_MS` (5000): longest wait for a connection before 503.
    pub connection_timeout: Duration,
    /// `DB_STATEMENT_TIMEOUT_MS` (30000): server-side cap on any statement.
    pub statement_timeout: Duration,
}

impl DatabaseConfig {
    fn read(r: &mut Reader<'_>) -> Self {
        let url = r.string(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/agentidp",
        );
        if let Err(e) = tokio_postgres::Config::from_str(&url) {
            r.error("DATABASE_URL", format!("not a valid PostgreSQL URL: {e}"));
        }
        let pool_max = r.u64_in("DB_POOL_MAX", 20, 1, 1000) as usize;
        let pool_min = r.u64_in("DB_POOL_MIN", 2, 0, 1000) as usize;
        if pool_min > pool_max {
            r.error(
                "DB_POOL_MIN",
                format!("must not exceed DB_POOL_MAX ({pool_min} > {pool_max})"),
            );
        }
        Self {
            url: Secret::new(url),
            pool_max,
            pool_min: pool_min.min(pool_max),
            idle_timeout: r.millis("DB_POOL_IDLE_TIMEOUT_MS", 30_000, 100, 86_400_000),
            connection_timeout: r.millis("DB_POOL_CONNECTION_TIMEOUT_MS", 5_000, 10, 600_000),
            statement_timeout: r.millis("DB_STATEMENT_TIMEOUT_MS", 30_000, 10, 86_400_000),
        }
    }
}

/// Redis settings (`REDIS_URL`, `REDIS_*`).
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `REDIS_URL` (`redis://127.0.0.1:6379`).
    pub url: Secret<String>,
    /// `REDIS_KEY_PREFIX` (empty): prepended to every key this process writes.
    pub key_prefix: String,
    /// `REDIS_TIMEOUT_MS` (500): longest wait for a command's answer.
    pub response_timeout: Duration,
    /// `REDIS_CONNECT_TIMEOUT_MS` (1000): longest wait to connect.
    pub connect_timeout: Duration,
    /// `REDIS_RECONNECT_INTERVAL_MS` (1000): how often to try again while Redis is down.
    pub reconnect_interval: Duration,
}

impl RedisConfig {
    fn read(r: &mut Reader<'_>) -> Self {
        let url = r.string("REDIS_URL", "redis://127.0.0.1:6379");
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            r.error("REDIS_URL", "expected a redis:// or rediss:// URL");
        }
        Self {
            url: Secret::new(url),
            key_prefix: r.string("REDIS_KEY_PREFIX", ""),
            response_timeout: r.millis("REDIS_TIMEOUT_MS", 500, 10, 60_000),
            connect_timeout: r.millis("REDIS_CONNECT_TIMEOUT_MS", 1_000, 10, 60_000),
            reconnect_interval: r.millis("REDIS_RECONNECT_INTERVAL_MS", 1_000, 10, 60_000),
        }
    }
}

/// Where logs go and how traces leave the process.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: OTLP/HTTP collector; traces are exported only when set.
    pub otlp_endpoint: Option<Url>,
    /// `LOG_FORMAT` (`json`): `json` or `pretty`.
    pub log_json: bool,
    /// `RUST_LOG` (`info`): tracing filter directives.
    pub log_filter: String,
    /// `ACCESS_LOG` (true): one log line per request (health and metrics excluded).
    pub access_log: bool,
}

impl TelemetryConfig {
    fn read(r: &mut Reader<'_>) -> Self {
        let format = r.string("LOG_FORMAT", "json");
        let log_json = match format.as_str() {
            "json" => true,
            "pretty" => false,
            other => {
                r.error(
                    "LOG_FORMAT",
                    format!("expected json or pretty, got {other:?}"),
                );
                true
            }
        };
        Self {
            otlp_endpoint: r.opt_url("OTEL_EXPORTER_OTLP_ENDPOINT"),
            log_json,
            log_filter: r.string("RUST_LOG", "info"),
            access_log: r.bool("ACCESS_LOG", true),
        }
    }
}

/// HTTP server settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `HOST` (`0.0.0.0`).
    pub host: IpAddr,
    /// `PORT` (per service; 0 picks a free port).
    pub port: u16,
    /// `HTTP_WORKERS` (number of CPUs): actix worker threads.
    pub workers: usize,
    /// `SHUTDOWN_TIMEOUT_MS` (25000): longest drain of in-flight requests on SIGTERM.
    pub shutdown_timeout: Duration,
    /// `CORS_ORIGIN` (`*`): allowed browser origins, comma separated, or `*`.
    pub cors_origins: Vec<String>,
    /// `TRUSTED_PROXIES`: CIDRs whose `X-Forwarded-For` is believed (default: loopback and
    /// private ranges, where ingress controllers live).
    pub trusted_proxies: Vec<Cidr>,
    /// `HTTP_BODY_LIMIT_BYTES` (65536): largest accepted request body.
    pub body_limit: usize,
}

impl HttpConfig {
    fn read(r: &mut Reader<'_>, kind: ServiceKind) -> Self {
        let host = r.parse("HOST", IpAddr::from([0, 0, 0, 0]), "an IP address");
        let port = r.u64_in("PORT", u64::from(kind.default_port()), 0, 65_535) as u16;
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = r.u64_in("HTTP_WORKERS", cpus as u64, 1, 512) as usize;
        let cors_origins = r
            .string("CORS_ORIGIN", "*")
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let trusted_proxies = r.cidrs(
            "TRUSTED_PROXIES",
            "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7",
        );
        Self {
            host,
            port,
            workers,
            shutdown_timeout: r.millis("SHUTDOWN_TIMEOUT_MS", 25_000, 0, 600_000),
            cors_origins,
            trusted_proxies,
            body_limit: r.u64_in("HTTP_BODY_LIMIT_BYTES", 65_536, 1_024, 16 << 20) as usize,
        }
    }
}

/// Internal service-to-service settings.
#[derive(Debug, Clone)]
pub struct InternalConfig {
    /// `IDENTITY_URL` (`http://127.0.0.1:8081`): identity's internal base URL.
    pub identity_url: Url,
    /// `BILLING_URL` (`http://127.0.0.1:8083`): billing's internal base URL.
    pub billing_url: Url,
    /// `SERVICE_CLIENT_ID`: this service's internal OAuth client (not used by identity).
    pub client_id: Option<String>,
    /// `SERVICE_CLIENT_SECRET`: its secret.
    pub client_secret: Option<Secret<String>>,
    /// `INTERNAL_HTTP_TIMEOUT_MS` (5000): per-attempt timeout of internal calls.
    pub timeout: Duration,
    /// `INTERNAL_HTTP_RETRIES` (2): extra attempts for idempotent internal calls.
    pub retries: u32,
}

impl InternalConfig {
    fn read(r: &mut Reader<'_>) -> Self {
        let client_id = r.opt_string("SERVICE_CLIENT_ID");
        let client_secret = r.opt_secret("SERVICE_CLIENT_SECRET");
        if client_id.is_some() != client_secret.is_some() {
            r.error(
                "SERVICE_CLIENT_SECRET",
                "SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET must be set together",
            );
        }
        Self {
            identity_url: r.url("IDENTITY_URL", "http://127.0.0.1:8081"),
            billing_url: r.url("BILLING_URL", "http://127.0.0.1:8083"),
            client_id,
            client_secret,
            timeout: r.millis("INTERNAL_HTTP_TIMEOUT_MS", 5_000, 10, 600_000),
            retries: r.u64_in("INTERNAL_HTTP_RETRIES", 2, 0, 10) as u32,
        }
    }
}

/// Usage metering and tier enforcement, in every service.
#[derive(Debug, Clone)]
pub struct BillingSettings {
    /// `BILLING_ENABLED` (true): billing routes exist, usage is flushed to billing and tiers
    /// are enforced. `false`: billing answers 404 and nothing is enforced.
    pub enabled: bool,
    /// `TIER_ENFORCEMENT` (true): refuse calls past the tier's limits. `false`: count only.
    pub enforcement: bool,
    /// `METERING_FLUSH_INTERVAL_MS` (60000): how often usage counters are sent to billing
    /// (at most every 60 s in production; shorter only for tests).
    pub flush_interval: Duration,
    /// `TIER_CACHE_TTL_SECS` (60): how long a tenant's tier is cached in Redis (`tier:`).
    pub tier_cache_ttl: Duration,
}

impl BillingSettings {
    fn read(r: &mut Reader<'_>) -> Self {
        Self {
            enabled: r.bool("BILLING_ENABLED", true),
            enforcement: r.bool("TIER_ENFORCEMENT", true),
            flush_interval: r.millis("METERING_FLUSH_INTERVAL_MS", 60_000, 10, 3_600_000),
            tier_cache_ttl: Duration::from_secs(r.u64_in("TIER_CACHE_TTL_SECS", 60, 1, 3600)),
        }
    }
}

/// Health-check targets beyond PostgreSQL and Redis.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// `VAULT_ADDR`: when set, `/health/detailed` reports `vault`.
    pub vault_addr: Option<Url>,
    /// `OPA_URL`: when set, `/health/detailed` reports `opa`.
    pub opa_url: Option<Url>,
}

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
