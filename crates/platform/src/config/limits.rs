//! The declaration of every rate-limited action (its key, defaults and the variables that
//! override them) and the effective limits read from the environment. The limiter itself is
//! `crate::rate_limit`, which re-exports these.

use std::time::Duration;

use super::reader::Reader;

/// What is being limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Every public request, per client IP.
    Ip,
    /// `/oauth2/token`, per `client_id`.
    TokenClient,
    /// `/oauth2/token`, per client IP.
    TokenIp,
    /// Management API calls, per tenant.
    Tenant,
    /// `GET /api/v1/audit/verify`, per tenant.
    AuditVerify,
    /// `POST /api/v1/tenants` (signup), per client IP.
    SignupIp,
    /// Failed client authentications (token, introspection, revocation), per `client_id`
    /// and client IP.
    AuthFailure,
    /// Failed client authentications, per client IP.
    AuthFailureIp,
    /// Introspection and revocation, per caller (the authenticated client, or the client of
    /// the bearer token).
    OAuthCaller,
}

/// The declaration of one limited action.
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    /// The action.
    pub action: Action,
    /// Its name in keys (`rate:<name>:<subject>`), metrics and problem bodies.
    pub name: &'static str,
    /// What the subject of the limit is.
    pub keyed_by: &'static str,
    /// Requests allowed per window by default.
    pub default_max: u64,
    /// Window length in ms by default.
    pub default_window_ms: u64,
    /// Variable overriding the maximum.
    pub max_var: &'static str,
    /// Variable overriding the window.
    pub window_var: &'static str,
}

/// Every limited action, with its defaults. Documented in `docs/ENVIRONMENT.md`.
pub const ACTIONS: [ActionSpec; 9] = [
    ActionSpec {
        action: Action::Ip,
        name: "ip",
        keyed_by: "client IP; every public route except health, metrics, /internal and the token endpoint",
        default_max: 1000,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_MAX_REQUESTS",
        window_var: "RATE_LIMIT_WINDOW_MS",
    },
    ActionSpec {
        action: Action::TokenClient,
        name: "token_client",
        keyed_by: "client_id on POST /oauth2/token",
        default_max: 600,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_TOKEN_CLIENT_MAX",
        window_var: "RATE_LIMIT_TOKEN_CLIENT_WINDOW_MS",
    },
    ActionSpec {
        action: Action::TokenIp,
        name: "token_ip",
        keyed_by: "client IP on POST /oauth2/token",
        default_max: 6000,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_TOKEN_IP_MAX",
        window_var: "RATE_LIMIT_TOKEN_IP_WINDOW_MS",
    },
    ActionSpec {
        action: Action::Tenant,
        name: "tenant",
        keyed_by: "tenant on the management API (the tier's requests per minute when billing is enabled)",
        default_max: 1000,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_TENANT_MAX",
        window_var: "RATE_LIMIT_TENANT_WINDOW_MS",
    },
    ActionSpec {
        action: Action::AuditVerify,
        name: "audit_verify",
        keyed_by: "tenant on GET /api/v1/audit/verify",
        default_max: 30,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_AUDIT_VERIFY_MAX",
        window_var: "RATE_LIMIT_AUDIT_VERIFY_WINDOW_MS",
    },
    ActionSpec {
        action: Action::SignupIp,
        name: "signup_ip",
        keyed_by: "client IP on POST /api/v1/tenants (signup)",
        default_max: 10,
        default_window_ms: 3_600_000,
        max_var: "RATE_LIMIT_SIGNUP_IP_MAX",
        window_var: "RATE_LIMIT_SIGNUP_IP_WINDOW_MS",
    },
    ActionSpec {
        action: Action::AuthFailure,
        name: "auth_failure",
        keyed_by: "client_id and client IP of failed client authentications (only further failures are refused)",
        default_max: 20,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_AUTH_FAILURE_MAX",
        window_var: "RATE_LIMIT_AUTH_FAILURE_WINDOW_MS",
    },
    ActionSpec {
        action: Action::AuthFailureIp,
        name: "auth_failure_ip",
        keyed_by: "client IP of failed client authentications (only further failures are refused)",
        default_max: 300,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_AUTH_FAILURE_IP_MAX",
        window_var: "RATE_LIMIT_AUTH_FAILURE_IP_WINDOW_MS",
    },
    ActionSpec {
        action: Action::OAuthCaller,
        name: "oauth_caller",
        keyed_by: "caller (client_id) of POST /oauth2/introspect and /oauth2/revoke",
        default_max: 1000,
        default_window_ms: 60_000,
        max_var: "RATE_LIMIT_OAUTH_CALLER_MAX",
        window_var: "RATE_LIMIT_OAUTH_CALLER_WINDOW_MS",
    },
];

impl Action {
    /// The declaration of this action.
    pub fn spec(self) -> &'static ActionSpec {
        let i = self.index();
        &ACTIONS[i]
    }

    fn index(self) -> usize {
        match self {
            Self::Ip => 0,
            Self::TokenClient => 1,
            Self::TokenIp => 2,
            Self::Tenant => 3,
            Self::AuditVerify => 4,
            Self::SignupIp => 5,
            Self::AuthFailure => 6,
            Self::AuthFailureIp => 7,
            Self::OAuthCaller => 8,
        }
    }

    /// The action's name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }
}

/// A maximum per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests allowed per window.
    pub max: u64,
    /// The window.
    pub window: Duration,
}

/// The effective limits of this process.
#[derive(Debug, Clone)]
pub struct LimitTable {
    limits: [Limit; ACTIONS.len()],
    /// `REDIS_RATE_LIMIT_ENABLED` (true): share limits through Redis.
    pub redis_enabled: bool,
}

impl LimitTable {
    /// Reads overrides for every action in [`ACTIONS`].
    pub fn read(r: &mut Reader<'_>) -> Self {
        let limits = ACTIONS.map(|spec| Limit {
            max: r.u64_in(spec.max_var, spec.default_max, 1, 1 << 40),
            window: r.millis(spec.window_var, spec.default_window_ms, 1_000, 86_400_000),
        });
        Self {
            limits,
            redis_enabled: r.bool("REDIS_RATE_LIMIT_ENABLED", true),
        }
    }

    /// The limit of an action.
    pub fn get(&self, action: Action) -> Limit {
        self.limits[action.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_declared_once() {
        for (i, spec) in ACTIONS.iter().enumerate() {
            assert_eq!(spec.action.index(), i);
        }
    }
}
