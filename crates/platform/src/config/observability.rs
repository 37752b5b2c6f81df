//! Logs, traces and the optional dependencies `/health/detailed` reports.

use reqwest::Url;

use super::reader::Reader;

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
    pub(crate) fn read(r: &mut Reader<'_>) -> Self {
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

/// Health-check targets beyond PostgreSQL and Redis.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// `VAULT_ADDR`: when set, `/health/detailed` reports `vault`.
    pub vault_addr: Option<Url>,
    /// `OPA_URL`: when set, `/health/detailed` reports `opa`.
    pub opa_url: Option<Url>,
}
