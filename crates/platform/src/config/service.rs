//! [`ServiceKind`]: which of the four services a process is.

/// The four services, with their names and default ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// Agents, credentials, tokens, keys, audit, events, webhooks, DIDs.
    Identity,
    /// The public marketplace projection.
    Marketplace,
    /// Stripe, subscriptions, usage, entitlements.
    Billing,
    /// Rollups, analytics, compliance.
    Analytics,
}

impl ServiceKind {
    /// The binary and schema name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Marketplace => "marketplace",
            Self::Billing => "billing",
            Self::Analytics => "analytics",
        }
    }

    /// `PORT` default.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Identity => 8081,
            Self::Marketplace => 8082,
            Self::Billing => 8083,
            Self::Analytics => 8084,
        }
    }
}
