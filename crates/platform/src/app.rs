//! What every service's `Application::build` starts from, and the running application.

use std::future::Future;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web;

use crate::config::CommonConfig;
use crate::db::{self, Db};
use crate::health::HealthChecker;
use crate::internal_http::InternalHttp;
use crate::metering::{Flusher, HttpSink, Metering};
use crate::quota::{HttpTierSource, Quota};
use crate::rate_limit::RateLimiter;
use crate::redis::Redis;
use crate::server::{self, HttpContext};
use crate::shutdown::{self, Shutdown};
use crate::telemetry::Metrics;

/// The shared runtime objects of one application instance.
#[derive(Debug, Clone)]
pub struct Core {
    /// Settings shared by every service.
    pub config: Arc<CommonConfig>,
    /// The service's PostgreSQL pool (its own schema first on the search path).
    pub db: Db,
    /// The shared Redis connection.
    pub redis: Redis,
    /// This instance's metrics.
    pub metrics: Metrics,
    /// The rate limiter.
    pub limiter: RateLimiter,
    /// Calls to other services.
    pub internal: InternalHttp,
    /// Cancellation and flush hooks.
    pub shutdown: Shutdown,
    /// Usage counters of this process.
    pub metering: Metering,
    /// Sends the counters to billing (started when `BILLING_ENABLED`).
    pub flusher: Flusher,
    /// Tier enforcement.
    pub quota: Quota,
}

impl Core {
    /// Creates the pools and clients and starts pool upkeep. Nothing blocks on the network:
    /// a service comes up even while Redis is down.
    pub fn new(config: CommonConfig) -> anyhow::Result<Self> {
        let name = config.service.name();
        let db = Db::new(&config.database, name, name)?;
        let redis = Redis::new(&config.redis)?;
        let metrics = Metrics::new(name);
        let limiter = RateLimiter::new(redis.clone(), config.rate_limits.clone(), metrics.clone());
        let internal = InternalHttp::new(&config.internal)?;
        let shutdown = Shutdown::new();
        db.spawn_upkeep(shutdown.token());
        let metering = Metering::new();
        let flusher = Flusher::new(name, metering.clone(), Arc::new(HttpSink(internal.clone())));
        if config.billing.enabled {
            flusher.start(config.billing.flush_interval, shutdown.token(), &shutdown);
        }
        let quota = Quota::new(
            redis.clone(),
            &config.billing,
            Arc::new(HttpTierSource(internal.clone())),
        );
        Ok(Self {
            config: Arc::new(config),
            db,
            redis,
            metrics,
            limiter,
            internal,
            shutdown,
            metering,
            flusher,
            quota,
        })
    }

    /// A bearer-token verifier for services other than identity: identity's JWKS over
    /// internal HTTP, revocations from Redis, and identity's revocation check while Redis
    /// cannot answer.
    pub fn identity_verifier(&self) -> crate::auth::Verifier {
        let issuer = self.config.public_base();
        crate::auth::Verifier::new(
            issuer.clone(),
            issuer,
            Arc::new(crate::auth::HttpJwks::new(
                self.internal.identity("/.well-known/jwks.json"),
                self.internal.raw_client().clone(),
            )),
            self.redis.clone(),
            Some(Arc::new(crate::auth::HttpRevocationFallback(
                self.internal.clone(),
            ))),
        )
        .with_dpop_nonces(
            self.config
                .dpop_nonce_secret
                .as_ref()
                .map(|s| s.expose().as_bytes()),
        )
    }

    /// The health checker over this core's dependencies.
    pub fn health(&self) -> HealthChecker {
        HealthChecker::new(
            self.config.service.name(),
            self.db.clone(),
            self.redis.clone(),
            self.config.health.vault_addr.clone(),
            self.config.health.opa_url.clone(),
            self.internal.raw_client().clone(),
        )
        .with_extra(self.quota.health_check())
    }

    /// Refuses to run against a database without this build's migrations.
    pub async fn ensure_migrated(&self, runner: &refinery::Runner) -> anyhow::Result<()> {
        db::ensure_migrated(&self.db, self.config.service.name(), runner).await
    }

    fn http_context(&self) -> HttpContext {
        HttpContext {
            limiter: self.limiter.clone(),
            metrics: self.metrics.clone(),
            trusted_proxies: self.config.http.trusted_proxies.clone(),
            access_log: self.config.telemetry.access_log,
            db: self.db.clone(),
            redis: self.redis.clone(),
            histograms: Arc::default(),
        }
    }
}

/// A bound, not yet running, application with its service-specific state `S`.
pub struct Application<S> {
    port: u16,
    internal_port: Option<u16>,
    server: Server,
    core: Core,
    /// The service's own state (shared with its handlers).
    pub state: S,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Application<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("internal_port", &self.internal_port)
            .field("core", &self.core)
            .field("state", &self.state)
            .finish()
    }
}

impl<S> Application<S> {
    /// Binds the listener (and the internal one when `INTERNAL_PORT` is set) and builds the
    /// server around `routes`.
    pub fn start<F>(core: Core, state: S, health: HealthChecker, routes: F) -> anyhow::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        let listener = server::bind(&core.config)?;
        let port = listener.local_addr()?.port();
        let internal = server::bind_internal(&core.config)?;
        let internal_port = internal
            .as_ref()
            .map(|l| l.local_addr().map(|a| a.port()))
            .transpose()?;
        let server = server::serve(
            &core.config,
            listener,
            internal,
            core.http_context(),
            health,
            routes,
        )?;
        tracing::info!(
            service = core.config.service.name(),
            address = %format!("{}:{port}", core.config.http.host),
            version = env!("CARGO_PKG_VERSION"),
            "listening"
        );
        if let Some(p) = internal_port {
            tracing::info!(
                service = core.config.service.name(),
                address = %format!("{}:{p}", core.config.http.host),
                "listening (internal: /internal, /metrics, /health/detailed)"
            );
        }
        Ok(Self {
            port,
            internal_port,
            server,
            core,
            state,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound internal port (`INTERNAL_PORT`), if any.
    pub fn internal_port(&self) -> Option<u16> {
        self.internal_port
    }

    /// The shared runtime objects.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// A handle that stops the server (tests: `stop(true)` drains like SIGTERM does).
    pub fn server_handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT, then drains and flushes.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown::signal()).await
    }

    /// Serves until `stop` resolves (or the server stops), then drains and flushes.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        server::run(self.server, self.core.shutdown.clone(), stop).await
    }
}
