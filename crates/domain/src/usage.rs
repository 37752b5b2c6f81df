//! Usage metering and entitlements: the wire types of billing's internal API
//! (`POST /internal/v1/usage`, `GET /internal/v1/entitlements/{tenant}`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::tier::{Tier, TierLimits};

/// What is metered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Authenticated management API calls.
    ApiCalls,
    /// Access tokens issued.
    TokenIssuances,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 2] = [Metric::ApiCalls, Metric::TokenIssuances];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ApiCalls => "api_calls",
            Self::TokenIssuances => "token_issuances",
        }
    }
}

/// One tenant's count of one metric on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageEntry {
    /// The tenant.
    pub tenant_id: Uuid,
    /// The UTC day the counts belong to (`YYYY-MM-DD`).
    pub day: String,
    /// The metric.
    pub metric: Metric,
    /// How many.
    pub count: u64,
}

/// A batch of counts from one process; `batch_id` makes delivery idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageBatch {
    /// Chosen by the sender once; a retry carries the same id.
    pub batch_id: Uuid,
    /// The sending service (for logs).
    pub service: String,
    /// The counts.
    pub entries: Vec<UsageEntry>,
}

/// Billing's answer to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReceipt {
    /// The batch.
    pub batch_id: Uuid,
    /// True when the batch had been recorded before (nothing was counted again).
    pub duplicate: bool,
}

/// A tenant's entitlements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlements {
    /// The tenant.
    pub tenant_id: Uuid,
    /// Its tier.
    pub tier: Tier,
    /// The tier's limits.
    pub limits: TierLimits,
}
