//! The HTTP server every service runs: binding, middleware, health and metrics routes, and
//! the run loop with graceful shutdown.
//!
//! Middleware, outermost first:
//! 1. CORS (`CORS_ORIGIN`);
//! 2. `observe`: request id (`X-Request-Id`, accepted from the caller when well-formed),
//!    a span continuing the caller's trace, the latency histogram per route, the access log;
//! 3. `ip_limit`: the per-IP limit of `rate_limit::Action::Ip` (an IPv6 client counted as its
//!    /64), with `RateLimit-*` headers; the token endpoint has limits of its own instead;
//! 4. `listener_gate`: with `INTERNAL_PORT` set, requests for [`internal_only`] paths that
//!    arrive on the public listener answer 404, so a layer-4 rule (a NetworkPolicy on the
//!    internal port) keeps them inside the cluster.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use anyhow::Context as _;
use metrics::Histogram;
use tracing::Instrument as _;

use crate::config::CommonConfig;
use crate::db::Db;
use crate::errors::{ApiError, REQUEST_ID};
use crate::extract::BodyLimit;
use crate::health::{self, HealthChecker};
use crate::net::{Cidr, client_ip, limit_subject};
use crate::rate_limit::{Action, Check, RateLimiter, ip_limit_exempt};
use crate::redis::Redis;
use crate::shutdown::Shutdown;
use crate::telemetry::{self, Metrics};

/// Latency histograms per (route, method, status), registered once each: registering builds
/// label strings, which the hot path should not pay per request.
#[derive(Debug, Default)]
pub struct RouteHistograms {
    map: std::sync::RwLock<HashMap<String, Vec<RouteHistogram>>>,
}

/// One (method, status) histogram of a route.
type RouteHistogram = (Method, u16, Histogram);

impl RouteHistograms {
    fn record(&self, metrics: &Metrics, route: &str, method: &Method, status: u16, secs: f64) {
        let find = |entries: &[RouteHistogram]| {
            entries
                .iter()
                .find(|(m, s, _)| m == method && *s == status)
                .map(|(_, _, h)| h.clone())
        };
        // Every request after the first of its kind only reads.
        let known = self
            .map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(route)
            .and_then(|e| find(e));
        if let Some(h) = known {
            h.record(secs);
            return;
        }
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entries = map.entry(route.to_owned()).or_default();
        let h = find(entries).unwrap_or_else(|| {
            let h = metrics.histogram(
                "agentidp_http_request_duration_seconds",
                &[
                    ("method", method.as_str()),
                    ("route", route),
                    ("status", &status.to_string()),
                ],
            );
            entries.push((method.clone(), status, h.clone()));
            h
        });
        h.record(secs);
    }
}

/// What the shared middleware and routes need, as app data.
#[derive(Debug, Clone)]
pub struct HttpContext {
    /// The limiter.
    pub limiter: RateLimiter,
    /// The application's metrics.
    pub metrics: Metrics,
    /// `TRUSTED_PROXIES`.
    pub trusted_proxies: Vec<Cidr>,
    /// `ACCESS_LOG`.
    pub access_log: bool,
    /// For pool gauges.
    pub db: Db,
    /// For the Redis gauge.
    pub redis: Redis,
    /// Request latency histograms.
    pub histograms: Arc<RouteHistograms>,
}

/// The client IP of a request, honouring trusted proxies.
pub fn request_ip(req: &HttpRequest) -> Option<IpAddr> {
    let trusted = req
        .app_data::<web::Data<HttpContext>>()
        .map(|c| c.trusted_proxies.as_slice())
        .unwrap_or(&[]);
    client_ip(
        req.peer_addr().map(|a| a.ip()),
        req.headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok()),
        trusted,
    )
}

/// Paths that only the internal listener serves when `INTERNAL_PORT` is set: the internal
/// API, the metrics and the detailed health view.
pub fn internal_only(path: &str) -> bool {
    path == "/metrics"
        || path == "/health/detailed"
        || path == "/internal"
        || path.starts_with("/internal/")
}

