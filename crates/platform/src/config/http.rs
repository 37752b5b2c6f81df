//! The HTTP server's settings and the calls to other services.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

use super::reader::Reader;
use super::service::ServiceKind;
use crate::net::Cidr;
use crate::secret::Secret;

/// HTTP server settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `HOST` (`0.0.0.0`).
    pub host: IpAddr,
    /// `PORT` (per service; 0 picks a free port).
    pub port: u16,
    /// `INTERNAL_PORT` (unset): a second listener that alone serves `/internal/*`,
    /// `/metrics` and `/health/detailed` (besides everything `PORT` serves); unset, `PORT`
    /// serves all of them. 0 picks a free port.
    pub internal_port: Option<u16>,
    /// `HTTP_WORKERS` (number of CPUs): actix worker threads.
    pub workers: usize,
    /// `SHUTDOWN_TIMEOUT_MS` (25000): longest drain of in-flight requests on SIGTERM.
    pub shutdown_timeout: Duration,
    /// `CORS_ORIGIN` (`*`): allowed browser origins, comma separated, or `*`.
    pub cors_origins: Vec<String>,
    /// `TRUSTED_PROXIES`: CIDRs whose `X-Forwarded-For` is believed (default: none; set it
    /// to the ingress's range).
    pub trusted_proxies: Vec<Cidr>,
    /// `HTTP_BODY_LIMIT_BYTES` (65536): largest accepted request body.
    pub body_limit: usize,
}

impl HttpConfig {
    pub(crate) fn read(r: &mut Reader<'_>, kind: ServiceKind) -> Self {
        let host = r.parse("HOST", IpAddr::from([0, 0, 0, 0]), "an IP address");
        let port = r.u64_in("PORT", u64::from(kind.default_port()), 0, 65_535) as u16;
        let internal_port = r
            .raw("INTERNAL_PORT")
            .map(|_| r.u64_in("INTERNAL_PORT", 0, 0, 65_535) as u16);
        if internal_port.is_some_and(|p| p != 0 && p == port) {
            r.error("INTERNAL_PORT", format!("must differ from PORT ({port})"));
        }
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = r.u64_in("HTTP_WORKERS", cpus as u64, 1, 512) as usize;
        let cors_origins = r
            .string("CORS_ORIGIN", "*")
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let trusted_proxies = r.cidrs("TRUSTED_PROXIES", "");
        Self {
            host,
            port,
            internal_port,
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
    pub(crate) fn read(r: &mut Reader<'_>) -> Self {
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
