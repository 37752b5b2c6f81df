//! The common crate of every AgentIdP service.
//!
//! Each module owns one cross-cutting concern; services compose them in their `startup.rs`.
//! Nothing here knows about a particular service's tables or routes. This crate must not
//! depend on any service crate, on `testkit`, or on Stripe.

pub mod app;
pub mod auth;
pub mod budget;
pub mod cli;
pub mod config;
pub mod db;
pub mod errors;
pub mod extract;
pub mod failure;
pub mod feed;
pub mod future;
pub mod health;
pub mod internal_http;
pub mod log_buffer;
mod macros;
pub mod metering;
pub mod net;
pub mod pagination;
pub mod quota;
pub mod rate_limit;
pub mod redis;
pub mod secret;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod tls;

pub use errors::{ApiError, ApiResult};
pub use failure::Failure;
pub use secret::Secret;

/// What the exported macros name; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use anyhow;
    pub use refinery;
}
