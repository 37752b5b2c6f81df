//! Builds the identity application: pools, keys, caches, writers, routes.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use metrics::Counter;
use platform::app::{Application, Core};
use platform::auth::{AuthContext, BoxFuture, JwksSource, Verifier};
use platform::metering::Metering;

use crate::audit::{AuditWriter, FeedSignal};
use crate::config::Config;
use crate::crypto::{Kek, Pepper};
use crate::keys::KeyRing;
use crate::routes;
use crate::tokens::revocation::DbFallback;
use crate::tokens::{CredentialCache, Issuer, Revocations};
use crate::webhooks::deliver::Dispatcher;

/// Everything the identity handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// Pool, Redis, limiter, metrics, internal client, shutdown.
    pub core: Core,
    /// Signing keys.
    pub keys: KeyRing,
    /// Token signer.
    pub issuer: Issuer,
    /// Hashes client secrets.
    pub pepper: Pepper,
    /// Seals private keys.
    pub kek: Kek,
    /// Credential cache of the token endpoint.
    pub cache: CredentialCache,
    /// Audit group commit.
    pub audit: AuditWriter,
    /// Wakes change-feed readers when this instance commits events.
    pub feed: FeedSignal,
    /// Webhook fan-out and delivery.
    pub webhooks: Dispatcher,
    /// Usage counters.
    pub metering: Metering,
    /// Revocation writer.
    pub revocations: Revocations,
    /// Verifies bearer tokens (management API, introspection).
    pub verifier: Verifier,
    /// `agentidp_tokens_issued_total`.
    pub tokens_issued: Counter,
}

/// Shared state as actix app data.
pub type State = web::Data<AppState>;

/// The verifier's key source inside identity: the key ring itself, no HTTP.
struct LocalJwks(KeyRing);

impl JwksSource for LocalJwks {
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<jsonwebtoken::jwk::JwkSet>> {
        Box::pin(async move {
            let doc = self.0.current().jwks(time::OffsetDateTime::now_utc());
            Ok(serde_json::from_value(doc)?)
        })
    }
}

/// How far in the future agent and credential revocation cut-offs lie: the credential
/// cache's lifetime plus time for a request that passed the cache to finish signing.
pub fn revocation_margin(config: &Config) -> Duration {
    config.credential_cache_ttl + Duration::from_millis(500)
}

/// Builds the application and binds its listener; refuses an unmigrated database.
pub async fn build(config: Config) -> anyhow::Result<Application<State>> {
    let core = Core::new(config.common.clone())?;
    core.ensure_migrated(&crate::migrations()).await?;
    let kek = Kek::new(config.key_encryption_key.expose())?;
    let keys = KeyRing::start(
        core.db.clone(),
        Kek::new(config.key_encryption_key.expose())?,
        config.keys.clone(),
        config.token_ttl,
        core.shutdown.token(),
    )
    .await?;
    let issuer = Issuer::new(keys.clone(), config.issuer(), config.token_ttl);
    let revocations = Revocations::new(
        core.redis.clone(),
        config.token_ttl,
        revocation_margin(&config),
    );
    revocations.spawn_upkeep(core.db.clone(), core.shutdown.token());
    let verifier = Verifier::new(
        config.issuer(),
        config.issuer(),
        Arc::new(LocalJwks(keys.clone())),
        core.redis.clone(),
        Some(Arc::new(DbFallback(core.db.clone()))),
    );
    // identity signs its own service tokens (for billing's usage and entitlements calls).
    core.internal
        .set_minter(Arc::new(crate::tokens::issue::ServiceMinter(
            issuer.clone(),
        )));
    let metering: Metering = core.metering.clone();
    let feed = FeedSignal::default();
    let audit = AuditWriter::start(
        core.db.clone(),
        config.audit_batch_max,
        &core.metrics,
        &core.shutdown,
        feed.clone(),
    );
    crate::audit::upkeep::Upkeep {
        db: core.db.clone(),
        keys: keys.clone(),
        issuer: config.issuer(),
        config: config.audit.clone(),
        integrity: core.metrics.gauge("agentidp_audit_chain_integrity", &[]),
    }
    .spawn(core.shutdown.token());
    let webhooks = Dispatcher::new(
        core.db.clone(),
        Kek::new(config.key_encryption_key.expose())?,
        config.webhooks.clone(),
        &core.metrics,
    )?;
    webhooks.spawn(feed.clone(), core.shutdown.token());
    let state = web::Data::new(AppState {
        pepper: Pepper::new(config.credential_pepper.expose().as_bytes()),
        kek,
        cache: CredentialCache::new(core.db.clone(), config.credential_cache_ttl),
        tokens_issued: core.metrics.counter("agentidp_tokens_issued_total", &[]),
        config: Arc::new(config),
        keys,
        issuer,
        audit,
        feed,
        webhooks,
        metering: metering.clone(),
        revocations,
        verifier: verifier.clone(),
        core: core.clone(),
    });
    let auth = web::Data::new(AuthContext {
        verifier,
        limiter: core.limiter.clone(),
        metering,
        quota: core.quota.clone(),
    });
    let health = core.health();
    let routes_state = state.clone();
    Application::start(core, state, health, move |cfg| {
        routes::configure(cfg, routes_state.clone(), auth.clone());
    })
}
