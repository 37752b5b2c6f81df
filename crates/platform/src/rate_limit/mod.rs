//! Rate limiting shared by every instance of a service.
//!
//! Every limited action is declared once, in [`ACTIONS`], with its key, default and the
//! variables that override it. A check runs one Lua script in Redis that evaluates every key
//! of the request (for example client *and* IP on the token endpoint) and counts the request
//! only if all of them allow it, so instances never disagree and a refused request costs
//! nothing. The window slides in ten buckets: a key counts the requests of the last
//! `window + window/10` at most, so no window of length `window` ever admits more than `max`.
//!
//! `REDIS_RATE_LIMIT_ENABLED=false`, or Redis being unreachable, switches to an in-memory
//! limiter with the same algorithm (per instance); see `crate::redis` for the warning and the
//! way back.

mod decision;
mod limiter;
mod script;
mod window;

pub use crate::config::limits::{ACTIONS, Action, ActionSpec, Limit, LimitTable};
pub use decision::{Backend, Check, Decision};
pub use limiter::RateLimiter;

/// Paths the per-IP limit never counts.
pub const IP_LIMIT_EXEMPT_PREFIXES: [&str; 6] = [
    "/health/",
    "/metrics",
    "/internal/",
    "/oauth2/token",
    "/api/v1/token",
    "/api/v1/billing/webhooks/",
];
