//! PostgreSQL and Redis settings.

use std::str::FromStr;
use std::time::Duration;

use super::reader::Reader;
use crate::secret::Secret;

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
    pub(crate) fn read(r: &mut Reader<'_>) -> Self {
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
    pub(crate) fn read(r: &mut Reader<'_>) -> Self {
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
