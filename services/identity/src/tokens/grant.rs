//! Grants: the rules between a parsed [`TokenRequest`] and a signed token. Each grant type
//! is a variant of [`Grant`]; today there is `client_credentials`.
//!
//! Order: client authentication ([`super::client_auth`]); the tenant's daily token quota
//! (when tiers are enforced); scope; audience; signing; the audit event, committed before
//! the answer; metering.
//!
//! The audience (RFC 8707) is the platform API (the issuer) unless the request names a
//! resource server of the client's tenant ([`crate::resource_servers`]); anything else is
//! `invalid_target`. A token for a resource server has its identifier as the only `aud` and
//! carries only the requested (or, when none is requested, allowed) scopes it defines.

use domain::ClientKind;
use platform::Failure;
use platform::metering::Metric;
use platform::quota::Exceeded;

use super::client_auth::{ClientAuthError, tenant_of};
use super::issue::{IssueError, Issued, TokenSpec};
use super::request::{Audience, Grant, TokenRequest};
use super::service::TokenService;
use crate::audit::event::NewEvent;
use crate::audit::writer::AuditUnavailable;
use crate::repo::clients::TokenClientRow;

/// A granted token.
#[derive(Debug)]
pub struct Granted {
    /// The token.
    pub issued: Issued,
    /// Its scopes, space-separated.
    pub scope: String,
}

/// Why no token was granted.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The client was not authenticated.
    #[error(transparent)]
    ClientAuth(#[from] ClientAuthError),
    /// The tenant's daily token quota is used up.
    #[error("{}", .0.detail())]
    QuotaExceeded(Box<Exceeded>),
    /// A requested scope is not the client's.
    #[error("scope {0} is not granted to this client")]
    InvalidScope(String),
    /// None of the requested scopes is defined by the named resource server.
    #[error("none of the requested scopes is defined by the resource server {0}")]
    NoScopeForTarget(String),
    /// `audience` and `resource` both sent.
    #[error("send audience or resource, not both")]
    AudienceAndResource,
    /// The audience is neither the platform API nor a resource server of the client's
    /// tenant.
    #[error(
        "the audience must be the platform API or the identifier of a resource server registered by this client's tenant"
    )]
    InvalidTarget,
    /// The token could not be signed.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The issuance could not be audited.
    #[error(transparent)]
    Audit(#[from] AuditUnavailable),
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(GrantError);

/// Whom a token is for.
enum Target<'a> {
    /// The platform API (the issuer).
    Platform,
    /// A resource server of the client's tenant: its identifier and the scopes it defines.
    Server(&'a str, &'a [String]),
}

/// Scopes the client may receive.
pub fn allowed_scopes(row: &TokenClientRow) -> Vec<&str> {
    match row.kind {
        ClientKind::Agent => {
            let caps = row.agent_capabilities.as_deref().unwrap_or(&[]);
            match &row.scopes {
                Some(restricted) => restricted
                    .iter()
                    .filter(|s| caps.contains(s))
                    .map(String::as_str)
                    .collect(),
                None => caps.iter().map(String::as_str).collect(),
            }
        }
        _ => row.scopes.iter().flatten().map(String::as_str).collect(),
    }
}

impl TokenService {
    /// Grants what `req` asks for.
    pub async fn token(&self, req: &TokenRequest) -> Result<Granted, GrantError> {
        match req.grant {
            Grant::ClientCredentials => self.client_credentials(req).await,
        }
    }

