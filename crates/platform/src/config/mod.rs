//! Typed settings from the environment.
//!
//! Every service reads its configuration through a [`Reader`], which records every invalid
//! variable instead of stopping at the first, so an operator sees all mistakes at once.
//! Parsing works on an [`Env`] map, never on the process environment directly, so tests
//! exercise it without `set_var`. Each variable, its default and meaning are listed in
//! `docs/ENVIRONMENT.md`; keep that table and this module in step.
//!
//! The reading machinery is [`Env`] and [`Reader`]; each group of shared settings has its own
//! file, gathered by [`CommonConfig`]. A service's own configuration holds it in a `common`
//! field and reads itself with an inherent `from_env` (what `crate::service_main!` calls).

mod billing;
mod common;
mod env;
mod http;
pub mod limits;
mod observability;
mod reader;
mod service;
mod stores;

pub use billing::BillingSettings;
pub use common::{CommonConfig, read_common};
pub use env::{Env, FILE_VARIABLES};
pub use http::{HttpConfig, InternalConfig};
pub use limits::LimitTable;
pub use observability::{HealthConfig, TelemetryConfig};
pub use reader::{ConfigError, ConfigErrors, Reader};
pub use service::ServiceKind;
pub use stores::{DatabaseConfig, PgTls, RedisConfig};
