//! The tenant budget: what one management API call of a tenant costs.
//!
//! A call is counted against the tenant's rate limit (`rate_limit::Action::Tenant`: the
//! tier's requests per minute when tiers are enforced and the tier is known in this process,
//! else `RATE_LIMIT_TENANT_*`), then against its daily API-call quota (`crate::quota`), and
//! once allowed by both it is counted in metering (`crate::metering`). A call refused by the
//! rate limit costs no quota; a call refused by either is not metered.
//!
//! The budget is spent after authorization: the extractors of `crate::auth` spend it once a
//! token is verified *and* carries the scope its handler requires, so a refused call costs
//! its tenant nothing. Cost per call: one Redis round trip for the limit, one for the quota
//! (none when billing is disabled), an atomic add for metering.

use std::time::Duration;

use uuid::Uuid;

use crate::errors::ApiError;
use crate::metering::{Metering, Metric};
use crate::quota::{Exceeded, Quota};
use crate::rate_limit::{Action, Check, Decision, Limit, RateLimiter};

/// Why a call was refused by its tenant's budget.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BudgetError {
    /// The tenant's rate limit (429 `rate_limited`, `limit: "tenant"`).
    #[error("the tenant's rate limit is exhausted")]
    RateLimited(Decision),
    /// The tenant's daily API-call quota (429 `quota_exceeded`).
    #[error("{}", .0.detail())]
    QuotaExceeded(Exceeded),
}

impl From<BudgetError> for ApiError {
    fn from(e: BudgetError) -> Self {
        match e {
            BudgetError::RateLimited(d) => d.to_error(),
            BudgetError::QuotaExceeded(q) => q.to_error(),
        }
    }
}

/// The budget of every tenant of one application: borrowed views of its limiter, quota
/// enforcer and metering counters.
#[derive(Debug, Clone, Copy)]
pub struct Budget<'a> {
    limiter: &'a RateLimiter,
    quota: &'a Quota,
    metering: &'a Metering,
}

impl<'a> Budget<'a> {
    /// A budget over `limiter`, `quota` and `metering`.
    pub fn new(limiter: &'a RateLimiter, quota: &'a Quota, metering: &'a Metering) -> Self {
        Self {
            limiter,
            quota,
            metering,
        }
    }

    /// Spends one API call of `tenant`: rate limit, then daily quota, then metering.
    pub async fn spend(&self, tenant: Uuid) -> Result<(), BudgetError> {
        let subject = tenant.to_string();
        let mut check = Check::new(Action::Tenant, &subject);
        if self.quota.enforcing()
            && let Some(rpm) = self
                .quota
                .known_tier(tenant)
                .and_then(|t| t.limits().requests_per_minute)
        {
            check.limit = Some(Limit {
                max: rpm,
                window: Duration::from_secs(60),
            });
        }
        let decision = self.limiter.check(&[check]).await;
        if !decision.allowed {
            return Err(BudgetError::RateLimited(decision));
        }
        if let Some(exceeded) = self.quota.consume(tenant, Metric::ApiCalls).await.exceeded {
            return Err(BudgetError::QuotaExceeded(exceeded));
        }
        self.metering.add(tenant, Metric::ApiCalls, 1);
        Ok(())
    }
}
