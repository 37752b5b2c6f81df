//! What a check asks ([`Check`]) and what it answers ([`Decision`]), with the response headers
//! and the 429 problem of a refusal.

use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::limits::{Action, Limit};
use crate::errors::ApiError;

/// One key to check: an action and its subject, optionally with a limit of its own
/// (a tenant's tier, say) instead of the table's.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    /// The action.
    pub action: Action,
    /// The subject (IP, client id, tenant id).
    pub subject: &'a str,
    /// Overrides the table's limit.
    pub limit: Option<Limit>,
}

impl<'a> Check<'a> {
    /// A check with the table's limit.
    pub fn new(action: Action, subject: &'a str) -> Self {
        Self {
            action,
            subject,
            limit: None,
        }
    }
}

/// Which store answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Shared, in Redis.
    Redis,
    /// Local to this instance.
    Memory,
}

/// The outcome of a check, reported for its most restrictive key.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    /// Whether the request may proceed (it was counted if so).
    pub allowed: bool,
    /// The action the numbers refer to.
    pub action: Action,
    /// Its maximum.
    pub limit: u64,
    /// Its window.
    pub window: Duration,
    /// Requests left in the window.
    pub remaining: u64,
    /// Time until the window has room again (denied) or fully resets (allowed).
    pub reset: Duration,
    /// When denied, how long to wait.
    pub retry_after: Duration,
    /// Which store answered.
    pub backend: Backend,
}

impl Decision {
    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (and `Retry-After` when
    /// denied) for a response.
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut h = vec![
            (
                HeaderName::from_static("ratelimit-limit"),
                HeaderValue::from(self.limit),
            ),
            (
                HeaderName::from_static("ratelimit-remaining"),
                HeaderValue::from(self.remaining),
            ),
            (
                HeaderName::from_static("ratelimit-reset"),
                HeaderValue::from(ceil_secs(self.reset)),
            ),
        ];
        if !self.allowed {
            h.push((
                actix_web::http::header::RETRY_AFTER,
                HeaderValue::from(ceil_secs(self.retry_after).max(1)),
            ));
        }
        h
    }

    /// Adds the headers to a response's header map.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (k, v) in self.headers() {
            headers.insert(k, v);
        }
    }

    /// The 429 problem for a denied decision.
    pub fn to_error(&self) -> ApiError {
        let spec = self.action.spec();
        let mut e = ApiError::too_many_requests(
            "rate_limited",
            format!(
                "rate limit exceeded for {} ({} requests per {} s); retry after {} s",
                spec.name,
                self.limit,
                ceil_secs(self.window),
                ceil_secs(self.retry_after).max(1)
            ),
            ceil_secs(self.retry_after),
        )
        .with_extra("limit", spec.name.into());
        for (k, v) in self.headers() {
            if k != actix_web::http::header::RETRY_AFTER {
                e = e.with_header(k, v.to_str().unwrap_or_default());
            }
        }
        e
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}

/// What one key's window said, from Redis or from memory.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyOutcome {
    pub(super) allowed: bool,
    pub(super) count: u64,
    pub(super) reset_ms: u64,
    pub(super) retry_ms: u64,
}

/// The decision of a request from its keys' outcomes, reported for the most restrictive key.
pub(super) fn decide(
    checks: &[Check<'_>],
    limits: &[Limit],
    outcomes: &[KeyOutcome],
    backend: Backend,
) -> Decision {
    let allowed = outcomes.iter().all(|o| o.allowed);
    // Report the denied key with the longest wait, else the key with the least room.
    let pick = (0..outcomes.len())
        .max_by_key(|&i| {
            let o = outcomes[i];
            if allowed {
                (0, u64::MAX - limits[i].max.saturating_sub(o.count))
            } else {
                (u64::from(!o.allowed), o.retry_ms)
            }
        })
        .unwrap_or(0);
    match (checks.get(pick), outcomes.get(pick), limits.get(pick)) {
        (Some(c), Some(o), Some(l)) => Decision {
            allowed,
            action: c.action,
            limit: l.max,
            window: l.window,
            remaining: l.max.saturating_sub(o.count),
            reset: Duration::from_millis(o.reset_ms),
            retry_after: Duration::from_millis(o.retry_ms.max(1)),
            backend,
        },
        _ => Decision {
            allowed: true,
            action: Action::Ip,
            limit: 0,
            window: Duration::ZERO,
            remaining: 0,
            reset: Duration::ZERO,
            retry_after: Duration::ZERO,
            backend,
        },
    }
}
