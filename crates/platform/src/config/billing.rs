//! Metering and tier-enforcement settings.

use std::time::Duration;

use super::reader::Reader;

/// Usage metering and tier enforcement, in every service.
#[derive(Debug, Clone)]
pub struct BillingSettings {
    /// `BILLING_ENABLED` (true): billing routes exist, usage is flushed to billing and tiers
    /// are enforced. `false`: billing answers 404 and nothing is enforced.
    pub enabled: bool,
    /// `TIER_ENFORCEMENT` (true): refuse calls past the tier's limits. `false`: count only.
    pub enforcement: bool,
    /// `METERING_FLUSH_INTERVAL_MS` (60000): how often usage counters are sent to billing
    /// (at most every 60 s in production; shorter only for tests).
    pub flush_interval: Duration,
    /// `TIER_CACHE_TTL_SECS` (60): how long a tenant's tier is cached in Redis (`tier:`).
    pub tier_cache_ttl: Duration,
}

impl BillingSettings {
    pub(crate) fn read(r: &mut Reader<'_>) -> Self {
        Self {
            enabled: r.bool("BILLING_ENABLED", true),
            enforcement: r.bool("TIER_ENFORCEMENT", true),
            flush_interval: r.millis("METERING_FLUSH_INTERVAL_MS", 60_000, 10, 3_600_000),
            tier_cache_ttl: Duration::from_secs(r.u64_in("TIER_CACHE_TTL_SECS", 60, 1, 3600)),
        }
    }
}
