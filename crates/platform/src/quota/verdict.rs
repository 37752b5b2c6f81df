//! The outcome of a quota check, and the 429 of a reached daily limit.

use domain::Tier;
use domain::usage::Metric;
use time::OffsetDateTime;

use crate::errors::ApiError;

/// A daily limit that was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    /// The metric.
    pub metric: Metric,
    /// The tenant's tier.
    pub tier: Tier,
    /// The limit per day.
    pub limit: u64,
    /// Seconds to the next midnight UTC.
    pub retry_after_secs: u64,
}

impl Exceeded {
    /// The limit's name in problem bodies (`api_calls_per_day`, `token_issuances_per_day`).
    pub fn limit_name(&self) -> &'static str {
        match self.metric {
            Metric::ApiCalls => "api_calls_per_day",
            Metric::TokenIssuances => "token_issuances_per_day",
        }
    }

    /// A sentence for people.
    pub fn detail(&self) -> String {
        format!(
            "the {} tier allows {} {} per day; the limit resets at 00:00 UTC (in {} s)",
            self.tier,
            self.limit,
            self.metric.as_str().replace('_', " "),
            self.retry_after_secs
        )
    }

    /// 429 `quota_exceeded` with `Retry-After` and the limit named in the body.
    pub fn to_error(&self) -> ApiError {
        ApiError::too_many_requests("quota_exceeded", self.detail(), self.retry_after_secs)
            .with_extra("limit", self.limit_name().into())
            .with_extra("tier", self.tier.as_str().into())
            .with_extra("max", self.limit.into())
    }
}

/// The outcome of a quota check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The tenant's tier, when known.
    pub tier: Option<Tier>,
    /// Set when the call must be refused.
    pub exceeded: Option<Exceeded>,
}

impl Verdict {
    pub(super) const OPEN: Verdict = Verdict {
        tier: None,
        exceeded: None,
    };
}

/// Seconds from `now` to the next midnight UTC (at least 1).
pub fn secs_to_midnight(now: OffsetDateTime) -> u64 {
    let secs = now.to_offset(time::UtcOffset::UTC).time();
    let elapsed =
        u64::from(secs.hour()) * 3600 + u64::from(secs.minute()) * 60 + u64::from(secs.second());
    (86_400 - elapsed).max(1)
}

pub(super) fn limit_of(tier: Tier, metric: Metric) -> Option<u64> {
    let l = tier.limits();
    match metric {
        Metric::ApiCalls => l.api_calls_per_day,
        Metric::TokenIssuances => l.token_issuances_per_day,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_to_midnight_utc() {
        let t = time::macros::datetime!(2026-11-25 23:59:30 UTC);
        assert_eq!(secs_to_midnight(t), 30);
        let t = time::macros::datetime!(2026-11-25 00:00:00 UTC);
        assert_eq!(secs_to_midnight(t), 86_400);
        let t = time::macros::datetime!(2026-11-25 01:00:00 +02:00);
        assert_eq!(secs_to_midnight(t), 3_600);
    }

    #[test]
    fn exceeded_names_the_limit() {
        let e = Exceeded {
            metric: Metric::ApiCalls,
            tier: Tier::Free,
            limit: 1000,
            retry_after_secs: 42,
        };
        let body = e.to_error().problem_body(None);
        assert_eq!(body["code"], "quota_exceeded");
        assert_eq!(body["limit"], "api_calls_per_day");
        assert_eq!(body["tier"], "free");
        assert_eq!(body["max"], 1000);
    }
}
