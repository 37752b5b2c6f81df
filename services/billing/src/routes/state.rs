//! What the billing handlers share: the settings, the runtime objects and the services they
//! call (each also registered on its own, so a handler extracts only the one it uses).

use std::sync::Arc;

use actix_web::web;
use platform::app::Core;

use crate::checkout::Checkout;
use crate::config::Config;
use crate::webhooks::StripeEvents;

/// Everything the billing handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// Pool, Redis, limiter, metrics, internal client, quota, shutdown.
    pub core: Core,
    /// Checkouts and upgrades.
    pub checkout: web::Data<Checkout>,
    /// Stripe's webhook events.
    pub events: web::Data<StripeEvents>,
}

/// Shared state as actix app data.
pub type State = web::Data<AppState>;
