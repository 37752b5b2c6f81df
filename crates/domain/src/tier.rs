//! Subscription tiers and their limits (SPEC §6): the one table every service enforces and
//! the portal shows.
//!
//! Where the specification is silent we chose: pro token issuances = 100,000 a day (the same
//! as its API calls); enterprise has no fixed limits (`None` = unlimited) and 10,000
//! requests a minute, until contracts set custom limits. Daily limits reset at 00:00 UTC.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A subscription tier, ordered from cheapest to richest (`Free < Pro < Enterprise`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Every new tenant.
    Free,
    /// Paid, self-service.
    Pro,
    /// Paid, contract.
    Enterprise,
}

/// What a tier allows; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierLimits {
    /// Agents that are not decommissioned.
    pub max_agents: Option<u64>,
    /// Authenticated management API calls per UTC day.
    pub api_calls_per_day: Option<u64>,
    /// Access tokens issued per UTC day.
    pub token_issuances_per_day: Option<u64>,
    /// Management API requests per minute.
    pub requests_per_minute: Option<u64>,
}

/// One row of the tier table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TierSpec {
    /// The tier.
    pub tier: Tier,
    /// Name shown to people.
    pub display_name: &'static str,
    /// Its limits.
    pub limits: TierLimits,
}

/// The tier table, cheapest first.
pub const TIERS: [TierSpec; 3] = [
    TierSpec {
        tier: Tier::Free,
        display_name: "Free",
        limits: TierLimits {
            max_agents: Some(10),
            api_calls_per_day: Some(1_000),
            token_issuances_per_day: Some(1_000),
            requests_per_minute: Some(100),
        },
    },
    TierSpec {
        tier: Tier::Pro,
        display_name: "Pro",
        limits: TierLimits {
            max_agents: Some(1_000),
            api_calls_per_day: Some(100_000),
            token_issuances_per_day: Some(100_000),
            requests_per_minute: Some(1_000),
        },
    },
    TierSpec {
        tier: Tier::Enterprise,
        display_name: "Enterprise",
        limits: TierLimits {
            max_agents: None,
            api_calls_per_day: None,
            token_issuances_per_day: None,
            requests_per_minute: Some(10_000),
        },
    },
];

impl Tier {
    /// Every tier, cheapest first.
    pub const ALL: [Tier; 3] = [Tier::Free, Tier::Pro, Tier::Enterprise];

    /// The wire form (`free`, `pro`, `enterprise`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Pro => "pro",
            Self::Enterprise => "enterprise",
        }
    }

    /// This tier's row of [`TIERS`].
    pub const fn spec(self) -> &'static TierSpec {
        match self {
            Self::Free => &TIERS[0],
            Self::Pro => &TIERS[1],
            Self::Enterprise => &TIERS[2],
        }
    }

    /// This tier's limits.
    pub const fn limits(self) -> TierLimits {
        self.spec().limits
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| "must be one of: free, pro, enterprise".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_specification() {
        let free = Tier::Free.limits();
        assert_eq!(free.max_agents, Some(10));
        assert_eq!(free.api_calls_per_day, Some(1_000));
        assert_eq!(free.token_issuances_per_day, Some(1_000));
        assert_eq!(free.requests_per_minute, Some(100));
        let pro = Tier::Pro.limits();
        assert_eq!(pro.max_agents, Some(1_000));
        assert_eq!(pro.api_calls_per_day, Some(100_000));
        assert_eq!(pro.requests_per_minute, Some(1_000));
        assert_eq!(Tier::Enterprise.limits().max_agents, None);
        for (i, t) in Tier::ALL.into_iter().enumerate() {
            assert_eq!(TIERS[i].tier, t);
            assert_eq!(t.as_str().parse::<Tier>(), Ok(t));
        }
        assert!(Tier::Free < Tier::Pro && Tier::Pro < Tier::Enterprise);
        assert!("gold".parse::<Tier>().is_err());
    }
}
