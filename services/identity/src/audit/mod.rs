//! The audit log: append-only, hash-chained per tenant, and the change feed.
//!
//! - [`event`]: events and the hash chain over them;
//! - [`change`]: the unit of work of every state change, which appends its events in the
//!   same transaction as the change;
//! - [`writer`]: the group commit of token issuances and refusals, which writes the events
//!   of many concurrent requests in one transaction and answers each request only after the
//!   commit;
//! - [`log`]: reading a tenant's log and verifying its chain ([`verify`], bounded by
//!   [`walks`]), with retention
//!   behind signed checkpoints ([`checkpoint`]) and background [`upkeep`];
//! - [`feed`]: the change feed for the other services, woken by [`signal`].
//!
//! Appenders lock the tenant's row in `audit_chain_heads`, so concurrent writers, on any
//! instance, extend the chain one after another. The statements are in
//! [`crate::repo::audit`].

pub mod change;
pub mod checkpoint;
pub mod event;
pub mod feed;
pub mod log;
pub mod signal;
pub mod upkeep;
pub mod verify;
pub mod walks;
pub mod writer;

pub use change::{Change, Changes, Effect};
pub use event::{ChainedEvent, NewEvent, Outcome, SYSTEM_TENANT, format_time, micros};
pub use feed::Feed;
pub use log::AuditLog;
pub use signal::FeedSignal;
pub use writer::AuditWriter;

/// Appends events in the caller's transaction (see [`crate::repo::audit::append`]).
pub use crate::repo::audit::append;
