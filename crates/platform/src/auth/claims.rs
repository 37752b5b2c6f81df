//! The claims of an access token.

use domain::Scope;
use serde::Deserialize;
use uuid::Uuid;

/// The `aud` claim: one string or several.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` is among the audiences.
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Self::One(a) => a == aud,
            Self::Many(v) => v.iter().any(|a| a == aud),
        }
    }

    /// Whether `aud` is the only audience.
    pub fn is_only(&self, aud: &str) -> bool {
        match self {
            Self::One(a) => a == aud,
            Self::Many(v) => matches!(v.as_slice(), [a] if a == aud),
        }
    }
}

/// The claims of a verified access token.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: the agent id, or the client id of a tenant-admin or service client.
    pub sub: String,
    /// Audience.
    pub aud: Audience,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before (unix seconds).
    #[serde(default)]
    pub nbf: i64,
    /// Token id.
    pub jti: String,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// The tenant; absent for service tokens.
    #[serde(default)]
    pub tenant_id: Option<Uuid>,
}

impl Claims {
    /// When the token was issued, in unix milliseconds: from the UUIDv7 `jti` identity puts in
    /// every token (signed, so it cannot be altered), else the start of the `iat` second.
    pub fn issued_at_ms(&self) -> i64 {
        Uuid::parse_str(&self.jti)
            .ok()
            .filter(|u| u.get_version_num() == 7)
            .and_then(|u| u.get_timestamp())
            .map(|ts| {
                let (secs, nanos) = ts.to_unix();
                secs as i64 * 1000 + i64::from(nanos / 1_000_000)
            })
            .unwrap_or(self.iat.saturating_mul(1000))
    }

    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: Scope) -> bool {
        domain::scope::scope_string_has(&self.scope, scope)
    }
}
