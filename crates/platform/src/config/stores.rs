//! PostgreSQL and Redis settings.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;

use super::reader::Reader;
use crate::secret::Secret;

/// How connections to PostgreSQL are secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgTls {
    /// Plain TCP (no `sslmode`, or `disable` / `allow` / `prefer`).
    Off,
    /// TLS required, the certificate verified against `ca_file` (else the Mozilla roots) and
    /// the host name (`sslmode=require`, `verify-ca` or `verify-full`, or a CA file given).
    Verify {
        /// `DATABASE_CA_FILE` or the URL's `sslrootcert`.
        ca_file: Option<PathBuf>,
    },
}

/// PostgreSQL settings (`DATABASE_URL`, `DATABASE_CA_FILE`, `DB_POOL_*`,
/// `DB_STATEMENT_TIMEOUT_MS`).
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `DATABASE_URL`: libpq-style URL; default `postgres://postgres@127.0.0.1:5432/agentidp`.
    /// Held without `sslrootcert`, with `sslmode` as the driver knows it (see [`PgTls`]).
    pub url: Secret<String>,
    /// TLS, from `sslmode` / `sslrootcert` of the URL and `DATABASE_CA_FILE`.
    pub tls: PgTls,
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
        let given = r.string(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/agentidp",
        );
        let (url, tls) = read_pg_tls(r, &given);
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
            tls,
            pool_max,
            pool_min: pool_min.min(pool_max),
            idle_timeout: r.millis("DB_POOL_IDLE_TIMEOUT_MS", 30_000, 100, 86_400_000),
            connection_timeout: r.millis("DB_POOL_CONNECTION_TIMEOUT_MS", 5_000, 10, 600_000),
            statement_timeout: r.millis("DB_STATEMENT_TIMEOUT_MS", 30_000, 10, 86_400_000),
        }
    }
}

/// The libpq TLS parameters of a connection string: `(url without them, sslmode,
/// sslrootcert)`. Both the URL form and the `key=value` form.
fn split_tls_params(url: &str) -> (String, Option<String>, Option<String>) {
    let (mut mode, mut root) = (None, None);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Ok(mut parsed) = Url::parse(url) else {
            return (url.to_owned(), None, None);
        };
        let kept: Vec<(String, String)> = parsed
            .query_pairs()
            .filter_map(|(k, v)| match k.as_ref() {
                "sslmode" => {
                    mode = Some(v.into_owned());
                    None
                }
                "sslrootcert" => {
                    root = Some(v.into_owned());
                    None
                }
                _ => Some((k.into_owned(), v.into_owned())),
            })
            .collect();
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
        return (parsed.to_string(), mode, root);
    }
    let kept: Vec<&str> = url
        .split_whitespace()
        .filter(|part| match part.split_once('=') {
            Some(("sslmode", v)) => {
                mode = Some(v.to_owned());
                false
            }
            Some(("sslrootcert", v)) => {
                root = Some(v.to_owned());
                false
            }
            _ => true,
        })
        .collect();
    (kept.join(" "), mode, root)
}

/// Appends `sslmode=<mode>` to a connection string of either form.
fn with_sslmode(url: &str, mode: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}sslmode={mode}")
    } else {
        format!("{url} sslmode={mode}")
    }
}

/// `sslmode`, `sslrootcert` and `DATABASE_CA_FILE`: the URL the driver gets and the TLS.
fn read_pg_tls(r: &mut Reader<'_>, given: &str) -> (String, PgTls) {
    let (url, mode, root) = split_tls_params(given);
    let env_ca = r.opt_string("DATABASE_CA_FILE");
    if env_ca.is_some() && root.is_some() {
        r.error(
            "DATABASE_CA_FILE",
            "the DATABASE_URL names a CA (sslrootcert) too: give one of them",
        );
    }
    let (ca_var, ca_file) = match (env_ca, root) {
        (Some(f), _) => ("DATABASE_CA_FILE", Some(PathBuf::from(f))),
        (None, Some(f)) => ("DATABASE_URL", Some(PathBuf::from(f))),
        (None, None) => ("DATABASE_CA_FILE", None),
    };
    if let Some(path) = &ca_file
        && let Err(e) = crate::tls::read_certificates(path)
    {
        r.error(ca_var, format!("{e:#}"));
    }
    let tls = match mode.as_deref() {
        Some("require" | "verify-ca" | "verify-full") => PgTls::Verify { ca_file },
        None if ca_file.is_some() => PgTls::Verify { ca_file },
        None => PgTls::Off,
        Some("disable" | "allow" | "prefer") if ca_file.is_some() => {
            r.error(
                ca_var,
                "a CA is given but sslmode does not ask for TLS: use sslmode=verify-full",
            );
            PgTls::Off
        }
        Some("disable" | "allow" | "prefer") => PgTls::Off,
        Some(other) => {
            r.error(
                "DATABASE_URL",
                format!(
                    "sslmode {other:?}: expected disable, prefer, require, verify-ca or verify-full"
                ),
            );
            PgTls::Off
        }
    };
    let url = match (&tls, mode.as_deref()) {
        // The driver knows disable, prefer and require; TLS is verified in every case.
        (PgTls::Verify { .. }, _) => with_sslmode(&url, "require"),
        (PgTls::Off, Some("disable")) => with_sslmode(&url, "disable"),
        (PgTls::Off, _) => url,
    };
    (url, tls)
}

