//! Billing service: Stripe Checkout and webhooks, subscriptions, usage metering and
//! entitlements.
//!
//! A library with a thin `main.rs`, so tests run the real server on port 0.

pub mod checkout;
pub mod config;
mod migrations;
pub mod repo;
mod routes;
pub mod startup;
pub mod stripe;
pub mod usage;
pub mod webhooks;

pub use config::Config;
pub use migrations::migrations;
pub use startup::{AppState, State, build};

platform::service_main! {
    /// Hooks this service into the shared binary entry point.
    pub struct Service(kind: Billing, config: Config, state: State, migrations: migrations, build: build);
}
