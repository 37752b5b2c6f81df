//! [`AuthContext`]: what the extractors need, as app data.

use super::verifier::Verifier;
use crate::budget::Budget;
use crate::metering::Metering;
use crate::quota::Quota;
use crate::rate_limit::RateLimiter;

/// What the extractors need, registered as app data by every service with management APIs.
#[derive(Clone)]
pub struct AuthContext {
    /// The verifier.
    pub verifier: Verifier,
    /// For the per-tenant limit.
    pub limiter: RateLimiter,
    /// For counting API calls.
    pub metering: Metering,
    /// The daily tier limits.
    pub quota: Quota,
}

impl std::fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthContext")
            .field("verifier", &self.verifier)
            .finish()
    }
}

impl AuthContext {
    /// The tenant budget the extractors spend once a request is authorized.
    pub fn budget(&self) -> Budget<'_> {
        Budget::new(&self.limiter, &self.quota, &self.metering)
    }
}
