//! Health endpoints.
//!
//! - `GET /health/live`: the process serves requests (200 always).
//! - `GET /health/ready`: the database answers and every readiness check the service added
//!   passes (200, else 503); Redis is not required, because every Redis use fails open.
//! - `GET /health/detailed`: `database`, `redis`, and `vault` / `opa` when `VAULT_ADDR` /
//!   `OPA_URL` are set, probed concurrently. Each is `healthy`, `degraded` (answered in more
//!   than 1000 ms) or `unreachable` (error, or no answer within 2000 ms). HTTP 200 when all
//!   are healthy, 207 when any is degraded, 503 when any is unreachable; the overall `status`
//!   is `healthy`, `degraded` or `unhealthy`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use reqwest::Url;
use serde::Serialize;

use crate::db::Db;
use crate::redis::Redis;

/// Above this a dependency is `degraded`.
pub const DEGRADED_AFTER: Duration = Duration::from_millis(1000);
/// At this a dependency is `unreachable`.
pub const UNREACHABLE_AFTER: Duration = Duration::from_millis(2000);

/// The state of one dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Answered in time.
    Healthy,
    /// Answered slowly.
    Degraded,
    /// Did not answer, or answered with an error.
    Unreachable,
}

/// One dependency's report.
#[derive(Debug, Clone, Serialize)]
pub struct Component {
    /// Its state.
    pub status: Status,
    /// How long the probe took.
    #[serde(rename = "latencyMs")]
    pub latency_ms: u64,
    /// Why it is not healthy, or a note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An extra component a service adds to `/health/detailed` (for example quota in fail-open
/// mode); it reports its own state without a network probe.
pub type ExtraCheck = Arc<dyn Fn() -> Option<(&'static str, Component)> + Send + Sync>;

/// A condition a service adds to `/health/ready` (for example: its search index has caught
/// up); `Err` says why the instance is not ready yet.
pub type ReadyCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Everything `/health/*` needs.
#[derive(Clone)]
pub struct HealthChecker {
    service: &'static str,
    db: Db,
    redis: Redis,
    vault: Option<Url>,
    opa: Option<Url>,
    http: reqwest::Client,
    extras: Vec<ExtraCheck>,
    readiness: Vec<ReadyCheck>,
}

impl std::fmt::Debug for HealthChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthChecker")
            .field("service", &self.service)
            .field("vault", &self.vault.as_ref().map(Url::as_str))
            .field("opa", &self.opa.as_ref().map(Url::as_str))
            .finish()
    }
}

impl HealthChecker {
    /// A checker for the given dependencies.
    pub fn new(
        service: &'static str,
        db: Db,
        redis: Redis,
        vault: Option<Url>,
        opa: Option<Url>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            service,
            db,
            redis,
            vault,
            opa,
            http,
            extras: Vec::new(),
            readiness: Vec::new(),
        }
    }

    /// Adds a component computed by the service.
    pub fn with_extra(mut self, check: ExtraCheck) -> Self {
        self.extras.push(check);
        self
    }

    /// Adds a condition of readiness.
    pub fn with_readiness(mut self, check: ReadyCheck) -> Self {
        self.readiness.push(check);
        self
    }

    /// Probes every dependency concurrently.
    pub async fn detailed(&self) -> (StatusCode, serde_json::Value) {
        let db = probe(async { self.db.ping().await.map_err(|e| e.to_string()) });
        let redis = probe(async { self.redis.ping().await.map_err(|e| e.to_string()) });
        let vault = async {
            match &self.vault {
                Some(u) => Some(probe(http_probe(&self.http, vault_url(u), Kind::Vault)).await),
                None => None,
            }
        };
        let opa = async {
            match &self.opa {
                Some(u) => Some(probe(http_probe(&self.http, opa_url(u), Kind::Opa)).await),
                None => None,
            }
        };
        let (db, redis, vault, opa) = tokio::join!(db, redis, vault, opa);
        let mut components: Vec<(&'static str, Component)> =
            vec![("database", db), ("redis", redis)];
        if let Some(v) = vault {
            components.push(("vault", v));
        }
        if let Some(o) = opa {
            components.push(("opa", o));
        }
        components.extend(self.extras.iter().filter_map(|f| f()));
        summarize(self.service, &components)
    }
}

