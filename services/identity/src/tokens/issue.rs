//! Signing access tokens (RFC 9068 JWTs) with the key ring's active key.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use platform::auth::dpop::Confirmation;
use platform::auth::{Actor, Federated, Link};

use crate::keys::ring::KeyRing;

#[derive(Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: &'a str,
    scope: &'a str,
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<&'a Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fed: Option<&'a Federated>,
    #[serde(skip_serializing_if = "<[Link]>::is_empty")]
    dlg: &'a [Link],
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation>,
}

/// What to put in a token.
#[derive(Debug, Clone, Copy)]
pub struct TokenSpec<'a> {
    /// `sub`: the agent id, or the client id of other clients.
    pub sub: &'a str,
    /// `client_id`.
    pub client_id: &'a str,
    /// `tenant_id` (absent for service clients).
    pub tenant_id: Option<Uuid>,
    /// Space-separated scopes.
    pub scope: &'a str,
    /// `aud`.
    pub aud: &'a str,
    /// Lifetime, when shorter than the issuer's (token exchange).
    pub ttl: Option<Duration>,
    /// `act` (delegation).
    pub act: Option<&'a Actor>,
    /// `fed` (federation).
    pub fed: Option<&'a Federated>,
    /// `dlg` (delegation).
    pub dlg: &'a [Link],
    /// `cnf.jkt` (DPoP): the thumbprint of the key the token is bound to.
    pub jkt: Option<&'a str>,
}

impl<'a> TokenSpec<'a> {
    /// A plain token: no exchange claims, the issuer's lifetime.
    pub fn new(
        sub: &'a str,
        client_id: &'a str,
        tenant_id: Option<Uuid>,
        scope: &'a str,
        aud: &'a str,
    ) -> Self {
        Self {
            sub,
            client_id,
            tenant_id,
            scope,
            aud,
            ttl: None,
            act: None,
            fed: None,
            dlg: &[],
            jkt: None,
        }
    }
}

/// A signed token.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The compact JWS.
    pub token: String,
    /// Its `jti` (UUIDv7: carries the issue time in milliseconds).
    pub jti: Uuid,
    /// The key that signed it.
    pub kid: String,
    /// `exp`.
    pub exp: i64,
    /// Lifetime in seconds.
    pub expires_in: u64,
}

/// Why a token could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// No key is active yet (answered 503: a key is about to be loaded).
    #[error("no signing key is active yet")]
    NoSigningKey,
    /// Signing failed.
    #[error("signing failed: {0:#}")]
    Signing(#[from] anyhow::Error),
}

/// Signs tokens for one issuer.
#[derive(Debug, Clone)]
pub struct Issuer {
    keys: KeyRing,
    issuer: String,
    ttl: Duration,
}

impl Issuer {
    /// An issuer named `issuer` whose tokens live `ttl`.
    pub fn new(keys: KeyRing, issuer: String, ttl: Duration) -> Self {
        Self { keys, issuer, ttl }
    }

    /// The `iss` of every token.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Token lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Signs a token now.
    pub fn issue(&self, spec: TokenSpec<'_>) -> Result<Issued, IssueError> {
        let key = self.keys.signing_key().ok_or(IssueError::NoSigningKey)?;
        let jti = Uuid::now_v7();
        let mut jti_buf = Uuid::encode_buffer();
        let jti_str = jti.hyphenated().encode_lower(&mut jti_buf);
        let iat = OffsetDateTime::now_utc().unix_timestamp();
        let ttl = spec.ttl.unwrap_or(self.ttl);
        let exp = iat + ttl.as_secs() as i64;
        let claims = AccessClaims {
            iss: &self.issuer,
            sub: spec.sub,
            aud: spec.aud,
            exp,
            iat,
            nbf: iat,
            jti: jti_str,
            scope: spec.scope,
            client_id: spec.client_id,
            tenant_id: spec.tenant_id,
            act: spec.act,
            fed: spec.fed,
            dlg: spec.dlg,
            cnf: spec.jkt.map(|jkt| Confirmation {
                jkt: jkt.to_owned(),
            }),
        };
        let payload = serde_json::to_vec(&claims).map_err(anyhow::Error::from)?;
        let token = key.sign_jwt(&payload)?;
        Ok(Issued {
            token,
            jti,
            kid: key.kid.clone(),
            exp,
            expires_in: ttl.as_secs(),
        })
    }
}

/// Mints identity's own service tokens (scope `internal`) for its calls to billing, without
/// an OAuth client: identity holds the signing keys.
#[derive(Debug, Clone)]
pub struct ServiceMinter(pub Issuer);

impl platform::internal_http::TokenMinter for ServiceMinter {
    fn mint(&self) -> anyhow::Result<(platform::Secret<String>, Duration)> {
        let issued = self.0.issue(TokenSpec::new(
            "service:identity",
            "service:identity",
            None,
            domain::Scope::Internal.as_str(),
            self.0.issuer(),
        ))?;
        Ok((platform::Secret::new(issued.token), self.0.ttl()))
    }
}
