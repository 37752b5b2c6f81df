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

/// Path prefixes the per-IP limit never counts.
pub const IP_LIMIT_EXEMPT_PREFIXES: [&str; 4] = [
    "/health/",
    "/metrics",
    "/internal/",
    "/api/v1/billing/webhooks/",
];

/// Exact paths the per-IP limit never counts: the token endpoint, which has its own per-client
/// and per-IP limits. Introspection and revocation (`/oauth2/introspect`,
/// `/api/v1/token/introspect`, ...) are counted like every other public route.
pub const IP_LIMIT_EXEMPT_PATHS: [&str; 2] = ["/oauth2/token", "/api/v1/token"];

/// Whether the per-IP limit skips `path`.
pub fn ip_limit_exempt(path: &str) -> bool {
    IP_LIMIT_EXEMPT_PATHS.contains(&path)
        || IP_LIMIT_EXEMPT_PREFIXES.iter().any(|p| path.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::ip_limit_exempt;

    #[test]
    fn only_the_token_endpoint_escapes_the_per_ip_limit() {
        for path in ["/oauth2/token", "/api/v1/token", "/health/live", "/metrics"] {
            assert!(ip_limit_exempt(path), "{path}");
        }
        for path in [
            "/oauth2/introspect",
            "/oauth2/revoke",
            "/api/v1/token/introspect",
            "/api/v1/token/revoke",
            "/api/v1/tokens",
            "/oauth2/token/x",
        ] {
            assert!(!ip_limit_exempt(path), "{path}");
        }
    }
}