    /// `grant_type=client_credentials`.
    async fn client_credentials(&self, req: &TokenRequest) -> Result<Granted, GrantError> {
        // When tiers are enforced, the tenant's daily token quota is read alongside the rate
        // limits (both commands share one round trip on the multiplexed connection) when the
        // client was seen before; only a client unknown to this instance pays a second round
        // trip. Otherwise nothing is read.
        let quota = &self.quota;
        let enforcing = quota.enforcing();
        let hint = if enforcing {
            self.cache.peek_tenant(&req.credentials.client_id)
        } else {
            None
        };
        let early = async {
            match hint {
                Some(t) => Some((t, quota.check(t, Metric::TokenIssuances).await)),
                None => None,
            }
        };
        let (row, early) = tokio::join!(self.authenticate(&req.credentials, req.ip), early);
        let row = row?;
        if let Some(tenant) = row.tenant_id.filter(|_| enforcing) {
            let verdict = match early {
                Some((t, v)) if t == tenant => v,
                _ => quota.check(tenant, Metric::TokenIssuances).await,
            };
            if let Some(e) = verdict.exceeded {
                let err = GrantError::QuotaExceeded(Box::new(e));
                return Err(self.refuse(&row, "quota_exceeded", err).await);
            }
        }
        let allowed = allowed_scopes(&row);
        let requested: Option<Vec<&str>> = req
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|requested| {
                let mut wanted: Vec<&str> =
                    requested.split(' ').filter(|s| !s.is_empty()).collect();
                wanted.sort_unstable();
                wanted.dedup();
                wanted
            });
        if let Some(bad) = requested.iter().flatten().find(|s| !allowed.contains(s)) {
            let err = GrantError::InvalidScope((*bad).to_owned());
            return Err(self.refuse(&row, "invalid_scope", err).await);
        }

        // Only a request naming another audience than the platform reads the tenant's
        // resource servers (cached per tenant).
        let named = match &req.audience {
            Audience::Both => return Err(GrantError::AudienceAndResource),
            Audience::Named(a) if a != self.issuer.issuer() => Some(a.as_str()),
            Audience::Named(_) | Audience::Issuer => None,
        };
        let servers = match (named, row.tenant_id) {
            (Some(_), Some(tenant)) => Some(self.audiences.of(tenant).await?),
            _ => None,
        };
        let target = match named {
            None => Target::Platform,
            Some(a) => match servers.as_deref().and_then(|s| s.scopes_of(a)) {
                Some(defined) => Target::Server(a, defined),
                None => {
                    return Err(self
                        .refuse(&row, "invalid_target", GrantError::InvalidTarget)
                        .await);
                }
            },
        };
        let (scope, audience) = match target {
            Target::Platform => (
                requested.as_deref().unwrap_or(&allowed).join(" "),
                self.issuer.issuer(),
            ),
            Target::Server(identifier, defined) => {
                let kept: Vec<&str> = requested
                    .as_deref()
                    .unwrap_or(&allowed)
                    .iter()
                    .copied()
                    .filter(|s| defined.iter().any(|d| d == s))
                    .collect();
                if kept.is_empty() && requested.is_some() {
                    let err = GrantError::NoScopeForTarget(identifier.to_owned());
                    return Err(self.refuse(&row, "invalid_scope", err).await);
                }
                (kept.join(" "), identifier)
            }
        };

        let sub = match &row.agent_id {
            Some(agent) => agent.to_string(),
            None => row.client_id.clone(),
        };
        let issued = self.issuer.issue(TokenSpec {
            sub: &sub,
            client_id: &row.client_id,
            tenant_id: row.tenant_id,
            scope: &scope,
            aud: audience,
        })?;

        if self.audit_token_events {
            let event = NewEvent::new(
                tenant_of(&row),
                format!("client:{}", row.client_id),
                "token.issued",
                Some(format!("token:{}", issued.jti)),
            )
            .details(serde_json::json!({
                "client_id": row.client_id,
                "agent_id": row.agent_id,
                "jti": issued.jti,
                "scope": scope,
                "aud": audience,
                "exp": issued.exp,
                "kid": issued.kid,
            }));
            self.audit.record(event).await?;
        }
        if let Some(tenant) = row.tenant_id {
            self.metering.add(tenant, Metric::TokenIssuances, 1);
            quota.record(tenant, Metric::TokenIssuances);
        }
        self.tokens_issued.increment(1);
        Ok(Granted { issued, scope })
    }
}
