//! Builds the billing application: pools, Stripe client, services, state, routes.

use std::sync::Arc;

use actix_web::web;
use platform::app::{Application, Core};
use platform::auth::AuthContext;

use crate::checkout::Checkout;
use crate::config::Config;
use crate::migrations::migrations;
use crate::routes;
use crate::stripe::StripeClient;
use crate::usage::{LocalSink, LocalTiers};
use crate::webhooks::StripeEvents;

pub use crate::routes::state::{AppState, State};

/// Builds the application and binds its listener; refuses an unmigrated database.
pub async fn build(config: Config) -> anyhow::Result<Application<State>> {
    let core = Core::new(config.common.clone())?;
    core.ensure_migrated(&migrations()).await?;
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
    let checkout = Checkout::new(
        core.db.clone(),
        StripeClient::new(&config.stripe)?,
        config.stripe.clone(),
    );
    let events = StripeEvents::new(core.db.clone(), core.quota.clone(), config.stripe.clone());
    let state = web::Data::new(AppState {
        config: Arc::new(config),
        core: core.clone(),
        checkout: web::Data::new(checkout),
        events: web::Data::new(events),
    });
    let health = core.health();
    let routes_state = state.clone();
    Application::start(core, state, health, move |cfg| {
        routes::configure(cfg, routes_state.clone(), auth.clone());
    })
}
