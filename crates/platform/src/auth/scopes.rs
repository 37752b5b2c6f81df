//! Scopes as types: [`ScopeMarker`] and one marker per scope, for `RequireScope<S>`.

use domain::Scope;

/// A scope required by a handler, as a type.
pub trait ScopeMarker: 'static {
    /// The scope.
    const SCOPE: Scope;
}

macro_rules! scope_markers {
    ($($name:ident => $scope:ident),+ $(,)?) => {
        $(
            #[doc = concat!("Requires `", stringify!($scope), "`.")]
            #[derive(Debug)]
            pub struct $name;
            impl ScopeMarker for $name {
                const SCOPE: Scope = Scope::$scope;
            }
        )+
    };
}

scope_markers!(
    AgentsRead => AgentsRead,
    AgentsWrite => AgentsWrite,
    TokensRead => TokensRead,
    AuditRead => AuditRead,
    WebhooksRead => WebhooksRead,
    WebhooksWrite => WebhooksWrite,
    BillingRead => BillingRead,
    BillingWrite => BillingWrite,
    AnalyticsRead => AnalyticsRead,
    ComplianceRead => ComplianceRead,
    AdminTenant => AdminTenant,
    Internal => Internal,
);
