//! Builds the identity application: pools, keys, caches, writers, the services each route
//! needs, and the routes. The only module that knows every service.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use platform::app::{Application, Core};
use platform::auth::{AuthContext, BoxFuture, JwksSource, Verifier};
use platform::metering::Metering;

use crate::agents::Agents;
use crate::audit::change::Changes;
use crate::audit::feed::Feed;
use crate::audit::log::AuditLog;
use crate::audit::signal::FeedSignal;
use crate::audit::upkeep::Upkeep;
use crate::audit::walks::Walks;
use crate::audit::writer::AuditWriter;
use crate::config::Config;
use crate::credentials::Credentials;
use crate::crypto::{Kek, Pepper};
use crate::delegations::Delegations;
use crate::federation::{Federation, Issuers, PolicyCache, TrustPolicies};
use crate::keys::directory::KeyDirectory;
use crate::keys::ring::KeyRing;
use crate::migrations::migrations;
use crate::resource_servers::{Audiences, ResourceServers};
use crate::routes;
use crate::tenants::Tenants;
use crate::tenants::clients::AdminClients;
use crate::tenants::signup::{Invitations, Signups};
use crate::tokens::assertion::Assertions;
use crate::tokens::cache::CredentialCache;
use crate::tokens::introspection::Introspection;
use crate::tokens::issue::{Issuer, ServiceMinter};
use crate::tokens::replay::Replays;
use crate::tokens::revocation::{DbFallback, Revocations};
use crate::tokens::service::{Lookups, TokenService};
use crate::webhooks::deliver::Dispatcher;
use crate::webhooks::subscriptions::Subscriptions;

/// What tests and the binary hold of a running identity: its settings, shared runtime
/// objects, keys and usage counters. Handlers never see it; each extracts its own service.
#[derive(Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// Pool, Redis, limiter, metrics, internal client, shutdown.
    pub core: Core,
    /// Signing keys.
    pub keys: KeyRing,
    /// Seals private keys.
    pub kek: Kek,
    /// Usage counters.
    pub metering: Metering,
    /// The token endpoint's credential cache.
    pub credential_cache: CredentialCache,
}

/// Shared state of a running identity.
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

/// The revocation store of `config`'s deployment.
pub fn revocations(config: &Config, core_redis: platform::redis::Redis) -> Revocations {
    Revocations::new(core_redis, config.token_ttl, revocation_margin(config))
}

/// The key-encryption key of `config` (with its secondary key during a rotation).
pub fn kek(config: &Config) -> anyhow::Result<Kek> {
    let kek = Kek::new(config.key_encryption_key.expose())?;
    match &config.key_encryption_key_secondary {
        Some(secondary) => kek.with_secondary(secondary.expose()),
        None => Ok(kek),
    }
}

/// The pepper of client secrets of `config` (with its secondary pepper during a rotation).
pub fn pepper(config: &Config) -> Pepper {
    let pepper = Pepper::new(config.credential_pepper.expose().as_bytes());
    match &config.credential_pepper_secondary {
        Some(secondary) => pepper.with_secondary(secondary.expose().as_bytes()),
        None => pepper,
    }
}