fn summarize(
    service: &str,
    components: &[(&'static str, Component)],
) -> (StatusCode, serde_json::Value) {
    let worst = components
        .iter()
        .map(|(_, c)| c.status)
        .max_by_key(|s| match s {
            Status::Healthy => 0,
            Status::Degraded => 1,
            Status::Unreachable => 2,
        })
        .unwrap_or(Status::Healthy);
    let (code, overall) = match worst {
        Status::Healthy => (StatusCode::OK, "healthy"),
        Status::Degraded => (StatusCode::MULTI_STATUS, "degraded"),
        Status::Unreachable => (StatusCode::SERVICE_UNAVAILABLE, "unhealthy"),
    };
    let mut body = serde_json::Map::new();
    body.insert("status".into(), overall.into());
    body.insert("service".into(), service.into());
    body.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    body.insert(
        "timestamp".into(),
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
            .into(),
    );
    for (name, c) in components {
        body.insert((*name).into(), serde_json::to_value(c).unwrap_or_default());
    }
    (code, serde_json::Value::Object(body))
}

/// Times `check`, classifying by latency; gives up at [`UNREACHABLE_AFTER`].
pub async fn probe(check: impl Future<Output = Result<(), String>>) -> Component {
    let start = Instant::now();
    let result = tokio::time::timeout(UNREACHABLE_AFTER, check).await;
    let elapsed = start.elapsed();
    let latency_ms = elapsed.as_millis() as u64;
    match result {
        Err(_) => Component {
            status: Status::Unreachable,
            latency_ms,
            message: Some(format!(
                "no answer within {} ms",
                UNREACHABLE_AFTER.as_millis()
            )),
        },
        Ok(Err(e)) => Component {
            status: Status::Unreachable,
            latency_ms,
            message: Some(e),
        },
        Ok(Ok(())) if elapsed >= UNREACHABLE_AFTER => Component {
            status: Status::Unreachable,
            latency_ms,
            message: Some(format!("answered after {latency_ms} ms")),
        },
        Ok(Ok(())) if elapsed > DEGRADED_AFTER => Component {
            status: Status::Degraded,
            latency_ms,
            message: Some(format!("slow: answered after {latency_ms} ms")),
        },
        Ok(Ok(())) => Component {
            status: Status::Healthy,
            latency_ms,
            message: None,
        },
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Vault,
    Opa,
}

fn vault_url(base: &Url) -> Url {
    base.join("v1/sys/health?standbyok=true&perfstandbyok=true")
        .unwrap_or_else(|_| base.clone())
}

fn opa_url(base: &Url) -> Url {
    base.join("health").unwrap_or_else(|_| base.clone())
}

async fn http_probe(http: &reqwest::Client, url: Url, kind: Kind) -> Result<(), String> {
    let res = http
        .get(url)
        .timeout(UNREACHABLE_AFTER)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let code = res.status().as_u16();
    match kind {
        // Vault: 200 active, 429 standby, 472/473 DR/performance standby are all serving.
        Kind::Vault => match code {
            200 | 429 | 472 | 473 => Ok(()),
            501 => Err("vault is not initialized".into()),
            503 => Err("vault is sealed".into()),
            other => Err(format!("vault answered HTTP {other}")),
        },
        Kind::Opa => match code {
            200 => Ok(()),
            other => Err(format!("opa answered HTTP {other}")),
        },
    }
}

/// `GET /health/live`.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /health/ready`.
pub async fn ready(checker: web::Data<HealthChecker>) -> HttpResponse {
    let db = probe(async { checker.db.ping().await.map_err(|e| e.to_string()) }).await;
    let waiting: Vec<String> = checker
        .readiness
        .iter()
        .filter_map(|check| check().err())
        .collect();
    let status = if db.status == Status::Unreachable || !waiting.is_empty() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut body = serde_json::json!({
        "status": if status.is_success() { "ready" } else { "not_ready" },
        "database": db,
    });
    if !waiting.is_empty() {
        body["waiting"] = waiting.into();
    }
    HttpResponse::build(status).json(body)
}

/// `GET /health/detailed`.
pub async fn detailed(checker: web::Data<HealthChecker>) -> HttpResponse {
    let (code, body) = checker.detailed().await;
    HttpResponse::build(code)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(status: Status) -> Component {
        Component {
            status,
            latency_ms: 1,
            message: None,
        }
    }

    #[test]
    fn overall_status_follows_the_worst_component() {
        let (c, b) = summarize(
            "x",
            &[
                ("database", comp(Status::Healthy)),
                ("redis", comp(Status::Healthy)),
            ],
        );
        assert_eq!((c.as_u16(), b["status"].as_str()), (200, Some("healthy")));
        let (c, b) = summarize(
            "x",
            &[
                ("database", comp(Status::Healthy)),
                ("vault", comp(Status::Degraded)),
            ],
        );
        assert_eq!((c.as_u16(), b["status"].as_str()), (207, Some("degraded")));
        let (c, b) = summarize(
            "x",
            &[
                ("redis", comp(Status::Unreachable)),
                ("vault", comp(Status::Degraded)),
            ],
        );
        assert_eq!((c.as_u16(), b["status"].as_str()), (503, Some("unhealthy")));
        assert_eq!(b["redis"]["status"], "unreachable");
    }
}