/// Redis settings (`REDIS_URL`, `REDIS_CA_FILE`, `REDIS_*`).
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `REDIS_URL` (`redis://127.0.0.1:6379`); `rediss://` for TLS.
    pub url: Secret<String>,
    /// `REDIS_CA_FILE`: the CA (PEM) a `rediss://` server's certificate must chain to,
    /// instead of the system's roots.
    pub ca_file: Option<PathBuf>,
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
        let ca_file = r.opt_string("REDIS_CA_FILE").map(PathBuf::from);
        if let Some(path) = &ca_file {
            if !url.starts_with("rediss://") {
                r.error("REDIS_CA_FILE", "REDIS_URL must be rediss:// to use a CA");
            } else if let Err(e) = crate::tls::read_certificates(path) {
                r.error("REDIS_CA_FILE", format!("{e:#}"));
            }
        }
        Self {
            url: Secret::new(url),
            ca_file,
            key_prefix: r.string("REDIS_KEY_PREFIX", ""),
            response_timeout: r.millis("REDIS_TIMEOUT_MS", 500, 10, 60_000),
            connect_timeout: r.millis("REDIS_CONNECT_TIMEOUT_MS", 1_000, 10, 60_000),
            reconnect_interval: r.millis("REDIS_RECONNECT_INTERVAL_MS", 1_000, 10, 60_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;

    fn read(pairs: &[(&str, &str)]) -> Result<DatabaseConfig, crate::config::ConfigErrors> {
        let env = Env::from_pairs(pairs.iter().copied());
        let mut r = Reader::new(&env);
        let c = DatabaseConfig::read(&mut r);
        r.finish().map(|()| c)
    }

    #[test]
    fn no_sslmode_keeps_plain_connections_as_before() {
        let c = read(&[(
            "DATABASE_URL",
            "postgres://u:p%40ss@db:5432/x?application_name=a",
        )])
        .unwrap();
        assert_eq!(c.tls, PgTls::Off);
        assert_eq!(
            c.url.expose(),
            "postgres://u:p%40ss@db:5432/x?application_name=a"
        );
    }

    #[test]
    fn verify_modes_require_tls_and_take_the_ca_out_of_the_url() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let c = read(&[(
                "DATABASE_URL",
                &format!("postgres://u@db/x?sslmode={mode}&connect_timeout=3"),
            )])
            .unwrap();
            assert_eq!(c.tls, PgTls::Verify { ca_file: None }, "{mode}");
            assert_eq!(
                c.url.expose(),
                "postgres://u@db/x?connect_timeout=3&sslmode=require"
            );
        }
        let c = read(&[("DATABASE_URL", "host=db user=u sslmode=verify-full")]).unwrap();
        assert_eq!(c.tls, PgTls::Verify { ca_file: None });
        assert_eq!(c.url.expose(), "host=db user=u sslmode=require");
    }

    #[test]
    fn a_missing_ca_an_unknown_mode_or_a_ca_without_tls_is_reported() {
        let errs = read(&[(
            "DATABASE_URL",
            "postgres://db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        )])
        .unwrap_err();
        assert_eq!(errs.0[0].var, "DATABASE_URL");
        assert!(errs.0[0].message.contains("/nonexistent/ca.pem"), "{errs}");
        let errs = read(&[("DATABASE_URL", "postgres://db/x?sslmode=sometimes")]).unwrap_err();
        assert!(errs.0[0].message.contains("sometimes"), "{errs}");
        let errs = read(&[
            ("DATABASE_URL", "postgres://db/x?sslmode=disable"),
            ("DATABASE_CA_FILE", "/nonexistent/ca.pem"),
        ])
        .unwrap_err();
        let vars: Vec<&str> = errs.0.iter().map(|e| e.var.as_str()).collect();
        assert_eq!(vars, ["DATABASE_CA_FILE", "DATABASE_CA_FILE"], "{errs}");
    }
}
