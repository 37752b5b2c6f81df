//! Identity service: tenants, agents, credentials, OAuth 2.0 tokens, signing keys, the audit
//! log and change feed, webhooks and DIDs.
//!
//! A library with a thin `main.rs`, so tests run the real server on port 0. Layers, top
//! down: [`startup`] builds the services and the routes (`routes`, the only HTTP-aware
//! module besides it); the services ([`tokens`], [`agents`], [`credentials`], [`tenants`],
//! [`resource_servers`], [`webhooks`], [`audit`], [`keys`]) hold the rules and return their
//! own errors; [`repo`] holds all SQL; [`crypto`] and [`did`] are building blocks.

pub mod agents;
pub mod audit;
pub mod client_keys;
pub mod config;
pub mod credentials;
pub mod crypto;
pub mod delegations;
pub mod did;
pub mod federation;
pub mod keyed_cache;
pub mod keys;
pub mod migrations;
pub mod repo;
pub mod resource_servers;
mod routes;
pub mod startup;
pub mod tenants;
pub mod tokens;
pub mod webhooks;

pub use config::Config;
pub use migrations::migrations;
pub use startup::{AppState, State, build};

platform::service_main! {
    /// Hooks this service into the shared binary entry point.
    pub struct Service(kind: Identity, config: Config, state: State, migrations: migrations, build: build);
}

/// `identity service-client <name>`: creates or replaces a service's internal client and
/// returns `(client_id, client_secret)`.
pub async fn service_client(config: &Config, name: &str) -> anyhow::Result<(String, String)> {
    tenants::Tenants::new(cli_changes(config).await?, startup::pepper(config))
        .service_client(name)
        .await
}

/// `identity tenant-admin-reset <tenant id>`: a new admin client with every platform scope
/// for a tenant that lost every admin secret, audited with actor `system`; returns it as
/// JSON with its secret and the tenant's id.
pub async fn tenant_admin_reset(
    config: &Config,
    tenant: uuid::Uuid,
) -> anyhow::Result<serde_json::Value> {
    let admin_clients = tenants::clients::AdminClients::new(
        cli_changes(config).await?,
        startup::pepper(config),
        Vec::new(),
    );
    let (row, secret) = admin_clients.reset(tenant).await?;
    let mut made = tenants::clients::with_secret(&row, Some(&secret));
    made["tenant_id"] = tenant.to_string().into();
    Ok(made)
}

/// Audited changes for a command of the binary, on a migrated database.
async fn cli_changes(config: &Config) -> anyhow::Result<audit::Changes> {
    let db = platform::db::Db::new(&config.common.database, "identity", "identity-cli")?;
    platform::db::ensure_migrated(&db, "identity", &migrations()).await?;
    let redis = platform::redis::Redis::new(&config.common.redis)?;
    // A process of its own: no credential cache of a running instance to forget, and no
    // upkeep; a revocation Redis did not take is recorded for the running instances to mirror.
    let cache = tokens::CredentialCache::new(db.clone(), config.credential_cache_ttl);
    let revocations = startup::revocations(config, redis).recording_repairs_in(&db);
    Ok(audit::Changes::new(db, cache, revocations))
}

/// `identity reseal-secrets`: seals every private key and webhook secret again under the
/// primary `KEY_ENCRYPTION_KEY` (the middle step of its rotation, docs/SECURITY.md).
pub async fn reseal_secrets(config: &Config) -> anyhow::Result<keys::reseal::ResealReport> {
    let db = platform::db::Db::new(&config.common.database, "identity", "identity-cli")?;
    platform::db::ensure_migrated(&db, "identity", &migrations()).await?;
    keys::reseal::reseal(&db, &startup::kek(config)?).await
}

/// `identity rotate-signing-key`: schedules a new signing key.
pub async fn rotate_signing_key(config: &Config) -> anyhow::Result<(String, time::OffsetDateTime)> {
    let db = platform::db::Db::new(&config.common.database, "identity", "identity-cli")?;
    platform::db::ensure_migrated(&db, "identity", &migrations()).await?;
    let kek = startup::kek(config)?;
    keys::rotate_now(&db, &kek, &config.keys).await
}
