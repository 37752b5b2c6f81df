//! The one place where the rules' errors become HTTP problems (`application/problem+json`).

use actix_web::http::StatusCode;
use platform::ApiError;
use platform::errors::FieldError;

use crate::checkout::CheckoutError;
use crate::stripe::ProviderError;
use crate::usage::UsageError;
use crate::webhooks::EventError;

/// Seconds a client should wait before trying a deployment without Stripe settings again.
const NOT_CONFIGURED_RETRY_SECS: u64 = 60;

impl From<ProviderError> for ApiError {
    fn from(e: ProviderError) -> Self {
        let detail = e.to_string();
        let (code, source) = match e {
            ProviderError::NotConfigured => {
                return ApiError::unavailable(
                    "stripe_not_configured",
                    detail,
                    NOT_CONFIGURED_RETRY_SECS,
                );
            }
            ProviderError::Internal(source) => return ApiError::internal(source),
            ProviderError::Refused(source) | ProviderError::Unreadable(source) => {
                ("payment_provider_error", source)
            }
            ProviderError::Unreachable(source) => ("payment_provider_unavailable", source),
        };
        ApiError::new(StatusCode::BAD_GATEWAY, code, detail).with_source(source)
    }
}

impl From<CheckoutError> for ApiError {
    fn from(e: CheckoutError) -> Self {
        let detail = e.to_string();
        match e {
            CheckoutError::UnknownTier(_) | CheckoutError::FreeTier => {
                ApiError::validation(vec![FieldError::new("tier", detail)])
            }
            CheckoutError::AlreadyOnTier(current) => ApiError::conflict("already_on_tier", detail)
                .with_extra("tier", current.as_str().into()),
            CheckoutError::Downgrade { current, .. } => {
                ApiError::conflict("downgrade_not_allowed", detail)
                    .with_extra("tier", current.as_str().into())
            }
            CheckoutError::PastDue(subscription) => {
                ApiError::conflict("subscription_past_due", detail)
                    .with_extra("subscription_id", subscription.into())
            }
            CheckoutError::NoPrice(_) => {
                ApiError::unavailable("stripe_not_configured", detail, NOT_CONFIGURED_RETRY_SECS)
            }
            CheckoutError::Provider(e) => e.into(),
            CheckoutError::Store(e) => e.into(),
        }
    }
}

impl From<EventError> for ApiError {
    fn from(e: EventError) -> Self {
        let detail = e.to_string();
        match e {
            EventError::NotConfigured => {
                ApiError::unavailable("stripe_not_configured", detail, NOT_CONFIGURED_RETRY_SECS)
            }
            EventError::Signature(_) => ApiError::bad_request("invalid_signature", detail),
            EventError::Malformed(_) => ApiError::bad_request("malformed_event", detail),
            EventError::Store(e) => e.into(),
        }
    }
}

impl From<UsageError> for ApiError {
    fn from(e: UsageError) -> Self {
        match e {
            UsageError::Invalid(errors) => ApiError::validation(errors),
            UsageError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::Tier;

    use super::*;
    use crate::checkout::ensure_upgrade;

    fn problem(e: impl Into<ApiError>) -> (u16, String) {
        let e = e.into();
        (e.status().as_u16(), e.code().to_owned())
    }

    #[test]
    fn refused_upgrades_are_conflicts_with_their_codes() {
        let same = ensure_upgrade(Tier::Pro, Tier::Pro).unwrap_err();
        assert_eq!(problem(same), (409, "already_on_tier".to_owned()));
        let down = ensure_upgrade(Tier::Enterprise, Tier::Pro).unwrap_err();
        assert_eq!(problem(down), (409, "downgrade_not_allowed".to_owned()));
        let overdue = CheckoutError::PastDue("sub_1".into());
        assert_eq!(problem(overdue), (409, "subscription_past_due".to_owned()));
    }

    #[test]
    fn provider_failures_are_bad_gateways_or_unavailable() {
        let src = || anyhow::anyhow!("cause");
        for (e, want) in [
            (ProviderError::NotConfigured, (503, "stripe_not_configured")),
            (
                ProviderError::Refused(src()),
                (502, "payment_provider_error"),
            ),
            (
                ProviderError::Unreadable(src()),
                (502, "payment_provider_error"),
            ),
            (
                ProviderError::Unreachable(src()),
                (502, "payment_provider_unavailable"),
            ),
            (ProviderError::Internal(src()), (500, "internal_error")),
        ] {
            assert_eq!(problem(e), (want.0, want.1.to_owned()));
        }
    }
}