/// The bound internal port, as app data (present only when `INTERNAL_PORT` is set).
#[derive(Debug, Clone, Copy)]
struct InternalPort(u16);

async fn listener_gate<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if let Some(InternalPort(internal)) = req.app_data::<InternalPort>().copied() {
        // The router matches the re-quoted path (`%69nternal` is `internal` to it), so the
        // gate reads that one, not the raw path.
        let path = req.match_info().as_str();
        if internal_only(path) && req.app_config().local_addr().port() != internal {
            let res = route_not_found(req.request().clone())
                .await
                .unwrap_or_else(|e| e.error_response());
            return Ok(req.into_response(res).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

fn is_quiet(path: &str) -> bool {
    path.starts_with("/health/") || path == "/metrics"
}

fn valid_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')))
    .then(|| s.to_owned())
}

async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let ctx = req.app_data::<web::Data<HttpContext>>().cloned();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(valid_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let method = req.method().clone();
    let path = req.path().to_owned();
    let span = tracing::info_span!(
        "http.request",
        request_id = %request_id,
        http.method = %method,
        http.route = tracing::field::Empty,
        http.status_code = tracing::field::Empty,
    );
    telemetry::continue_trace(&span, req.headers());
    let mut res = REQUEST_ID
        .scope(request_id.clone(), next.call(req).instrument(span.clone()))
        .await?;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), v);
    }
    let status = res.status().as_u16();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let elapsed = start.elapsed();
    span.record("http.route", route.as_str());
    span.record("http.status_code", status);
    if let Some(ctx) = ctx {
        ctx.histograms
            .record(&ctx.metrics, &route, &method, status, elapsed.as_secs_f64());
        if ctx.access_log && !is_quiet(&path) {
            tracing::info!(
                parent: &span,
                http.status_code = status,
                http.path = %path,
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                "request"
            );
        }
    }
    Ok(res)
}

