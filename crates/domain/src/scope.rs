//! OAuth scopes.

use std::fmt;
use std::str::FromStr;

/// A scope of the management API (SPEC §2), or `internal` for service-to-service calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read agents and their credentials' metadata.
    AgentsRead,
    /// Create, change, suspend and decommission agents; manage credentials.
    AgentsWrite,
    /// Introspect and revoke the tenant's tokens.
    TokensRead,
    /// Read the audit log.
    AuditRead,
    /// Read webhook subscriptions and deliveries.
    WebhooksRead,
    /// Manage webhook subscriptions.
    WebhooksWrite,
    /// Read subscription and usage.
    BillingRead,
    /// Start checkouts and upgrades.
    BillingWrite,
    /// Read analytics.
    AnalyticsRead,
    /// Read compliance reports.
    ComplianceRead,
    /// Read and change the tenant itself.
    AdminTenant,
    /// Service-to-service calls (`/internal/*`); never granted to tenants.
    Internal,
}

impl Scope {
    /// Every scope a tenant-admin client receives.
    pub const TENANT_ADMIN: [Scope; 11] = [
        Scope::AgentsRead,
        Scope::AgentsWrite,
        Scope::TokensRead,
        Scope::AuditRead,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::BillingRead,
        Scope::BillingWrite,
        Scope::AnalyticsRead,
        Scope::ComplianceRead,
        Scope::AdminTenant,
    ];

    /// The wire form (`agents:read`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AgentsRead => "agents:read",
            Self::AgentsWrite => "agents:write",
            Self::TokensRead => "tokens:read",
            Self::AuditRead => "audit:read",
            Self::WebhooksRead => "webhooks:read",
            Self::WebhooksWrite => "webhooks:write",
            Self::BillingRead => "billing:read",
            Self::BillingWrite => "billing:write",
            Self::AnalyticsRead => "analytics:read",
            Self::ComplianceRead => "compliance:read",
            Self::AdminTenant => "admin:tenant",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Self::TENANT_ADMIN
            .into_iter()
            .chain([Self::Internal])
            .find(|sc| sc.as_str() == s)
            .ok_or(())
    }
}

/// Whether a space-separated scope string contains `scope`.
pub fn scope_string_has(scopes: &str, scope: Scope) -> bool {
    scopes.split(' ').any(|s| s == scope.as_str())
}

/// The resources of the platform's own scopes (`agents:read`, `admin:tenant`, ...). Every
/// `resource:action` scope on one of them (wildcards and actions the platform does not define
/// included) is reserved to the platform: only a caller holding `admin:tenant` binds one to
/// an agent, and no resource server defines one.
pub const PLATFORM_RESOURCES: [&str; 8] = [
    "agents",
    "tokens",
    "audit",
    "webhooks",
    "billing",
    "analytics",
    "compliance",
    "admin",
];

/// Whether `s` is a platform scope: `internal`, or a `resource:action` scope on one of the
/// [`PLATFORM_RESOURCES`].
pub fn is_platform_scope(s: &str) -> bool {
    s == Scope::Internal.as_str()
        || s.split_once(':')
            .is_some_and(|(resource, _)| PLATFORM_RESOURCES.contains(&resource))
}

/// A token scope the caller can ask for: `resource:action` (letters, digits, `_.-*`), or one
/// of the reserved single words. At most 128 bytes.
pub fn is_valid_scope_token(s: &str) -> bool {
    fn part(p: &str, allow_star: bool) -> bool {
        !p.is_empty()
            && p.len() <= 64
            && p.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'.' | b'-')
                    || (allow_star && b == b'*')
            })
    }
    match s.split_once(':') {
        Some((resource, action)) => part(resource, false) && part(action, true),
        None => s == Scope::Internal.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in Scope::TENANT_ADMIN.into_iter().chain([Scope::Internal]) {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
        }
        assert!("agents:delete".parse::<Scope>().is_err());
    }

    #[test]
    fn scope_tokens() {
        assert!(is_valid_scope_token("documents:read"));
        assert!(is_valid_scope_token("invoices:*"));
        assert!(!is_valid_scope_token("Documents:read"));
        assert!(!is_valid_scope_token("documents"));
        assert!(!is_valid_scope_token("a:b:c"));
        assert!(!is_valid_scope_token(":read"));
        assert!(scope_string_has("agents:read internal", Scope::Internal));
    }

    #[test]
    fn platform_scopes() {
        for s in Scope::TENANT_ADMIN.into_iter().chain([Scope::Internal]) {
            assert!(is_platform_scope(s.as_str()), "{s}");
        }
        for s in ["agents:*", "billing:*", "audit:write", "admin:anything"] {
            assert!(is_platform_scope(s), "{s}");
        }
        for s in [
            "documents:read",
            "agentsx:read",
            "reports:admin",
            "invoices:*",
        ] {
            assert!(!is_platform_scope(s), "{s}");
        }
    }
}