/// Builds the application and binds its listener; refuses an unmigrated database.
pub async fn build(config: Config) -> anyhow::Result<Application<State>> {
    let core = Core::new(config.common.clone())?;
    core.ensure_migrated(&migrations()).await?;
    let keys = KeyRing::start(
        core.db.clone(),
        kek(&config)?,
        config.keys.clone(),
        config.token_ttl,
        core.shutdown.token(),
    )
    .await?;
    let issuer = Issuer::new(keys.clone(), config.issuer(), config.token_ttl);
    let revocations = revocations(&config, core.redis.clone());
    revocations.spawn_upkeep(core.db.clone(), core.shutdown.token());
    let verifier = Verifier::new(
        config.issuer(),
        config.issuer(),
        Arc::new(LocalJwks(keys.clone())),
        core.redis.clone(),
        Some(Arc::new(DbFallback(core.db.clone()))),
    )
    .with_dpop_nonces(
        config
            .common
            .dpop_nonce_secret
            .as_ref()
            .map(|s| s.expose().as_bytes()),
    );
    // identity signs its own service tokens (for billing's usage and entitlements calls).
    core.internal
        .set_minter(Arc::new(ServiceMinter(issuer.clone())));
    let signal = FeedSignal::default();
    let audit = AuditWriter::start(
        core.db.clone(),
        config.audit_batch_max,
        &core.metrics,
        &core.shutdown,
        signal.clone(),
    );
    Upkeep {
        db: core.db.clone(),
        keys: keys.clone(),
        issuer: config.issuer(),
        config: config.audit.clone(),
        integrity: core.metrics.gauge("agentidp_audit_chain_integrity", &[]),
    }
    .spawn(core.shutdown.token());
    let dispatcher = Dispatcher::new(
        core.db.clone(),
        kek(&config)?,
        config.webhooks.clone(),
        &core.metrics,
    )?;
    dispatcher.spawn(signal.clone(), core.shutdown.token());

    let cache = CredentialCache::new(core.db.clone(), config.credential_cache_ttl);
    let changes = Changes::new(core.db.clone(), cache.clone(), revocations);
    let audiences = Audiences::new(core.db.clone(), config.credential_cache_ttl);
    let resource_servers = web::Data::new(ResourceServers::new(
        core.db.clone(),
        audiences.clone(),
        config.common.public_url.clone(),
    ));
    let policy_cache = PolicyCache::new(core.db.clone(), config.credential_cache_ttl);
    let trust_policies = web::Data::new(TrustPolicies::new(
        core.db.clone(),
        policy_cache.clone(),
        config.issuer(),
        config.federation_allowed_networks.clone(),
        u32::try_from(config.token_ttl.as_secs()).unwrap_or(u32::MAX),
    ));
    let remote_keys = Issuers::new(config.federation_allowed_networks.clone())?;
    let replays = Replays(core.redis.clone());
    let lookups = Lookups {
        audiences,
        assertions: Assertions {
            remote: remote_keys.clone(),
            replays: replays.clone(),
            issuer: config.issuer(),
        },
        federation: Federation::new(policy_cache, remote_keys, replays),
        subjects: verifier.clone(),
        db: core.db.clone(),
    };
    let tokens = Arc::new(TokenService::new(
        issuer,
        cache.clone(),
        pepper(&config),
        audit,
        config.audit_token_events,
        lookups,
        &core,
    ));
    let introspection = web::Data::new(Introspection::new(
        verifier.clone(),
        tokens.clone(),
        changes.clone(),
    ));
    let tokens = web::Data::from(tokens);
    let agents = web::Data::new(Agents::new(
        changes.clone(),
        core.quota.clone(),
        kek(&config)?,
        config.common.public_url.clone(),
    ));
    let credentials = web::Data::new(Credentials::new(
        changes.clone(),
        pepper(&config),
        config.federation_allowed_networks.clone(),
    ));
    let signups = web::Data::new(Signups::new(
        changes.clone(),
        pepper(&config),
        core.limiter.clone(),
        Invitations::new(
            config
                .signup_invitation_codes
                .iter()
                .map(|c| c.expose().as_str()),
        ),
    ));
    let admin_clients = web::Data::new(AdminClients::new(
        changes.clone(),
        pepper(&config),
        config.federation_allowed_networks.clone(),
    ));
    let delegations = web::Data::new(Delegations::new(changes.clone()));
    let tenants = web::Data::new(Tenants::new(changes, pepper(&config)));
    let subscriptions = web::Data::new(Subscriptions::new(
        core.db.clone(),
        kek(&config)?,
        dispatcher,
    ));
    let walks = Walks::new(
        &config.common.database,
        config.audit.verify_concurrency,
        &core.metrics,
    )?;
    walks.spawn_upkeep(core.shutdown.token());
    let audit_log = web::Data::new(AuditLog::new(
        core.db.clone(),
        walks,
        keys.clone(),
        config.issuer(),
        core.limiter.clone(),
        config.audit.verify_interval,
    ));
    let feed = web::Data::new(Feed::new(
        core.db.clone(),
        signal,
        config.feed_poll_interval,
    ));
    let directory = web::Data::new(KeyDirectory::new(
        keys.clone(),
        core.db.clone(),
        config.keys.rotation_interval,
        config.common.public_url.clone(),
    ));
    let auth = web::Data::new(AuthContext {
        verifier,
        limiter: core.limiter.clone(),
        metering: core.metering.clone(),
        quota: core.quota.clone(),
    });
    let state = web::Data::new(AppState {
        kek: kek(&config)?,
        metering: core.metering.clone(),
        credential_cache: cache,
        config: Arc::new(config),
        keys,
        core: core.clone(),
    });
    let health = core.health();
    Application::start(core, state, health, move |cfg| {
        cfg.app_data(auth.clone())
            .app_data(tokens.clone())
            .app_data(introspection.clone())
            .app_data(agents.clone())
            .app_data(credentials.clone())
            .app_data(resource_servers.clone())
            .app_data(trust_policies.clone())
            .app_data(delegations.clone())
            .app_data(tenants.clone())
            .app_data(signups.clone())
            .app_data(admin_clients.clone())
            .app_data(subscriptions.clone())
            .app_data(audit_log.clone())
            .app_data(feed.clone())
            .app_data(directory.clone());
        routes::configure(cfg);
    })
}