async fn ip_limit<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let path = req.path();
    let ctx = req.app_data::<web::Data<HttpContext>>().cloned();
    let (Some(ctx), false) = (ctx, ip_limit_exempt(path)) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let ip = limit_subject(request_ip(req.request()));
    let decision = ctx.limiter.check(&[Check::new(Action::Ip, &ip)]).await;
    if !decision.allowed {
        let res = decision.to_error().error_response();
        return Ok(req.into_response(res).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    // A handler that applied a stricter limit of its own (e.g. audit verification) keeps
    // its headers: clients see the limit closest to refusing them.
    let stricter_inside = res
        .headers()
        .get("ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|inner| inner <= decision.remaining);
    if !stricter_inside {
        decision.apply(res.headers_mut());
    }
    Ok(res.map_into_left_body())
}

async fn metrics_route(ctx: web::Data<HttpContext>) -> HttpResponse {
    let s = ctx.db.pool().status();
    let m = &ctx.metrics;
    m.gauge("agentidp_db_pool_connections", &[("state", "in_use")])
        .set(s.size.saturating_sub(s.available) as f64);
    m.gauge("agentidp_db_pool_connections", &[("state", "idle")])
        .set(s.available as f64);
    m.gauge("agentidp_db_pool_max_connections", &[])
        .set(s.max_size as f64);
    m.gauge("agentidp_db_pool_waiting", &[])
        .set(s.waiting as f64);
    m.gauge("agentidp_redis_up", &[])
        .set(if ctx.redis.is_up() { 1.0 } else { 0.0 });
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(m.render())
}

async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "route_not_found",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

fn cors(origins: &[String]) -> actix_cors::Cors {
    let base = actix_cors::Cors::default()
        .allow_any_method()
        .allow_any_header()
        .expose_headers([
            "x-request-id",
            "retry-after",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
            "etag",
        ])
        .max_age(3600);
    if origins.iter().any(|o| o == "*") {
        base.allow_any_origin().send_wildcard()
    } else {
        origins.iter().fold(base, |c, o| c.allowed_origin(o))
    }
}

/// Binds `HOST:PORT` (port 0 picks a free port).
pub fn bind(cfg: &CommonConfig) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::new(cfg.http.host, cfg.http.port);
    TcpListener::bind(addr).with_context(|| format!("binding {addr}"))
}

/// Binds `HOST:INTERNAL_PORT` when `INTERNAL_PORT` is set.
pub fn bind_internal(cfg: &CommonConfig) -> anyhow::Result<Option<TcpListener>> {
    cfg.http
        .internal_port
        .map(|port| {
            let addr = SocketAddr::new(cfg.http.host, port);
            TcpListener::bind(addr).with_context(|| format!("binding {addr} (INTERNAL_PORT)"))
        })
        .transpose()
}

/// Builds the actix server around a service's routes, on the public listener and, when
/// given, the internal one (see [`internal_only`]).
pub fn serve<F>(
    cfg: &CommonConfig,
    listener: TcpListener,
    internal: Option<TcpListener>,
    ctx: HttpContext,
    health: HealthChecker,
    routes: F,
) -> anyhow::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let ctx = web::Data::new(ctx);
    let health = web::Data::new(health);
    let origins = cfg.http.cors_origins.clone();
    let body_limit = BodyLimit(cfg.http.body_limit);
    let drain_secs = cfg.http.shutdown_timeout.as_millis().div_ceil(1000) as u64;
    // `/health/<service>/(live|ready)` as well: the paths the ingress exposes, so that it
    // routes them by prefix alone, without rewriting.
    let service = cfg.service.name();
    let (live_alias, ready_alias) = (
        format!("/health/{service}/live"),
        format!("/health/{service}/ready"),
    );
    let internal_port = internal
        .as_ref()
        .map(|l| l.local_addr().map(|a| InternalPort(a.port())))
        .transpose()?;
    let server = HttpServer::new(move || {
        let app = App::new()
            .app_data(ctx.clone())
            .app_data(health.clone())
            .app_data(body_limit);
        let app = match internal_port {
            Some(p) => app.app_data(p),
            None => app,
        };
        app.wrap(from_fn(listener_gate))
            .wrap(from_fn(ip_limit))
            .wrap(from_fn(observe))
            .wrap(cors(&origins))
            .route("/health/live", web::get().to(health::live))
            .route("/health/ready", web::get().to(health::ready))
            .route(&live_alias, web::get().to(health::live))
            .route(&ready_alias, web::get().to(health::ready))
            .route("/health/detailed", web::get().to(health::detailed))
            .route("/metrics", web::get().to(metrics_route))
            .configure(routes.clone())
            .default_service(web::to(route_not_found))
    })
    .workers(cfg.http.workers)
    // A client that closes its side is gone: its request's handler is dropped (and with it
    // any work it was doing) instead of running to an answer nobody reads.
    .h1_allow_half_closed(false)
    .disable_signals()
    .shutdown_timeout(drain_secs)
    .listen(listener)?;
    let server = match internal {
        Some(l) => server.listen(l)?,
        None => server,
    };
    Ok(server.run())
}

/// Runs `server` until it stops or `stop` resolves; then drains in-flight requests (bounded
/// by `SHUTDOWN_TIMEOUT_MS`), cancels background tasks and runs the flush hooks.
pub async fn run(
    server: Server,
    shutdown: Shutdown,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let handle: ServerHandle = server.handle();
    let mut task = tokio::spawn(server);
    let result = tokio::select! {
        res = &mut task => res,
        () = stop => {
            handle.stop(true).await;
            task.await
        }
    };
    shutdown.run(std::time::Duration::from_secs(10)).await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e).context("http server failed"),
        Err(e) => Err(e).context("http server task failed"),
    }
}
