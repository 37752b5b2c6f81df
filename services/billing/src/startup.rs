//! Builds the billing application: pools, Stripe client, state, routes.

use std::sync::Arc;

use actix_web::web;
use platform::app::{Application, Core};
use platform::auth::AuthContext;

use crate::config::Config;
use crate::routes;
use crate::stripe::StripeClient;
use crate::usage::{LocalSink, LocalTiers};

/// Everything the billing handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// Pool, Redis, limiter, metrics, internal client, quota, shutdown.
    pub core: Core,
    /// The Stripe API.
    pub stripe: StripeClient,
}

/// Shared state as actix app data.
pub type State = web::Data<AppState>;

/// Builds the application and binds its listener; refuses an unmigrated database.
pub async fn build(config: Config) -> anyhow::Result<Application<State>> {
    let core = Core::new(config.common.clone())?;
    core.ensure_migrated(&crate::migrations()).await?;
    // Billing is the source of usage and tiers: its own counters and quota use its tables.
    core.flusher.set_sink(Arc::new(LocalSink(core.db.clone())));
    core.quota.set_source(Arc::new(LocalTiers(core.db.clone())));
    let verifier = core.identity_verifier();
    let auth = web::Data::new(AuthContext {
        verifier,
        limiter: core.limiter.clone(),
        metering: core.metering.clone(),
        quota: core.quota.clone(),
    });
    let state = web::Data::new(AppState {
        stripe: StripeClient::new(&config.stripe)?,
        config: Arc::new(config),
        core: core.clone(),
    });
    let health = core.health();
    let routes_state = state.clone();
    Application::start(core, state, health, move |cfg| {
        routes::configure(cfg, routes_state.clone(), auth.clone());
    })
}
